/* ARP: resolution, the neighbour cache and replies (RFC 826, RFC 1122
 * 2.3.2). Conflict detection lives in acd.c. */
#include "ip4/arp.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/acd.h"
#include "ip4/icmp4.h"
#include "wire/arp.h"
#include "wire/eth.h"

static const char *const state_names[] = {"free",  "incomplete", "reachable",
                                          "stale", "delay",      "probe"};

const char *us_arp_state_name(int state)
{
    return (unsigned)state < 6 ? state_names[state] : "?";
}

static void entry_timer(struct ustack *s, struct us_timer *t);

void us_arp_init(struct us_netif *nif)
{
    struct us_arp_cache *c = &nif->arp;
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < US_ARP_CACHE_SIZE; i++) {
        c->e[i].nif = nif;
        us_timer_init(&c->e[i].timer, entry_timer);
    }
}

static void entry_free(struct us_arp_entry *e)
{
    struct ustack *s = e->nif->stack;
    us_timer_cancel(s, &e->timer);
    us_pktq_purge(&e->pending);
    if (e->nif->arp.last == e)
        e->nif->arp.last = NULL;
    e->state = ARP_FREE;
    e->ip = 0;
}

void us_arp_destroy(struct us_netif *nif)
{
    for (int i = 0; i < US_ARP_CACHE_SIZE; i++)
        if (nif->arp.e[i].state != ARP_FREE)
            entry_free(&nif->arp.e[i]);
}

struct us_arp_entry *us_arp_lookup(struct us_netif *nif, uint32_t ip)
{
    struct us_arp_cache *c = &nif->arp;
    if (c->last && c->last->ip == ip && c->last->state != ARP_FREE)
        return c->last;
    for (int i = 0; i < US_ARP_CACHE_SIZE; i++) {
        if (c->e[i].state != ARP_FREE && c->e[i].ip == ip) {
            c->last = &c->e[i];
            return c->last;
        }
    }
    return NULL;
}

/* A free slot, else the least recently used resolved entry. */
static struct us_arp_entry *entry_alloc(struct us_netif *nif, uint32_t ip)
{
    struct us_arp_entry *victim = NULL;
    for (int i = 0; i < US_ARP_CACHE_SIZE; i++) {
        struct us_arp_entry *e = &nif->arp.e[i];
        if (e->state == ARP_FREE) {
            victim = e;
            break;
        }
        if (e->state != ARP_INCOMPLETE && (!victim || e->used < victim->used))
            victim = e;
    }
    if (!victim)
        return NULL;
    if (victim->state != ARP_FREE)
        entry_free(victim);
    victim->ip = ip;
    victim->probes = 0;
    victim->used = victim->updated = nif->stack->now;
    return victim;
}

static void log_arp(struct ustack *s, const char *dir, const struct arp_view *a)
{
    if (!us_log_enabled(s, US_CH_ARP, US_LOG_DEBUG))
        return;
    char tpa[16], spa[16], sha[18];
    inet_ntop(AF_INET, &a->tpa, tpa, sizeof(tpa));
    inet_ntop(AF_INET, &a->spa, spa, sizeof(spa));
    us_mac_str(&a->sha, sha, sizeof(sha));
    if (a->op == ARP_OP_REQUEST)
        us_log_emit(s, US_CH_ARP, US_LOG_DEBUG, "ARP %s request who-has %s tell %s (%s)", dir, tpa,
                    spa, sha);
    else
        us_log_emit(s, US_CH_ARP, US_LOG_DEBUG, "ARP %s reply %s is-at %s", dir, spa, sha);
}

void us_arp_send(struct us_netif *nif, uint16_t op, const struct us_mac *dst, uint32_t spa,
                 const struct us_mac *tha, uint32_t tpa)
{
    struct ustack *s = nif->stack;
    struct us_pkt *p = us_pkt_alloc(s, ARP_LEN);
    if (!p) {
        us_count_drop(s, US_P_arp, US_DROP_no_buffer);
        return;
    }
    struct arp_view a = {.op = op, .sha = nif->mac, .spa = spa, .tpa = tpa};
    if (tha)
        a.tha = *tha;
    arp_build(p->data, &a);
    log_arp(s, "tx", &a);
    s->cnt.tx[US_P_arp]++;
    us_count_event(s, op == ARP_OP_REQUEST ? US_EV_arp_request_out : US_EV_arp_reply_out);
    us_eth_output(nif, p, dst, ETH_TYPE_ARP);
}

static void send_request(struct us_arp_entry *e, const struct us_mac *dst)
{
    uint32_t src = us_netif_pick_src4(e->nif, e->ip);
    if (src)
        us_arp_send(e->nif, ARP_OP_REQUEST, dst, src, NULL, e->ip);
    e->probes++;
    us_timer_arm(e->nif->stack, &e->timer, e->nif->stack->now + US_ARP_RETRANS);
}

static void set_reachable(struct us_arp_entry *e)
{
    struct ustack *s = e->nif->stack;
    e->state = ARP_REACHABLE;
    e->probes = 0;
    e->updated = s->now;
    us_timer_arm(s, &e->timer, s->now + US_ARP_REACHABLE);
}

static void set_stale(struct us_arp_entry *e)
{
    struct ustack *s = e->nif->stack;
    e->state = ARP_STALE;
    e->probes = 0;
    us_time_t last = e->used > e->updated ? e->used : e->updated;
    us_timer_arm(s, &e->timer, last + US_ARP_STALE_GC);
}

static void entry_timer(struct ustack *s, struct us_timer *t)
{
    struct us_arp_entry *e = us_container_of(t, struct us_arp_entry, timer);
    switch (e->state) {
    case ARP_INCOMPLETE:
        if (e->probes < US_ARP_MAX_PROBES) {
            send_request(e, &us_mac_broadcast);
            return;
        }
        /* Resolution failed: the queued packets cannot go anywhere, and
         * their senders learn that the host is unreachable. */
        struct us_pkt *p;
        while ((p = us_pktq_pop(&e->pending))) {
            us_icmp4_local_error(s, p, ICMP4_DEST_UNREACH, ICMP4_UNREACH_HOST);
            us_drop(s, p, US_P_ip4, US_DROP_arp_unresolved);
        }
        entry_free(e);
        return;
    case ARP_REACHABLE:
        set_stale(e);
        return;
    case ARP_STALE:
        if (s->now >= (e->used > e->updated ? e->used : e->updated) + US_ARP_STALE_GC)
            entry_free(e);
        else
            set_stale(e);
        return;
    case ARP_DELAY:
        /* RFC 4861 7.3.3: no confirmation arrived in time, probe. */
        e->state = ARP_PROBE;
        e->probes = 0;
        /* fall through */
    case ARP_PROBE:
        if (e->probes < US_ARP_MAX_PROBES)
            send_request(e, &e->mac); /* refresh by unicast, as NUD does */
        else
            entry_free(e);
        return;
    }
}

static void flush_pending(struct us_arp_entry *e)
{
    struct us_pkt *p;
    while ((p = us_pktq_pop(&e->pending)))
        us_eth_output(e->nif, p, &e->mac, ETH_TYPE_IP4);
}

/* RFC 1112 6.4: IPv4 multicast maps to 01:00:5e + low 23 bits. */
static void mcast_mac(uint32_t ip, struct us_mac *m)
{
    const uint8_t *b = (const uint8_t *)&ip;
    m->b[0] = 0x01;
    m->b[1] = 0x00;
    m->b[2] = 0x5e;
    m->b[3] = b[1] & 0x7f;
    m->b[4] = b[2];
    m->b[5] = b[3];
}

static void queue_pending(struct us_arp_entry *e, struct us_pkt *p)
{
    struct ustack *s = e->nif->stack;
    /* Keep the newest packets, as Linux does with its unresolved queue. */
    while (e->pending.count &&
           (e->pending.count >= US_ARP_QUEUE_MAX || e->pending.bytes + p->len > US_ARP_QUEUE_BYTES))
        us_drop(s, us_pktq_pop(&e->pending), US_P_ip4, US_DROP_arp_queue_full);
    us_pktq_push(&e->pending, p);
}

void us_arp_output(struct us_netif *nif, struct us_pkt *p, uint32_t nexthop)
{
    struct ustack *s = nif->stack;
    if (nexthop == 0xffffffffu || us_netif_is_bcast4(nif, nexthop)) {
        us_eth_output(nif, p, &us_mac_broadcast, ETH_TYPE_IP4);
        return;
    }
    if ((ntohl(nexthop) >> 28) == 0xe) {
        struct us_mac m;
        mcast_mac(nexthop, &m);
        us_eth_output(nif, p, &m, ETH_TYPE_IP4);
        return;
    }
    struct us_arp_entry *e = us_arp_lookup(nif, nexthop);
    if (e && e->state != ARP_INCOMPLETE) {
        e->used = s->now;
        if (e->state == ARP_STALE) {
            e->state = ARP_DELAY;
            us_timer_arm(s, &e->timer, s->now + US_ARP_DELAY);
        }
        us_eth_output(nif, p, &e->mac, ETH_TYPE_IP4);
        return;
    }
    if (!e) {
        e = entry_alloc(nif, nexthop);
        if (!e) {
            us_drop(s, p, US_P_ip4, US_DROP_arp_queue_full);
            return;
        }
        e->state = ARP_INCOMPLETE;
        queue_pending(e, p);
        send_request(e, &us_mac_broadcast);
        return;
    }
    queue_pending(e, p);
}

/* RFC 826 "merge" step and learning (RFC 826 packet reception algorithm). */
static void learn(struct us_netif *nif, const struct arp_view *a, bool for_us)
{
    struct us_arp_entry *e = us_arp_lookup(nif, a->spa);
    if (!e) {
        if (!for_us)
            return;
        e = entry_alloc(nif, a->spa);
        if (!e)
            return;
        e->mac = a->sha;
        set_stale(e); /* learnt from a request: not confirmed reachable */
        return;
    }
    bool was_incomplete = e->state == ARP_INCOMPLETE;
    e->mac = a->sha;
    /* A reply to us confirms reachability; other traffic only refreshes. */
    if (a->op == ARP_OP_REPLY && for_us)
        set_reachable(e);
    else if (was_incomplete)
        set_reachable(e);
    else
        e->updated = nif->stack->now;
    if (was_incomplete)
        flush_pending(e);
}

static bool sender_valid(const struct us_netif *nif, const struct arp_view *a)
{
    if (mac_is_mcast(&a->sha))
        return false;
    if (memcmp(a->sha.b, nif->mac.b, 6) == 0)
        return false; /* our own frame looped back */
    uint32_t h = ntohl(a->spa);
    return (h >> 28) != 0xe && a->spa != 0xffffffffu;
}

void us_arp_input(struct us_netif *nif, struct us_pkt *p)
{
    struct ustack *s = nif->stack;
    struct arp_view a;
    enum us_drop why = arp_parse(p->data, p->len, &a);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_arp, why);
        return;
    }
    s->cnt.rx[US_P_arp]++;
    log_arp(s, "rx", &a);
    if (!sender_valid(nif, &a)) {
        us_drop(s, p, US_P_arp, US_DROP_arp_bad_sender);
        return;
    }
    if (us_acd_check(nif, &a)) {
        us_pkt_free(p);
        return;
    }
    bool for_us = us_netif_has_addr4(nif, a.tpa);
    if (a.spa != 0)
        learn(nif, &a, for_us);
    if (a.op == ARP_OP_REQUEST && for_us)
        us_arp_send(nif, ARP_OP_REPLY, &a.sha, a.tpa, &a.sha, a.spa);
    else if (!for_us)
        us_count_drop(s, US_P_arp, US_DROP_arp_not_for_us);
    us_pkt_free(p);
}
