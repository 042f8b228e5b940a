/* IPv4 input: validation, destination check, reassembly, demultiplexing
 * (RFC 791, RFC 1122 3.2.1). ustack is a host: it does not forward. */
#include <arpa/inet.h>

#include "core/stack.h"
#include "ip4/icmp4.h"
#include "ip4/ip4.h"
#include "ip4/ip4_reassembly.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

static bool is_mcast4(uint32_t a)
{
    return (ntohl(a) >> 28) == 0xe;
}

/* RFC 1122 3.2.1.3: a source must be a unique host address. */
static bool src_valid(const struct us_netif *nif, uint32_t src)
{
    uint32_t h = ntohl(src);
    if (src == 0xffffffffu || is_mcast4(src) || (h >> 24) == 127)
        return false;
    return !us_netif_is_bcast4(nif, src);
}

/* Destined to this host: one of our addresses, a broadcast, or 224.0.0.1. */
static enum us_drop dst_check(struct us_netif *nif, uint32_t dst, bool *bcast)
{
    *bcast = false;
    if (us_netif_has_addr4(nif, dst))
        return US_DROP_none;
    if (dst == 0xffffffffu || us_netif_is_bcast4(nif, dst)) {
        *bcast = true;
        return US_DROP_none;
    }
    if (dst == htonl(0xe0000001u)) { /* RFC 1112: all-hosts */
        *bcast = true;
        return US_DROP_none;
    }
    if (us_netif_find_addr4(nif, dst))
        return US_DROP_ip4_tentative; /* RFC 5227: not ours until probed */
    return US_DROP_ip4_not_for_us;
}

static void log_ip4(struct ustack *s, const char *dir, const struct ip4_view *ip)
{
    if (!us_log_enabled(s, US_CH_IP4, US_LOG_TRACE))
        return;
    char src[16], dst[16];
    inet_ntop(AF_INET, &ip->src, src, sizeof(src));
    inet_ntop(AF_INET, &ip->dst, dst, sizeof(dst));
    us_log_emit(s, US_CH_IP4, US_LOG_TRACE, "IP4 %s %s > %s proto %u len %u id %u off %u%s%s", dir,
                src, dst, ip->proto, ip->total_len, ip->id, ip->frag_off, ip->mf ? " MF" : "",
                ip->df ? " DF" : "");
}

void us_ip4_input(struct us_netif *nif, struct us_pkt *p)
{
    struct ustack *s = nif->stack;
    struct ip4_view ip;
    enum us_drop why = ip4_parse(p->data, p->len, &ip);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_ip4, why);
        return;
    }
    s->cnt.rx[US_P_ip4]++;
    log_ip4(s, "rx", &ip);
    p->len = ip.total_len; /* trim link-layer padding */
    if (!src_valid(nif, ip.src)) {
        us_drop(s, p, US_P_ip4, US_DROP_ip4_bad_src);
        return;
    }
    bool bcast;
    why = dst_check(nif, ip.dst, &bcast);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_ip4, why);
        return;
    }
    if (bcast)
        p->link_bcast = 1;
    if (ip4_is_fragment(&ip)) {
        p = us_ip4_reasm_input(nif, p, &ip);
        if (!p)
            return;
        why = ip4_parse(p->data, p->len, &ip);
        if (why != US_DROP_none) {
            us_drop(s, p, US_P_ip4, why);
            return;
        }
    }
    us_ip4_deliver(s, nif, p, &ip);
}

void us_ip4_deliver(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                    const struct ip4_view *ip)
{
    switch (ip->proto) {
    case IP_PROTO_ICMP:
        us_icmp4_input(s, nif, p, ip);
        return;
    case IP_PROTO_UDP:
        us_udp_input(s, nif, p, ip);
        return;
    case IP_PROTO_TCP:
        us_tcp_input(s, nif, p, ip);
        return;
    default:
        /* RFC 1122 3.2.2.1: protocol unreachable for a protocol we lack. */
        us_icmp4_error(s, p, ip, ICMP4_DEST_UNREACH, ICMP4_UNREACH_PROTO, 0);
        us_drop(s, p, US_P_ip4, US_DROP_ip4_unknown_proto);
    }
}
