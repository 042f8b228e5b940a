#include "wire/arp.h"

#include <string.h>

/* Ethernet hardware type and IPv4 protocol type, the only pair we speak. */
#define ARP_HTYPE_ETH 1
#define ARP_PTYPE_IP4 0x0800

enum us_drop arp_parse(const uint8_t *p, size_t len, struct arp_view *out)
{
    if (len < ARP_LEN)
        return US_DROP_arp_short;
    uint16_t htype = (uint16_t)(p[0] << 8 | p[1]);
    uint16_t ptype = (uint16_t)(p[2] << 8 | p[3]);
    if (htype != ARP_HTYPE_ETH || ptype != ARP_PTYPE_IP4 || p[4] != 6 || p[5] != 4)
        return US_DROP_arp_bad_format;
    out->op = (uint16_t)(p[6] << 8 | p[7]);
    if (out->op != ARP_OP_REQUEST && out->op != ARP_OP_REPLY)
        return US_DROP_arp_bad_op;
    memcpy(out->sha.b, p + 8, 6);
    memcpy(&out->spa, p + 14, 4);
    memcpy(out->tha.b, p + 18, 6);
    memcpy(&out->tpa, p + 24, 4);
    return US_DROP_none;
}

void arp_build(uint8_t *p, const struct arp_view *v)
{
    p[0] = 0;
    p[1] = ARP_HTYPE_ETH;
    p[2] = ARP_PTYPE_IP4 >> 8;
    p[3] = ARP_PTYPE_IP4 & 0xff;
    p[4] = 6;
    p[5] = 4;
    p[6] = (uint8_t)(v->op >> 8);
    p[7] = (uint8_t)v->op;
    memcpy(p + 8, v->sha.b, 6);
    memcpy(p + 14, &v->spa, 4);
    memcpy(p + 18, v->tha.b, 6);
    memcpy(p + 24, &v->tpa, 4);
}
