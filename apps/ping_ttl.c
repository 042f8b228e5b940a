/* The TTL of echo replies, read from the capture hook (see ping_ttl.h). */
#include "ping_ttl.h"

#include <stdbool.h>
#include <stdlib.h>

#include "core/netif.h"
#include "wire/eth.h"
#include "wire/icmp4.h"
#include "wire/ip4.h"

#define PING_TTL_SLOTS 1024 /* replies remembered, by sequence number */

struct ttl_slot {
    uint16_t seq;
    uint8_t ttl;
    bool valid;
};

struct ping_ttl {
    struct us_netif *nif;
    enum us_link_type link;
    uint32_t peer;
    us_capture_fn next_fn;
    void *next_ctx;
    struct ttl_slot slots[PING_TTL_SLOTS];
};

/* Records the TTL when frame is an echo reply from the peer (or the first
 * fragment of one). */
static void note_reply(struct ping_ttl *pt, const uint8_t *frame, size_t len)
{
    struct eth_view eth;
    struct ip4_view ip;
    if (pt->link == US_LINK_ETHERNET) {
        if (eth_parse(frame, len, &eth) != US_DROP_none || eth.type != ETH_TYPE_IP4)
            return;
        frame += ETH_HLEN;
        len -= ETH_HLEN;
    }
    if (ip4_parse(frame, len, &ip) != US_DROP_none || ip.proto != IP_PROTO_ICMP ||
        ip.src != pt->peer || ip.frag_off != 0 || ip.total_len < ip.hlen + ICMP4_HLEN)
        return;
    const uint8_t *icmp = frame + ip.hlen;
    if (icmp[0] != ICMP4_ECHO_REPLY)
        return;
    uint16_t seq = (uint16_t)(icmp[6] << 8 | icmp[7]); /* RFC 792 echo layout */
    pt->slots[seq % PING_TTL_SLOTS] = (struct ttl_slot){.seq = seq, .ttl = ip.ttl, .valid = true};
}

static void ttl_capture(void *ctx, int dir, us_time_t t, const uint8_t *frame, size_t len)
{
    struct ping_ttl *pt = ctx;
    if (pt->next_fn)
        pt->next_fn(pt->next_ctx, dir, t, frame, len);
    if (dir == 0)
        note_reply(pt, frame, len);
}

struct ping_ttl *ping_ttl_attach(struct us_netif *nif, enum us_link_type link, uint32_t peer)
{
    struct ping_ttl *pt = calloc(1, sizeof(*pt));
    if (!pt)
        return NULL;
    pt->nif = nif;
    pt->link = link;
    pt->peer = peer;
    pt->next_fn = nif->capture;
    pt->next_ctx = nif->capture_ctx;
    us_netif_set_capture(nif, ttl_capture, pt);
    return pt;
}

int ping_ttl_lookup(const struct ping_ttl *pt, uint16_t seq)
{
    const struct ttl_slot *slot = &pt->slots[seq % PING_TTL_SLOTS];
    return slot->valid && slot->seq == seq ? slot->ttl : -1;
}

void ping_ttl_detach(struct ping_ttl *pt)
{
    if (!pt)
        return;
    us_netif_set_capture(pt->nif, pt->next_fn, pt->next_ctx);
    free(pt);
}
