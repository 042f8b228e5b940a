/* Unit tests for the ARP packet view (src/wire/arp.c, RFC 826). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wire/arp.h"

/* "Who has 10.0.0.2? Tell 10.0.0.1" from 02:00:00:00:00:01, as on the wire. */
static const uint8_t arp_request[ARP_LEN] = {
    0x00, 0x01,                         /* htype: Ethernet */
    0x08, 0x00,                         /* ptype: IPv4 */
    0x06, 0x04,                         /* hlen, plen */
    0x00, 0x01,                         /* op: request */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* sha */
    10,   0,    0,    1,                /* spa */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* tha: unknown */
    10,   0,    0,    2,                /* tpa */
};

/* "10.0.0.2 is at 52:54:00:ab:cd:ef", the reply to the request above. */
static const uint8_t arp_reply[ARP_LEN] = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,
    10,   0,    0,    2,    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10,   0,    0,    1,
};

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t bytes[4] = {a, b, c, d};
    uint32_t v;
    memcpy(&v, bytes, 4);
    return v;
}

static void test_parse_request(void **state)
{
    (void)state;
    struct arp_view v;
    assert_int_equal(arp_parse(arp_request, sizeof arp_request, &v), US_DROP_none);
    assert_int_equal(v.op, ARP_OP_REQUEST);
    const uint8_t sha[6] = {0x02, 0, 0, 0, 0, 0x01}, zero[6] = {0};
    assert_memory_equal(v.sha.b, sha, 6);
    assert_memory_equal(v.tha.b, zero, 6);
    assert_int_equal(v.spa, ip(10, 0, 0, 1));
    assert_int_equal(v.tpa, ip(10, 0, 0, 2));
}

static void test_parse_reply(void **state)
{
    (void)state;
    struct arp_view v;
    assert_int_equal(arp_parse(arp_reply, sizeof arp_reply, &v), US_DROP_none);
    assert_int_equal(v.op, ARP_OP_REPLY);
    const uint8_t sha[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
    const uint8_t tha[6] = {0x02, 0, 0, 0, 0, 0x01};
    assert_memory_equal(v.sha.b, sha, 6);
    assert_memory_equal(v.tha.b, tha, 6);
    assert_int_equal(v.spa, ip(10, 0, 0, 2));
    assert_int_equal(v.tpa, ip(10, 0, 0, 1));
}

/* Ethernet pads ARP to the 46-byte minimum payload: trailing bytes are ignored. */
static void test_parse_padded(void **state)
{
    (void)state;
    uint8_t padded[46];
    memset(padded, 0xee, sizeof padded);
    memcpy(padded, arp_request, ARP_LEN);
    struct arp_view v;
    assert_int_equal(arp_parse(padded, sizeof padded, &v), US_DROP_none);
    assert_int_equal(v.tpa, ip(10, 0, 0, 2));
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    struct arp_view v;
    for (size_t len = 0; len < ARP_LEN; len++)
        assert_int_equal(arp_parse(arp_request, len, &v), US_DROP_arp_short);
}

/* Any hardware/protocol type or address length other than Ethernet/IPv4 6/4. */
static void test_bad_format(void **state)
{
    (void)state;
    struct {
        size_t at;
        uint8_t value;
    } bad[] = {
        {0, 0x01}, /* htype 0x0101 */
        {1, 0x06}, /* htype 6: IEEE 802 */
        {1, 0x00}, /* htype 0 */
        {2, 0x86}, /* ptype 0x86dd */
        {3, 0x06}, /* ptype 0x0806 */
        {4, 0x08}, /* hlen 8 */
        {4, 0x00}, /* hlen 0 */
        {5, 0x10}, /* plen 16 */
        {5, 0x00}, /* plen 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t p[ARP_LEN];
        struct arp_view v;
        memcpy(p, arp_request, ARP_LEN);
        p[bad[i].at] = bad[i].value;
        assert_int_equal(arp_parse(p, sizeof p, &v), US_DROP_arp_bad_format);
    }
}

/* Only request (1) and reply (2); RARP (3, 4), InARP (8, 9) and 0 are dropped. */
static void test_bad_op(void **state)
{
    (void)state;
    const uint16_t ops[] = {0, 3, 4, 8, 9, 0x0101, 0x0201, 0xffff};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        uint8_t p[ARP_LEN];
        struct arp_view v;
        memcpy(p, arp_request, ARP_LEN);
        p[6] = (uint8_t)(ops[i] >> 8);
        p[7] = (uint8_t)ops[i];
        assert_int_equal(arp_parse(p, sizeof p, &v), US_DROP_arp_bad_op);
    }
}

static void test_build_known_bytes(void **state)
{
    (void)state;
    struct arp_view v = {
        .op = ARP_OP_REQUEST,
        .sha = {{0x02, 0, 0, 0, 0, 0x01}},
        .tha = {{0}},
        .spa = ip(10, 0, 0, 1),
        .tpa = ip(10, 0, 0, 2),
    };
    uint8_t out[ARP_LEN + 2];
    memset(out, 0x5a, sizeof out);
    arp_build(out, &v);
    assert_memory_equal(out, arp_request, ARP_LEN);
    assert_int_equal(out[ARP_LEN], 0x5a); /* nothing written past 28 bytes */

    v.op = ARP_OP_REPLY;
    v.sha = (struct us_mac){{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}};
    v.tha = (struct us_mac){{0x02, 0, 0, 0, 0, 0x01}};
    v.spa = ip(10, 0, 0, 2);
    v.tpa = ip(10, 0, 0, 1);
    arp_build(out, &v);
    assert_memory_equal(out, arp_reply, ARP_LEN);
}

static void test_build_parse_round_trip(void **state)
{
    (void)state;
    struct arp_view in = {
        .op = ARP_OP_REPLY,
        .sha = {{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}},
        .tha = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
        .spa = ip(192, 168, 255, 254),
        .tpa = ip(255, 255, 255, 255),
    };
    uint8_t buf[ARP_LEN + 1];
    struct arp_view out;
    arp_build(buf + 1, &in); /* odd alignment */
    assert_int_equal(arp_parse(buf + 1, ARP_LEN, &out), US_DROP_none);
    assert_int_equal(out.op, in.op);
    assert_memory_equal(out.sha.b, in.sha.b, 6);
    assert_memory_equal(out.tha.b, in.tha.b, 6);
    assert_int_equal(out.spa, in.spa);
    assert_int_equal(out.tpa, in.tpa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_request),     cmocka_unit_test(test_parse_reply),
        cmocka_unit_test(test_parse_padded),      cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_bad_format),        cmocka_unit_test(test_bad_op),
        cmocka_unit_test(test_build_known_bytes), cmocka_unit_test(test_build_parse_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
