/* Berkeley-sockets-like API on top of a ustack instance.
 *
 * Descriptors returned by us_socket() are ustack's own small integers, not
 * kernel file descriptors; us_socket_pollfd() gives a kernel descriptor that
 * polls readable when the socket is. Every call is safe from any thread. On
 * error a call returns -1 and sets errno as Linux would. */
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
int us_close(struct ustack *s, int sd);
int us_getsockname(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len);
int us_getpeername(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len);
int us_setsockopt(struct ustack *s, int sd, int level, int name, const void *val, socklen_t len);
int us_getsockopt(struct ustack *s, int sd, int level, int name, void *val, socklen_t *len);
/* O_NONBLOCK on or off (F_SETFL-like). */
int us_set_nonblocking(struct ustack *s, int sd, int on);
/* A kernel descriptor (eventfd) that polls POLLIN when the socket has data or
 * an error pending. Owned by the socket; closed by us_close(). */
int us_socket_pollfd(struct ustack *s, int sd);

#ifdef __cplusplus
}
#endif
#endif
