/* Unit tests for the ICMPv4 message view (src/wire/icmp4.c, RFC 792). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire/checksum.h"
#include "wire/icmp4.h"

#define ECHO_PAYLOAD "abcdefghijklmnopqrstuvwabcdefghi"
#define ECHO_LEN (ICMP4_HLEN + sizeof ECHO_PAYLOAD - 1)

/* Echo request, identifier 0x1234, sequence 1, the 32-byte payload Windows
 * ping sends; checksum 0x3b27 (computed independently of the code under test). */
static const uint8_t echo_request[ECHO_LEN] = {
    0x08, 0x00, 0x3b, 0x27, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd', 'e', 'f',
    'g',  'h',  'i',  'j',  'k',  'l',  'm',  'n',  'o', 'p', 'q', 'r', 's', 't',
    'u',  'v',  'w',  'a',  'b',  'c',  'd',  'e',  'f', 'g', 'h', 'i',
};

/* The matching echo reply: type 0, checksum 0x4327 (0x3b27 + 0x0800). */
static const uint8_t echo_reply[ECHO_LEN] = {
    0x00, 0x00, 0x43, 0x27, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd', 'e', 'f',
    'g',  'h',  'i',  'j',  'k',  'l',  'm',  'n',  'o', 'p', 'q', 'r', 's', 't',
    'u',  'v',  'w',  'a',  'b',  'c',  'd',  'e',  'f', 'g', 'h', 'i',
};

static void test_parse_echo_request(void **state)
{
    (void)state;
    struct icmp4_view v;
    assert_int_equal(icmp4_parse(echo_request, ECHO_LEN, &v), US_DROP_none);
    assert_int_equal(v.type, ICMP4_ECHO_REQUEST);
    assert_int_equal(v.code, 0);
    assert_int_equal(v.id, 0x1234);
    assert_int_equal(v.seq, 1);
    const uint8_t rest[4] = {0x12, 0x34, 0x00, 0x01};
    assert_memory_equal(&v.rest, rest, 4);
}

static void test_parse_echo_reply(void **state)
{
    (void)state;
    struct icmp4_view v;
    assert_int_equal(icmp4_parse(echo_reply, ECHO_LEN, &v), US_DROP_none);
    assert_int_equal(v.type, ICMP4_ECHO_REPLY);
    assert_int_equal(v.id, 0x1234);
    assert_int_equal(v.seq, 1);
}

/* Below 8 bytes: short. From 8 bytes on, a truncated message fails its
 * checksum (no suffix of this payload sums to zero). */
static void test_truncated_every_length(void **state)
{
    (void)state;
    struct icmp4_view v;
    for (size_t len = 0; len < ICMP4_HLEN; len++)
        assert_int_equal(icmp4_parse(echo_request, len, &v), US_DROP_icmp4_short);
    for (size_t len = ICMP4_HLEN; len < ECHO_LEN; len++)
        assert_int_equal(icmp4_parse(echo_request, len, &v), US_DROP_icmp4_bad_checksum);
}

/* One flipped bit anywhere changes the one's complement sum. */
static void test_bad_checksum_every_bit(void **state)
{
    (void)state;
    struct icmp4_view v;
    uint8_t m[ECHO_LEN];
    for (size_t byte = 0; byte < ECHO_LEN; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, echo_request, ECHO_LEN);
            m[byte] ^= (uint8_t)(1u << bit);
            assert_int_equal(icmp4_parse(m, ECHO_LEN, &v), US_DROP_icmp4_bad_checksum);
        }
    }
    memcpy(m, echo_request, ECHO_LEN);
    m[2] = m[3] = 0; /* checksum not filled in */
    assert_int_equal(icmp4_parse(m, ECHO_LEN, &v), US_DROP_icmp4_bad_checksum);
}

static void test_build_echo_reply_known_bytes(void **state)
{
    (void)state;
    uint8_t m[ECHO_LEN + 1];
    memset(m, 0x77, sizeof m);
    memcpy(m + ICMP4_HLEN, ECHO_PAYLOAD, ECHO_LEN - ICMP4_HLEN);
    struct icmp4_view v = {.type = ICMP4_ECHO_REPLY, .code = 0};
    memcpy(&v.rest, echo_request + 4, 4); /* identifier and sequence, as received */
    icmp4_build(m, ECHO_LEN, &v);
    assert_memory_equal(m, echo_reply, ECHO_LEN);
    assert_int_equal(m[ECHO_LEN], 0x77);

    v.type = ICMP4_ECHO_REQUEST;
    icmp4_build(m, ECHO_LEN, &v);
    assert_memory_equal(m, echo_request, ECHO_LEN);
}

/* Destination unreachable, fragmentation needed (RFC 1191): the next-hop MTU
 * sits in the low 16 bits of the rest-of-header word. */
static void test_build_frag_needed(void **state)
{
    (void)state;
    uint8_t m[ICMP4_HLEN + 28] = {0};
    for (size_t i = ICMP4_HLEN; i < sizeof m; i++)
        m[i] = (uint8_t)(0x45 + i);
    const uint8_t rest[4] = {0x00, 0x00, 0x05, 0xdc};
    struct icmp4_view v = {.type = ICMP4_DEST_UNREACH, .code = ICMP4_UNREACH_FRAG_NEEDED};
    memcpy(&v.rest, rest, 4);
    icmp4_build(m, sizeof m, &v);
    assert_int_equal(m[0], 3);
    assert_int_equal(m[1], 4);
    assert_memory_equal(m + 4, rest, 4);
    assert_int_equal(us_csum(m, sizeof m), 0);
    struct icmp4_view out;
    assert_int_equal(icmp4_parse(m, sizeof m, &out), US_DROP_none);
    assert_int_equal(out.type, ICMP4_DEST_UNREACH);
    assert_int_equal(out.code, ICMP4_UNREACH_FRAG_NEEDED);
    assert_int_equal(out.seq, 1500);
    assert_memory_equal(&out.rest, rest, 4);
}

/* Every length from a bare header to 300 bytes, odd ones included, at odd
 * alignment: build then parse. */
static void test_build_parse_round_trip_lengths(void **state)
{
    (void)state;
    uint8_t buf[301 + 1];
    for (size_t len = ICMP4_HLEN; len <= 301; len++) {
        uint8_t *m = buf + 1;
        for (size_t i = 0; i < len; i++)
            m[i] = (uint8_t)(i * 31 + len);
        struct icmp4_view in = {.type = ICMP4_ECHO_REQUEST}, out;
        const uint8_t rest[4] = {(uint8_t)(len >> 8), (uint8_t)len, 0xbe, 0xef};
        memcpy(&in.rest, rest, 4);
        icmp4_build(m, len, &in);
        assert_int_equal(icmp4_parse(m, len, &out), US_DROP_none);
        assert_int_equal(out.type, ICMP4_ECHO_REQUEST);
        assert_int_equal(out.id, (uint16_t)len);
        assert_int_equal(out.seq, 0xbeef);
    }
}

/* The largest message an IPv4 datagram holds: 65535 - 20 bytes. */
static void test_build_parse_max_size(void **state)
{
    (void)state;
    size_t len = 65535 - 20;
    uint8_t *m = malloc(len);
    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        m[i] = (uint8_t)(i ^ (i >> 8));
    struct icmp4_view in = {.type = ICMP4_ECHO_REPLY}, out;
    icmp4_build(m, len, &in);
    assert_int_equal(icmp4_parse(m, len, &out), US_DROP_none);
    m[len - 1] ^= 0x80;
    assert_int_equal(icmp4_parse(m, len, &out), US_DROP_icmp4_bad_checksum);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_echo_request),
        cmocka_unit_test(test_parse_echo_reply),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_bad_checksum_every_bit),
        cmocka_unit_test(test_build_echo_reply_known_bytes),
        cmocka_unit_test(test_build_frag_needed),
        cmocka_unit_test(test_build_parse_round_trip_lengths),
        cmocka_unit_test(test_build_parse_max_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
