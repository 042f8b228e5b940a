/* ARP packet for Ethernet/IPv4 (RFC 826). */
#ifndef US_WIRE_ARP_H
#define US_WIRE_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"
#include "ustack/addr.h"

#define ARP_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

struct arp_view {
    uint16_t op;
    struct us_mac sha, tha;
    uint32_t spa, tpa; /* network order */
};

enum us_drop arp_parse(const uint8_t *p, size_t len, struct arp_view *out);
void arp_build(uint8_t *p, const struct arp_view *v);

#endif
