/* SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full, the
 * SYN-ACK's sequence number carries the connection's state instead of
 * memory. Layout of the cookie:
 *   bits 31..6  a keyed hash of the 4-tuple, the peer's ISN and the time slot
 *   bits  5..3  the time slot (64-second periods, modulo 8)
 *   bits  2..0  an index into a table of MSS values
 * A cookie is accepted in its own slot and the one before (64 to 128 s).
 * It cannot carry window scaling, SACK or timestamps: a connection made
 * from one runs without them. */
#include <string.h>

#include "core/stack.h"
#include "ip4/ip4.h"
#include "tcp/tcp.h"

#define COOKIE_SLOT (64 * US_SEC)

static const uint16_t cookie_mss[8] = {536, 1220, 1360, 1440, 1460, 4312, 8960, 65495};

static uint32_t cookie_hash(struct ustack *s, const struct us_addr *la, uint16_t lp,
                            const struct us_addr *ra, uint16_t rp, uint32_t peer_isn, uint32_t slot)
{
    uint8_t id[44] = {0};
    memcpy(id, la->family == US_AF_INET6 ? la->v6 : (const uint8_t *)&la->v4, 16);
    memcpy(id + 16, ra->family == US_AF_INET6 ? ra->v6 : (const uint8_t *)&ra->v4, 16);
    memcpy(id + 32, &lp, 2);
    memcpy(id + 34, &rp, 2);
    memcpy(id + 36, &peer_isn, 4);
    memcpy(id + 40, &slot, 4);
    return (uint32_t)us_siphash(s->secret, id, sizeof(id));
}

uint32_t tcp_cookie_make(struct ustack *s, const struct us_addr *la, uint16_t lp,
                         const struct us_addr *ra, uint16_t rp, uint32_t peer_isn, uint16_t mss)
{
    uint32_t idx = 0;
    for (uint32_t i = 0; i < 8; i++)
        if (cookie_mss[i] <= mss)
            idx = i;
    uint32_t slot = (uint32_t)(s->now / COOKIE_SLOT);
    uint32_t h = cookie_hash(s, la, lp, ra, rp, peer_isn, slot);
    return (h & ~0x3fu) | (slot & 7) << 3 | idx;
}

uint16_t tcp_cookie_check(struct ustack *s, const struct us_addr *la, uint16_t lp,
                          const struct us_addr *ra, uint16_t rp, uint32_t peer_isn, uint32_t cookie)
{
    uint32_t now_slot = (uint32_t)(s->now / COOKIE_SLOT);
    for (uint32_t age = 0; age < 2; age++) {
        uint32_t slot = now_slot - age;
        if (((cookie >> 3) & 7) != (slot & 7))
            continue;
        uint32_t h = cookie_hash(s, la, lp, ra, rp, peer_isn, slot);
        if ((h & ~0x3fu) == (cookie & ~0x3fu))
            return cookie_mss[cookie & 7];
    }
    return 0;
}

/* The stateless SYN-ACK: MSS is the only option a cookie can honour. */
void tcp_cookie_send_synack(struct ustack *s, const struct us_addr *src, const struct us_addr *dst,
                            const struct tcp_view *th, uint16_t mss)
{
    uint16_t peer_mss = th->opt.mss_ok ? th->opt.mss : TCP_DEFAULT_MSS;
    uint16_t use = mss < peer_mss ? mss : peer_mss;
    struct tcp_opts o = {.mss_ok = true, .mss = mss};
    uint8_t opts[TCP_MAX_OPTLEN];
    size_t optlen = tcp_build_opts(opts, &o, true);
    struct us_pkt *p = us_pkt_alloc(s, TCP_HLEN + optlen);
    if (!p)
        return;
    memcpy(p->data + TCP_HLEN, opts, optlen);
    struct tcp_view v = {
        .sport = th->dport,
        .dport = th->sport,
        .seq = tcp_cookie_make(s, dst, th->dport, src, th->sport, th->seq, use),
        .ack = th->seq + 1,
        .flags = TCP_SYN | TCP_ACK,
        .win = 65535,
    };
    tcp_build(p->data, &v, optlen, dst, src);
    s->cnt.tx[US_P_tcp]++;
    us_count_event(s, US_EV_tcp_syncookie_sent);
    us_ip4_output(s, p, dst->v4, src->v4, IP_PROTO_TCP, US_IP4_DEFAULT_TTL, 0, true);
}
