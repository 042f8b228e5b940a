#include "core/timer.h"

#include <stdlib.h>

#include "core/stack.h"

static void heap_set(struct us_timer_heap *h, uint32_t i, struct us_timer *t)
{
    h->items[i] = t;
    t->heap_idx = i + 1;
}

static void sift_up(struct us_timer_heap *h, uint32_t i)
{
    struct us_timer *t = h->items[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->items[parent]->deadline <= t->deadline)
            break;
        heap_set(h, i, h->items[parent]);
        i = parent;
    }
    heap_set(h, i, t);
}

static void sift_down(struct us_timer_heap *h, uint32_t i)
{
    struct us_timer *t = h->items[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->deadline < h->items[child]->deadline)
            child++;
        if (t->deadline <= h->items[child]->deadline)
            break;
        heap_set(h, i, h->items[child]);
        i = child;
    }
    heap_set(h, i, t);
}

static void heap_remove(struct us_timer_heap *h, struct us_timer *t)
{
    uint32_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    h->count--;
    if (i == h->count)
        return;
    heap_set(h, i, h->items[h->count]);
    sift_down(h, i);
    sift_up(h, h->items[i]->heap_idx - 1);
}

void us_timer_arm(struct ustack *s, struct us_timer *t, us_time_t deadline)
{
    struct us_timer_heap *h = &s->timers;
    if (us_timer_armed(t))
        heap_remove(h, t);
    if (h->count == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct us_timer **items = realloc(h->items, cap * sizeof(*items));
        if (!items)
            abort(); /* timers are tiny; running out here means the process is done */
        h->items = items;
        h->cap = cap;
    }
    t->deadline = deadline;
    heap_set(h, h->count++, t);
    sift_up(h, h->count - 1);
}

void us_timer_cancel(struct ustack *s, struct us_timer *t)
{
    if (us_timer_armed(t))
        heap_remove(&s->timers, t);
}

void us_timer_run(struct ustack *s, us_time_t now)
{
    struct us_timer_heap *h = &s->timers;
    while (h->count && h->items[0]->deadline <= now) {
        struct us_timer *t = h->items[0];
        heap_remove(h, t);
        t->fn(s, t);
    }
}

us_time_t us_timer_next(const struct us_timer_heap *h)
{
    return h->count ? h->items[0]->deadline : US_TIME_NEVER;
}

void us_timer_heap_destroy(struct us_timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = h->cap = 0;
}
