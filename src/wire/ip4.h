/* IPv4 header (RFC 791). */
#ifndef US_WIRE_IP4_H
#define US_WIRE_IP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"

#define IP4_HLEN 20
#define IP4_MAX_LEN 65535
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17

struct ip4_view {
    uint8_t hlen; /* header length in bytes, options included */
    uint8_t tos;
    uint16_t total_len;
    uint16_t id;
    uint16_t frag_off; /* offset in bytes */
    bool df, mf;
    uint8_t ttl;
    uint8_t proto;
    uint32_t src, dst; /* network order */
};

/* Checks version, header length, total length against len, and the header
 * checksum. len may exceed total_len (link padding). */
enum us_drop ip4_parse(const uint8_t *p, size_t len, struct ip4_view *out);
/* Writes a 20-byte header with its checksum. */
void ip4_build(uint8_t *p, const struct ip4_view *v);

static inline bool ip4_is_fragment(const struct ip4_view *v)
{
    return v->mf || v->frag_off != 0;
}

#endif
