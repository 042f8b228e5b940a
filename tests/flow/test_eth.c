/* Flow tests for Ethernet II input: destination filtering, 802.3 length
 * frames, short frames, unknown types. */
#include "flow.h"

#include <string.h>

static const uint8_t ALLHOSTS_MAC[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t MDNS_MAC[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

/* A UDP datagram from the peer to dst_ip:7000 in an Ethernet frame to
 * eth_dst with the given type. */
static void inject_udp_frame(struct flow *f, const uint8_t eth_dst[6], uint16_t type,
                             uint32_t dst_ip)
{
    uint8_t u[32], ip[64];
    size_t n = flow_build_udp(u, FLOW_PEER_IP, dst_ip, 1, 7000, "eth", 3, FLOW_CSUM_OK);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    h.dst = dst_ip;
    n = flow_build_ip4(ip, &h, u, n);
    flow_inject_eth(f, eth_dst, FLOW_PEER_MAC, type, ip, n);
}

static void test_other_unicast_mac_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x77};
    inject_udp_frame(f, other, ETHT_IP4, FLOW_OUR_IP);
    flow_inject_arp(f, other, ARPOP_REQ, FLOW_PEER_MAC, FLOW_PEER_IP, NULL, FLOW_OUR_IP);
    assert_int_equal(sink.count, 0);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.eth_not_for_us"), 2);
    assert_int_equal(flow_counter(f, "ip4.rx"), 0);
    assert_int_equal(flow_counter(f, "arp.rx"), 0);
    inject_udp_frame(f, FLOW_OUR_MAC, ETHT_IP4, FLOW_OUR_IP); /* control */
    assert_int_equal(sink.count, 1);
}

/* A type field below 0x0600 is an IEEE 802.3 length: an LLC frame. */
static void test_8023_llc_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp_frame(f, FLOW_OUR_MAC, 0x0027, FLOW_OUR_IP);
    /* STP BPDU shape: to 01:80:c2:00:00:00 with LLC 42 42 03 */
    static const uint8_t stp[6] = {0x01, 0x80, 0xc2, 0, 0, 0};
    uint8_t llc[39] = {0x42, 0x42, 0x03};
    flow_inject_eth(f, stp, FLOW_PEER_MAC, sizeof(llc), llc, sizeof(llc));
    inject_udp_frame(f, FLOW_OUR_MAC, 0x05ff, FLOW_OUR_IP);
    assert_int_equal(sink.count, 0);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.eth_8023_llc"), 3);
}

static void test_broadcast_accepted(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp_frame(f, FLOW_BCAST_MAC, ETHT_IP4, flow_ip(10, 0, 0, 255));
    inject_udp_frame(f, FLOW_BCAST_MAC, ETHT_IP4, flow_ip(255, 255, 255, 255));
    assert_int_equal(sink.count, 2);
    flow_inject_arp_request(f, FLOW_OUR_IP);
    flow_expect_arp(f, ARPOP_REP, NULL);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.eth_not_for_us"), 0);
}

static void test_short_frame_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    uint8_t frame[14];
    flow_build_eth(frame, FLOW_OUR_MAC, FLOW_PEER_MAC, ETHT_IP4, NULL, 0);
    for (size_t len = 0; len < 14; len++)
        flow_inject(f, frame, len);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.eth_short"), 14);
    assert_int_equal(flow_counter(f, "eth.drop"), 14);
    /* A header and nothing else reaches IPv4, which finds it short. */
    flow_inject(f, frame, 14);
    assert_int_equal(flow_counter(f, "drop.ip4_short"), 1);
}

/* Multicast: a group we did not join is dropped at the link layer; the
 * all-hosts group every host joins (RFC 1112 6.4) is accepted. */
static void test_multicast_filter(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp_frame(f, MDNS_MAC, ETHT_IP4, flow_ip(224, 0, 0, 251));
    assert_int_equal(sink.count, 0);
    assert_int_equal(flow_counter(f, "drop.eth_not_for_us"), 1);
    inject_udp_frame(f, ALLHOSTS_MAC, ETHT_IP4, flow_ip(224, 0, 0, 1));
    assert_int_equal(sink.count, 1);
    flow_expect_none(f);
}

static void test_unknown_type_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    uint8_t payload[46] = {0};
    flow_inject_eth(f, FLOW_OUR_MAC, FLOW_PEER_MAC, 0x88cc, payload, sizeof(payload)); /* LLDP */
    flow_inject_eth(f, FLOW_OUR_MAC, FLOW_PEER_MAC, 0x8035, payload, sizeof(payload)); /* RARP */
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.eth_unknown_type"), 2);
}

/* Every frame we send carries our MAC as source; replies go to the asker's
 * MAC, not to the broadcast address. */
static void test_our_frames_well_formed(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    flow_inject_echo(f, 1, 1, "x", 1);
    const struct flow_frame *fr = flow_pop(f); /* checks the source MAC */
    assert_memory_equal(fr->data, FLOW_PEER_MAC, 6);
    assert_int_equal(fr->data[12] << 8 | fr->data[13], ETHT_IP4);
    flow_expect_none(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_other_unicast_mac_dropped), FLOW_TEST(test_8023_llc_dropped),
        FLOW_TEST(test_broadcast_accepted),        FLOW_TEST(test_short_frame_dropped),
        FLOW_TEST(test_multicast_filter),          FLOW_TEST(test_unknown_type_dropped),
        FLOW_TEST(test_our_frames_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
