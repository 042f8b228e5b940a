#include "wire/udp.h"

#include <string.h>

#include "wire/checksum.h"
#include "wire/ip4.h"

enum us_drop udp_parse(const uint8_t *p, size_t len, const struct us_addr *src,
                       const struct us_addr *dst, struct udp_view *out)
{
    return udp_parse_csum(p, len, src, dst, true, out);
}

enum us_drop udp_parse_csum(const uint8_t *p, size_t len, const struct us_addr *src,
                            const struct us_addr *dst, bool verify_csum, struct udp_view *out)
{
    if (len < UDP_HLEN)
        return US_DROP_udp_short;
    out->sport = (uint16_t)(p[0] << 8 | p[1]);
    out->dport = (uint16_t)(p[2] << 8 | p[3]);
    out->len = (uint16_t)(p[4] << 8 | p[5]);
    memcpy(&out->csum, p + 6, 2);
    if (out->len < UDP_HLEN || out->len > len)
        return US_DROP_udp_bad_len;
    if (!verify_csum)
        return US_DROP_none;
    /* RFC 768: an all-zero checksum means none was computed (IPv4 only). */
    if (out->csum == 0)
        /* RFC 8200 8.1: IPv6 receivers discard a zero checksum. */
        return src->family == US_AF_INET ? US_DROP_none : US_DROP_udp_bad_checksum;
    uint64_t sum = us_csum_pseudo(src, dst, IP_PROTO_UDP, out->len);
    if (us_csum_fold(us_csum_add(sum, p, out->len)) != 0)
        return US_DROP_udp_bad_checksum;
    return US_DROP_none;
}

void udp_build(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload_len,
               const struct us_addr *src, const struct us_addr *dst)
{
    uint16_t len = (uint16_t)(payload_len + UDP_HLEN);
    p[0] = (uint8_t)(sport >> 8);
    p[1] = (uint8_t)sport;
    p[2] = (uint8_t)(dport >> 8);
    p[3] = (uint8_t)dport;
    p[4] = (uint8_t)(len >> 8);
    p[5] = (uint8_t)len;
    p[6] = 0;
    p[7] = 0;
    uint64_t sum = us_csum_pseudo(src, dst, IP_PROTO_UDP, len);
    uint16_t c = us_csum_fold(us_csum_add(sum, p, len));
    /* RFC 768: a computed zero is sent as all ones. */
    if (c == 0)
        c = 0xffff;
    memcpy(p + 6, &c, 2);
}
