/* What the runtime offers the sockets layer: the stack lock, condition
 * variables that wait under it with an absolute deadline, and a cheap way to
 * wake the stack thread when the core armed an earlier timer.
 *
 * Every function here accepts a stack without a runtime (s->rt NULL): there
 * is then no lock, waiting is impossible and waking is a no-op. */
#ifndef US_RUNTIME_RUNTIME_INTERNAL_H
#define US_RUNTIME_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "ustack/runtime.h"

/* The stack lock, or NULL when s has no runtime. */
pthread_mutex_t *us_runtime_mutex(struct ustack *s);

/* True when blocking calls can wait (a runtime exists to deliver events). */
bool us_runtime_can_wait(struct ustack *s);

/* Initialises cv to measure deadlines on us_clock_monotonic()'s clock. */
int us_runtime_cond_init(pthread_cond_t *cv);

/* Waits on cv with the stack lock held (released while waiting) until
 * signalled or until the absolute deadline (us_clock_monotonic() time;
 * US_TIME_NEVER: no limit). Returns 0 when woken (possibly spuriously),
 * ETIMEDOUT when the deadline passed, EAGAIN when s has no runtime. */
int us_runtime_wait(struct ustack *s, pthread_cond_t *cv, us_time_t deadline);

/* Wakes every thread waiting on cv (call with the stack lock held). */
void us_runtime_broadcast(pthread_cond_t *cv);

/* Call with the stack lock held after work done on an application thread
 * (a send): wakes the stack thread only if the core's next deadline is now
 * earlier than the one the thread sleeps towards, so the common case costs
 * no system call. */
void us_runtime_kick_if_earlier(struct ustack *s);

#endif
