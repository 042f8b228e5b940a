/* What the TCP services share: the listener, accepting, the list of live
 * connections, and letting go of a connection. Every function runs on the
 * stack thread or under the stack lock.
 *
 * The core's rule for owners (src/tcp/tcp.h): a pcb is ours from accept
 * until us_tcp_close() or us_tcp_abort(); after US_TCP_EV_CLOSED it is dead
 * but still ours to release. Inside an event handler we only ever let go
 * with an orderly close (svc_conn_close drains unread input first), which
 * does not free the pcb under the core's feet; resets are for stopping,
 * outside any handler. */
#include <errno.h>
#include <stdlib.h>

#include "svc_tcp.h"

static void conn_link(struct svc_tcp *sv, struct svc_conn *c)
{
    c->prev = NULL;
    c->next = sv->conns;
    if (sv->conns)
        sv->conns->prev = c;
    sv->conns = c;
    sv->nconns++;
}

static void conn_unlink(struct svc_conn *c)
{
    struct svc_tcp *sv = c->svc;
    if (c->prev)
        c->prev->next = c->next;
    else
        sv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sv->nconns--;
}

static void conn_free(struct svc_conn *c)
{
    conn_unlink(c);
    if (c->svc->def->release)
        c->svc->def->release(c);
    free(c);
}

int svc_conn_drain(struct svc_conn *c)
{
    for (;;) {
        ssize_t n = us_tcp_recv(c->pcb, c->svc->scratch, sizeof(c->svc->scratch), false);
        if (n == 0)
            return 0;
        if (n == -EAGAIN)
            return 1;
        if (n < 0)
            return (int)n;
    }
}

void svc_conn_close(struct svc_conn *c)
{
    struct us_tcp_pcb *pcb = c->pcb;
    svc_conn_drain(c);
    conn_free(c);
    us_tcp_close(pcb);
}

static void conn_event(void *ctx, struct us_tcp_pcb *pcb, unsigned events)
{
    struct svc_conn *c = ctx;
    (void)pcb;
    if (events & US_TCP_EV_CLOSED) {
        /* Reset, timed out, or closed by both sides: nothing left to do
         * but release it (the core frees a CLOSED pcb on close). */
        conn_free(c);
        us_tcp_close(pcb);
        return;
    }
    c->svc->def->event(c, events);
}

static void accept_all(struct svc_tcp *sv)
{
    struct us_tcp_pcb *pcb;
    while ((pcb = us_tcp_accept(sv->listener)) != NULL) {
        struct svc_conn *c = calloc(1, sv->def->conn_size);
        if (!c) {
            us_tcp_close(pcb); /* nothing read yet: an orderly close */
            continue;
        }
        c->svc = sv;
        c->pcb = pcb;
        conn_link(sv, c);
        pcb->event = conn_event;
        pcb->ctx = c;
        sv->def->open(c);
    }
}

static void listener_event(void *ctx, struct us_tcp_pcb *pcb, unsigned events)
{
    struct svc_tcp *sv = ctx;
    (void)pcb;
    if (events & US_TCP_EV_ACCEPTABLE)
        accept_all(sv);
}

int svc_tcp_start(struct svc_tcp *sv, const struct svc_tcp_def *def, struct ustack *s)
{
    sv->def = def;
    sv->stack = s;
    sv->conns = NULL;
    sv->nconns = 0;
    sv->listener = us_tcp_new(s, listener_event, sv);
    if (!sv->listener)
        return -ENOMEM;
    int rc = us_tcp_bind(sv->listener, NULL, def->port, true);
    if (rc == 0)
        rc = us_tcp_listen(sv->listener, SVC_TCP_BACKLOG);
    if (rc != 0) {
        us_tcp_close(sv->listener);
        sv->listener = NULL;
    }
    return rc;
}

void svc_tcp_stop(struct svc_tcp *sv)
{
    while (sv->conns) {
        struct svc_conn *c = sv->conns;
        struct us_tcp_pcb *pcb = c->pcb;
        conn_free(c);
        us_tcp_abort(pcb);
    }
    if (sv->listener)
        us_tcp_close(sv->listener);
    sv->listener = NULL;
}
