/* UDP header (RFC 768). */
#ifndef US_WIRE_UDP_H
#define US_WIRE_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"
#include "ustack/addr.h"

#define UDP_HLEN 8
#define UDP_CSUM_FIELD 6 /* the checksum's offset in the header */

struct udp_view {
    uint16_t sport, dport; /* host order */
    uint16_t len;          /* header + payload */
    uint16_t csum;         /* as received (0: none) */
};

/* Checks lengths (len is what the IP layer says the payload is) and the
 * checksum with the pseudo-header. */
enum us_drop udp_parse(const uint8_t *p, size_t len, const struct us_addr *src,
                       const struct us_addr *dst, struct udp_view *out);
/* The same, skipping the checksum when verify_csum is false (the link
 * vouched for it: us_pkt.csum_ok). */
enum us_drop udp_parse_csum(const uint8_t *p, size_t len, const struct us_addr *src,
                            const struct us_addr *dst, bool verify_csum, struct udp_view *out);
/* Writes the header and checksum over header + payload_len bytes at p+8. */
void udp_build(uint8_t *p, uint16_t sport, uint16_t dport, size_t payload_len,
               const struct us_addr *src, const struct us_addr *dst);

#endif
