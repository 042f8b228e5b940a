/* Sockets layer internals shared by the generic code (socket.c), the
 * per-protocol files (socket_udp.c, socket_ping.c, socket_tcp.c) and the
 * pollable descriptor (socket_pollfd.c).
 *
 * Every field of a socket is guarded by the stack lock. Protocol callbacks
 * from the core run on the stack thread with that lock held. */
#ifndef US_SOCKET_SOCKET_INTERNAL_H
#define US_SOCKET_SOCKET_INTERNAL_H

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/stack.h"

/* Linux defaults (net.core.rmem_default / wmem_default / *_max) and the
 * floor of SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF on 64-bit. */
#define US_SOCK_RCVBUF_DEFAULT 212992u
#define US_SOCK_SNDBUF_DEFAULT 212992u
#define US_SOCK_BUF_MAX 212992u
#define US_SOCK_MIN_RCVBUF 2304u
#define US_SOCK_MIN_SNDBUF 4608u

/* Largest ICMP message a ping socket sends: 65535 minus the IPv4 header. */
#define US_PING_MAX_MSG (65535 - 20)

struct us_sock;

/* ---- The pollable descriptor (socket_pollfd.c) ----
 *
 * One end ("app") of an AF_UNIX socket pair is what the application polls;
 * the stack keeps the other end ("own") and drives the app end's poll bits
 * to be exactly those Linux shows for a socket in the same state:
 *   POLLIN    a byte written from own into app (drained when not readable),
 *             or app's receive side shut down (below);
 *   POLLOUT   app's own send-buffer accounting: a ballast queued from app
 *             at own once, then app's SO_SNDBUF set high (writable) or to
 *             the minimum (ballast * 4 > sndbuf: unix_writable() is false);
 *   POLLRDHUP (and POLLIN) shutdown(own, SHUT_WR), mirrored to app;
 *   POLLHUP   shutdown(own, SHUT_RDWR): app's shutdown becomes SHUTDOWN_MASK;
 *   POLLERR   stream: close(own) with the ballast unread sets app's sk_err
 *             (ECONNRESET) together with HUP|IN|RDHUP|OUT, which is a TCP
 *             socket's state after a reset, refusal or timeout; datagram:
 *             own disconnecting with the ballast queued sets app's sk_err
 *             alone (unix_dgram_disconnected), own reconnects at once;
 *             getsockopt(app, SO_ERROR) clears it.
 * A TCP socket that never connected polls POLLOUT|POLLHUP in Linux: app is
 * then an unconnected stream socket, which polls the same, and is connected
 * to a fresh own end through a throw-away listener when the socket leaves
 * that state. State is tracked here, so a call touches the kernel only when
 * the bits change. */
#define US_POLL_FRESH 0x10000u /* never-connected TCP socket: POLLOUT|POLLHUP */

struct us_pollfd {
    int app;        /* the application's end; -1 until asked for */
    int own;        /* ours; -1 while unlinked or after an error was shown */
    bool stream;    /* SOCK_STREAM pair (TCP) or SOCK_DGRAM pair (UDP, ping) */
    bool linked;    /* app is connected to own */
    bool byte;      /* the readiness byte sits in app's receive queue */
    bool ballast;   /* datagram: own holds the ballast (to raise POLLERR) */
    unsigned shown; /* POLL* bits app shows now, or US_POLL_FRESH */
};

/* Creates the pair showing want. 0 or -errno. */
int us_pollfd_open(struct us_pollfd *pf, bool stream, unsigned want);
/* Makes app show want; no system call when it already does. */
void us_pollfd_show(struct us_pollfd *pf, unsigned want);
void us_pollfd_close(struct us_pollfd *pf);

/* Protocol operations. Addresses arrive validated (family and length);
 * v4 addresses are in network order, ports in host order. Each returns 0 (or
 * a byte count) or a negative errno. */
struct us_sock_ops {
    /* Checks the message itself before the destination (NULL: any). */
    int (*check_msg)(const void *buf, size_t len);
    int (*bind)(struct us_sock *so, uint32_t addr, uint16_t port);
    int (*connect)(struct us_sock *so, uint32_t addr, uint16_t port);
    void (*disconnect)(struct us_sock *so);
    bool (*connected)(const struct us_sock *so);
    /* to NULL: the connected peer (the caller checked there is one). */
    ssize_t (*sendto)(struct us_sock *so, const void *buf, size_t len,
                      const struct sockaddr_in *to);
    void (*name)(const struct us_sock *so, struct sockaddr_in *out);
    void (*peer)(const struct us_sock *so, struct sockaddr_in *out);
    /* Detaches from the core (no callback may arrive afterwards). */
    void (*release)(struct us_sock *so);
};

struct us_sock {
    struct ustack *s;
    const struct us_sock_ops *ops;
    int type;     /* SOCK_DGRAM or SOCK_STREAM */
    int protocol; /* IPPROTO_UDP, IPPROTO_ICMP or IPPROTO_TCP */
    bool closed;  /* us_close ran; freed when the last waiter leaves */
    bool nonblock;
    bool reuseaddr;
    bool broadcast;
    bool keepalive;
    bool recvttl;          /* IP_RECVTTL */
    bool shut_rd, shut_wr; /* datagram sockets: shutdown() */
    struct linger linger;
    int so_error; /* pending error (positive errno), 0 when none */
    int refs;     /* callers blocked on cv */
    uint32_t rcvbuf, sndbuf;
    us_time_t rcvtimeo, sndtimeo; /* US_TIME_NEVER: wait forever */

    /* Received datagrams; each carries a struct us_sock_meta in front of
     * its payload. rx_bytes counts their buffers' true size against
     * rcvbuf, as Linux counts skb->truesize. */
    struct us_pktq rxq;
    uint32_t rx_bytes;
    pthread_cond_t cv; /* signalled when data, an error or close arrives */

    struct us_pollfd pf; /* us_socket_pollfd; pf.app -1 until asked for */

    /* Protocol state. */
    struct us_udp_pcb *pcb;
    struct {
        struct us_icmp4_echo_listener echo; /* echo.id: our identifier */
        bool bound;                         /* identifier assigned, listening */
        uint32_t local;                     /* bound address (network order) */
        uint32_t src;                       /* source picked by connect */
        uint32_t remote;                    /* connected peer, 0 if none */
        uint16_t rport;
        bool connected;
    } ping;
    struct {
        struct us_tcp_pcb *pcb;
        bool started; /* connecting, connected or done: not fresh (Linux SOCK_DONE) */
        uint8_t ss;   /* Linux's socket state: SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED */
        bool bound;   /* bound by the application: kept over a disconnect */
        struct us_addr bind_addr;
        uint16_t bind_port;
    } tcp;
};

/* The per-stack descriptor table (s->sock): descriptor sd is tab[sd]. */
struct us_socklayer {
    struct ustack *s;
    struct us_sock **tab;
    int cap;
};

/* Metadata stored in front of a queued datagram's payload. */
struct us_sock_meta {
    struct us_addr src;
    uint16_t sport; /* host order */
    int16_t ttl;    /* of the IP header, -1 when not known */
};

int us_sock_udp_open(struct us_sock *so);
int us_sock_ping_open(struct us_sock *so);
int us_sock_tcp_open(struct us_sock *so);

/* Queues a received datagram (p->data at the payload; takes ownership) or
 * drops it when the receive buffer is full, counting the drop under proto.
 * Wakes readers and the pollfd. */
void us_sock_enqueue(struct us_sock *so, struct us_pkt *p, const struct us_addr *src,
                     uint16_t sport, int ttl, enum us_proto proto);
/* Sets the pending error and wakes readers and the pollfd. */
void us_sock_set_error(struct us_sock *so, int err);

/* True when a is the limited broadcast or a subnet broadcast of a netif. */
bool us_sock_is_bcast4(struct ustack *s, uint32_t a);
/* True when a socket may bind a: any, an address of ours, a broadcast or a
 * multicast address (Linux inet_addr_valid_or_nonlocal). */
bool us_sock_addr_bindable(struct ustack *s, uint32_t a);

/* ---- Generic helpers (socket.c) ---- */

/* Sleeps on so's condition variable until woken or until *deadline, which
 * the first call computes from timeout (*deadline 0: not yet). Returns 0
 * when woken (check again), -EAGAIN when the time is up or nothing could
 * wake us (no runtime, zero timeout), -EBADF when the socket was closed
 * meanwhile: so has then been freed. */
int us_sock_wait(struct us_sock *so, us_time_t timeout, us_time_t *deadline);
/* Wakes waiters (if any) and brings the pollable descriptor up to date. */
void us_sock_wake(struct us_sock *so);
/* Parses a sockaddr_in of at least sizeof(struct sockaddr_in) bytes. */
int us_sock_parse_sin(const struct sockaddr *addr, socklen_t len, struct sockaddr_in *out);
/* Copies sin into a user buffer of *len bytes (truncating like Linux). */
int us_sock_copy_sin_out(const struct sockaddr_in *sin, struct sockaddr *addr, socklen_t *len);
int us_sock_get_int(const void *val, socklen_t len, int *out);

/* ---- TCP (socket_tcp.c); the generic code dispatches on SOCK_STREAM ---- */

/* The poll bits Linux's tcp_poll() reports for this socket, or
 * US_POLL_FRESH for one that never connected nor listened. */
unsigned us_sock_tcp_mask(const struct us_sock *so);
int us_sock_tcp_connect(struct us_sock *so, const struct sockaddr *addr, socklen_t len);
int us_sock_tcp_listen(struct us_sock *so, int backlog);
/* Waits for a connection on the listener so; returns it, or NULL with
 * *err set (-EAGAIN, -EINVAL, -EBADF: so was freed). */
struct us_tcp_pcb *us_sock_tcp_accept_pcb(struct us_sock *so, int *err);
/* Makes the new socket so the owner of child, accepted on listener l. */
void us_sock_tcp_adopt(struct us_sock *so, const struct us_sock *l, struct us_tcp_pcb *child);
ssize_t us_sock_tcp_send(struct us_sock *so, const void *buf, size_t len, int flags);
ssize_t us_sock_tcp_recv(struct us_sock *so, void *buf, size_t len, int flags);
int us_sock_tcp_shutdown(struct us_sock *so, int how);
/* A socket-level option (SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_LINGER)
 * was stored in so: passes it on to the connection. */
void us_sock_tcp_apply(struct us_sock *so, int name);
/* SO_ERROR: reads and clears the connection's pending error. */
int us_sock_tcp_take_error(struct us_sock *so);
/* IPPROTO_TCP options. */
int us_sock_tcp_setopt(struct us_sock *so, int name, const void *val, socklen_t len);
int us_sock_tcp_getopt(struct us_sock *so, int name, int *v);
/* SO_LINGER with a time, on a blocking socket being closed: waits until
 * our FIN is acknowledged or the time is up. Returns -EBADF if so was
 * freed meanwhile. */
int us_sock_tcp_linger(struct us_sock *so);
/* Lets go of the connection at stack teardown without sending anything. */
void us_sock_tcp_forget(struct us_sock *so);

#endif
