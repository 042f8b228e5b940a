/* IPv4 output: route lookup, header, fragmentation to the link MTU. */
#include <arpa/inet.h>
#include <errno.h>

#include "core/stack.h"
#include "ip4/arp.h"
#include "ip4/ip4.h"

int us_ip4_route(struct ustack *s, uint32_t dst, struct us_ip4_route *out)
{
    bool local_scope = dst == 0xffffffffu || (ntohl(dst) >> 28) == 0xe;
    for (struct us_netif *nif = s->netifs; nif; nif = nif->next) {
        if (local_scope || us_netif_on_link4(nif, dst)) {
            out->nif = nif;
            out->nexthop = dst;
            out->src = us_netif_pick_src4(nif, dst);
            return out->src ? 0 : -EADDRNOTAVAIL;
        }
    }
    for (struct us_netif *nif = s->netifs; nif; nif = nif->next) {
        if (nif->gw4.family == US_AF_INET && nif->gw4.v4) {
            out->nif = nif;
            out->nexthop = nif->gw4.v4;
            out->src = us_netif_pick_src4(nif, nif->gw4.v4);
            return out->src ? 0 : -EADDRNOTAVAIL;
        }
    }
    return -ENETUNREACH;
}

void us_ip4_link_output(struct us_netif *nif, struct us_pkt *p, uint32_t nexthop)
{
    nif->stack->cnt.tx[US_P_ip4]++;
    if (nif->type == US_LINK_ETHERNET)
        us_arp_output(nif, p, nexthop);
    else
        us_link_tx(nif, p);
}

int us_ip4_output(struct ustack *s, struct us_pkt *p, uint32_t src, uint32_t dst, uint8_t proto,
                  uint8_t ttl, uint8_t tos, bool df)
{
    struct us_ip4_route rt;
    int err = us_ip4_route(s, dst, &rt);
    if (err < 0) {
        us_drop(s, p, US_P_ip4, US_DROP_ip4_no_route);
        return err;
    }
    if (p->len + IP4_HLEN > IP4_MAX_LEN) {
        us_pkt_free(p);
        return -EMSGSIZE;
    }
    if (us_pkt_headroom(p) < IP4_HLEN + 16) {
        us_drop(s, p, US_P_ip4, US_DROP_no_buffer);
        return -ENOBUFS;
    }
    struct ip4_view ip = {
        .tos = tos,
        .total_len = (uint16_t)(p->len + IP4_HLEN),
        .id = s->ip4_next_id++,
        .df = df,
        .ttl = ttl,
        .proto = proto,
        .src = src ? src : rt.src,
        .dst = dst,
    };
    ip4_build(us_pkt_push(p, IP4_HLEN), &ip);
    if (ip.total_len <= rt.nif->mtu || p->gso_size) { /* TSO: the link cuts it */
        us_ip4_link_output(rt.nif, p, rt.nexthop);
        return 0;
    }
    if (df) {
        us_drop(s, p, US_P_ip4, US_DROP_ip4_df_too_big);
        return -EMSGSIZE;
    }
    us_ip4_fragment(rt.nif, p, &ip, rt.nexthop);
    return 0;
}
