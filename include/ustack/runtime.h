/* The runtime drives a stack in real time from its own thread: epoll over the
 * link descriptors and a wake-up eventfd, timers from the core's deadline. */
#ifndef USTACK_RUNTIME_H
#define USTACK_RUNTIME_H

#include "ustack/ustack.h"

#ifdef __cplusplus
extern "C" {
#endif

struct us_runtime;

/* Real monotonic clock in nanoseconds. */
us_time_t us_clock_monotonic(void);

struct us_runtime *us_runtime_new(struct ustack *s);
/* Registers a descriptor whose readability calls on_readable(ctx) on the stack
 * thread with the stack lock held. */
int us_runtime_add_fd(struct us_runtime *rt, int fd, void (*on_readable)(void *ctx), void *ctx);
int us_runtime_start(struct us_runtime *rt); /* starts the thread */
void us_runtime_stop(struct us_runtime *rt); /* joins it */
void us_runtime_free(struct us_runtime *rt);
/* Takes and releases the stack lock (no-ops when the stack has no runtime):
 * every core call from another thread must hold it. */
void us_runtime_lock(struct ustack *s);
void us_runtime_unlock(struct ustack *s);
/* Wakes the stack thread so it recomputes its next deadline. */
void us_runtime_kick(struct ustack *s);

#ifdef __cplusplus
}
#endif
#endif
