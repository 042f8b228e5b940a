/* TCP flow tests: keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6) with
 * Linux's knobs: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT. */
#include "flow_tcp.h"

#include <errno.h>
#include <string.h>

#include "core/stack.h"

static void accept_keepalive(struct tc_conn *c, struct flow *f, uint32_t idle, uint32_t intvl,
                             uint32_t cnt)
{
    memset(c, 0, sizeof(*c));
    c->f = f;
    c->listener = tc_pcb(c, f);
    c->listener->keepalive = true;
    if (idle)
        c->listener->keepidle_s = idle;
    if (intvl)
        c->listener->keepintvl_s = intvl;
    if (cnt)
        c->listener->keepcnt = cnt;
    assert_int_equal(us_tcp_bind(c->listener, NULL, 8080, false), 0);
    assert_int_equal(us_tcp_listen(c->listener, 16), 0);
    tc_accept(c, f, 8080, NULL);
    assert_true(c->pcb->keepalive);
}

/* Idle 10 s: a probe (no data, SEQ = SND.NXT - 1) every 2 s; after 3
 * unanswered probes the connection is reset and reports ETIMEDOUT. */
static void test_keepalive_unanswered(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    accept_keepalive(&c, f, 10, 2, 3);
    us_time_t t0 = tc_now(f);
    static const int at_s[] = {10, 12, 14};
    for (int i = 0; i < 3; i++) {
        assert_true(tc_run_until_sent(f, 100 * US_SEC));
        tc_out(&c, ".", 0, 1, 0);
        assert_int_equal(tc_ms(&c, t0), at_s[i] * 1000);
    }
    assert_int_equal(flow_counter(f, "tcp.keepalive_probe"), 3);
    assert_int_equal(c.n_closed, 0);
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, "R.", 1, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 16000);
    assert_int_equal(c.n_closed, 1);
    assert_int_equal(c.pcb->state, TCPS_CLOSED);
    assert_int_equal(us_tcp_take_error(c.pcb), ETIMEDOUT);
    tc_advance(f, 100 * US_SEC);
    tc_expect_none(&c);
}

/* An answered probe starts the idle time again; so does any segment. */
static void test_keepalive_answered(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    accept_keepalive(&c, f, 10, 2, 3);
    us_time_t t0 = tc_now(f);
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, ".", 0, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 10000);
    tc_advance_ms(f, 1000);
    tc_in(&c, ".", 1, 1, 0); /* the answer, at 11 s */
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, ".", 0, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 21000);
    /* Data from the peer at 22 s, read by the application. */
    tc_advance_ms(f, 1000);
    tc_in(&c, "P.", 1, 1, 10);
    uint32_t seq = 1;
    assert_int_equal(tc_read(&c, &seq), 10);
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, ".", 1, 11, 0); /* the delayed ACK */
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, ".", 0, 11, 0);
    assert_int_equal(tc_ms(&c, t0), 32000);
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
}

/* Default idle time: two hours (Linux tcp_keepalive_time). */
static void test_keepalive_default_idle(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    accept_keepalive(&c, f, 0, 0, 0);
    us_time_t t0 = tc_now(f);
    assert_true(tc_run_until_sent(f, 3 * 3600 * US_SEC));
    tc_out(&c, ".", 0, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 7200 * 1000);
    assert_true(tc_run_until_sent(f, 3 * 3600 * US_SEC));
    tc_out(&c, ".", 0, 1, 0);
    assert_int_equal(tc_ms(&c, t0), (7200 + 75) * 1000);
}

/* Without SO_KEEPALIVE an idle connection sends nothing, ever. */
static void test_keepalive_off(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    tc_advance(f, 5 * 3600 * US_SEC);
    tc_expect_none(&c);
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
}

/* Active open with keep-alive set before connect. */
static void test_keepalive_active_open(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.pcb = tc_pcb(&c, f);
    c.pcb->keepalive = true;
    c.pcb->keepidle_s = 5;
    c.pcb->keepintvl_s = 1;
    c.pcb->keepcnt = 2;
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, TC_PEER_PORT), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    c.lport = r.sport;
    struct tc_opts o = tc_no_opts();
    tc_in_full(&c, "S.", 0, 1, 65535, &o, 0);
    tc_out(&c, ".", 1, 1, 0);
    us_time_t t0 = tc_now(f);
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, ".", 0, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 5000);
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, ".", 0, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 6000);
    assert_true(tc_run_until_sent(f, 100 * US_SEC));
    tc_out(&c, "R.", 1, 1, 0);
    assert_int_equal(tc_ms(&c, t0), 7000);
    assert_int_equal(us_tcp_take_error(c.pcb), ETIMEDOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_keepalive_unanswered),   TC_TEST(test_keepalive_answered),
        TC_TEST(test_keepalive_default_idle), TC_TEST(test_keepalive_off),
        TC_TEST(test_keepalive_active_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
