/* Unit tests for the Internet checksum (src/wire/checksum.c, RFC 1071). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/checksum.h"

/* Straightforward RFC 1071 reference: big-endian 16-bit words, an odd last
 * byte padded with zero, end-around carry, complement. Host-order result. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* us_csum's result is in network order: its bytes in memory are the wire bytes. */
static uint16_t to_host(uint16_t net)
{
    uint8_t b[2];
    memcpy(b, &net, 2);
    return (uint16_t)(b[0] << 8 | b[1]);
}

/* Deterministic filler (xorshift) so failures replay. */
static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* RFC 1071 section 3 example: sum of 0001 f203 f4f5 f6f7 is ddf2. */
static void test_rfc1071_example(void **state)
{
    (void)state;
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    uint16_t c = us_csum(data, sizeof data);
    uint8_t wire[2];
    memcpy(wire, &c, 2);
    assert_int_equal(wire[0], 0x22);
    assert_int_equal(wire[1], 0x0d);
    assert_int_equal(to_host(c), 0x220d);
    assert_int_equal(ref_csum(data, sizeof data), 0x220d);
}

/* Writing the checksum into its field makes the whole buffer verify to 0. */
static void test_inserted_checksum_verifies(void **state)
{
    (void)state;
    uint8_t data[10] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0, 0};
    uint16_t c = us_csum(data, sizeof data);
    memcpy(data + 8, &c, 2);
    assert_int_equal(us_csum(data, sizeof data), 0);
    data[3] ^= 0x10;
    assert_int_not_equal(us_csum(data, sizeof data), 0);
}

static void test_empty_and_zero(void **state)
{
    (void)state;
    uint8_t zeros[64] = {0};
    /* Sum of nothing (or of zeros) is 0; its complement is all ones. */
    assert_int_equal(us_csum(zeros, 0), 0xffff);
    assert_int_equal(us_csum(zeros, sizeof zeros), 0xffff);
    assert_int_equal(us_csum_fold(0), 0xffff);
}

static void test_all_ones(void **state)
{
    (void)state;
    uint8_t ones[64];
    memset(ones, 0xff, sizeof ones);
    /* 0xffff is negative zero; its complement folds to 0. */
    for (size_t len = 2; len <= sizeof ones; len += 2)
        assert_int_equal(us_csum(ones, len), 0);
    assert_int_equal(to_host(us_csum(ones, 1)), ref_csum(ones, 1));
    assert_int_equal(to_host(us_csum(ones, 1)), 0x00ff);
}

/* Every length 0..300 (odd ones pad the last byte with zero). */
static void test_every_length_matches_reference(void **state)
{
    (void)state;
    uint8_t buf[300];
    fill_random(buf, sizeof buf, 12345);
    for (size_t len = 0; len <= sizeof buf; len++)
        assert_int_equal(to_host(us_csum(buf, len)), ref_csum(buf, len));
}

static void test_odd_length_pads_with_zero(void **state)
{
    (void)state;
    const uint8_t odd[3] = {0x12, 0x34, 0x56};
    const uint8_t even[4] = {0x12, 0x34, 0x56, 0x00};
    assert_int_equal(us_csum(odd, 3), us_csum(even, 4));
    /* 0x1234 + 0x5600 = 0x6834, complement 0x97cb. */
    assert_int_equal(to_host(us_csum(odd, 3)), 0x97cb);
}

/* The same bytes at every alignment 0..7 give the same result. */
static void test_odd_alignment(void **state)
{
    (void)state;
    uint8_t src[257];
    uint8_t backing[257 + 16];
    fill_random(src, sizeof src, 777);
    for (size_t len = 0; len <= sizeof src; len += 1) {
        uint16_t expect = ref_csum(src, len);
        for (size_t off = 0; off < 8; off++) {
            memcpy(backing + off, src, len);
            assert_int_equal(to_host(us_csum(backing + off, len)), expect);
        }
    }
}

/* A 64 KiB buffer (and every accumulator-heavy pattern) against the reference. */
static void test_large_buffer(void **state)
{
    (void)state;
    size_t len = 65536 + 1;
    uint8_t *buf = malloc(len + 8);
    assert_non_null(buf);
    fill_random(buf, len + 8, 4242);
    assert_int_equal(to_host(us_csum(buf, 65536)), ref_csum(buf, 65536));
    assert_int_equal(to_host(us_csum(buf + 1, 65535)), ref_csum(buf + 1, 65535));
    assert_int_equal(to_host(us_csum(buf + 3, 65536)), ref_csum(buf + 3, 65536));
    /* All ones: the most carries the accumulator can see. */
    memset(buf, 0xff, len);
    assert_int_equal(to_host(us_csum(buf, 65536)), ref_csum(buf, 65536));
    assert_int_equal(to_host(us_csum(buf, 65535)), ref_csum(buf, 65535));
    /* A sum of exactly 0xfffe: checksum 0x0001. */
    memset(buf, 0, len);
    buf[0] = 0xff;
    buf[1] = 0xfe;
    assert_int_equal(to_host(us_csum(buf, 65536)), 0x0001);
    free(buf);
}

/* Partial sums over pieces at even boundaries add up to the sum of the whole. */
static void test_incremental_sum(void **state)
{
    (void)state;
    uint8_t buf[1000];
    fill_random(buf, sizeof buf, 99);
    uint16_t whole = us_csum(buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 2) {
        uint64_t sum = us_csum_add(0, buf, cut);
        sum = us_csum_add(sum, buf + cut, sizeof buf - cut);
        assert_int_equal(us_csum_fold(sum), whole);
    }
    /* Three pieces, the last one of odd length. */
    uint64_t sum = us_csum_add(0, buf, 10);
    sum = us_csum_add(sum, buf + 10, 500);
    sum = us_csum_add(sum, buf + 510, 489);
    assert_int_equal(us_csum_fold(sum), us_csum(buf, 999));
}

/* Reference fold of a 64-bit accumulator: 2^16 = 1 (mod 0xffff), so the
 * one's complement sum is the sum of its four 16-bit digits, carried around. */
static uint16_t ref_fold(uint64_t v)
{
    uint64_t sum = (v & 0xffff) + ((v >> 16) & 0xffff) + ((v >> 32) & 0xffff) + (v >> 48);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* us_csum_fold must carry every bit of a 64-bit accumulator back in. */
static void test_fold_large_sums(void **state)
{
    (void)state;
    const struct {
        uint64_t sum;
        uint16_t expect;
    } cases[] = {
        {0x0000ffffULL, 0x0000},
        {0x00010000ULL, 0xfffe},         /* 0x0001 after the end-around carry */
        {0x0001fffeULL, 0x0000},         /* 0xfffe + 1 = 0xffff */
        {0xffffffffULL, 0x0000},         /* 0xffff + 0xffff -> 0xffff */
        {0x100000000ULL, 0xfffe},        /* 2^32 = 1 (mod 0xffff) */
        {0xffffffffffffffffULL, 0x0000}, /* all ones stays negative zero */
        {0x0000fffe0000fffeULL, 0x0002}, /* 0x1fffc -> 0xfffd */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(us_csum_fold(cases[i].sum), cases[i].expect);
        assert_int_equal(ref_fold(cases[i].sum), cases[i].expect);
    }
    uint32_t x = 1;
    for (int i = 0; i < 10000; i++) {
        x = x * 1664525u + 1013904223u;
        uint64_t v = (uint64_t)x << 32 | (x * 2654435761u);
        assert_int_equal(us_csum_fold(v), ref_fold(v));
    }
}

/* IPv4 pseudo-header (RFC 768): src, dst, zero, protocol, length. */
static void test_pseudo_ip4(void **state)
{
    (void)state;
    const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {192, 168, 1, 200};
    struct us_addr s = {.family = US_AF_INET}, d = {.family = US_AF_INET};
    memcpy(&s.v4, src, 4);
    memcpy(&d.v4, dst, 4);
    uint8_t ph[12] = {10, 0, 0, 1, 192, 168, 1, 200, 0, 17, 0x12, 0x34};
    uint16_t got = us_csum_fold(us_csum_pseudo(&s, &d, 17, 0x1234));
    assert_int_equal(to_host(got), ref_csum(ph, sizeof ph));
}

/* IPv6 pseudo-header (RFC 8200 8.1): src, dst, 32-bit length, 3 zero, next header. */
static void test_pseudo_ip6(void **state)
{
    (void)state;
    struct us_addr s = {.family = US_AF_INET6}, d = {.family = US_AF_INET6};
    uint8_t ph[40] = {0};
    for (int i = 0; i < 16; i++) {
        s.v6[i] = (uint8_t)(0xfe + i * 7);
        d.v6[i] = (uint8_t)(0x20 + i * 13);
    }
    memcpy(ph, s.v6, 16);
    memcpy(ph + 16, d.v6, 16);
    uint32_t len = 0x00012345; /* a jumbo-sized length exercises the high half */
    ph[32] = (uint8_t)(len >> 24);
    ph[33] = (uint8_t)(len >> 16);
    ph[34] = (uint8_t)(len >> 8);
    ph[35] = (uint8_t)len;
    ph[39] = 58;
    uint16_t got = us_csum_fold(us_csum_pseudo(&s, &d, 58, len));
    assert_int_equal(to_host(got), ref_csum(ph, sizeof ph));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1071_example),
        cmocka_unit_test(test_inserted_checksum_verifies),
        cmocka_unit_test(test_empty_and_zero),
        cmocka_unit_test(test_all_ones),
        cmocka_unit_test(test_every_length_matches_reference),
        cmocka_unit_test(test_odd_length_pads_with_zero),
        cmocka_unit_test(test_odd_alignment),
        cmocka_unit_test(test_large_buffer),
        cmocka_unit_test(test_incremental_sum),
        cmocka_unit_test(test_fold_large_sums),
        cmocka_unit_test(test_pseudo_ip4),
        cmocka_unit_test(test_pseudo_ip6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
