#include "core/netif.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "core/stack.h"
#include "ip4/ip4.h"
#include "link/impair.h"

const struct us_mac us_mac_broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

/* RFC 1112 section 6.4: every host belongs to the all-hosts group 224.0.0.1. */
static const struct us_mac all_hosts_mac = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};

struct us_netif *us_netif_add(struct ustack *s, const struct us_netif_config *cfg,
                              const struct us_driver *drv)
{
    struct us_netif *nif = calloc(1, sizeof(*nif));
    if (!nif)
        return NULL;
    nif->stack = s;
    snprintf(nif->name, sizeof(nif->name), "%s", cfg->name ? cfg->name : "if0");
    nif->type = cfg->type;
    nif->mac = cfg->mac;
    nif->mtu = cfg->mtu ? cfg->mtu : 1500;
    if (nif->mtu < 68) /* RFC 791: every link carries 68 octets */
        nif->mtu = 68;
    if (nif->mtu > US_PKT_MAX - 64)
        nif->mtu = US_PKT_MAX - 64;
    nif->acd_enabled = cfg->acd && cfg->type == US_LINK_ETHERNET;
    nif->drv = *drv;
    us_arp_init(nif);
    us_netif_join_mcast(nif, &all_hosts_mac);
    struct us_netif **tail = &s->netifs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = nif;
    return nif;
}

void us_netif_destroy(struct us_netif *nif)
{
    for (int i = 0; i < nif->naddrs; i++)
        us_acd_stop(nif, &nif->addrs[i].acd);
    us_arp_destroy(nif);
    us_impair_free(nif);
    free(nif);
}

int us_netif_join_mcast(struct us_netif *nif, const struct us_mac *group)
{
    for (int i = 0; i < nif->nmcast; i++)
        if (memcmp(nif->mcast[i].b, group->b, 6) == 0)
            return 0;
    if (nif->nmcast == US_NETIF_MAX_MCAST) {
        errno = ENOSPC;
        return -1;
    }
    nif->mcast[nif->nmcast++] = *group;
    return 0;
}

static uint32_t prefix_mask4(int len)
{
    return len == 0 ? 0 : htonl(0xffffffffu << (32 - len));
}

int us_netif_add_addr(struct us_netif *nif, const struct us_addr *addr, int prefix_len)
{
    if (addr->family != US_AF_INET) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (prefix_len < 0 || prefix_len > 32 || addr->v4 == 0) {
        errno = EINVAL;
        return -1;
    }
    if (us_netif_find_addr4(nif, addr->v4)) {
        errno = EEXIST;
        return -1;
    }
    if (nif->naddrs == US_NETIF_MAX_ADDRS) {
        errno = ENOSPC;
        return -1;
    }
    struct us_ifaddr *ia = &nif->addrs[nif->naddrs++];
    memset(ia, 0, sizeof(*ia));
    ia->addr = *addr;
    ia->prefix_len = (uint8_t)prefix_len;
    ia->mask4 = prefix_mask4(prefix_len);
    us_acd_start(nif, &ia->acd, addr->v4);
    return 0;
}

int us_netif_set_gateway(struct us_netif *nif, const struct us_addr *gw)
{
    if (gw->family != US_AF_INET) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    nif->gw4 = *gw;
    return 0;
}

bool us_netif_ready(const struct us_netif *nif)
{
    for (int i = 0; i < nif->naddrs; i++) {
        uint8_t st = nif->addrs[i].acd.state;
        if (st == ACD_PROBE_WAITING || st == ACD_PROBING)
            return false;
    }
    return true;
}

int us_netif_conflicts(const struct us_netif *nif)
{
    int n = 0;
    for (int i = 0; i < nif->naddrs; i++)
        n += nif->addrs[i].acd.state == ACD_CONFLICT;
    return n;
}

uint32_t us_netif_mtu(const struct us_netif *nif)
{
    return nif->mtu;
}

const char *us_netif_name(const struct us_netif *nif)
{
    return nif->name;
}

struct us_netif *us_netif_first(struct ustack *s)
{
    return s->netifs;
}

struct us_ifaddr *us_netif_find_addr4(struct us_netif *nif, uint32_t a)
{
    for (int i = 0; i < nif->naddrs; i++)
        if (nif->addrs[i].addr.family == US_AF_INET && nif->addrs[i].addr.v4 == a)
            return &nif->addrs[i];
    return NULL;
}

int us_bind_addr_check(struct ustack *s, const struct us_addr *a)
{
    if (a->family != US_AF_INET)
        return -EAFNOSUPPORT;
    if (us_addr_is_any(a))
        return 0;
    for (struct us_netif *nif = s->netifs; nif; nif = nif->next)
        if (us_netif_find_addr4(nif, a->v4))
            return 0;
    return -EADDRNOTAVAIL;
}

bool us_netif_has_addr4(const struct us_netif *nif, uint32_t a)
{
    for (int i = 0; i < nif->naddrs; i++)
        if (nif->addrs[i].addr.v4 == a && nif->addrs[i].addr.family == US_AF_INET)
            return us_acd_usable(&nif->addrs[i].acd);
    return false;
}

bool us_netif_is_bcast4(const struct us_netif *nif, uint32_t a)
{
    for (int i = 0; i < nif->naddrs; i++) {
        const struct us_ifaddr *ia = &nif->addrs[i];
        /* /31 and /32 have no subnet broadcast (RFC 3021). */
        if (ia->prefix_len >= 31)
            continue;
        if ((a & ia->mask4) == (ia->addr.v4 & ia->mask4) && (a | ia->mask4) == 0xffffffffu)
            return true;
    }
    return false;
}

bool us_netif_on_link4(const struct us_netif *nif, uint32_t dst)
{
    for (int i = 0; i < nif->naddrs; i++) {
        const struct us_ifaddr *ia = &nif->addrs[i];
        if ((dst & ia->mask4) == (ia->addr.v4 & ia->mask4))
            return true;
    }
    return false;
}

uint32_t us_netif_pick_src4(const struct us_netif *nif, uint32_t dst)
{
    uint32_t fallback = 0;
    for (int i = 0; i < nif->naddrs; i++) {
        const struct us_ifaddr *ia = &nif->addrs[i];
        if (!us_acd_usable(&ia->acd))
            continue;
        if ((dst & ia->mask4) == (ia->addr.v4 & ia->mask4))
            return ia->addr.v4;
        if (!fallback)
            fallback = ia->addr.v4;
    }
    return fallback;
}

void us_netif_set_capture(struct us_netif *nif, us_capture_fn fn, void *ctx)
{
    nif->capture = fn;
    nif->capture_ctx = ctx;
}

void us_link_tx_wire(struct us_netif *nif, struct us_pkt *p)
{
    if (nif->capture) {
        us_pkt_csum_complete(p);
        nif->capture(nif->capture_ctx, 1, nif->stack->now, p->data, p->len);
    }
    nif->drv.transmit(nif->drv.ctx, p);
}

void us_link_tx(struct us_netif *nif, struct us_pkt *p)
{
    if (nif->impair)
        us_impair_tx(nif, p);
    else
        us_link_tx_wire(nif, p);
}

void us_link_rx(struct us_netif *nif, struct us_pkt *p)
{
    p->nif = nif;
    if (nif->type == US_LINK_ETHERNET) {
        us_eth_input(nif, p);
        return;
    }
    /* A TUN link carries bare IP packets: the version nibble says which. */
    if (p->len >= 1 && (p->data[0] >> 4) == 4) {
        us_ip4_input(nif, p);
        return;
    }
    bool v6 = p->len >= 1 && (p->data[0] >> 4) == 6;
    us_drop(nif->stack, p, US_P_ip4, v6 ? US_DROP_ip6_unsupported : US_DROP_ip4_bad_version);
}

void us_netif_input(struct us_netif *nif, struct us_pkt *p)
{
    if (nif->capture) {
        us_pkt_csum_complete(p);
        nif->capture(nif->capture_ctx, 0, nif->stack->now, p->data, p->len);
    }
    if (nif->impair)
        us_impair_rx(nif, p);
    else
        us_link_rx(nif, p);
}

void us_netif_input_bytes(struct us_netif *nif, const void *data, size_t len)
{
    struct us_pkt *p = us_pkt_alloc(nif->stack, len);
    if (!p) {
        us_count_drop(nif->stack, US_P_eth, US_DROP_no_buffer);
        return;
    }
    memcpy(p->data, data, len);
    us_netif_input(nif, p);
}
