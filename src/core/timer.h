/* Timers on the stack's injected clock, kept in a binary min-heap. */
#ifndef US_CORE_TIMER_H
#define US_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/ustack.h"

struct us_timer;
typedef void (*us_timer_fn)(struct ustack *s, struct us_timer *t);

struct us_timer {
    us_time_t deadline;
    uint32_t heap_idx; /* 0: not armed; else index + 1 */
    us_timer_fn fn;
};

struct us_timer_heap {
    struct us_timer **items;
    uint32_t count, cap;
};

#define us_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void us_timer_init(struct us_timer *t, us_timer_fn fn)
{
    t->deadline = 0;
    t->heap_idx = 0;
    t->fn = fn;
}

static inline bool us_timer_armed(const struct us_timer *t)
{
    return t->heap_idx != 0;
}

/* Arms (or re-arms) t to fire at deadline. */
void us_timer_arm(struct ustack *s, struct us_timer *t, us_time_t deadline);
void us_timer_cancel(struct ustack *s, struct us_timer *t);
/* Runs every timer due at or before now. */
void us_timer_run(struct ustack *s, us_time_t now);
us_time_t us_timer_next(const struct us_timer_heap *h);
void us_timer_heap_destroy(struct us_timer_heap *h);

#endif
