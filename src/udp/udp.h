/* UDP (RFC 768): protocol control blocks, demultiplexing and output.
 * The callback API here is what the sockets layer and the in-stack services
 * build on. Addresses are dual-stack. */
#ifndef US_UDP_UDP_H
#define US_UDP_UDP_H

#include <stdbool.h>

#include "core/pkt.h"
#include "wire/ip4.h"

#define US_EPHEMERAL_MIN 32768 /* Linux ip_local_port_range */
#define US_EPHEMERAL_MAX 60999
#define US_UDP_MAX_PAYLOAD (65535 - 20 - 8)
#define US_UDP_HASH 256

struct us_udp_pcb;

/* p->data is the payload; the callee owns p. */
typedef void (*us_udp_recv_fn)(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                               const struct us_addr *src, uint16_t sport,
                               const struct us_addr *dst);
/* An ICMP error about a datagram this pcb sent (err: positive errno). */
typedef void (*us_udp_err_fn)(void *ctx, struct us_udp_pcb *pcb, int err);

struct us_udp_pcb {
    struct us_udp_pcb *next; /* hash chain by local port */
    struct ustack *stack;
    struct us_addr local, remote;
    uint16_t lport, rport; /* host order; rport 0: not connected */
    bool bound;
    us_udp_recv_fn recv;
    us_udp_err_fn err;
    void *ctx;
};

struct us_udp {
    struct us_udp_pcb *hash[US_UDP_HASH];
    uint32_t next_ephemeral;
};

struct us_udp_pcb *us_udp_new(struct ustack *s, us_udp_recv_fn recv, us_udp_err_fn err, void *ctx);
void us_udp_free(struct us_udp_pcb *pcb);
/* port 0 picks an ephemeral port. 0, or -EADDRINUSE / -EADDRNOTAVAIL /
 * -EINVAL (already bound). */
int us_udp_bind(struct us_udp_pcb *pcb, const struct us_addr *addr, uint16_t port);
/* Sets the remote; binds an ephemeral port and picks the source if needed. */
int us_udp_connect(struct us_udp_pcb *pcb, const struct us_addr *addr, uint16_t port);
void us_udp_disconnect(struct us_udp_pcb *pcb);
/* Sends payload p (p->data at payload, headroom for headers). dst NULL: the
 * connected remote. Takes ownership. 0, or negative errno (EMSGSIZE,
 * EDESTADDRREQ, ENETUNREACH, ENOBUFS). */
int us_udp_sendto(struct us_udp_pcb *pcb, struct us_pkt *p, const struct us_addr *dst,
                  uint16_t dport);

void us_udp_input(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                  const struct ip4_view *ip);
/* An ICMP error quoting a UDP datagram we sent (inner: quoted IP header and
 * at least 8 bytes of UDP). */
void us_udp_icmp_error(struct ustack *s, const struct ip4_view *inner, const uint8_t *udp_hdr,
                       int err);
/* RFC 6056 algorithm 3 ephemeral port for this 4-tuple; checks in_use. */
uint16_t us_ephemeral_port(struct ustack *s, const struct us_addr *local,
                           const struct us_addr *remote, uint16_t rport,
                           bool (*in_use)(struct ustack *, uint16_t));
void us_udp_destroy(struct ustack *s);

#endif
