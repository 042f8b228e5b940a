/* Sockets layer internals shared by the generic code (socket.c) and the
 * per-protocol files (socket_udp.c, socket_ping.c).
 *
 * Every field of a socket is guarded by the stack lock. Protocol callbacks
 * from the core run on the stack thread with that lock held. */
#ifndef US_SOCKET_SOCKET_INTERNAL_H
#define US_SOCKET_SOCKET_INTERNAL_H

#include <netinet/in.h>
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
    int type;     /* SOCK_DGRAM */
    int protocol; /* IPPROTO_UDP or IPPROTO_ICMP */
    bool closed;  /* us_close ran; freed when the last waiter leaves */
    bool nonblock;
    bool reuseaddr;
    bool broadcast;
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

    int evfd;      /* eventfd for us_socket_pollfd, -1 until asked for */
    bool ev_ready; /* evfd currently reads as readable */

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
};

int us_sock_udp_open(struct us_sock *so);
int us_sock_ping_open(struct us_sock *so);

/* Queues a received datagram (p->data at the payload; takes ownership) or
 * drops it when the receive buffer is full, counting the drop under proto.
 * Wakes readers and the pollfd. */
void us_sock_enqueue(struct us_sock *so, struct us_pkt *p, const struct us_addr *src,
                     uint16_t sport, enum us_proto proto);
/* Sets the pending error and wakes readers and the pollfd. */
void us_sock_set_error(struct us_sock *so, int err);

/* True when a is the limited broadcast or a subnet broadcast of a netif. */
bool us_sock_is_bcast4(struct ustack *s, uint32_t a);
/* True when a socket may bind a: any, an address of ours, a broadcast or a
 * multicast address (Linux inet_addr_valid_or_nonlocal). */
bool us_sock_addr_bindable(struct ustack *s, uint32_t a);

#endif
