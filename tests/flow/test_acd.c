/* Flow tests for IPv4 Address Conflict Detection (RFC 5227): probe timing,
 * announcements, conflicts while probing, and defence once bound. */
#include "flow.h"

#include <string.h>

#include "ip4/acd.h"

#define MAX_EVENTS 16

struct acd_event {
    struct flow_arp a;
    bool ready_after; /* us_netif_ready right after the frame was sent */
};

/* Runs timers one deadline at a time for `span`, recording every ARP frame
 * and whether the interface was ready just after it. */
static int run_and_record(struct flow *f, us_time_t span, struct acd_event *ev)
{
    int n = 0;
    us_time_t end = us_now(f->s) + span;
    for (;;) {
        us_time_t next = us_next_deadline(f->s);
        if (next > end)
            break;
        flow_run_until(f, next);
        while (flow_pending(f)) {
            assert_true(n < MAX_EVENTS);
            flow_expect_arp(f, ARPOP_REQ, &ev[n].a);
            ev[n].ready_after = us_netif_ready(f->nif);
            n++;
        }
    }
    flow_run_until(f, end);
    flow_expect_none(f);
    return n;
}

static void assert_probe(const struct flow_arp *a)
{
    assert_memory_equal(a->eth_dst, FLOW_BCAST_MAC, 6);
    assert_memory_equal(a->sha, FLOW_OUR_MAC, 6);
    assert_int_equal(a->spa, 0); /* RFC 5227 2.1.1: sender IP all zero */
    assert_memory_equal(a->tha, FLOW_ZERO_MAC, 6);
    assert_int_equal(a->tpa, FLOW_OUR_IP);
}

static void assert_announcement(const struct flow_arp *a)
{
    assert_memory_equal(a->eth_dst, FLOW_BCAST_MAC, 6);
    assert_memory_equal(a->sha, FLOW_OUR_MAC, 6);
    assert_int_equal(a->spa, FLOW_OUR_IP); /* RFC 5227 2.3: sender = target */
    assert_memory_equal(a->tha, FLOW_ZERO_MAC, 6);
    assert_int_equal(a->tpa, FLOW_OUR_IP);
}

static struct flow *acd_flow(uint64_t seed)
{
    struct flow_opts o = {.acd = true, .seed = seed};
    return flow_new(&o);
}

/* Probes: the first within PROBE_WAIT of adding the address, three in all,
 * PROBE_MIN..PROBE_MAX apart; then ANNOUNCE_WAIT, then two announcements
 * ANNOUNCE_INTERVAL apart. Not ready while probing, ready once announcing.
 * Checked over several seeds; the random delays must actually vary. */
static void test_probe_and_announce_timing(void **state)
{
    (void)state;
    us_time_t first_waits[20];
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct flow *f = acd_flow(seed);
        assert_false(us_netif_ready(f->nif));
        assert_int_equal(us_netif_conflicts(f->nif), 0);
        struct acd_event ev[MAX_EVENTS];
        int n = run_and_record(f, 30 * US_SEC, ev);
        assert_int_equal(n, ACD_PROBE_NUM + ACD_ANNOUNCE_NUM);
        us_time_t first = ev[0].a.t - f->t0;
        assert_true(first <= ACD_PROBE_WAIT);
        first_waits[seed - 1] = first;
        for (int i = 0; i < ACD_PROBE_NUM; i++) {
            assert_probe(&ev[i].a);
            assert_false(ev[i].ready_after);
            if (i > 0) {
                us_time_t gap = ev[i].a.t - ev[i - 1].a.t;
                assert_true(gap >= ACD_PROBE_MIN && gap <= ACD_PROBE_MAX);
            }
        }
        const struct acd_event *ann = &ev[ACD_PROBE_NUM];
        assert_int_equal(ann[0].a.t - ev[ACD_PROBE_NUM - 1].a.t, ACD_ANNOUNCE_WAIT);
        assert_int_equal(ann[1].a.t - ann[0].a.t, ACD_ANNOUNCE_INTERVAL);
        for (int i = 0; i < ACD_ANNOUNCE_NUM; i++) {
            assert_announcement(&ann[i].a);
            assert_true(ann[i].ready_after);
        }
        assert_true(us_netif_ready(f->nif));
        assert_int_equal(us_netif_conflicts(f->nif), 0);
        flow_free(f);
    }
    bool varied = false;
    for (int i = 1; i < 20; i++)
        varied |= first_waits[i] != first_waits[0];
    assert_true(varied);
}

/* Runs until the first probe has gone out; returns its time. */
static us_time_t until_first_probe(struct flow *f)
{
    for (int guard = 0; guard < 2000 && !flow_pending(f); guard++)
        flow_advance_ms(f, 1);
    struct flow_arp a;
    flow_expect_arp(f, ARPOP_REQ, &a);
    assert_probe(&a);
    flow_expect_none(f);
    return a.t;
}

/* While probing the address is not ours: ARP requests for it and packets
 * to it go unanswered. A peer's ordinary request is not a conflict. */
static void test_not_answered_while_probing(void **state)
{
    (void)state;
    struct flow *f = acd_flow(3);
    until_first_probe(f);
    flow_inject_arp_request(f, FLOW_OUR_IP);
    flow_expect_none(f);
    flow_inject_echo(f, 1, 1, "ping", 4);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_tentative"), 1);
    assert_false(us_netif_ready(f->nif));
    /* Probing goes on to the end: two more probes and two announcements. */
    struct acd_event ev[MAX_EVENTS];
    int n = run_and_record(f, 20 * US_SEC, ev);
    assert_int_equal(n, ACD_PROBE_NUM - 1 + ACD_ANNOUNCE_NUM);
    assert_true(us_netif_ready(f->nif));
    assert_int_equal(us_netif_conflicts(f->nif), 0);
    assert_int_equal(flow_counter(f, "arp.conflict"), 0);
}

/* After a conflict the address is never announced nor answered for. */
static void assert_conflict_outcome(struct flow *f)
{
    assert_int_equal(us_netif_conflicts(f->nif), 1);
    assert_int_equal(flow_counter(f, "arp.conflict"), 1);
    flow_advance(f, 30 * US_SEC);
    flow_expect_none(f); /* no more probes, no announcements, ever */
    flow_inject_arp_request(f, FLOW_OUR_IP);
    flow_inject_echo(f, 1, 1, "ping", 4);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7);
    flow_inject_udp(f, 1111, 7, "udp", 3);
    flow_expect_none(f);
    assert_int_equal(sink.count, 0);
    assert_int_equal(us_netif_conflicts(f->nif), 1);
}

/* RFC 5227 2.1.1: an ARP reply from another MAC with the probed address as
 * sender during probing is a conflict. */
static void test_conflict_reply_while_probing(void **state)
{
    (void)state;
    struct flow *f = acd_flow(5);
    until_first_probe(f);
    flow_advance_ms(f, 200);
    flow_expect_none(f);
    flow_inject_arp(f, FLOW_OUR_MAC, ARPOP_REP, FLOW_OTHER_MAC, FLOW_OUR_IP, FLOW_OUR_MAC, 0);
    flow_expect_none(f);
    assert_conflict_outcome(f);
}

/* RFC 5227 2.1.1: another host's probe for the same address is a conflict. */
static void test_conflict_probe_from_other(void **state)
{
    (void)state;
    struct flow *f = acd_flow(6);
    until_first_probe(f);
    flow_inject_arp_probe(f, FLOW_OTHER_MAC, FLOW_OUR_IP);
    flow_expect_none(f);
    assert_conflict_outcome(f);
}

/* A conflict before the first probe (PROBE_WAIT) stops everything too. */
static void test_conflict_before_first_probe(void **state)
{
    (void)state;
    struct flow *f = acd_flow(7);
    flow_inject_arp_announce(f, FLOW_OTHER_MAC, FLOW_OUR_IP);
    flow_expect_none(f);
    assert_conflict_outcome(f);
}

/* The detection window lasts until ANNOUNCE_WAIT after the last probe. */
static void test_conflict_during_announce_wait(void **state)
{
    (void)state;
    struct flow *f = acd_flow(8);
    int probes = 0;
    while (probes < ACD_PROBE_NUM) {
        flow_advance_ms(f, 1);
        while (flow_pending(f)) {
            struct flow_arp a;
            flow_expect_arp(f, ARPOP_REQ, &a);
            assert_probe(&a);
            probes++;
        }
        assert_true(flow_elapsed(f) < 10 * US_SEC);
    }
    flow_advance(f, ACD_ANNOUNCE_WAIT - 10 * US_MSEC);
    flow_expect_none(f);
    assert_false(us_netif_ready(f->nif));
    flow_inject_arp(f, FLOW_BCAST_MAC, ARPOP_REP, FLOW_OTHER_MAC, FLOW_OUR_IP, NULL, FLOW_OUR_IP);
    assert_conflict_outcome(f);
}

/* Our own probes looped back (same MAC) are not a conflict. */
static void test_own_probe_echo_not_conflict(void **state)
{
    (void)state;
    struct flow *f = acd_flow(9);
    until_first_probe(f);
    flow_inject_arp_probe(f, FLOW_OUR_MAC, FLOW_OUR_IP);
    assert_int_equal(us_netif_conflicts(f->nif), 0);
    struct acd_event ev[MAX_EVENTS];
    int n = run_and_record(f, 20 * US_SEC, ev);
    assert_int_equal(n, ACD_PROBE_NUM - 1 + ACD_ANNOUNCE_NUM);
    assert_true(us_netif_ready(f->nif));
}

static void expect_defence(struct flow *f)
{
    struct flow_arp a;
    flow_expect_arp(f, ARPOP_REQ, &a);
    assert_announcement(&a);
    assert_int_equal(a.t, us_now(f->s));
    flow_expect_none(f);
}

static void ping_answered(struct flow *f, uint16_t seq)
{
    flow_inject_echo(f, 0x77, seq, "still mine", 10);
    flow_expect_echo_reply(f, 0x77, seq, "still mine", 10);
    flow_expect_none(f);
}

/* RFC 5227 2.4 (c): once bound, a conflicting ARP gets one defending
 * announcement; another within DEFEND_INTERVAL gets none; one after it gets
 * another. The address stays in use throughout. */
static void test_defend_bound_address(void **state)
{
    (void)state;
    struct flow *f = acd_flow(11);
    struct acd_event ev[MAX_EVENTS];
    assert_int_equal(run_and_record(f, 15 * US_SEC, ev), ACD_PROBE_NUM + ACD_ANNOUNCE_NUM);
    assert_true(us_netif_ready(f->nif));
    flow_prime_arp(f);

    flow_inject_arp_announce(f, FLOW_OTHER_MAC, FLOW_OUR_IP);
    expect_defence(f);
    us_time_t defended = us_now(f->s);
    ping_answered(f, 1);

    flow_advance_ms(f, 5000);
    flow_inject_arp(f, FLOW_BCAST_MAC, ARPOP_REP, FLOW_OTHER_MAC, FLOW_OUR_IP, FLOW_PEER_MAC,
                    FLOW_PEER_IP);
    flow_expect_none(f); /* within DEFEND_INTERVAL: no second announcement */
    ping_answered(f, 2);

    flow_run_until(f, defended + ACD_DEFEND_INTERVAL + 500 * US_MSEC);
    flow_expect_none(f);
    flow_inject_arp_announce(f, FLOW_OTHER_MAC, FLOW_OUR_IP);
    expect_defence(f);
    ping_answered(f, 3);

    assert_int_equal(us_netif_conflicts(f->nif), 0);
    assert_true(us_netif_ready(f->nif));
    assert_int_equal(flow_counter(f, "arp.defend"), 2);
}

/* A probe from another host for our bound address is answered with an
 * ordinary reply (that is how the prober learns of the conflict), and is
 * not itself a conflict for us. */
static void test_bound_answers_probe(void **state)
{
    (void)state;
    struct flow *f = acd_flow(12);
    struct acd_event ev[MAX_EVENTS];
    assert_int_equal(run_and_record(f, 15 * US_SEC, ev), ACD_PROBE_NUM + ACD_ANNOUNCE_NUM);
    flow_inject_arp_probe(f, FLOW_OTHER_MAC, FLOW_OUR_IP);
    struct flow_arp a;
    flow_expect_arp(f, ARPOP_REP, &a);
    assert_memory_equal(a.eth_dst, FLOW_OTHER_MAC, 6);
    assert_int_equal(a.spa, FLOW_OUR_IP);
    assert_memory_equal(a.sha, FLOW_OUR_MAC, 6);
    flow_expect_none(f);
    assert_int_equal(us_netif_conflicts(f->nif), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_probe_and_announce_timing),    FLOW_TEST(test_not_answered_while_probing),
        FLOW_TEST(test_conflict_reply_while_probing), FLOW_TEST(test_conflict_probe_from_other),
        FLOW_TEST(test_conflict_before_first_probe),  FLOW_TEST(test_conflict_during_announce_wait),
        FLOW_TEST(test_own_probe_echo_not_conflict),  FLOW_TEST(test_defend_bound_address),
        FLOW_TEST(test_bound_answers_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
