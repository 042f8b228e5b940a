/* Berkeley-sockets-like API on top of a ustack instance: AF_INET sockets of
 * type SOCK_STREAM (TCP), SOCK_DGRAM (UDP) and SOCK_DGRAM with IPPROTO_ICMP
 * (ping sockets, as Linux's).
 *
 * Descriptors returned by us_socket() are ustack's own small integers, not
 * kernel file descriptors; us_socket_pollfd() gives a kernel descriptor that
 * polls as the socket would in Linux. Every call is safe from any thread. On
 * error a call returns -1 and sets errno as Linux would; no call raises
 * SIGPIPE (MSG_NOSIGNAL is implied and accepted).
 *
 * Blocking calls wait for the stack's runtime thread (us_runtime_start) to
 * deliver what they wait for, up to SO_RCVTIMEO (recv, accept) or
 * SO_SNDTIMEO (send, connect). On a stack without a runtime nothing can
 * arrive while a call waits, so a blocking call answers as the non-blocking
 * one would (EAGAIN, EINPROGRESS). */
#ifndef USTACK_SOCKET_H
#define USTACK_SOCKET_H

#include <sys/socket.h>
#include <sys/types.h>

#include "ustack/ustack.h"

#ifdef __cplusplus
extern "C" {
#endif

int us_socket(struct ustack *s, int domain, int type, int protocol);
int us_bind(struct ustack *s, int sd, const struct sockaddr *addr, socklen_t len);
int us_connect(struct ustack *s, int sd, const struct sockaddr *addr, socklen_t len);
ssize_t us_sendto(struct ustack *s, int sd, const void *buf, size_t len, int flags,
                  const struct sockaddr *to, socklen_t tolen);
ssize_t us_send(struct ustack *s, int sd, const void *buf, size_t len, int flags);
ssize_t us_recvfrom(struct ustack *s, int sd, void *buf, size_t len, int flags,
                    struct sockaddr *from, socklen_t *fromlen);
ssize_t us_recv(struct ustack *s, int sd, void *buf, size_t len, int flags);
/* recvmsg(): msg_name (datagrams' source; none for TCP), msg_iov, and,
 * with IP_RECVTTL on (setsockopt IPPROTO_IP), an IP_TTL control message on
 * ping sockets' echo replies (UDP gives none: its TTL is not kept). Sets
 * msg_flags MSG_TRUNC (datagram cut short), MSG_CTRUNC (no room for the
 * control message). */
ssize_t us_recvmsg(struct ustack *s, int sd, struct msghdr *msg, int flags);
/* TCP: a graceful close, or a reset when received data was left unread or
 * SO_LINGER is on with a zero time. With SO_LINGER on and a time, a
 * blocking socket's close waits up to that time for the FIN to be
 * acknowledged (then returns 0 either way and the connection finishes in
 * the background, as Linux's does). */
int us_close(struct ustack *s, int sd);
/* TCP only (EOPNOTSUPP otherwise). The backlog is clamped to 4096
 * (somaxconn); the queue holds backlog + 1 connections, as Linux's. */
int us_listen(struct ustack *s, int sd, int backlog);
/* accept4(): flags SOCK_NONBLOCK, SOCK_CLOEXEC (accepted, no effect). The
 * new socket inherits the listener's options. */
int us_accept4(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len, int flags);
int us_accept(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len);
/* SHUT_RD, SHUT_WR, SHUT_RDWR. */
int us_shutdown(struct ustack *s, int sd, int how);
int us_getsockname(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len);
int us_getpeername(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len);
/* Options: SOL_SOCKET SO_RCVBUF, SO_SNDBUF (doubled, floored and capped as
 * Linux with rmem_max/wmem_max 212992; TCP's receive window is half of
 * SO_RCVBUF), SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, SO_BROADCAST,
 * SO_RCVTIMEO, SO_SNDTIMEO, and read-only SO_ERROR (read and cleared),
 * SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ACCEPTCONN; IPPROTO_TCP TCP_NODELAY,
 * TCP_MAXSEG, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, with Linux's
 * ranges; IPPROTO_IP IP_RECVTTL. Accepted sockets inherit the listener's. */
int us_setsockopt(struct ustack *s, int sd, int level, int name, const void *val, socklen_t len);
int us_getsockopt(struct ustack *s, int sd, int level, int name, void *val, socklen_t *len);
/* O_NONBLOCK on or off (F_SETFL-like). */
int us_set_nonblocking(struct ustack *s, int sd, int on);
/* A kernel descriptor for poll/select/epoll whose POLLIN, POLLOUT,
 * POLLHUP, POLLERR and POLLRDHUP are those a Linux socket in the same state
 * reports: a TCP socket never connected polls POLLOUT|POLLHUP, a listener
 * POLLIN when a connection can be accepted, a connecting one nothing, then
 * POLLOUT on success or POLLERR|POLLHUP|POLLIN|POLLRDHUP|POLLOUT on failure
 * (POLLERR until the error is read: SO_ERROR, recv, send); a connection
 * POLLIN with data or after the peer's FIN (with POLLRDHUP), POLLOUT while
 * the free send space is at least half of what is queued (about a third
 * of the buffer), POLLHUP once both directions are done. UDP and ping
 * sockets: POLLOUT always, POLLIN with a datagram queued, POLLERR with an
 * error pending.
 * It is one end of an AF_UNIX socket pair (the stack drives the other
 * end): do not read, write or close it; us_close() closes it. Also set are
 * POLLRDNORM, POLLWRNORM and POLLWRBAND (Linux TCP leaves the last out).
 * A TCP socket that starts over (connect() again after a failed connect,
 * connect(AF_UNSPEC), shutdown(SHUT_RD) of a listener or of a connecting
 * socket) gets a fresh descriptor under the same number: poll and select
 * see it at once, an epoll set must be given it again. After shutdown() of
 * a connecting socket Linux also shows POLLERR (ECONNRESET pending); ours
 * does not, though SO_ERROR reports it. */
int us_socket_pollfd(struct ustack *s, int sd);

#ifdef __cplusplus
}
#endif
#endif
