/* Ethernet II input and output, with destination filtering. */
#include <string.h>

#include "core/stack.h"
#include "ip4/arp.h"
#include "ip4/ip4.h"
#include "wire/eth.h"

static bool mcast_joined(const struct us_netif *nif, const struct us_mac *m)
{
    for (int i = 0; i < nif->nmcast; i++)
        if (memcmp(nif->mcast[i].b, m->b, 6) == 0)
            return true;
    return false;
}

/* Unicast to us, broadcast, or a multicast group we joined. */
static bool eth_accept(const struct us_netif *nif, const struct us_mac *dst)
{
    if (memcmp(dst->b, nif->mac.b, 6) == 0)
        return true;
    if (mac_is_bcast(dst))
        return true;
    return mac_is_mcast(dst) && mcast_joined(nif, dst);
}

void us_eth_input(struct us_netif *nif, struct us_pkt *p)
{
    struct ustack *s = nif->stack;
    struct eth_view eth;
    enum us_drop why = eth_parse(p->data, p->len, &eth);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_eth, why);
        return;
    }
    s->cnt.rx[US_P_eth]++;
    if (eth.type < ETH_TYPE_MIN) {
        /* IEEE 802.3 length field: an LLC frame, not Ethernet II. */
        us_drop(s, p, US_P_eth, US_DROP_eth_8023_llc);
        return;
    }
    if (!eth_accept(nif, &eth.dst)) {
        us_drop(s, p, US_P_eth, US_DROP_eth_not_for_us);
        return;
    }
    p->link_bcast = mac_is_mcast(&eth.dst); /* broadcast is a multicast too */
    us_pkt_pull(p, ETH_HLEN);
    switch (eth.type) {
    case ETH_TYPE_ARP:
        us_arp_input(nif, p);
        break;
    case ETH_TYPE_IP4:
        us_ip4_input(nif, p);
        break;
    case ETH_TYPE_IP6:
        us_drop(s, p, US_P_eth, US_DROP_ip6_unsupported);
        break;
    default:
        us_drop(s, p, US_P_eth, US_DROP_eth_unknown_type);
    }
}

void us_eth_output(struct us_netif *nif, struct us_pkt *p, const struct us_mac *dst,
                   uint16_t ethertype)
{
    eth_build(us_pkt_push(p, ETH_HLEN), dst, &nif->mac, ethertype);
    nif->stack->cnt.tx[US_P_eth]++;
    us_link_tx(nif, p);
}
