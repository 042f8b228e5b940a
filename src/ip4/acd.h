/* IPv4 Address Conflict Detection (RFC 5227). */
#ifndef US_IP4_ACD_H
#define US_IP4_ACD_H

#include <stdbool.h>

#include "core/timer.h"

/* RFC 5227 section 1.1 constants. */
#define ACD_PROBE_WAIT (1 * US_SEC)
#define ACD_PROBE_NUM 3
#define ACD_PROBE_MIN (1 * US_SEC)
#define ACD_PROBE_MAX (2 * US_SEC)
#define ACD_ANNOUNCE_WAIT (2 * US_SEC)
#define ACD_ANNOUNCE_NUM 2
#define ACD_ANNOUNCE_INTERVAL (2 * US_SEC)
#define ACD_DEFEND_INTERVAL (10 * US_SEC)

enum us_acd_state {
    ACD_OFF,
    ACD_PROBE_WAITING,
    ACD_PROBING,
    ACD_ANNOUNCING,
    ACD_BOUND,
    ACD_CONFLICT
};

struct us_netif;
struct arp_view;

struct us_acd {
    struct us_netif *nif;
    uint32_t ip;
    uint8_t state;
    uint8_t sent; /* probes or announcements sent in this state */
    bool defended_once;
    us_time_t last_defend;
    struct us_timer timer;
};

/* Starts probing (or binds at once when ACD is off on the netif). */
void us_acd_start(struct us_netif *nif, struct us_acd *acd, uint32_t ip);
void us_acd_stop(struct us_netif *nif, struct us_acd *acd);
/* Looks at every received ARP packet for conflicts with our addresses.
 * Returns true when the packet was a conflict that ACD handled. */
bool us_acd_check(struct us_netif *nif, const struct arp_view *arp);
/* True when the address may be used: announcing or bound. */
static inline bool us_acd_usable(const struct us_acd *a)
{
    return a->state == ACD_ANNOUNCING || a->state == ACD_BOUND || a->state == ACD_OFF;
}
const char *us_acd_state_name(int state);

#endif
