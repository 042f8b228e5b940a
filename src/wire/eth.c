#include "wire/eth.h"

#include <string.h>

enum us_drop eth_parse(const uint8_t *p, size_t len, struct eth_view *out)
{
    if (len < ETH_HLEN)
        return US_DROP_eth_short;
    memcpy(out->dst.b, p, 6);
    memcpy(out->src.b, p + 6, 6);
    out->type = (uint16_t)(p[12] << 8 | p[13]);
    return US_DROP_none;
}

void eth_build(uint8_t *p, const struct us_mac *dst, const struct us_mac *src, uint16_t type)
{
    memcpy(p, dst->b, 6);
    memcpy(p + 6, src->b, 6);
    p[12] = (uint8_t)(type >> 8);
    p[13] = (uint8_t)type;
}
