#include "wire/checksum.h"

#include <string.h>

uint64_t us_csum_add(uint64_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* Sum 32-bit words into a 64-bit accumulator: no carry can be lost for
     * any buffer below 2^32 words. Byte order is irrelevant to the one's
     * complement sum as long as it is folded consistently (RFC 1071 2(B)). */
    while (len >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        sum += (uint64_t)a + b;
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t a;
        memcpy(&a, p, 4);
        sum += a;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t a;
        memcpy(&a, p, 2);
        sum += a;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint8_t last[2] = {p[0], 0};
        uint16_t a;
        memcpy(&a, last, 2);
        sum += a;
    }
    return sum;
}

uint16_t us_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

uint64_t us_csum_pseudo(const struct us_addr *src, const struct us_addr *dst, uint8_t proto,
                        uint32_t len)
{
    uint64_t sum = 0;
    uint8_t tail[8] = {0};
    if (src->family == US_AF_INET6) {
        sum = us_csum_add(sum, src->v6, 16);
        sum = us_csum_add(sum, dst->v6, 16);
        tail[0] = (uint8_t)(len >> 24);
        tail[1] = (uint8_t)(len >> 16);
        tail[2] = (uint8_t)(len >> 8);
        tail[3] = (uint8_t)len;
        tail[7] = proto;
        return us_csum_add(sum, tail, 8);
    }
    sum = us_csum_add(sum, &src->v4, 4);
    sum = us_csum_add(sum, &dst->v4, 4);
    tail[1] = proto;
    tail[2] = (uint8_t)(len >> 8);
    tail[3] = (uint8_t)len;
    return us_csum_add(sum, tail, 4);
}
