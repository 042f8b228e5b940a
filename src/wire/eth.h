/* Ethernet II header (IEEE 802.3 length frames are recognised, not parsed). */
#ifndef US_WIRE_ETH_H
#define US_WIRE_ETH_H

#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"
#include "ustack/addr.h"

#define ETH_HLEN 14
#define ETH_TYPE_IP4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_IP6 0x86dd
/* EtherType values below this are IEEE 802.3 lengths (LLC frames). */
#define ETH_TYPE_MIN 0x0600

struct eth_view {
    struct us_mac dst, src;
    uint16_t type; /* host order */
};

enum us_drop eth_parse(const uint8_t *p, size_t len, struct eth_view *out);
void eth_build(uint8_t *p, const struct us_mac *dst, const struct us_mac *src, uint16_t type);

static inline int mac_is_bcast(const struct us_mac *m)
{
    return (m->b[0] & m->b[1] & m->b[2] & m->b[3] & m->b[4] & m->b[5]) == 0xff;
}
static inline int mac_is_mcast(const struct us_mac *m)
{
    return m->b[0] & 1;
}

#endif
