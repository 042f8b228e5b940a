/* Unit tests for the UDP header view (src/wire/udp.c, RFC 768; RFC 8200 8.1
 * for the IPv6 pseudo-header). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/checksum.h"
#include "wire/udp.h"

/* 10.0.0.1:12345 -> 10.0.0.2:7, payload "hello"; checksum 0x77bf, computed
 * independently of the code under test. */
static const uint8_t hello_dgram[] = {
    0x30, 0x39, 0x00, 0x07, 0x00, 0x0d, 0x77, 0xbf, 'h', 'e', 'l', 'l', 'o',
};
#define HELLO_LEN sizeof hello_dgram

static struct us_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t bytes[4] = {a, b, c, d};
    struct us_addr r = {.family = US_AF_INET};
    memcpy(&r.v4, bytes, 4);
    return r;
}

static struct us_addr v6(uint8_t last)
{
    struct us_addr r = {.family = US_AF_INET6};
    r.v6[0] = 0xfe;
    r.v6[1] = 0x80;
    r.v6[8] = 0x02;
    r.v6[15] = last;
    return r;
}

static void set_len(uint8_t *p, uint16_t len)
{
    p[4] = (uint8_t)(len >> 8);
    p[5] = (uint8_t)len;
}

static void test_parse_known(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    struct udp_view v;
    assert_int_equal(udp_parse(hello_dgram, HELLO_LEN, &src, &dst, &v), US_DROP_none);
    assert_int_equal(v.sport, 12345);
    assert_int_equal(v.dport, 7);
    assert_int_equal(v.len, HELLO_LEN);
    assert_memory_equal(&v.csum, hello_dgram + 6, 2);
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    struct udp_view v;
    for (size_t len = 0; len < UDP_HLEN; len++)
        assert_int_equal(udp_parse(hello_dgram, len, &src, &dst, &v), US_DROP_udp_short);
    for (size_t len = UDP_HLEN; len < HELLO_LEN; len++)
        assert_int_equal(udp_parse(hello_dgram, len, &src, &dst, &v), US_DROP_udp_bad_len);
}

/* A UDP length below the header size or beyond what IP delivered. */
static void test_bad_len_field(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    struct udp_view v;
    uint8_t p[HELLO_LEN];
    for (uint16_t len = 0; len < UDP_HLEN; len++) {
        memcpy(p, hello_dgram, HELLO_LEN);
        set_len(p, len);
        assert_int_equal(udp_parse(p, HELLO_LEN, &src, &dst, &v), US_DROP_udp_bad_len);
        p[6] = p[7] = 0; /* no checksum does not excuse a bad length */
        assert_int_equal(udp_parse(p, HELLO_LEN, &src, &dst, &v), US_DROP_udp_bad_len);
    }
    const uint16_t too_big[] = {HELLO_LEN + 1, 1500, 0xffff};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        memcpy(p, hello_dgram, HELLO_LEN);
        set_len(p, too_big[i]);
        assert_int_equal(udp_parse(p, HELLO_LEN, &src, &dst, &v), US_DROP_udp_bad_len);
    }
}

/* IP may carry more than the UDP length says: the checksum covers the UDP
 * length only, and the view reports the UDP length. */
static void test_trailing_bytes_after_udp_len(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    uint8_t p[HELLO_LEN + 7];
    memcpy(p, hello_dgram, HELLO_LEN);
    memset(p + HELLO_LEN, 0x99, 7);
    struct udp_view v;
    assert_int_equal(udp_parse(p, sizeof p, &src, &dst, &v), US_DROP_none);
    assert_int_equal(v.len, HELLO_LEN);
}

/* RFC 768: a zero checksum field means "not computed"; accepted over IPv4
 * whatever the payload. */
static void test_zero_checksum_ip4_accepted(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    uint8_t p[HELLO_LEN];
    memcpy(p, hello_dgram, HELLO_LEN);
    p[6] = p[7] = 0;
    p[8] = 'J'; /* payload no longer matches any checksum */
    struct udp_view v;
    assert_int_equal(udp_parse(p, HELLO_LEN, &src, &dst, &v), US_DROP_none);
    assert_int_equal(v.csum, 0);
}

/* RFC 8200 8.1: over IPv6 the checksum is mandatory and a zero field is
 * discarded. */
static void test_zero_checksum_ip6_rejected(void **state)
{
    (void)state;
    struct us_addr src = v6(1), dst = v6(2);
    uint8_t p[HELLO_LEN];
    memcpy(p, hello_dgram, HELLO_LEN);
    udp_build(p, 12345, 7, HELLO_LEN - UDP_HLEN, &src, &dst);
    struct udp_view v;
    assert_int_equal(udp_parse(p, HELLO_LEN, &src, &dst, &v), US_DROP_none);
    p[6] = p[7] = 0;
    assert_int_equal(udp_parse(p, HELLO_LEN, &src, &dst, &v), US_DROP_udp_bad_checksum);
}

/* Makes a 10-byte-payload datagram whose computed checksum is 0: the first
 * payload word is chosen to bring the one's complement sum to 0xffff. */
static void make_zero_sum_dgram(uint8_t *p, const struct us_addr *src, const struct us_addr *dst)
{
    memset(p + UDP_HLEN, 0, 10);
    memcpy(p + UDP_HLEN + 2, "ustack!!", 8);
    udp_build(p, 4000, 5000, 10, src, dst);
    /* The checksum c = ~S; adding c to the data makes the sum S + ~S = 0xffff. */
    memcpy(p + UDP_HLEN, p + 6, 2);
}

/* RFC 768: a computed checksum of zero is transmitted as all ones. */
static void test_computed_zero_sent_as_ffff(void **state)
{
    (void)state;
    const struct us_addr pairs[][2] = {{v4(10, 0, 0, 1), v4(10, 0, 0, 2)}, {v6(1), v6(2)}};
    for (size_t i = 0; i < 2; i++) {
        const struct us_addr *src = &pairs[i][0], *dst = &pairs[i][1];
        uint8_t p[UDP_HLEN + 10];
        make_zero_sum_dgram(p, src, dst);
        udp_build(p, 4000, 5000, 10, src, dst);
        assert_int_equal(p[6], 0xff);
        assert_int_equal(p[7], 0xff);
        /* Sanity: the sum with a zero field really is 0xffff (checksum 0). */
        uint8_t copy[sizeof p];
        memcpy(copy, p, sizeof p);
        copy[6] = copy[7] = 0;
        uint64_t sum = us_csum_pseudo(src, dst, 17, sizeof p);
        assert_int_equal(us_csum_fold(us_csum_add(sum, copy, sizeof p)), 0);
        /* 0xffff verifies like any other checksum. */
        struct udp_view v;
        assert_int_equal(udp_parse(p, sizeof p, src, dst, &v), US_DROP_none);
        assert_int_equal(v.csum, 0xffff);
    }
}

/* RFC 8200 8.1 again, on the one datagram where a zero field happens to
 * verify arithmetically: it must still be discarded over IPv6. */
static void test_zero_field_on_zero_sum_ip6_rejected(void **state)
{
    (void)state;
    struct us_addr src = v6(1), dst = v6(2);
    uint8_t p[UDP_HLEN + 10];
    make_zero_sum_dgram(p, &src, &dst);
    udp_build(p, 4000, 5000, 10, &src, &dst);
    p[6] = p[7] = 0;
    struct udp_view v;
    assert_int_equal(udp_parse(p, sizeof p, &src, &dst, &v), US_DROP_udp_bad_checksum);
}

static void test_bad_checksum_every_bit(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    struct udp_view v;
    uint8_t p[HELLO_LEN];
    for (size_t byte = 0; byte < HELLO_LEN; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(p, hello_dgram, HELLO_LEN);
            p[byte] ^= (uint8_t)(1u << bit);
            enum us_drop why = udp_parse(p, HELLO_LEN, &src, &dst, &v);
            assert_int_not_equal(why, US_DROP_none);
            if (byte != 4 && byte != 5)
                assert_int_equal(why, US_DROP_udp_bad_checksum);
        }
    }
}

/* The pseudo-header binds the datagram to its addresses. */
static void test_pseudo_header_covered(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    struct us_addr other = v4(10, 0, 0, 3);
    struct udp_view v;
    assert_int_equal(udp_parse(hello_dgram, HELLO_LEN, &src, &other, &v), US_DROP_udp_bad_checksum);
    assert_int_equal(udp_parse(hello_dgram, HELLO_LEN, &other, &dst, &v), US_DROP_udp_bad_checksum);
    struct us_addr s6 = v6(1), d6 = v6(2);
    assert_int_equal(udp_parse(hello_dgram, HELLO_LEN, &s6, &d6, &v), US_DROP_udp_bad_checksum);
}

static void test_build_known_bytes(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    uint8_t p[HELLO_LEN + 1];
    memset(p, 0xcc, sizeof p);
    memcpy(p + UDP_HLEN, "hello", 5);
    udp_build(p, 12345, 7, 5, &src, &dst);
    assert_memory_equal(p, hello_dgram, HELLO_LEN);
    assert_int_equal(p[HELLO_LEN], 0xcc);
}

/* Every payload length 0..300, odd ones included, at odd alignment, over
 * IPv4 and IPv6. */
static void test_build_parse_round_trip(void **state)
{
    (void)state;
    const struct us_addr pairs[][2] = {{v4(192, 168, 1, 1), v4(8, 8, 8, 8)}, {v6(7), v6(9)}};
    uint8_t buf[1 + UDP_HLEN + 300];
    for (size_t i = 0; i < 2; i++) {
        const struct us_addr *src = &pairs[i][0], *dst = &pairs[i][1];
        for (size_t plen = 0; plen <= 300; plen++) {
            uint8_t *p = buf + 1;
            for (size_t k = 0; k < plen; k++)
                p[UDP_HLEN + k] = (uint8_t)(k * 7 + plen);
            udp_build(p, 53, (uint16_t)(1024 + plen), plen, src, dst);
            struct udp_view v;
            assert_int_equal(udp_parse(p, UDP_HLEN + plen, src, dst, &v), US_DROP_none);
            assert_int_equal(v.sport, 53);
            assert_int_equal(v.dport, 1024 + plen);
            assert_int_equal(v.len, UDP_HLEN + plen);
            assert_int_not_equal(v.csum, 0);
        }
    }
}

/* The largest IPv4 datagram payload: 65535 - 20 - 8 bytes. */
static void test_build_parse_max_size(void **state)
{
    (void)state;
    struct us_addr src = v4(10, 0, 0, 1), dst = v4(10, 0, 0, 2);
    size_t plen = 65535 - 20 - 8;
    uint8_t *p = malloc(UDP_HLEN + plen);
    assert_non_null(p);
    for (size_t k = 0; k < plen; k++)
        p[UDP_HLEN + k] = (uint8_t)(k * 13);
    udp_build(p, 1, 2, plen, &src, &dst);
    struct udp_view v;
    assert_int_equal(udp_parse(p, UDP_HLEN + plen, &src, &dst, &v), US_DROP_none);
    assert_int_equal(v.len, 65535 - 20);
    p[UDP_HLEN + plen - 1] ^= 1;
    assert_int_equal(udp_parse(p, UDP_HLEN + plen, &src, &dst, &v), US_DROP_udp_bad_checksum);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_known),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_bad_len_field),
        cmocka_unit_test(test_trailing_bytes_after_udp_len),
        cmocka_unit_test(test_zero_checksum_ip4_accepted),
        cmocka_unit_test(test_zero_checksum_ip6_rejected),
        cmocka_unit_test(test_computed_zero_sent_as_ffff),
        cmocka_unit_test(test_zero_field_on_zero_sum_ip6_rejected),
        cmocka_unit_test(test_bad_checksum_every_bit),
        cmocka_unit_test(test_pseudo_header_covered),
        cmocka_unit_test(test_build_known_bytes),
        cmocka_unit_test(test_build_parse_round_trip),
        cmocka_unit_test(test_build_parse_max_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
