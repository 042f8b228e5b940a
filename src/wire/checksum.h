/* Internet checksum (RFC 1071), computed 8 bytes at a time, folded once. */
#ifndef US_WIRE_CHECKSUM_H
#define US_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "ustack/addr.h"

/* One's-complement partial sum of data added to sum (not folded). */
uint64_t us_csum_add(uint64_t sum, const void *data, size_t len);
/* Folds a partial sum to 16 bits and complements it (network order result). */
uint16_t us_csum_fold(uint64_t sum);
/* Pseudo-header partial sum for transport checksums (RFC 768, RFC 9293 3.1,
 * RFC 8200 8.1 for IPv6). */
uint64_t us_csum_pseudo(const struct us_addr *src, const struct us_addr *dst, uint8_t proto,
                        uint32_t len);
/* Checksum of a complete buffer: 0 when a received header verifies. */
static inline uint16_t us_csum(const void *data, size_t len)
{
    return us_csum_fold(us_csum_add(0, data, len));
}

#endif
