/* TCP flow tests: SYN cookies (RFC 4987 3.6) when a listener's SYN queue
 * is full. */
#include "flow_tcp.h"

#include <string.h>

#include "core/stack.h"

/* A listener with backlog 1 and one embryonic connection (from port
 * TC_PEER_PORT) filling its SYN queue. */
static void full_listener(struct tc_conn *first, struct flow *f)
{
    memset(first, 0, sizeof(*first));
    first->f = f;
    first->pport = TC_PEER_PORT;
    first->irs = TC_PEER_ISN;
    first->win = 65535;
    first->lport = 8080;
    first->listener = tc_pcb(first, f);
    assert_int_equal(us_tcp_bind(first->listener, NULL, 8080, false), 0);
    assert_int_equal(us_tcp_listen(first->listener, 1), 0);
    struct tc_opts o = tc_linux_opts();
    o.tsval = 1;
    tc_in_full(first, "S", 0, 0, 65535, &o, 0);
    tc_out(first, "S.", TC_ANY, 1, 0);
    first->iss = first->rx.seq;
    assert_true(first->rx.opt.ts_ok && first->rx.opt.sack_ok && first->rx.opt.ws_ok);
    first->ts = first->sack = first->ws = true; /* agreed: later segments carry TS */
    first->ts_last = first->rx.opt.tsval;
    assert_int_equal(first->listener->syn_q_len, 1);
}

/* A second peer connection on the same listener. */
static void second_peer(struct tc_conn *c, const struct tc_conn *first, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    c->f = first->f;
    c->pport = port;
    c->irs = 333333;
    c->win = 65535;
    c->lport = 8080;
    c->listener = first->listener;
}

/* The second SYN is answered with a cookie SYN-ACK carrying only MSS;
 * the ACK that returns the cookie makes an ESTABLISHED child that
 * us_tcp_accept returns, with the MSS the cookie encoded and no other
 * options; data flows both ways. */
static void test_cookie_handshake(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn first, c;
    full_listener(&first, f);
    second_peer(&c, &first, 40001);
    struct tc_opts o = tc_linux_opts();
    o.tsval = 1;
    tc_in_full(&c, "S", 0, 0, 65535, &o, 0);
    tc_out(&c, "S.", TC_ANY, 1, 0);
    c.iss = c.rx.seq;
    assert_true(c.rx.opt.mss_ok);
    assert_int_equal(c.rx.opt.mss, 1460);
    assert_false(c.rx.opt.ts_ok || c.rx.opt.sack_ok || c.rx.opt.ws_ok);
    assert_int_equal(flow_counter(f, "tcp.syncookie_sent"), 1);
    assert_int_equal(first.listener->syn_q_len, 1); /* no state kept */
    tc_advance_ms(f, 50);
    tc_in(&c, ".", 1, 1, 0);
    tc_expect_none(&c);
    assert_int_equal(flow_counter(f, "tcp.syncookie_ok"), 1);
    assert_non_null(tc_accept_child(&c));
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
    assert_int_equal(c.pcb->rport, 40001);
    assert_int_equal(c.pcb->mss, 1460);
    assert_false(c.pcb->ts_ok || c.pcb->sack_ok || c.pcb->ws_ok);
    tc_in(&c, "P.", 1, 1, 100);
    uint32_t seq = 1;
    assert_int_equal(tc_read(&c, &seq), 100);
    if (flow_pending(f))
        tc_out(&c, ".", 1, 101, 0); /* the ACK, early (see test_tcp_window) */
    uint32_t off = 0;
    c.pcb->nodelay = true;
    tc_send(&c, &off, 3000);
    tc_out(&c, ".", 1, 101, 1460);
    tc_out(&c, ".", 1461, 101, 1460);
    tc_out(&c, "P.", 2921, 101, 80);
    /* The first connection is unaffected and completes too. */
    tc_in(&first, ".", 1, 1, 0);
    assert_int_equal(first.listener->acc_q_len, 1);
}

/* The cookie carries the peer's MSS, rounded down to the table; no MSS
 * option at all means 536. */
static void test_cookie_mss(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn first, c;
    full_listener(&first, f);
    second_peer(&c, &first, 40002);
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", TC_ANY, 1, 0);
    c.iss = c.rx.seq;
    tc_in(&c, ".", 1, 1, 0);
    assert_non_null(tc_accept_child(&c));
    assert_int_equal(c.pcb->mss, 536);

    struct tc_conn d;
    second_peer(&d, &first, 40003);
    struct tc_opts o = tc_no_opts();
    o.mss_ok = true;
    o.mss = 1400;
    tc_in_full(&d, "S", 0, 0, 65535, &o, 0);
    tc_out(&d, "S.", TC_ANY, 1, 0);
    d.iss = d.rx.seq;
    tc_in(&d, ".", 1, 1, 0);
    assert_non_null(tc_accept_child(&d));
    assert_true(d.pcb->mss <= 1400 && d.pcb->mss >= 1360);
}

/* A forged ACK (wrong cookie, or the right cookie from another port) is
 * reset <SEQ=SEG.ACK><CTL=RST> and counted drop.tcp_bad_cookie. */
static void test_forged_cookie(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn first, c;
    full_listener(&first, f);
    second_peer(&c, &first, 40001);
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", TC_ANY, 1, 0);
    c.iss = c.rx.seq;
    tc_in(&c, ".", 1, 1 + 0x40, 0); /* another hash */
    tc_out(&c, "R", 1 + 0x40, TC_ANY, 0);
    assert_int_equal(flow_counter(f, "drop.tcp_bad_cookie"), 1);
    tc_in(&c, ".", 2, 1, 0); /* another peer ISN */
    tc_out(&c, "R", 1, TC_ANY, 0);
    struct tc_conn other = c;
    other.pport = 40009;
    tc_in(&other, ".", 1, 1, 0);
    tc_out(&other, "R", 1, TC_ANY, 0);
    assert_int_equal(flow_counter(f, "drop.tcp_bad_cookie"), 3);
    assert_null(us_tcp_accept(first.listener));
    assert_int_equal(flow_counter(f, "tcp.syncookie_ok"), 0);
    /* The genuine one still works. */
    tc_in(&c, ".", 1, 1, 0);
    assert_non_null(tc_accept_child(&c));
}

/* A cookie is good for one to two 64-second slots; an ACK 130 s later is
 * refused (with no cookie sent since, the listener no longer even checks
 * for one: the ACK is for no connection). */
static void test_cookie_expires(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn first, c;
    full_listener(&first, f);
    second_peer(&c, &first, 40001);
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", TC_ANY, 1, 0);
    c.iss = c.rx.seq;
    tc_advance(f, 130 * US_SEC);
    while (flow_pending(f)) /* the first connection's SYN-ACK retries */
        tc_out(&first, "S.", 0, 1, 0);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, "R", 1, TC_ANY, 0);
    assert_int_equal(flow_counter(f, "drop.tcp_no_socket"), 1);
    assert_null(us_tcp_accept(first.listener));
}

/* A listener that has sent no cookie (its SYN queue never overflowed)
 * does not take a valid one: the ACK is reset and counted as for no
 * connection. Once it sends cookies, the same kind of ACK is checked, and
 * a valid cookie makes a connection. */
static void test_cookie_only_after_overflow(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn first, c;
    full_listener(&first, f); /* SYN queue full, but no cookie sent yet */
    second_peer(&c, &first, 40001);
    struct us_addr ours = us_addr4(FLOW_OUR_IP), peer = us_addr4(FLOW_PEER_IP);
    c.iss = tcp_cookie_make(f->s, &ours, 8080, &peer, 40001, c.irs, 1460);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, "R", 1, TC_ANY, 0);
    assert_int_equal(flow_counter(f, "drop.tcp_no_socket"), 1);
    assert_int_equal(flow_counter(f, "drop.tcp_bad_cookie"), 0);
    assert_int_equal(flow_counter(f, "tcp.syncookie_ok"), 0);
    assert_null(us_tcp_accept(first.listener));
    /* Now a SYN overflows the queue: a cookie goes out, and the ACK
     * returning it is checked and makes the connection. */
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", TC_ANY, 1, 0);
    c.iss = c.rx.seq;
    tc_in(&c, ".", 1, 1, 0);
    assert_int_equal(flow_counter(f, "tcp.syncookie_ok"), 1);
    assert_non_null(tc_accept_child(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_cookie_handshake),
        TC_TEST(test_cookie_mss),
        TC_TEST(test_forged_cookie),
        TC_TEST(test_cookie_expires),
        TC_TEST(test_cookie_only_after_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
