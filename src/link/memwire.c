/* In-memory wire joining two netifs, for tests and simulations.
 *
 * Each end keeps a FIFO of the frames its netif transmitted. Nothing moves
 * until the test calls us_memwire_deliver() (or takes frames itself with
 * us_memwire_take()), so the order of events is the test's to choose.
 *
 * A delivered frame is copied into a buffer of the receiving stack: the two
 * ends may belong to two stacks, and a buffer must go back to the pool it
 * came from. The copy also gives the receiver fresh headroom and clean
 * metadata, as a real wire would. */
#include <stdlib.h>
#include <string.h>

#include "core/netif.h"
#include "core/pkt.h"
#include "core/stack.h"
#include "ustack/link.h"

struct us_memwire_end {
    struct us_pktq txq;   /* frames this end transmitted, oldest first */
    struct us_netif *nif; /* netif attached to this end (receives) */
};

struct us_memwire {
    struct us_memwire_end end[2];
    int next_end; /* end whose frame goes first on the next delivery */
};

static bool end_ok(int end)
{
    return end == 0 || end == 1;
}

struct us_memwire *us_memwire_new(void)
{
    return calloc(1, sizeof(struct us_memwire));
}

void us_memwire_free(struct us_memwire *w)
{
    if (!w)
        return;
    us_pktq_purge(&w->end[0].txq);
    us_pktq_purge(&w->end[1].txq);
    free(w);
}

static void memwire_transmit(void *ctx, struct us_pkt *pkt)
{
    struct us_memwire_end *e = ctx;
    pkt->next = NULL;
    us_pktq_push(&e->txq, pkt);
}

struct us_driver us_memwire_driver(struct us_memwire *w, int end)
{
    struct us_driver d = {0};
    if (!end_ok(end))
        return d;
    d.name = end == 0 ? "memwire0" : "memwire1";
    d.transmit = memwire_transmit;
    d.ctx = &w->end[end];
    return d;
}

void us_memwire_attach(struct us_memwire *w, int end, struct us_netif *nif)
{
    if (end_ok(end))
        w->end[end].nif = nif;
}

/* Hands frame p (owned by the sender's stack) to nif as a fresh buffer of
 * nif's stack. Returns 1 if the netif got it, 0 if it was dropped. */
static int memwire_hand_over(struct us_netif *nif, struct us_pkt *p)
{
    if (!nif) {
        us_pkt_free(p); /* nobody on that end of the wire */
        return 0;
    }
    struct ustack *s = nif->stack;
    struct us_pkt *copy = us_pkt_alloc(s, p->len);
    if (copy)
        memcpy(copy->data, p->data, p->len);
    us_pkt_free(p);
    if (!copy) {
        us_count_drop(s, nif->type == US_LINK_IP ? US_P_ip4 : US_P_eth, US_DROP_no_buffer);
        return 0;
    }
    us_netif_input(nif, copy);
    return 1;
}

/* The end to take the next frame from, alternating when both have one;
 * -1 when the wire is quiet. */
static int memwire_pick(const struct us_memwire *w)
{
    int first = w->next_end;
    if (w->end[first].txq.count)
        return first;
    if (w->end[!first].txq.count)
        return !first;
    return -1;
}

int us_memwire_deliver(struct us_memwire *w, int max)
{
    int moved = 0, delivered = 0;
    while (max <= 0 || moved < max) {
        int from = memwire_pick(w);
        if (from < 0)
            break;
        struct us_pkt *p = us_pktq_pop(&w->end[from].txq);
        w->next_end = !from;
        moved++;
        /* May transmit replies onto either queue: the loop sees them. */
        delivered += memwire_hand_over(w->end[!from].nif, p);
    }
    return delivered;
}

struct us_pkt *us_memwire_take(struct us_memwire *w, int end)
{
    if (!end_ok(end))
        return NULL;
    return us_pktq_pop(&w->end[end].txq);
}

size_t us_memwire_pending(const struct us_memwire *w, int end)
{
    return end_ok(end) ? w->end[end].txq.count : 0;
}
