/* IPv4 input and output (RFC 791, RFC 1122 3.3). */
#ifndef US_IP4_IP4_H
#define US_IP4_IP4_H

#include <stdbool.h>

#include "core/pkt.h"
#include "wire/ip4.h"

#define US_IP4_DEFAULT_TTL 64

struct us_netif;

struct us_ip4_route {
    struct us_netif *nif;
    uint32_t nexthop; /* network order */
    uint32_t src;     /* preferred source */
};

/* Finds the interface, next hop and source for dst. 0, or -ENETUNREACH. */
int us_ip4_route(struct ustack *s, uint32_t dst, struct us_ip4_route *out);

/* Sends a transport payload (p->data at the transport header). src 0: picked
 * from the route. Fragments to the link MTU unless df. Takes ownership.
 * Returns 0 or a negative errno (ENETUNREACH, EMSGSIZE, ENOBUFS). */
int us_ip4_output(struct ustack *s, struct us_pkt *p, uint32_t src, uint32_t dst, uint8_t proto,
                  uint8_t ttl, uint8_t tos, bool df);

/* Input of an IPv4 packet (p->data at the IP header) received on nif. */
void us_ip4_input(struct us_netif *nif, struct us_pkt *p);
/* Hands a complete (possibly reassembled) datagram to its transport. */
void us_ip4_deliver(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                    const struct ip4_view *ip);

/* Fragments (p->data at the IP header, already built) and sends the pieces
 * via nif to nexthop. Takes ownership. */
void us_ip4_fragment(struct us_netif *nif, struct us_pkt *p, const struct ip4_view *ip,
                     uint32_t nexthop);
/* Sends a built IP packet to nexthop on nif (ARP on Ethernet). */
void us_ip4_link_output(struct us_netif *nif, struct us_pkt *p, uint32_t nexthop);

#endif
