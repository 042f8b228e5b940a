/* Link impairment: seeded, reproducible loss, duplication, reordering, delay
 * and corruption applied between the stack and any driver, both ways. This
 * is how tests and users get a faulty link where netem is unavailable. */
#ifndef US_LINK_IMPAIR_H
#define US_LINK_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/pkt.h"
#include "core/random.h"
#include "core/timer.h"

#define US_IMPAIR_PPM 1000000u

struct us_impair_spec {
    uint32_t loss, dup, reorder, corrupt; /* parts per million */
    us_time_t delay;
    uint64_t seed;
};

/* Parses a spec such as "loss=5%,dup=1%,reorder=2%,delay=10ms,corrupt=0.1%,
 * seed=7". Returns 0, or -1 with a message naming the bad item in err. */
int us_impair_parse(const char *text, struct us_impair_spec *out, char *err, size_t errlen);

struct us_netif;

void us_impair_tx(struct us_netif *nif, struct us_pkt *p);
void us_impair_rx(struct us_netif *nif, struct us_pkt *p);
void us_impair_free(struct us_netif *nif);

#endif
