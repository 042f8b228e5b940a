#include "wire/tcp.h"

#include <string.h>

#include "wire/checksum.h"
#include "wire/ip4.h"

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A known option with a length other than its own is malformed. */
static bool known_len_ok(uint8_t kind, uint8_t len)
{
    switch (kind) {
    case TCP_OPT_MSS:
        return len == 4;
    case TCP_OPT_WS:
        return len == 3;
    case TCP_OPT_SACK_PERM:
        return len == 2;
    case TCP_OPT_SACK:
        return len >= 10 && (len - 2) % 8 == 0;
    case TCP_OPT_TS:
        return len == 10;
    default:
        return true; /* unknown options are skipped by their length */
    }
}

static void apply_opt(const uint8_t *o, uint8_t len, struct tcp_opts *out)
{
    switch (o[0]) {
    case TCP_OPT_MSS:
        out->mss_ok = true;
        out->mss = (uint16_t)(o[2] << 8 | o[3]);
        break;
    case TCP_OPT_WS:
        out->ws_ok = true;
        /* RFC 7323 2.3: a shift above 14 is used as 14. */
        out->ws = o[2] > TCP_MAX_WS ? TCP_MAX_WS : o[2];
        break;
    case TCP_OPT_SACK_PERM:
        out->sack_ok = true;
        break;
    case TCP_OPT_SACK:
        out->nsack = 0;
        for (int i = 0; i < (len - 2) / 8 && i < TCP_MAX_SACK; i++) {
            out->sack[i].left = get32(o + 2 + 8 * i);
            out->sack[i].right = get32(o + 6 + 8 * i);
            out->nsack++;
        }
        break;
    case TCP_OPT_TS:
        out->ts_ok = true;
        out->tsval = get32(o + 2);
        out->tsecr = get32(o + 6);
        break;
    }
}

enum us_drop tcp_parse_opts(const uint8_t *p, size_t len, struct tcp_opts *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == TCP_OPT_EOL)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 3.1: every other option has a length octet that counts
         * kind and length; one that runs past the header is malformed. */
        if (i + 1 >= len)
            return US_DROP_tcp_bad_option;
        uint8_t olen = p[i + 1];
        if (olen < 2 || i + olen > len || !known_len_ok(kind, olen))
            return US_DROP_tcp_bad_option;
        apply_opt(p + i, olen, out);
        i += olen;
    }
    return US_DROP_none;
}

enum us_drop tcp_parse(const uint8_t *p, size_t len, const struct us_addr *src,
                       const struct us_addr *dst, struct tcp_view *out)
{
    return tcp_parse_csum(p, len, src, dst, true, out);
}

enum us_drop tcp_parse_csum(const uint8_t *p, size_t len, const struct us_addr *src,
                            const struct us_addr *dst, bool verify_csum, struct tcp_view *out)
{
    if (len < TCP_HLEN)
        return US_DROP_tcp_short;
    out->hlen = (uint8_t)((p[12] >> 4) * 4);
    if (out->hlen < TCP_HLEN || out->hlen > len)
        return US_DROP_tcp_bad_hlen;
    if (verify_csum &&
        us_csum_fold(us_csum_add(us_csum_pseudo(src, dst, IP_PROTO_TCP, (uint32_t)len), p, len)))
        return US_DROP_tcp_bad_checksum;
    out->sport = (uint16_t)(p[0] << 8 | p[1]);
    out->dport = (uint16_t)(p[2] << 8 | p[3]);
    out->seq = get32(p + 4);
    out->ack = get32(p + 8);
    out->flags = p[13];
    out->win = (uint16_t)(p[14] << 8 | p[15]);
    out->urg = (uint16_t)(p[18] << 8 | p[19]);
    out->payload = p + out->hlen;
    out->plen = (uint32_t)(len - out->hlen);
    return tcp_parse_opts(p + TCP_HLEN, out->hlen - TCP_HLEN, &out->opt);
}

size_t tcp_build_opts(uint8_t *p, const struct tcp_opts *o, bool syn)
{
    size_t n = 0;
    if (syn && o->mss_ok) {
        p[n++] = TCP_OPT_MSS;
        p[n++] = 4;
        p[n++] = (uint8_t)(o->mss >> 8);
        p[n++] = (uint8_t)o->mss;
    }
    if (syn && o->sack_ok && o->ts_ok) {
        p[n++] = TCP_OPT_SACK_PERM; /* Linux packs SACK-permitted with TS */
        p[n++] = 2;
    } else if (syn && o->sack_ok) {
        p[n++] = TCP_OPT_NOP;
        p[n++] = TCP_OPT_NOP;
        p[n++] = TCP_OPT_SACK_PERM;
        p[n++] = 2;
    } else if (o->ts_ok) {
        p[n++] = TCP_OPT_NOP;
        p[n++] = TCP_OPT_NOP;
    }
    if (o->ts_ok) {
        p[n++] = TCP_OPT_TS;
        p[n++] = 10;
        put32(p + n, o->tsval);
        put32(p + n + 4, o->tsecr);
        n += 8;
    }
    if (syn && o->ws_ok) {
        p[n++] = TCP_OPT_NOP;
        p[n++] = TCP_OPT_WS;
        p[n++] = 3;
        p[n++] = o->ws;
    }
    if (!syn && o->nsack) {
        uint8_t max = (uint8_t)((TCP_MAX_OPTLEN - n - 4) / 8);
        uint8_t cnt = o->nsack < max ? o->nsack : max;
        if (cnt) {
            p[n++] = TCP_OPT_NOP;
            p[n++] = TCP_OPT_NOP;
            p[n++] = TCP_OPT_SACK;
            p[n++] = (uint8_t)(2 + 8 * cnt);
            for (int i = 0; i < cnt; i++) {
                put32(p + n, o->sack[i].left);
                put32(p + n + 4, o->sack[i].right);
                n += 8;
            }
        }
    }
    while (n % 4)
        p[n++] = TCP_OPT_NOP;
    return n;
}

void tcp_build(uint8_t *p, const struct tcp_view *v, size_t optlen, const struct us_addr *src,
               const struct us_addr *dst)
{
    uint32_t len = tcp_build_csum_partial(p, v, optlen, src, dst);
    uint16_t c = us_csum_fold(us_csum_add(0, p, len)); /* the pseudo sum is in already */
    memcpy(p + 16, &c, 2);
}

uint32_t tcp_build_csum_partial(uint8_t *p, const struct tcp_view *v, size_t optlen,
                                const struct us_addr *src, const struct us_addr *dst)
{
    size_t hlen = TCP_HLEN + optlen;
    p[0] = (uint8_t)(v->sport >> 8);
    p[1] = (uint8_t)v->sport;
    p[2] = (uint8_t)(v->dport >> 8);
    p[3] = (uint8_t)v->dport;
    put32(p + 4, v->seq);
    put32(p + 8, v->ack);
    p[12] = (uint8_t)((hlen / 4) << 4);
    p[13] = v->flags;
    p[14] = (uint8_t)(v->win >> 8);
    p[15] = (uint8_t)v->win;
    p[16] = 0;
    p[17] = 0;
    p[18] = (uint8_t)(v->urg >> 8);
    p[19] = (uint8_t)v->urg;
    uint32_t len = (uint32_t)(hlen + v->plen);
    uint16_t partial = (uint16_t)~us_csum_fold(us_csum_pseudo(src, dst, IP_PROTO_TCP, len));
    memcpy(p + 16, &partial, 2);
    return len;
}
