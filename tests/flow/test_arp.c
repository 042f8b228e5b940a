/* Flow tests for ARP (RFC 826, RFC 1122 2.3.2): resolution with queued
 * packets, retransmission, the queue bound, replies, learning, cache aging
 * and malformed input. */
#include "flow.h"

#include <string.h>

#include "ip4/arp.h"

/* An unresolved neighbour: one broadcast request, the datagrams wait, and
 * the reply releases them in order to the learnt MAC. */
static void test_resolution_releases_queue_in_order(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "one", 3), 0);
    assert_int_equal(flow_udp_send(f, pcb, 9, "two", 3), 0);
    assert_int_equal(flow_udp_send(f, pcb, 9, "three", 5), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f);
    flow_advance_ms(f, 500); /* nothing else while waiting */
    flow_expect_none(f);

    flow_inject_arp_reply(f);
    struct flow_udp_rx u;
    flow_expect_udp(f, 4000, 9, "one", 3, &u);
    assert_memory_equal(u.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_udp(f, 4000, 9, "two", 3, &u);
    assert_memory_equal(u.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_udp(f, 4000, 9, "three", 5, &u);
    assert_memory_equal(u.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_none(f);

    /* Resolved: the next datagram goes straight out. */
    assert_int_equal(flow_udp_send(f, pcb, 9, "four", 4), 0);
    flow_expect_udp(f, 4000, 9, "four", 4, &u);
    assert_memory_equal(u.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_unresolved"), 0);
    assert_int_equal(flow_counter(f, "drop.arp_queue_full"), 0);
}

/* Requests are repeated every second, three in all; then the queued
 * packets are dropped and counted. */
static void test_retransmit_then_give_up(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "a", 1), 0);
    assert_int_equal(flow_udp_send(f, pcb, 9, "b", 1), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    for (int i = 1; i < US_ARP_MAX_PROBES; i++) {
        flow_advance_ms(f, 999);
        flow_expect_none(f);
        flow_advance_ms(f, 1);
        struct flow_arp a;
        flow_expect_arp(f, ARPOP_REQ, &a);
        assert_int_equal(a.t - f->t0, (us_time_t)i * US_ARP_RETRANS);
        assert_memory_equal(a.eth_dst, FLOW_BCAST_MAC, 6);
        assert_int_equal(a.tpa, FLOW_PEER_IP);
        flow_expect_none(f);
    }
    assert_int_equal(flow_counter(f, "drop.arp_unresolved"), 0);
    flow_advance_ms(f, 1000);
    flow_expect_none(f); /* no fourth request */
    assert_int_equal(flow_counter(f, "drop.arp_unresolved"), 2);
    flow_advance_ms(f, 10000);
    flow_expect_none(f);

    /* A late reply does not resurrect the dropped packets. */
    flow_inject_arp_reply(f);
    flow_expect_none(f);
}

/* More than US_ARP_QUEUE_MAX packets for one unresolved neighbour: the
 * oldest are dropped (drop.arp_queue_full), the newest kept in order. */
static void test_queue_bound(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    const int extra = 3, total = US_ARP_QUEUE_MAX + extra;
    for (int i = 0; i < total; i++) {
        uint8_t b = (uint8_t)i;
        assert_int_equal(flow_udp_send(f, pcb, 9, &b, 1), 0);
    }
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f); /* one request however many packets wait */
    assert_int_equal(flow_counter(f, "drop.arp_queue_full"), extra);
    flow_inject_arp_reply(f);
    for (int i = extra; i < total; i++) {
        uint8_t b = (uint8_t)i;
        flow_expect_udp(f, 4000, 9, &b, 1, NULL);
    }
    flow_expect_none(f);
}

/* The queue is also bounded in bytes (US_ARP_QUEUE_BYTES, like Linux's
 * unres_qlen_bytes): on a 9000-byte link, 30 full-size datagrams do not all
 * fit; the oldest go, the newest are kept in order. */
static void test_queue_bound_bytes(void **state)
{
    (void)state;
    struct flow_opts o = {.mtu = 9000};
    struct flow *f = flow_new(&o);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    static uint8_t data[9000 - 28];
    const int total = 30, fit = US_ARP_QUEUE_BYTES / 9000;
    assert_true(fit < total && fit < US_ARP_QUEUE_MAX);
    for (int i = 0; i < total; i++) {
        data[0] = (uint8_t)i;
        assert_int_equal(flow_udp_send(f, pcb, 9, data, sizeof(data)), 0);
    }
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_queue_full"), total - fit);
    flow_inject_arp_reply(f);
    for (int i = total - fit; i < total; i++) {
        struct flow_udp_rx u;
        flow_expect_udp(f, 4000, 9, NULL, 0, &u);
        assert_int_equal(u.dlen, sizeof(data));
        assert_int_equal(u.data[0], i);
    }
    flow_expect_none(f);
}

/* A request for our address is answered by unicast with our MAC; a
 * request for another address is not. */
static void test_reply_to_request_for_us_only(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_inject_arp_request(f, FLOW_OUR_IP);
    struct flow_arp a;
    flow_expect_arp(f, ARPOP_REP, &a);
    assert_memory_equal(a.eth_dst, FLOW_PEER_MAC, 6);
    assert_memory_equal(a.sha, FLOW_OUR_MAC, 6);
    assert_int_equal(a.spa, FLOW_OUR_IP);
    assert_memory_equal(a.tha, FLOW_PEER_MAC, 6);
    assert_int_equal(a.tpa, FLOW_PEER_IP);
    assert_int_equal(a.t, f->t0); /* at once */
    flow_expect_none(f);

    uint64_t not_for_us = flow_counter(f, "drop.arp_not_for_us");
    flow_inject_arp_request(f, flow_ip(10, 0, 0, 3));
    flow_inject_arp_request(f, flow_ip(192, 168, 1, 2));
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_not_for_us"), not_for_us + 2);
    assert_int_equal(flow_counter(f, "arp.rx"), 3);
}

/* A unicast request to our MAC (how Linux re-confirms a stale neighbour)
 * is answered like a broadcast one. */
static void test_reply_to_unicast_request(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_inject_arp(f, FLOW_OUR_MAC, ARPOP_REQ, FLOW_PEER_MAC, FLOW_PEER_IP, FLOW_OUR_MAC,
                    FLOW_OUR_IP);
    struct flow_arp a;
    flow_expect_arp(f, ARPOP_REP, &a);
    assert_memory_equal(a.eth_dst, FLOW_PEER_MAC, 6);
    assert_int_equal(a.spa, FLOW_OUR_IP);
    assert_int_equal(a.tpa, FLOW_PEER_IP);
    flow_expect_none(f);
}

/* A request addressed to us teaches us the sender (RFC 826 merge and add):
 * sending to it then needs no broadcast resolution. */
static void test_learn_from_request_for_us(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_inject_arp_request(f, FLOW_OUR_IP);
    flow_expect_arp(f, ARPOP_REP, NULL);
    flow_advance_ms(f, 100);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "hi", 2), 0);
    /* Whatever else is sent, no broadcast who-has and the datagram is not
     * held back: it leaves now, to the learnt MAC. */
    bool saw_udp = false;
    while (flow_pending(f)) {
        const struct flow_frame *fr = flow_pop(f);
        assert_memory_not_equal(fr->data, FLOW_BCAST_MAC, 6);
        if (fr->data[12] == 0x08 && fr->data[13] == 0x00) {
            assert_memory_equal(fr->data, FLOW_PEER_MAC, 6);
            assert_int_equal(fr->t, us_now(f->s));
            saw_udp = true;
        }
    }
    assert_true(saw_udp);
}

/* Same situation, stricter: no ARP request at all right after the entry
 * was learnt from the peer's own request. The entry is STALE, and its first
 * use moves it to DELAY (RFC 4861 7.3.3, as Linux does for ARP) rather
 * than probing at once. */
static void test_learn_from_request_no_request_at_all(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_inject_arp_request(f, FLOW_OUR_IP);
    flow_expect_arp(f, ARPOP_REP, NULL);
    flow_advance_ms(f, 100);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "hi", 2), 0);
    struct flow_udp_rx u;
    flow_expect_udp(f, 4000, 9, "hi", 2, &u); /* first frame: the datagram, no ARP */
    assert_memory_equal(u.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_none(f);
}

/* A request from the peer for someone else adds no entry (RFC 826: only
 * merge an existing entry unless we are the target). */
static void test_no_learning_from_request_for_other(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_inject_arp_request(f, flow_ip(10, 0, 0, 3));
    flow_expect_none(f);
    assert_null(us_arp_lookup(f->nif, FLOW_PEER_IP));
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "x", 1), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f);
}

/* Resolves the peer at the current time with a datagram "r". */
static void resolve_peer(struct flow *f, struct us_udp_pcb *pcb)
{
    assert_int_equal(flow_udp_send(f, pcb, 9, "r", 1), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_inject_arp_reply(f);
    flow_expect_udp(f, 4000, 9, "r", 1, NULL);
    flow_expect_none(f);
}

/* Using a STALE entry (RFC 4861 7.3.3): the datagram `data` leaves at once
 * to the known MAC and the entry enters DELAY; with no confirmation within
 * US_ARP_DELAY a unicast refresh request follows (PROBE). */
static void expect_refresh_and_udp(struct flow *f, const char *data)
{
    struct flow_udp_rx u;
    flow_expect_udp(f, 4000, 9, data, strlen(data), &u);
    assert_memory_equal(u.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_none(f);
    flow_advance(f, US_ARP_DELAY - US_MSEC);
    flow_expect_none(f);
    flow_advance(f, US_MSEC);
    flow_expect_arp_request(f, FLOW_PEER_MAC, FLOW_PEER_IP);
    flow_expect_none(f);
}

/* A confirmation (the peer's reply) during DELAY cancels the probe. */
static void test_delay_confirmed_no_probe(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "r", 1), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_inject_arp_reply(f);
    flow_expect_udp(f, 4000, 9, "r", 1, NULL);
    flow_advance(f, US_ARP_REACHABLE + US_MSEC);
    assert_int_equal(flow_udp_send(f, pcb, 9, "d", 1), 0);
    flow_expect_udp(f, 4000, 9, "d", 1, NULL);
    assert_int_equal(us_arp_lookup(f->nif, FLOW_PEER_IP)->state, ARP_DELAY);
    flow_inject_arp_reply(f);
    assert_int_equal(us_arp_lookup(f->nif, FLOW_PEER_IP)->state, ARP_REACHABLE);
    flow_advance(f, US_ARP_DELAY + US_MSEC);
    flow_expect_none(f);
}

/* REACHABLE for US_ARP_REACHABLE, then STALE: the next packet still goes
 * out at once, with a unicast request to the known MAC to refresh it. */
static void test_reachable_then_stale_refresh(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    resolve_peer(f, pcb);

    /* Within the reachable time: no request. */
    flow_advance(f, US_ARP_REACHABLE - US_MSEC);
    assert_int_equal(flow_udp_send(f, pcb, 9, "in", 2), 0);
    flow_expect_udp(f, 4000, 9, "in", 2, NULL);
    flow_expect_none(f);

    /* Past it: aging alone sends nothing; the next packet still leaves at
     * once, and a unicast refresh follows US_ARP_DELAY later. */
    flow_advance(f, 2 * US_MSEC);
    flow_expect_none(f);
    assert_int_equal(flow_udp_send(f, pcb, 9, "out", 3), 0);
    expect_refresh_and_udp(f, "out");

    /* The peer confirms: no more requests for a while. */
    flow_inject_arp_reply(f);
    flow_advance_ms(f, 5000);
    flow_expect_none(f);
    assert_int_equal(flow_udp_send(f, pcb, 9, "again", 5), 0);
    flow_expect_udp(f, 4000, 9, "again", 5, NULL);
    flow_expect_none(f);
}

/* An unconfirmed refresh: the unicast request is repeated every second up
 * to US_ARP_MAX_PROBES times, then the entry is forgotten and the next
 * packet resolves by broadcast again. */
static void test_refresh_unanswered_forgets(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    resolve_peer(f, pcb);
    flow_advance(f, US_ARP_REACHABLE + US_MSEC);
    assert_int_equal(flow_udp_send(f, pcb, 9, "out", 3), 0);
    expect_refresh_and_udp(f, "out");
    for (int i = 1; i < US_ARP_MAX_PROBES; i++) { /* PROBE retries */
        flow_advance(f, US_ARP_RETRANS);
        flow_expect_arp_request(f, FLOW_PEER_MAC, FLOW_PEER_IP);
        flow_expect_none(f);
    }
    flow_advance(f, US_ARP_RETRANS);
    flow_expect_none(f);
    assert_null(us_arp_lookup(f->nif, FLOW_PEER_IP));
    assert_int_equal(flow_udp_send(f, pcb, 9, "new", 3), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f);
}

/* A STALE entry is still known just before US_ARP_STALE_GC of disuse (a
 * send refreshes it by unicast). */
static void test_stale_kept_until_gc(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    resolve_peer(f, pcb); /* last use and confirmation at t0 */
    flow_advance(f, US_ARP_STALE_GC - US_MSEC);
    flow_expect_none(f);
    assert_int_equal(flow_udp_send(f, pcb, 9, "late", 4), 0);
    expect_refresh_and_udp(f, "late");
}

/* An entry unused for US_ARP_STALE_GC is forgotten: a later send
 * broadcasts a request again and waits for the answer. */
static void test_stale_forgotten_after_gc(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    resolve_peer(f, pcb);
    flow_advance(f, US_ARP_STALE_GC + US_MSEC);
    flow_expect_none(f);
    assert_null(us_arp_lookup(f->nif, FLOW_PEER_IP));
    assert_int_equal(flow_udp_send(f, pcb, 9, "gone", 4), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_expect_none(f); /* the datagram waits for the reply */
    flow_inject_arp_reply(f);
    flow_expect_udp(f, 4000, 9, "gone", 4, NULL);
    flow_expect_none(f);
}

/* Injects a request for our address with the ARP body patched by fn. */
static void inject_patched_request(struct flow *f, size_t len, void (*fn)(uint8_t *arp))
{
    uint8_t arp[28];
    flow_build_arp(arp, ARPOP_REQ, FLOW_PEER_MAC, FLOW_PEER_IP, NULL, FLOW_OUR_IP);
    if (fn)
        fn(arp);
    flow_inject_eth(f, FLOW_BCAST_MAC, FLOW_PEER_MAC, ETHT_ARP, arp, len);
}

static void set_htype_6(uint8_t *a)
{
    a[1] = 6; /* IEEE 802 networks */
}

static void set_ptype_ip6(uint8_t *a)
{
    a[2] = 0x86;
    a[3] = 0xdd;
}

static void set_hlen_8(uint8_t *a)
{
    a[4] = 8;
}

static void set_op_3(uint8_t *a)
{
    a[7] = 3; /* RARP request */
}

static void set_op_0(uint8_t *a)
{
    a[7] = 0;
}

/* Malformed ARP is dropped, counted by reason, never answered or learnt. */
static void test_bad_arp_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    inject_patched_request(f, 27, NULL);
    inject_patched_request(f, 8, NULL);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_short"), 2);

    inject_patched_request(f, 28, set_htype_6);
    inject_patched_request(f, 28, set_ptype_ip6);
    inject_patched_request(f, 28, set_hlen_8);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_bad_format"), 3);

    inject_patched_request(f, 28, set_op_3);
    inject_patched_request(f, 28, set_op_0);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_bad_op"), 2);

    assert_int_equal(flow_counter(f, "arp.drop"), 7);
    assert_int_equal(flow_counter(f, "arp.rx"), 0);
    assert_null(us_arp_lookup(f->nif, FLOW_PEER_IP));

    /* The same request intact is answered. */
    inject_patched_request(f, 28, NULL);
    flow_expect_arp(f, ARPOP_REP, NULL);
    flow_expect_none(f);
}

/* A sender hardware address that is multicast or broadcast is bogus: no
 * reply, nothing learnt, drop.arp_bad_sender. */
static void test_multicast_sender_mac_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    uint8_t arp[28];
    flow_build_arp(arp, ARPOP_REQ, mcast, FLOW_PEER_IP, NULL, FLOW_OUR_IP);
    flow_inject_eth(f, FLOW_BCAST_MAC, FLOW_PEER_MAC, ETHT_ARP, arp, sizeof(arp));
    flow_build_arp(arp, ARPOP_REQ, FLOW_BCAST_MAC, FLOW_PEER_IP, NULL, FLOW_OUR_IP);
    flow_inject_eth(f, FLOW_BCAST_MAC, FLOW_PEER_MAC, ETHT_ARP, arp, sizeof(arp));
    /* A reply claiming a multicast MAC for a pending resolution. */
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 4000);
    assert_int_equal(flow_udp_send(f, pcb, 9, "m", 1), 0);
    flow_expect_arp_request(f, FLOW_BCAST_MAC, FLOW_PEER_IP);
    flow_build_arp(arp, ARPOP_REP, mcast, FLOW_PEER_IP, FLOW_OUR_MAC, FLOW_OUR_IP);
    flow_inject_eth(f, FLOW_OUR_MAC, FLOW_PEER_MAC, ETHT_ARP, arp, sizeof(arp));
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.arp_bad_sender"), 3);
    const struct us_arp_entry *e = us_arp_lookup(f->nif, FLOW_PEER_IP);
    assert_non_null(e);
    assert_int_equal(e->state, ARP_INCOMPLETE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_resolution_releases_queue_in_order),
        FLOW_TEST(test_retransmit_then_give_up),
        FLOW_TEST(test_queue_bound),
        FLOW_TEST(test_queue_bound_bytes),
        FLOW_TEST(test_reply_to_request_for_us_only),
        FLOW_TEST(test_reply_to_unicast_request),
        FLOW_TEST(test_learn_from_request_for_us),
        FLOW_TEST(test_learn_from_request_no_request_at_all),
        FLOW_TEST(test_no_learning_from_request_for_other),
        FLOW_TEST(test_reachable_then_stale_refresh),
        FLOW_TEST(test_delay_confirmed_no_probe),
        FLOW_TEST(test_refresh_unanswered_forgets),
        FLOW_TEST(test_stale_kept_until_gc),
        FLOW_TEST(test_stale_forgotten_after_gc),
        FLOW_TEST(test_bad_arp_dropped),
        FLOW_TEST(test_multicast_sender_mac_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
