/* Unit tests for the Ethernet II header view (src/wire/eth.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wire/eth.h"

/* A broadcast ARP request frame as a Linux host sends it (header only, then
 * the start of the ARP payload). */
static const uint8_t arp_bcast_frame[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             /* dst: broadcast */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,             /* src */
    0x08, 0x06,                                     /* type: ARP */
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, /* ARP header start */
};

static void test_parse_known_frame(void **state)
{
    (void)state;
    struct eth_view v;
    assert_int_equal(eth_parse(arp_bcast_frame, sizeof arp_bcast_frame, &v), US_DROP_none);
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
    assert_memory_equal(v.src.b, src, 6);
    assert_true(mac_is_bcast(&v.dst));
    assert_true(mac_is_mcast(&v.dst));
    assert_false(mac_is_mcast(&v.src));
    assert_int_equal(v.type, ETH_TYPE_ARP);
}

/* A header alone (14 bytes, no payload) parses. */
static void test_parse_header_only(void **state)
{
    (void)state;
    struct eth_view v;
    assert_int_equal(eth_parse(arp_bcast_frame, ETH_HLEN, &v), US_DROP_none);
    assert_int_equal(v.type, ETH_TYPE_ARP);
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    struct eth_view v;
    for (size_t len = 0; len < ETH_HLEN; len++)
        assert_int_equal(eth_parse(arp_bcast_frame, len, &v), US_DROP_eth_short);
}

static void test_type_host_order(void **state)
{
    (void)state;
    uint8_t f[ETH_HLEN] = {0};
    struct eth_view v;
    f[12] = 0x86;
    f[13] = 0xdd;
    assert_int_equal(eth_parse(f, sizeof f, &v), US_DROP_none);
    assert_int_equal(v.type, ETH_TYPE_IP6);
    /* An IEEE 802.3 length field is reported as is; the caller compares it
     * with ETH_TYPE_MIN. */
    f[12] = 0x00;
    f[13] = 0x2e;
    assert_int_equal(eth_parse(f, sizeof f, &v), US_DROP_none);
    assert_int_equal(v.type, 0x002e);
    assert_true(v.type < ETH_TYPE_MIN);
}

static void test_build_known_bytes(void **state)
{
    (void)state;
    uint8_t out[ETH_HLEN];
    const struct us_mac dst = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    const struct us_mac src = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    memset(out, 0xaa, sizeof out);
    eth_build(out, &dst, &src, ETH_TYPE_ARP);
    assert_memory_equal(out, arp_bcast_frame, ETH_HLEN);
}

static void test_build_parse_round_trip(void **state)
{
    (void)state;
    const struct us_mac dst = {{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};
    const struct us_mac src = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
    const uint16_t types[] = {ETH_TYPE_IP4, ETH_TYPE_ARP, ETH_TYPE_IP6, 0x0000, 0xffff, 0x05ff};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        uint8_t out[ETH_HLEN + 2] = {0};
        struct eth_view v;
        eth_build(out + 1, &dst, &src, types[i]); /* odd alignment */
        assert_int_equal(out[0], 0);
        assert_int_equal(out[ETH_HLEN + 1], 0); /* nothing written past the header */
        assert_int_equal(eth_parse(out + 1, ETH_HLEN, &v), US_DROP_none);
        assert_memory_equal(v.dst.b, dst.b, 6);
        assert_memory_equal(v.src.b, src.b, 6);
        assert_int_equal(v.type, types[i]);
    }
}

static void test_mac_classes(void **state)
{
    (void)state;
    const struct us_mac bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    const struct us_mac almost = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}};
    const struct us_mac mcast6 = {{0x33, 0x33, 0xff, 0x00, 0x00, 0x02}};
    const struct us_mac mcast4 = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
    const struct us_mac unicast = {{0x02, 0xff, 0xff, 0xff, 0xff, 0xff}};
    assert_true(mac_is_bcast(&bcast));
    assert_false(mac_is_bcast(&almost));
    assert_true(mac_is_mcast(&almost));
    assert_false(mac_is_bcast(&mcast6));
    assert_true(mac_is_mcast(&mcast6));
    assert_true(mac_is_mcast(&mcast4));
    assert_false(mac_is_mcast(&unicast));
    assert_false(mac_is_bcast(&unicast));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_known_frame),
        cmocka_unit_test(test_parse_header_only),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_type_host_order),
        cmocka_unit_test(test_build_known_bytes),
        cmocka_unit_test(test_build_parse_round_trip),
        cmocka_unit_test(test_mac_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
