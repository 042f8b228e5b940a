/* ARP neighbour cache (RFC 826, RFC 1122 2.3.2) with the states of
 * Neighbor Unreachability Detection (RFC 4861 7.3.2), as Linux uses for ARP:
 * INCOMPLETE while resolving, REACHABLE after a reply, STALE once that ages,
 * DELAY when a stale entry is used (waiting for a confirmation), PROBE while
 * refreshing by unicast. */
#ifndef US_IP4_ARP_H
#define US_IP4_ARP_H

#include <stdbool.h>

#include "core/pkt.h"
#include "core/timer.h"

#define US_ARP_CACHE_SIZE 64
#define US_ARP_QUEUE_MAX 64 /* packets held per unresolved neighbour */
/* Bytes held per unresolved neighbour, as Linux's unres_qlen_bytes: enough
 * for the fragments of one maximum-size datagram. */
#define US_ARP_QUEUE_BYTES 212992
#define US_ARP_RETRANS (1 * US_SEC) /* between requests */
#define US_ARP_MAX_PROBES 3
#define US_ARP_REACHABLE (30 * US_SEC)
#define US_ARP_STALE_GC (60 * US_SEC) /* unused stale entries are forgotten */
#define US_ARP_DELAY (5 * US_SEC)     /* RFC 4861 DELAY_FIRST_PROBE_TIME */

enum us_arp_state { ARP_FREE, ARP_INCOMPLETE, ARP_REACHABLE, ARP_STALE, ARP_DELAY, ARP_PROBE };

struct us_netif;

struct us_arp_entry {
    struct us_netif *nif;
    uint32_t ip; /* network order */
    struct us_mac mac;
    uint8_t state;
    uint8_t probes;    /* requests sent in INCOMPLETE or PROBE */
    us_time_t updated; /* last confirmation or state change */
    us_time_t used;    /* last time a packet went to it */
    struct us_pktq pending;
    struct us_timer timer;
};

struct us_arp_cache {
    struct us_arp_entry e[US_ARP_CACHE_SIZE];
    struct us_arp_entry *last; /* last hit, checked first on the hot path */
};

void us_arp_init(struct us_netif *nif);
void us_arp_destroy(struct us_netif *nif);
void us_arp_input(struct us_netif *nif, struct us_pkt *p);
/* Sends IPv4 packet p (data at the IP header) to next hop on nif, resolving
 * its MAC first if needed. Takes ownership. */
void us_arp_output(struct us_netif *nif, struct us_pkt *p, uint32_t nexthop);
/* Sends an ARP packet; tha may be NULL (zero). dst is the link destination. */
void us_arp_send(struct us_netif *nif, uint16_t op, const struct us_mac *dst, uint32_t spa,
                 const struct us_mac *tha, uint32_t tpa);
struct us_arp_entry *us_arp_lookup(struct us_netif *nif, uint32_t ip);
const char *us_arp_state_name(int state);

#endif
