#include "wire/icmp4.h"

#include <string.h>

#include "wire/checksum.h"

enum us_drop icmp4_parse(const uint8_t *p, size_t len, struct icmp4_view *out)
{
    if (len < ICMP4_HLEN)
        return US_DROP_icmp4_short;
    if (us_csum(p, len) != 0)
        return US_DROP_icmp4_bad_checksum;
    out->type = p[0];
    out->code = p[1];
    out->id = (uint16_t)(p[4] << 8 | p[5]);
    out->seq = (uint16_t)(p[6] << 8 | p[7]);
    memcpy(&out->rest, p + 4, 4);
    return US_DROP_none;
}

void icmp4_build(uint8_t *p, size_t len, const struct icmp4_view *v)
{
    p[0] = v->type;
    p[1] = v->code;
    p[2] = 0;
    p[3] = 0;
    memcpy(p + 4, &v->rest, 4);
    uint16_t c = us_csum(p, len);
    memcpy(p + 2, &c, 2);
}
