/* What `ustack ping` prints, in the format of iputils ping(8). */
#ifndef USTACK_APPS_PING_REPORT_H
#define USTACK_APPS_PING_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ustack/ustack.h"

struct ping_stats {
    unsigned long transmitted, received, duplicates, errors;
    bool timing;                       /* payloads carry a send timestamp */
    long long tmin, tmax, tsum, tsum2; /* round-trip times in microseconds */
};

void ping_stats_init(struct ping_stats *st, bool timing);
/* Adds one round-trip time (replies and duplicates alike, as iputils). */
void ping_stats_add_rtt(struct ping_stats *st, long long rtt_us);
/* "time=0.412 ms" with iputils' precision: 3 decimals under 1 ms, 2 under
 * 10 ms, 1 under 100 ms, none above. */
void ping_format_rtt(long long rtt_us, char *buf, size_t len);
/* The "--- DEST ping statistics ---" block. */
void ping_print_summary(FILE *f, const char *dest, const struct ping_stats *st, us_time_t elapsed);

#endif
