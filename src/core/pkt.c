#include "core/pkt.h"

#include <stdlib.h>

#include "core/stack.h"
#include "wire/checksum.h"
#include "wire/udp.h"

#define US_PKT_LARGE (US_PKT_MAX + 64u) /* a full 64 KiB frame plus slack */
#define POOL_KEEP_SMALL 1024
#define POOL_KEEP_LARGE 64

static struct us_pkt *pkt_new(struct ustack *s, uint32_t room)
{
    struct us_pkt *p = malloc(sizeof(*p) + US_PKT_HEADROOM + room);
    if (!p)
        return NULL;
    p->cap = US_PKT_HEADROOM + room;
    p->stack = s;
    return p;
}

struct us_pkt *us_pkt_alloc(struct ustack *s, size_t len)
{
    if (len > US_PKT_LARGE)
        return NULL;
    struct us_pkt_pool *pool = &s->pool;
    struct us_pkt *p;
    if (len <= US_PKT_SMALL) {
        p = pool->free_small;
        if (p) {
            pool->free_small = p->next;
            pool->n_small--;
        } else {
            p = pkt_new(s, US_PKT_SMALL);
        }
    } else {
        p = pool->free_large;
        if (p) {
            pool->free_large = p->next;
            pool->n_large--;
        } else {
            p = pkt_new(s, US_PKT_LARGE);
        }
    }
    if (!p)
        return NULL;
    pool->live++;
    p->next = NULL;
    p->nif = NULL;
    p->data = p->buf + US_PKT_HEADROOM;
    p->len = (uint32_t)len;
    p->due = 0;
    p->link_bcast = 0;
    p->csum_ok = 0;
    p->csum_l4 = 0;
    p->gso_size = 0;
    return p;
}

void us_pkt_free(struct us_pkt *p)
{
    if (!p)
        return;
    struct us_pkt_pool *pool = &p->stack->pool;
    pool->live--;
    if (p->cap == US_PKT_HEADROOM + US_PKT_SMALL && pool->n_small < POOL_KEEP_SMALL) {
        p->next = pool->free_small;
        pool->free_small = p;
        pool->n_small++;
    } else if (p->cap != US_PKT_HEADROOM + US_PKT_SMALL && pool->n_large < POOL_KEEP_LARGE) {
        p->next = pool->free_large;
        pool->free_large = p;
        pool->n_large++;
    } else {
        free(p);
    }
}

struct us_pkt *us_pkt_clone(const struct us_pkt *p)
{
    struct us_pkt *c = us_pkt_alloc(p->stack, p->len);
    if (!c)
        return NULL;
    memcpy(c->data, p->data, p->len);
    c->nif = p->nif;
    c->link_bcast = p->link_bcast;
    c->csum_ok = p->csum_ok;
    c->csum_l4 = p->csum_l4;
    c->csum_field = p->csum_field;
    c->gso_size = p->gso_size;
    return c;
}

void us_pkt_csum_complete(struct us_pkt *p)
{
    if (!p->csum_l4)
        return;
    uint8_t *l4 = p->buf + p->csum_l4;
    uint16_t c = us_csum_fold(us_csum_add(0, l4, (size_t)(p->data + p->len - l4)));
    if (c == 0 && p->csum_field == UDP_CSUM_FIELD)
        c = 0xffff;
    memcpy(l4 + p->csum_field, &c, 2);
    p->csum_l4 = 0;
}

uint8_t *us_pkt_data(struct us_pkt *p)
{
    return p->data;
}

size_t us_pkt_len(const struct us_pkt *p)
{
    return p->len;
}

static void free_list(struct us_pkt *p)
{
    while (p) {
        struct us_pkt *n = p->next;
        free(p);
        p = n;
    }
}

void us_pkt_pool_destroy(struct us_pkt_pool *pool)
{
    free_list(pool->free_small);
    free_list(pool->free_large);
    pool->free_small = pool->free_large = NULL;
    pool->n_small = pool->n_large = 0;
}

void us_pktq_push(struct us_pktq *q, struct us_pkt *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->count++;
    q->bytes += p->len;
}

struct us_pkt *us_pktq_pop(struct us_pktq *q)
{
    struct us_pkt *p = q->head;
    if (!p)
        return NULL;
    q->head = p->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    q->bytes -= p->len;
    p->next = NULL;
    return p;
}

void us_pktq_purge(struct us_pktq *q)
{
    struct us_pkt *p;
    while ((p = us_pktq_pop(q)))
        us_pkt_free(p);
}
