/* IPv4 fragment reassembly (RFC 791 section 3.2, RFC 815). Overlapping
 * fragments make the whole datagram be dropped (as RFC 5722 asks of IPv6,
 * and for the same reasons); exact duplicates are ignored. */
#ifndef US_IP4_REASSEMBLY_H
#define US_IP4_REASSEMBLY_H

#include "core/pkt.h"
#include "core/timer.h"
#include "wire/ip4.h"

#define US_REASM_TIMEOUT (30 * US_SEC) /* as Linux ipfrag_time */
#define US_REASM_MAX_DGRAMS 64
#define US_REASM_DEFAULT_MEM (4u << 20)

struct us_netif;

struct us_reasm_dgram {
    struct us_reasm_dgram *next;
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    uint32_t total;       /* payload length once the last fragment is seen, else 0 */
    uint32_t have;        /* payload bytes held */
    uint32_t mem;         /* buffer bytes held */
    struct us_pkt *frags; /* sorted by offset; data at payload */
    struct us_pkt *first; /* copy of the first fragment's header + 8 bytes */
    struct us_netif *nif;
    struct us_timer timer;
};

struct us_reasm {
    struct us_reasm_dgram *list;
    uint32_t count;
    uint32_t mem;
};

/* Takes a fragment (p->data at the IP header); returns the whole datagram
 * (data at IP header, header fields patched) when complete, else NULL. */
struct us_pkt *us_ip4_reasm_input(struct us_netif *nif, struct us_pkt *p,
                                  const struct ip4_view *ip);
void us_ip4_reasm_destroy(struct ustack *s);

#endif
