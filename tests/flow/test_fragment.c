/* Flow tests for outbound fragmentation (RFC 791 3.2, "An Example
 * Fragmentation Procedure"): sizes, flags, offsets, identification, and
 * that the pieces put back together give the original. */
#include "flow.h"

#include <errno.h>
#include <string.h>

static struct flow_dgram dg;

/* Checks the fragment train in dg for a payload of plen bytes on a link of
 * this mtu: a packet that fits is not fragmented; otherwise every fragment
 * but the last carries the largest multiple of 8 that fits, the last the
 * rest. */
static void assert_train(uint32_t mtu, size_t plen)
{
    size_t per = (mtu - 20) & ~(size_t)7;
    int want = plen + 20 <= mtu ? 1 : (int)((plen + per - 1) / per);
    assert_int_equal(dg.nfrags, want);
    for (int i = 0; i < dg.nfrags; i++) {
        assert_int_equal(dg.frag_off[i], (size_t)i * per);
        assert_true(dg.frag_total_len[i] <= mtu);
        if (i < dg.nfrags - 1)
            assert_int_equal(dg.frag_plen[i], per);
        else
            assert_int_equal(dg.frag_plen[i], plen - (size_t)i * per);
    }
    assert_int_equal(dg.plen, plen);
}

/* An echo request of 4000 data bytes, itself fragmented, is answered with
 * a reply fragmented to the 1500-byte MTU: 1480-byte pieces, MF on all but
 * the last, one id, right offsets, and the reply data equal to the
 * request's. */
static void test_echo_reply_fragmented(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    static uint8_t data[4000], msg[8 + 4000];
    flow_pattern(data, sizeof(data), 1);
    size_t mlen = flow_build_echo(msg, 8, 0x1111, 2, data, sizeof(data));
    flow_inject_fragmented(f, PROTO_ICMP, 77, msg, mlen, 1480, NULL, 0);
    flow_expect_dgram(f, 1500, &dg);
    flow_expect_none(f);
    assert_train(1500, 8 + sizeof(data));
    assert_int_equal(dg.nfrags, 3);
    assert_int_equal(dg.proto, PROTO_ICMP);
    assert_int_equal(dg.src, FLOW_OUR_IP);
    assert_int_equal(dg.dst, FLOW_PEER_IP);
    assert_int_equal(flow_csum(dg.payload, dg.plen), 0);
    assert_int_equal(dg.payload[0], 0); /* echo reply */
    assert_int_equal(dg.payload[4] << 8 | dg.payload[5], 0x1111);
    assert_int_equal(dg.payload[6] << 8 | dg.payload[7], 2);
    assert_memory_equal(dg.payload + 8, data, sizeof(data));
    assert_int_equal(flow_counter(f, "ip4.frag_out"), 3);

    /* A second reply uses another identification. */
    uint16_t first_id = dg.id;
    flow_inject_fragmented(f, PROTO_ICMP, 78, msg, mlen, 1480, NULL, 0);
    flow_expect_dgram(f, 1500, &dg);
    assert_int_not_equal(dg.id, first_id);
}

/* A UDP datagram larger than the MTU sent with the pcb API is fragmented
 * the same way; the reassembled datagram has a valid UDP checksum and the
 * payload intact. */
static void udp_fragmented(uint32_t mtu, size_t len)
{
    struct flow_opts o = {.mtu = mtu};
    struct flow *f = flow_new(&o);
    assert_int_equal(us_netif_mtu(f->nif), mtu);
    flow_prime_arp(f);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4444);
    static uint8_t data[20000];
    assert_true(len <= sizeof(data));
    flow_pattern(data, len, (unsigned)mtu);
    assert_int_equal(flow_udp_send(f, pcb, 9999, data, len), 0);
    flow_expect_dgram(f, mtu, &dg);
    flow_expect_none(f);
    assert_train(mtu, 8 + len);
    assert_int_equal(dg.proto, PROTO_UDP);
    assert_int_equal(dg.payload[0] << 8 | dg.payload[1], 4444);
    assert_int_equal(dg.payload[2] << 8 | dg.payload[3], 9999);
    assert_int_equal(dg.payload[4] << 8 | dg.payload[5], 8 + len);
    assert_int_equal(flow_csum_pseudo(dg.src, dg.dst, PROTO_UDP, dg.payload, dg.plen), 0);
    assert_memory_equal(dg.payload + 8, data, len);
    flow_free(f);
}

static void test_udp_fragmented_1500(void **state)
{
    (void)state;
    udp_fragmented(1500, 3000);
    udp_fragmented(1500, 1472); /* exactly fits: one unfragmented datagram */
    udp_fragmented(1500, 1473); /* one byte more: two fragments, the last of 1 byte */
    udp_fragmented(1500, 14000);
}

static void test_udp_fragmented_576(void **state)
{
    (void)state;
    udp_fragmented(576, 1200);
    udp_fragmented(576, 548);
    udp_fragmented(576, 549);
}

/* The MTU bounds every frame, not only fragmented ones: an echo reply that
 * fits 1500 but not 576 is fragmented on a 576 link. */
static void test_echo_reply_on_576_link(void **state)
{
    (void)state;
    struct flow_opts o = {.mtu = 576};
    struct flow *f = flow_new(&o);
    flow_prime_arp(f);
    static uint8_t data[1000], msg[1008];
    flow_pattern(data, sizeof(data), 2);
    size_t mlen = flow_build_echo(msg, 8, 3, 4, data, sizeof(data));
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    flow_inject_ip4(f, NULL, &h, msg, mlen); /* one 1028-byte packet */
    flow_expect_dgram(f, 576, &dg);
    flow_expect_none(f);
    assert_train(576, mlen);
    assert_memory_equal(dg.payload + 8, data, sizeof(data));
}

/* A datagram that would exceed 65535 bytes is refused (EMSGSIZE), not
 * fragmented. */
static void test_udp_too_big_refused(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4444);
    static uint8_t data[65535 - 28 + 1];
    assert_int_equal(flow_udp_send(f, pcb, 9, data, sizeof(data)), -EMSGSIZE);
    flow_expect_none(f);
    /* The largest that fits goes out in 45 fragments. */
    assert_int_equal(flow_udp_send(f, pcb, 9, data, sizeof(data) - 1), 0);
    flow_expect_dgram(f, 1500, &dg);
    assert_train(1500, 65535 - 20);
    flow_expect_none(f);
}

/* All the fragments of a maximum-size datagram sent to a neighbour not yet
 * resolved wait for the ARP reply and then all go out, in order: losing
 * the first ones would lose the whole datagram. */
static void test_fragments_wait_for_arp(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4444);
    static uint8_t data[65535 - 28];
    flow_pattern(data, sizeof(data), 6);
    assert_int_equal(flow_udp_send(f, pcb, 9, data, sizeof(data)), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f);
    flow_inject_arp_reply(f);
    flow_expect_dgram(f, 1500, &dg);
    flow_expect_none(f);
    assert_train(1500, 65535 - 20);
    assert_memory_equal(dg.payload + 8, data, sizeof(data));
    assert_int_equal(flow_counter(f, "drop.arp_queue_full"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_echo_reply_fragmented), FLOW_TEST(test_udp_fragmented_1500),
        FLOW_TEST(test_udp_fragmented_576),    FLOW_TEST(test_echo_reply_on_576_link),
        FLOW_TEST(test_udp_too_big_refused),   FLOW_TEST(test_fragments_wait_for_arp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
