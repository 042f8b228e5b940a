#include "wire/ip4.h"

#include <string.h>

#include "wire/checksum.h"

#define IP4_FLAG_DF 0x4000
#define IP4_FLAG_MF 0x2000
#define IP4_OFF_MASK 0x1fff

enum us_drop ip4_parse(const uint8_t *p, size_t len, struct ip4_view *out)
{
    if (len < IP4_HLEN)
        return US_DROP_ip4_short;
    if ((p[0] >> 4) != 4)
        return US_DROP_ip4_bad_version;
    out->hlen = (uint8_t)((p[0] & 0x0f) * 4);
    if (out->hlen < IP4_HLEN || out->hlen > len)
        return US_DROP_ip4_bad_hlen;
    out->total_len = (uint16_t)(p[2] << 8 | p[3]);
    if (out->total_len < out->hlen || out->total_len > len)
        return US_DROP_ip4_bad_total_len;
    if (us_csum(p, out->hlen) != 0)
        return US_DROP_ip4_bad_checksum;
    out->tos = p[1];
    out->id = (uint16_t)(p[4] << 8 | p[5]);
    uint16_t ff = (uint16_t)(p[6] << 8 | p[7]);
    out->df = (ff & IP4_FLAG_DF) != 0;
    out->mf = (ff & IP4_FLAG_MF) != 0;
    out->frag_off = (uint16_t)((ff & IP4_OFF_MASK) * 8);
    out->ttl = p[8];
    out->proto = p[9];
    memcpy(&out->src, p + 12, 4);
    memcpy(&out->dst, p + 16, 4);
    return US_DROP_none;
}

void ip4_build(uint8_t *p, const struct ip4_view *v)
{
    uint16_t ff =
        (uint16_t)((v->frag_off / 8) | (v->df ? IP4_FLAG_DF : 0) | (v->mf ? IP4_FLAG_MF : 0));
    p[0] = 0x45;
    p[1] = v->tos;
    p[2] = (uint8_t)(v->total_len >> 8);
    p[3] = (uint8_t)v->total_len;
    p[4] = (uint8_t)(v->id >> 8);
    p[5] = (uint8_t)v->id;
    p[6] = (uint8_t)(ff >> 8);
    p[7] = (uint8_t)ff;
    p[8] = v->ttl;
    p[9] = v->proto;
    p[10] = 0;
    p[11] = 0;
    memcpy(p + 12, &v->src, 4);
    memcpy(p + 16, &v->dst, 4);
    uint16_t c = us_csum(p, IP4_HLEN);
    memcpy(p + 10, &c, 2);
}
