/* IPv4 Address Conflict Detection (RFC 5227): probe before use, announce,
 * defend an address in use, and never use an address found in conflict. */
#include "ip4/acd.h"

#include <arpa/inet.h>

#include "core/stack.h"
#include "wire/arp.h"

static const char *const state_names[] = {"off",        "probe-wait", "probing",
                                          "announcing", "bound",      "conflict"};

const char *us_acd_state_name(int state)
{
    return (unsigned)state < 6 ? state_names[state] : "?";
}

static void acd_timer(struct ustack *s, struct us_timer *t);

static us_time_t random_between(struct ustack *s, us_time_t lo, us_time_t hi)
{
    return lo + (us_time_t)us_rng_below(&s->rng, (uint32_t)((hi - lo) / US_MSEC)) * US_MSEC;
}

/* RFC 5227 2.1.1: a probe has sender IP 0 and target IP the candidate. */
static void send_probe(struct us_acd *acd)
{
    static const struct us_mac zero;
    us_arp_send(acd->nif, ARP_OP_REQUEST, &us_mac_broadcast, 0, &zero, acd->ip);
}

/* RFC 5227 2.3: an announcement has sender and target IP both ours. */
static void send_announce(struct us_acd *acd)
{
    static const struct us_mac zero;
    us_arp_send(acd->nif, ARP_OP_REQUEST, &us_mac_broadcast, acd->ip, &zero, acd->ip);
}

void us_acd_start(struct us_netif *nif, struct us_acd *acd, uint32_t ip)
{
    struct ustack *s = nif->stack;
    acd->nif = nif;
    acd->ip = ip;
    acd->sent = 0;
    acd->defended_once = false;
    us_timer_init(&acd->timer, acd_timer);
    if (!nif->acd_enabled) {
        acd->state = ACD_OFF;
        return;
    }
    acd->state = ACD_PROBE_WAITING;
    us_timer_arm(s, &acd->timer, s->now + random_between(s, 0, ACD_PROBE_WAIT));
}

void us_acd_stop(struct us_netif *nif, struct us_acd *acd)
{
    us_timer_cancel(nif->stack, &acd->timer);
}

static void acd_timer(struct ustack *s, struct us_timer *t)
{
    struct us_acd *acd = us_container_of(t, struct us_acd, timer);
    switch (acd->state) {
    case ACD_PROBE_WAITING:
        acd->state = ACD_PROBING;
        acd->sent = 0;
        /* fall through */
    case ACD_PROBING:
        if (acd->sent < ACD_PROBE_NUM) {
            send_probe(acd);
            acd->sent++;
            us_time_t wait = acd->sent < ACD_PROBE_NUM
                                 ? random_between(s, ACD_PROBE_MIN, ACD_PROBE_MAX)
                                 : ACD_ANNOUNCE_WAIT;
            us_timer_arm(s, t, s->now + wait);
            return;
        }
        acd->state = ACD_ANNOUNCING;
        acd->sent = 0;
        /* fall through */
    case ACD_ANNOUNCING:
        send_announce(acd);
        if (++acd->sent < ACD_ANNOUNCE_NUM) {
            us_timer_arm(s, t, s->now + ACD_ANNOUNCE_INTERVAL);
        } else {
            acd->state = ACD_BOUND;
            US_INFO(s, US_CH_ARP, "ACD: address bound");
        }
        return;
    default:
        return;
    }
}

static void conflict(struct us_acd *acd, const struct arp_view *a)
{
    struct ustack *s = acd->nif->stack;
    char ip[16], mac[18];
    inet_ntop(AF_INET, &acd->ip, ip, sizeof(ip));
    us_mac_str(&a->sha, mac, sizeof(mac));
    US_WARN(s, US_CH_ARP, "ACD: address %s is in use by %s: not using it", ip, mac);
    us_timer_cancel(s, &acd->timer);
    acd->state = ACD_CONFLICT;
    us_count_event(s, US_EV_arp_conflict);
}

/* RFC 5227 2.4 (c): keep the address and defend it, at most one defending
 * announcement per DEFEND_INTERVAL. */
static void defend(struct us_acd *acd, const struct arp_view *a)
{
    struct ustack *s = acd->nif->stack;
    char ip[16], mac[18];
    inet_ntop(AF_INET, &acd->ip, ip, sizeof(ip));
    us_mac_str(&a->sha, mac, sizeof(mac));
    us_count_event(s, US_EV_arp_conflict);
    if (acd->defended_once && s->now < acd->last_defend + ACD_DEFEND_INTERVAL) {
        US_INFO(s, US_CH_ARP, "ACD: %s claimed again by %s, defended recently", ip, mac);
        return;
    }
    US_WARN(s, US_CH_ARP, "ACD: %s claimed by %s: defending", ip, mac);
    acd->defended_once = true;
    acd->last_defend = s->now;
    us_count_event(s, US_EV_arp_defend);
    send_announce(acd);
}

static bool check_one(struct us_acd *acd, const struct arp_view *a)
{
    bool sender_is_us = a->spa == acd->ip;
    bool probe_for_us = a->spa == 0 && a->op == ARP_OP_REQUEST && a->tpa == acd->ip;
    switch (acd->state) {
    case ACD_PROBE_WAITING:
    case ACD_PROBING:
        /* RFC 5227 2.1.1: any ARP from the address, or another probe for it. */
        if (sender_is_us || probe_for_us) {
            conflict(acd, a);
            return true;
        }
        return false;
    case ACD_ANNOUNCING:
    case ACD_BOUND:
        if (sender_is_us) {
            defend(acd, a);
            return true;
        }
        return false;
    default:
        return false;
    }
}

bool us_acd_check(struct us_netif *nif, const struct arp_view *arp)
{
    bool handled = false;
    for (int i = 0; i < nif->naddrs; i++)
        handled |= check_one(&nif->addrs[i].acd, arp);
    return handled;
}
