/* TCP flow tests: closing (RFC 9293 3.6 and 3.10.4), half-close,
 * abortive close (RFC 2525 2.17, SO_LINGER 0), the orphaned FIN-WAIT-2
 * timeout (Linux tcp_fin_timeout). */
#include "flow_tcp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/stack.h"

/* Closing with unread data resets the connection instead of a FIN. */
static void test_close_with_unread_data_resets(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    tc_in(&c, "P.", 1, 1, 100);
    tc_close(c.pcb);
    tc_out(&c, "R.", 1, 101, 0);
    tc_expect_none(&c);
    assert_int_equal(flow_counter(f, "tcp.reset_sent"), 1);
    /* Nothing is left of it: the peer's next segment gets a reset. */
    tc_in(&c, ".", 101, 1, 0);
    tc_out(&c, "R", 1, TC_ANY, 0);
}

/* SO_LINGER with a zero timeout: a reset, even with nothing unread. */
static void test_linger_zero_resets(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t off = 0;
    tc_send(&c, &off, 10);
    tc_out(&c, "P.", 1, 1, 10);
    c.pcb->linger_on = true;
    c.pcb->linger_sec = 0;
    tc_close(c.pcb);
    tc_out(&c, "R.", 11, 1, 0);
    tc_advance(f, 10 * US_SEC);
    tc_expect_none(&c);
}

/* us_tcp_abort sends a reset, whatever the state of the buffers. */
static void test_abort(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t off = 0;
    tc_send(&c, &off, 10);
    tc_out(&c, "P.", 1, 1, 10);
    tc_abort(c.pcb);
    tc_out(&c, "R.", 11, 1, 0);
    tc_advance(f, 10 * US_SEC);
    tc_expect_none(&c);
}

/* A graceful close after data: the FIN follows the data, and the
 * connection goes FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT. */
static void test_graceful_close(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    c.pcb->nodelay = true;
    uint32_t off = 0;
    tc_send(&c, &off, 3000);
    uint32_t full = c.pcb->mss;
    tc_out(&c, ".", 1, 1, full);
    tc_out(&c, ".", 1 + full, 1, full);
    tc_out(&c, "P.", 1 + 2 * full, 1, 3000 - 2 * full);
    assert_int_equal(us_tcp_shutdown(c.pcb, SHUT_WR), 0);
    tc_out(&c, "F.", 3001, 1, 0);
    assert_int_equal(c.pcb->state, TCPS_FIN_WAIT_1);
    tc_in(&c, ".", 1, 3001, 0);
    assert_int_equal(c.pcb->state, TCPS_FIN_WAIT_1);
    tc_in(&c, ".", 1, 3002, 0);
    assert_int_equal(c.pcb->state, TCPS_FIN_WAIT_2);
    tc_in(&c, "F.", 1, 3002, 0);
    tc_out(&c, ".", 3002, 2, 0);
    assert_int_equal(c.pcb->state, TCPS_TIME_WAIT);
}

/* A FIN queued behind unsent data rides on the last data segment. */
static void test_fin_piggybacks(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    c.win = 0;
    tc_in(&c, ".", 1, 1, 0);
    uint32_t off = 0;
    tc_send(&c, &off, 100);
    assert_int_equal(us_tcp_shutdown(c.pcb, SHUT_WR), 0);
    tc_expect_none(&c);
    c.win = 1000;
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, "FP.", 1, 1, 100);
}

/* Half-close: after SHUT_WR sending fails with EPIPE but data still comes
 * in and is read. */
static void test_half_close(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    assert_int_equal(us_tcp_shutdown(c.pcb, SHUT_WR), 0);
    tc_out(&c, "F.", 1, 1, 0);
    assert_int_equal(us_tcp_send(c.pcb, "x", 1, false), -EPIPE);
    tc_in(&c, "P.", 1, 2, 500);
    uint32_t seq = 1;
    assert_int_equal(tc_read(&c, &seq), 500);
    tc_in(&c, "F.", 501, 2, 0);
    tc_out(&c, ".", 2, 502, 0);
    assert_int_equal(us_tcp_recv(c.pcb, (char[4]){0}, 4, false), 0);
}

/* Our FIN is retransmitted like data when not acked. */
static void test_fin_retransmitted(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    us_time_t t0 = tc_now(f);
    assert_int_equal(us_tcp_shutdown(c.pcb, SHUT_WR), 0);
    tc_out(&c, "F.", 1, 1, 0);
    assert_true(tc_run_until_sent(f, 10 * US_SEC));
    tc_out(&c, "F.", 1, 1, 0);
    assert_int_equal(tc_ms(&c, t0), c.pcb->rto / US_MSEC);
}

/* Linux tcp_fin_timeout: an orphaned connection in FIN-WAIT-2 whose peer
 * never closes is dropped after 60 s; later segments find nothing. */
static void test_orphan_fin_wait_2_timeout(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    tc_close(c.pcb);
    tc_out(&c, "F.", 1, 1, 0);
    tc_in(&c, ".", 1, 2, 0);
    tc_advance(f, FLOW_MS(59999));
    tc_in(&c, ".", 1, 2, 0);
    tc_expect_none(&c); /* still there: a plain ACK needs no answer */
    tc_advance(f, 61 * US_SEC);
    tc_expect_none(&c);
    tc_in(&c, ".", 1, 2, 0);
    tc_out(&c, "R", 2, TC_ANY, 0);
}

/* Closing a listener resets the connections it had not handed out. */
static void test_close_listener_with_pending(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.lport = 8080;
    c.listener = tc_pcb(&c, f);
    assert_int_equal(us_tcp_bind(c.listener, NULL, 8080, false), 0);
    assert_int_equal(us_tcp_listen(c.listener, 4), 0);
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", TC_ANY, 1, 0);
    c.iss = c.rx.seq;
    tc_in(&c, ".", 1, 1, 0);
    assert_int_equal(c.listener->acc_q_len, 1);
    tc_close(c.listener);
    tc_out(&c, "R.", 1, 1, 0);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, "R", 1, TC_ANY, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_close_with_unread_data_resets),
        TC_TEST(test_linger_zero_resets),
        TC_TEST(test_abort),
        TC_TEST(test_graceful_close),
        TC_TEST(test_fin_piggybacks),
        TC_TEST(test_half_close),
        TC_TEST(test_fin_retransmitted),
        TC_TEST(test_orphan_fin_wait_2_timeout),
        TC_TEST(test_close_listener_with_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
