/* IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2). Fragments are kept
 * sorted by offset; an exact duplicate is ignored, any other overlap drops
 * the whole datagram. Memory is capped for the whole stack: the oldest
 * datagrams are evicted to make room. A datagram that times out with its
 * first fragment present is reported with ICMP Time Exceeded (code 1). */
#include "ip4/ip4_reassembly.h"

#include <stdlib.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/icmp4.h"
#include "wire/checksum.h"

#define FRAG_OFF(p) ((p)->cb[0])  /* payload offset of a held fragment */
#define FRAG_HLEN(p) ((p)->cb[1]) /* its IP header length */

static void dgram_timeout(struct ustack *s, struct us_timer *t);

static void dgram_free(struct ustack *s, struct us_reasm_dgram *d)
{
    struct us_reasm *r = &s->reasm;
    for (struct us_reasm_dgram **pp = &r->list; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    us_timer_cancel(s, &d->timer);
    while (d->frags) {
        struct us_pkt *f = d->frags;
        d->frags = f->next;
        us_pkt_free(f);
    }
    r->mem -= d->mem;
    r->count--;
    free(d);
}

/* Drops a whole datagram, counting one drop for it. */
static void dgram_drop(struct ustack *s, struct us_reasm_dgram *d, enum us_drop why)
{
    us_count_drop(s, US_P_ip4, why);
    dgram_free(s, d);
}

static struct us_reasm_dgram *dgram_find(struct ustack *s, const struct ip4_view *ip)
{
    for (struct us_reasm_dgram *d = s->reasm.list; d; d = d->next)
        if (d->id == ip->id && d->src == ip->src && d->dst == ip->dst && d->proto == ip->proto)
            return d;
    return NULL;
}

/* Evicts the oldest datagrams (the list head) until need bytes fit. */
static bool make_room(struct ustack *s, uint32_t need, struct us_reasm_dgram *keep)
{
    struct us_reasm *r = &s->reasm;
    while (r->mem + need > s->cfg.reasm_mem_limit) {
        struct us_reasm_dgram *victim = r->list;
        if (victim == keep)
            victim = victim->next;
        if (!victim)
            return false;
        dgram_drop(s, victim, US_DROP_ip4_frag_mem);
    }
    return true;
}

static struct us_reasm_dgram *dgram_new(struct us_netif *nif, const struct ip4_view *ip)
{
    struct ustack *s = nif->stack;
    struct us_reasm *r = &s->reasm;
    if (r->count >= US_REASM_MAX_DGRAMS)
        dgram_drop(s, r->list, US_DROP_ip4_frag_mem);
    struct us_reasm_dgram *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->src = ip->src;
    d->dst = ip->dst;
    d->id = ip->id;
    d->proto = ip->proto;
    d->nif = nif;
    us_timer_init(&d->timer, dgram_timeout);
    us_timer_arm(s, &d->timer, s->now + US_REASM_TIMEOUT);
    struct us_reasm_dgram **tail = &r->list; /* oldest first */
    while (*tail)
        tail = &(*tail)->next;
    *tail = d;
    r->count++;
    return d;
}

static void dgram_timeout(struct ustack *s, struct us_timer *t)
{
    struct us_reasm_dgram *d = us_container_of(t, struct us_reasm_dgram, timer);
    struct us_pkt *first = d->frags;
    if (first && FRAG_OFF(first) == 0) {
        /* The first fragment's header is still in front of its payload. */
        struct ip4_view ip;
        us_pkt_push(first, FRAG_HLEN(first));
        if (ip4_parse(first->data, first->len, &ip) == US_DROP_none)
            us_icmp4_error(s, first, &ip, ICMP4_TIME_EXCEEDED, ICMP4_EXC_REASM, 0);
        us_pkt_pull(first, FRAG_HLEN(first));
    }
    dgram_drop(s, d, US_DROP_ip4_frag_timeout);
}

/* Checks a new fragment [off, end) against the datagram. Returns none to
 * insert it, ip4_frag_dup to ignore it, or a reason to drop the datagram. */
static enum us_drop check_fragment(const struct us_reasm_dgram *d, uint32_t off, uint32_t end,
                                   bool last)
{
    if (last && d->total && d->total != end)
        return US_DROP_ip4_frag_bad; /* two different ends */
    uint32_t total = last ? end : d->total;
    for (const struct us_pkt *f = d->frags; f; f = f->next) {
        uint32_t foff = FRAG_OFF(f), fend = foff + f->len;
        if (foff == off && fend == end)
            return US_DROP_ip4_frag_dup;
        if (off < fend && end > foff)
            return US_DROP_ip4_frag_overlap;
        if (total && fend > total)
            return US_DROP_ip4_frag_bad;
    }
    if (total && end > total)
        return US_DROP_ip4_frag_bad;
    return US_DROP_none;
}

static void insert_sorted(struct us_reasm_dgram *d, struct us_pkt *p)
{
    struct us_pkt **pp = &d->frags;
    while (*pp && FRAG_OFF(*pp) < FRAG_OFF(p))
        pp = &(*pp)->next;
    p->next = *pp;
    *pp = p;
}

/* Joins the fragments into one buffer with the first fragment's header. */
static struct us_pkt *dgram_join(struct ustack *s, struct us_reasm_dgram *d)
{
    struct us_pkt *first = d->frags;
    uint32_t hlen = FRAG_HLEN(first);
    struct us_pkt *p = us_pkt_alloc(s, hlen + d->total);
    if (!p)
        return NULL;
    memcpy(p->data, first->data - hlen, hlen);
    for (struct us_pkt *f = d->frags; f; f = f->next)
        memcpy(p->data + hlen + FRAG_OFF(f), f->data, f->len);
    /* Patch total length, clear MF and offset, recompute the checksum. */
    uint16_t total = (uint16_t)(hlen + d->total);
    p->data[2] = (uint8_t)(total >> 8);
    p->data[3] = (uint8_t)total;
    p->data[6] &= 0x40; /* keep DF only */
    p->data[7] = 0;
    p->data[10] = p->data[11] = 0;
    uint16_t c = us_csum(p->data, hlen);
    memcpy(p->data + 10, &c, 2);
    p->nif = d->nif;
    p->link_bcast = first->link_bcast;
    return p;
}

struct us_pkt *us_ip4_reasm_input(struct us_netif *nif, struct us_pkt *p, const struct ip4_view *ip)
{
    struct ustack *s = nif->stack;
    uint32_t off = ip->frag_off, len = ip->total_len - ip->hlen, end = off + len;
    /* RFC 791: all but the last fragment carry a multiple of 8 octets. */
    if (len == 0 || (ip->mf && (len & 7))) {
        us_drop(s, p, US_P_ip4, US_DROP_ip4_frag_bad);
        return NULL;
    }
    if (end + ip->hlen > IP4_MAX_LEN) {
        us_drop(s, p, US_P_ip4, US_DROP_ip4_frag_too_big);
        return NULL;
    }
    struct us_reasm_dgram *d = dgram_find(s, ip);
    if (!d && !(d = dgram_new(nif, ip))) {
        us_drop(s, p, US_P_ip4, US_DROP_no_buffer);
        return NULL;
    }
    enum us_drop why = check_fragment(d, off, end, !ip->mf);
    if (why == US_DROP_ip4_frag_dup) {
        us_drop(s, p, US_P_ip4, why);
        return NULL;
    }
    if (why != US_DROP_none) {
        us_pkt_free(p);
        dgram_drop(s, d, why);
        return NULL;
    }
    if (!make_room(s, p->cap, d)) {
        us_drop(s, p, US_P_ip4, US_DROP_ip4_frag_mem);
        return NULL;
    }
    FRAG_OFF(p) = off;
    FRAG_HLEN(p) = ip->hlen;
    us_pkt_pull(p, ip->hlen);
    insert_sorted(d, p);
    d->have += len;
    d->mem += p->cap;
    s->reasm.mem += p->cap;
    if (!ip->mf)
        d->total = end;
    if (!d->total || d->have != d->total || FRAG_OFF(d->frags) != 0)
        return NULL;
    /* RFC 791: the rebuilt datagram takes the first fragment's header,
     * whose options may make it longer than any fragment implied. */
    if (FRAG_HLEN(d->frags) + d->total > IP4_MAX_LEN) {
        dgram_drop(s, d, US_DROP_ip4_frag_too_big);
        return NULL;
    }
    struct us_pkt *whole = dgram_join(s, d);
    dgram_free(s, d);
    if (!whole) {
        us_count_drop(s, US_P_ip4, US_DROP_no_buffer);
        return NULL;
    }
    us_count_event(s, US_EV_ip4_reasm_ok);
    return whole;
}

void us_ip4_reasm_destroy(struct ustack *s)
{
    while (s->reasm.list)
        dgram_free(s, s->reasm.list);
}
