/* The runtime: one thread that drives a stack in real time.
 *
 * The thread loops: under the stack lock it handles the descriptors that
 * became readable and runs the core's timers (us_poll), then it releases the
 * lock and sleeps in epoll until a descriptor is readable, the core's next
 * deadline comes, or another thread writes the wake eventfd. The deadline is
 * given to epoll_pwait2 in nanoseconds (falling back to epoll_wait rounded up
 * to the next millisecond on kernels without it), so timers never fire early
 * and the loop never spins on a deadline less than a millisecond away. */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/stack.h"

#define RT_MAX_EVENTS 32

struct rt_fd {
    struct rt_fd *next;
    int fd;
    void (*on_readable)(void *ctx);
    void *ctx;
};

struct us_runtime {
    struct ustack *s;
    int epfd;
    int wakefd;
    pthread_mutex_t lock; /* the stack lock */
    pthread_t thread;
    bool running;       /* thread started and not joined */
    bool stop;          /* under lock: the thread must exit */
    us_time_t sleeping; /* under lock: deadline the thread sleeps towards */
    bool no_pwait2;     /* kernel lacks epoll_pwait2 */
    /* Registered descriptors, guarded by their own lock so that
     * us_runtime_add_fd works from any thread, the stack thread included. */
    pthread_mutex_t fds_lock;
    struct rt_fd *fds;
};

/* epoll's data.ptr for the wake eventfd; registered descriptors use their
 * struct rt_fd. */
static char wake_tag;

us_time_t us_clock_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (us_time_t)ts.tv_sec * US_SEC + (us_time_t)ts.tv_nsec;
}

static struct us_runtime *rt_of(struct ustack *s)
{
    return (struct us_runtime *)s->rt;
}

static int epoll_add(int epfd, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

struct us_runtime *us_runtime_new(struct ustack *s)
{
    if (s->rt) {
        errno = EBUSY;
        return NULL;
    }
    struct us_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    rt->s = s;
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    rt->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rt->epfd < 0 || rt->wakefd < 0 || epoll_add(rt->epfd, rt->wakefd, &wake_tag) < 0 ||
        pthread_mutex_init(&rt->lock, NULL) != 0 || pthread_mutex_init(&rt->fds_lock, NULL) != 0) {
        int err = errno;
        if (rt->epfd >= 0)
            close(rt->epfd);
        if (rt->wakefd >= 0)
            close(rt->wakefd);
        free(rt);
        errno = err;
        return NULL;
    }
    s->rt = rt;
    return rt;
}

int us_runtime_add_fd(struct us_runtime *rt, int fd, void (*on_readable)(void *ctx), void *ctx)
{
    struct rt_fd *e = malloc(sizeof(*e));
    if (!e)
        return -1;
    *e = (struct rt_fd){.fd = fd, .on_readable = on_readable, .ctx = ctx};
    pthread_mutex_lock(&rt->fds_lock);
    e->next = rt->fds;
    rt->fds = e;
    pthread_mutex_unlock(&rt->fds_lock);
    if (epoll_add(rt->epfd, fd, e) < 0)
        return -1; /* e stays listed (freed with rt) but is never reported */
    return 0;
}

static void drain_wake(struct us_runtime *rt)
{
    uint64_t v;
    while (read(rt->wakefd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
    }
}

static void handle_events(struct us_runtime *rt, const struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == &wake_tag) {
            drain_wake(rt);
            continue;
        }
        struct rt_fd *e = ev[i].data.ptr;
        e->on_readable(e->ctx);
    }
}

/* Sleeps until an event or the absolute deadline; returns events or -1. */
static int wait_events(struct us_runtime *rt, struct epoll_event *ev, us_time_t deadline)
{
    us_time_t now = us_clock_monotonic();
    us_time_t delta = deadline > now ? deadline - now : 0;
    if (!rt->no_pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(delta / US_SEC),
                              .tv_nsec = (long)(delta % US_SEC)};
        int n =
            epoll_pwait2(rt->epfd, ev, RT_MAX_EVENTS, deadline == US_TIME_NEVER ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        rt->no_pwait2 = true;
    }
    int ms = -1;
    if (deadline != US_TIME_NEVER) {
        us_time_t up = (delta + US_MSEC - 1) / US_MSEC; /* never wake early */
        ms = up > INT_MAX ? INT_MAX : (int)up;
    }
    return epoll_wait(rt->epfd, ev, RT_MAX_EVENTS, ms);
}

static void *rt_thread(void *arg)
{
    struct us_runtime *rt = arg;
    struct epoll_event ev[RT_MAX_EVENTS];
    int n = 0;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the application */

    pthread_mutex_lock(&rt->lock);
    while (!rt->stop) {
        handle_events(rt, ev, n);
        us_time_t next = us_poll(rt->s, us_clock_monotonic());
        rt->sleeping = next;
        pthread_mutex_unlock(&rt->lock);
        n = wait_events(rt, ev, next);
        if (n < 0)
            n = 0; /* EINTR */
        pthread_mutex_lock(&rt->lock);
        /* Packets that woke us are stamped with the time they arrived,
         * not the time we went to sleep (RTT samples, timestamps); they are
         * read before due timers run, so that an ACK waiting in the queue
         * is seen before a retransmission timeout it would have stopped. */
        us_set_now(rt->s, us_clock_monotonic());
    }
    rt->sleeping = 0;
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

int us_runtime_start(struct us_runtime *rt)
{
    if (rt->running) {
        errno = EBUSY;
        return -1;
    }
    rt->stop = false;
    int err = pthread_create(&rt->thread, NULL, rt_thread, rt);
    if (err) {
        errno = err;
        return -1;
    }
    rt->running = true;
    return 0;
}

void us_runtime_stop(struct us_runtime *rt)
{
    if (!rt->running)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->stop = true;
    pthread_mutex_unlock(&rt->lock);
    us_runtime_kick(rt->s);
    pthread_join(rt->thread, NULL);
    rt->running = false;
}

void us_runtime_free(struct us_runtime *rt)
{
    if (!rt)
        return;
    us_runtime_stop(rt);
    while (rt->fds) {
        struct rt_fd *e = rt->fds;
        rt->fds = e->next;
        free(e);
    }
    close(rt->epfd);
    close(rt->wakefd);
    pthread_mutex_destroy(&rt->lock);
    pthread_mutex_destroy(&rt->fds_lock);
    if (rt->s->rt == rt)
        rt->s->rt = NULL;
    free(rt);
}

void us_runtime_lock(struct ustack *s)
{
    struct us_runtime *rt = rt_of(s);
    if (rt)
        pthread_mutex_lock(&rt->lock);
}

void us_runtime_unlock(struct ustack *s)
{
    struct us_runtime *rt = rt_of(s);
    if (rt)
        pthread_mutex_unlock(&rt->lock);
}

void us_runtime_kick(struct ustack *s)
{
    struct us_runtime *rt = rt_of(s);
    if (!rt)
        return;
    uint64_t one = 1;
    ssize_t r = write(rt->wakefd, &one, sizeof(one));
    (void)r; /* EAGAIN: a wake-up is already pending */
}

/* ---- Internal API for the sockets layer ---- */

pthread_mutex_t *us_runtime_mutex(struct ustack *s)
{
    struct us_runtime *rt = rt_of(s);
    return rt ? &rt->lock : NULL;
}

bool us_runtime_can_wait(struct ustack *s)
{
    return s->rt != NULL;
}

int us_runtime_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err)
        return err;
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!err)
        err = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return err;
}

int us_runtime_wait(struct ustack *s, pthread_cond_t *cv, us_time_t deadline)
{
    struct us_runtime *rt = rt_of(s);
    if (!rt)
        return EAGAIN;
    if (deadline == US_TIME_NEVER)
        return pthread_cond_wait(cv, &rt->lock);
    struct timespec ts = {.tv_sec = (time_t)(deadline / US_SEC),
                          .tv_nsec = (long)(deadline % US_SEC)};
    return pthread_cond_timedwait(cv, &rt->lock, &ts);
}

void us_runtime_broadcast(pthread_cond_t *cv)
{
    pthread_cond_broadcast(cv);
}

void us_runtime_kick_if_earlier(struct ustack *s)
{
    struct us_runtime *rt = rt_of(s);
    if (!rt)
        return; /* rt->sleeping is 0 while no thread sleeps */
    us_time_t next = us_next_deadline(s);
    if (next < rt->sleeping) {
        rt->sleeping = next; /* one wake-up per earlier deadline */
        us_runtime_kick(s);
    }
}
