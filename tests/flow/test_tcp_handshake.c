/* TCP flow tests: opening a connection (RFC 9293 3.5), SYN retries
 * (RFC 6298 5.7, Linux tcp_syn_retries 6), simultaneous open (RFC 9293
 * figure 8), ISN selection (RFC 6528) and ephemeral ports (RFC 6056). */
#include "flow_tcp.h"

#include <errno.h>
#include <string.h>

#include "core/stack.h"

/* Active open with a Linux peer: SYN offers MSS 1460 (MTU 1500), SACK,
 * timestamps and window scaling; the SYN's window is not scaled; the
 * SYN-ACK completes it with an ACK and a CONNECTED event. */
static void test_active_open(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_connect(&c, f, NULL);
    assert_int_equal(c.mss, 1460);
    assert_true(c.n_connected == 1);
    assert_true(c.pcb->ts_ok && c.pcb->sack_ok && c.pcb->ws_ok);
    assert_int_equal(c.pcb->snd_wscale, 7);
    assert_int_equal(c.pcb->mss, 1460 - 12); /* RFC 6691: less the timestamp option */
    /* The SYN-ACK's window (65535) is taken unscaled (RFC 7323 2.2). */
    assert_int_equal(c.pcb->snd_wnd, 65535);
    assert_int_equal(flow_counter(f, "tcp.active_open"), 1);
    tc_expect_none(&c);
}

/* The SYN itself: window field at most 65535, no ACK flag and a zero
 * acknowledgment field, WS shift at most 14, the Linux option layout
 * (MSS, SACK-permitted, timestamp, NOP, window scale). */
static void test_syn_shape(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.pcb = tc_pcb(&c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, 80), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    assert_int_equal(r.flags, TCP_SYN);
    assert_int_equal(r.ack, 0);
    assert_int_equal(r.dport, 80);
    assert_true(r.opt.ws <= 14);
    assert_true(r.opt.ts_ok && r.opt.tsecr == 0);
    assert_int_equal(r.opt.order[0], 2);
    assert_int_equal(r.opt.order[1], 4);
    assert_int_equal(r.opt.order[2], 8);
    assert_int_equal(r.opt.order[3], 3);
    assert_int_equal(r.hlen, 40);
    assert_int_equal(c.pcb->state, TCPS_SYN_SENT);
    assert_true(r.ip.df); /* PMTUD (RFC 1191) */
}

/* Passive open: the listener's SYN-ACK answers the offered options, the
 * ACK makes a child the listener announces and us_tcp_accept returns. */
static void test_passive_open(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    assert_int_equal(c.n_acceptable, 1);
    assert_int_equal(c.mss, 1460);
    assert_int_equal(c.rx.flags, TCP_SYN | TCP_ACK);
    assert_true(c.ts && c.sack && c.ws);
    assert_int_equal(c.pcb->lport, 8080);
    assert_int_equal(c.pcb->rport, TC_PEER_PORT);
    assert_null(us_tcp_accept(c.listener));
    assert_int_equal(flow_counter(f, "tcp.passive_open"), 1);
    /* Data both ways on the child. */
    tc_in(&c, "P.", 1, 1, 100);
    uint32_t rseq = 1;
    assert_int_equal(tc_read(&c, &rseq), 100);
    /* Reading reopened the window far beyond what the SYN-ACK offered:
     * a window update (RFC 9293 3.8.6.2.2), scaled by our shift. */
    tc_out(&c, ".", 1, 101, 0);
    assert_true(((uint32_t)c.rx.win << c.pcb->rcv_wscale) > 65535);
    uint32_t off = 0;
    tc_send(&c, &off, 10);
    tc_out(&c, "P.", 1, 101, 10);
    tc_expect_none(&c);
}

/* RFC 6298 5.7 and Linux tcp_syn_retries = 6: the SYN is resent after
 * 1, 2, 4, 8, 16 and 32 s, and the connection fails with ETIMEDOUT after
 * another 64 s (127 s in all). */
static void test_syn_retries(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.pcb = tc_pcb(&c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    us_time_t t0 = tc_now(f);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, 80), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    uint32_t iss = r.seq;
    static const int at_ms[] = {1000, 3000, 7000, 15000, 31000, 63000};
    for (int i = 0; i < 6; i++) {
        assert_true(tc_run_until_sent(f, 200 * US_SEC));
        tc_expect_raw(f, &r);
        assert_int_equal(r.flags, TCP_SYN);
        assert_int_equal(r.seq, iss);
        assert_int_equal((r.t - t0) / US_MSEC, at_ms[i]);
    }
    tc_advance(f, FLOW_MS(63999));
    assert_int_equal(c.n_closed, 0);
    tc_advance_ms(f, 1);
    flow_expect_none(f);
    assert_int_equal(c.n_closed, 1);
    assert_true(c.n_error >= 1);
    assert_int_equal(us_tcp_recv(c.pcb, (char[4]){0}, 4, false), -ETIMEDOUT);
    assert_int_equal(flow_counter(f, "tcp.timeout"), 1);
}

/* SYN-ACK retries (Linux tcp_synack_retries = 5): the SYN-ACK is resent
 * after 1, 2, 4, 8 and 16 s; 32 s later the embryonic connection is
 * dropped, and a late ACK then finds nothing (reset). */
static void test_synack_retries(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.lport = 8080;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.listener = tc_pcb(&c, f);
    assert_int_equal(us_tcp_bind(c.listener, NULL, 8080, false), 0);
    assert_int_equal(us_tcp_listen(c.listener, 4), 0);
    struct tc_opts none = tc_no_opts();
    us_time_t t0 = tc_now(f);
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    static const int at_ms[] = {1000, 3000, 7000, 15000, 31000};
    for (int i = 0; i < 5; i++) {
        assert_true(tc_run_until_sent(f, 200 * US_SEC));
        tc_out(&c, "S.", 0, 1, 0);
        assert_int_equal(tc_ms(&c, t0), at_ms[i]);
    }
    assert_int_equal(c.listener->syn_q_len, 1);
    tc_advance(f, 32 * US_SEC);
    flow_expect_none(f);
    assert_int_equal(c.listener->syn_q_len, 0);
    tc_in(&c, ".", 1, 1, 0);
    tc_out(&c, "R", 1, TC_ANY, 0); /* RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST> */
    assert_null(us_tcp_accept(c.listener));
}

/* A retransmitted SYN in SYN-RECEIVED (our SYN-ACK was lost) gets the
 * SYN-ACK again, not a new connection. */
static void test_syn_retransmit_in_syn_received(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.lport = 8080;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.listener = tc_pcb(&c, f);
    assert_int_equal(us_tcp_bind(c.listener, NULL, 8080, false), 0);
    assert_int_equal(us_tcp_listen(c.listener, 4), 0);
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    tc_advance_ms(f, 300);
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", 0, 1, 0);
    tc_expect_none(&c);
    assert_int_equal(c.listener->syn_q_len, 1);
    tc_in(&c, ".", 1, 1, 0);
    assert_non_null(tc_accept_child(&c));
}

/* RFC 9293 3.5 figure 8, simultaneous open: our SYN crosses the peer's.
 * The stack answers the SYN with a SYN-ACK (its own ISN, acking the
 * peer's) and the peer's SYN-ACK then establishes the connection. */
static void test_simultaneous_open(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.pcb = tc_pcb(&c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, TC_PEER_PORT), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    c.lport = r.sport;
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    assert_int_equal(c.pcb->state, TCPS_SYN_RECEIVED);
    tc_out(&c, "S.", 0, 1, 0);
    tc_in_full(&c, "S.", 0, 1, 65535, &none, 0);
    /* CORE BUG (see report): the SYN-ACK of a simultaneous open fails the
     * acceptability test (SEG.SEQ = IRS < RCV.NXT) and is answered with
     * yet another SYN-ACK instead of establishing the connection. */
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
    assert_int_equal(c.n_connected, 1);
    /* Nothing but, at most, an ACK. */
    if (flow_pending(f))
        tc_out(&c, ".", 1, 1, 0);
    tc_expect_none(&c);
    uint32_t off = 0;
    tc_send(&c, &off, 5);
    tc_out(&c, "P.", 1, 1, 5);
}

/* The same with the peer's ACK arriving alone (each side's SYN-ACK lost
 * but the ACKs got through). */
static void test_simultaneous_open_plain_ack(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.pcb = tc_pcb(&c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, TC_PEER_PORT), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    c.lport = r.sport;
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S", 0, 0, 65535, &none, 0);
    tc_out(&c, "S.", 0, 1, 0);
    tc_in(&c, ".", 1, 1, 0);
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
    assert_int_equal(c.n_connected, 1);
    tc_expect_none(&c);
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock. The
 * same 4-tuple one second later starts 250000 higher; other 4-tuples get
 * unrelated numbers; another stack (another secret) too. */
static uint32_t syn_isn(struct flow *f, struct tc_conn *c, uint16_t lport, uint16_t rport)
{
    c->pcb = tc_pcb(c, f);
    if (lport)
        assert_int_equal(us_tcp_bind(c->pcb, NULL, lport, true), 0);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c->pcb, &peer, rport), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    tc_close(c->pcb); /* SYN-SENT: just gone */
    flow_expect_none(f);
    return r.seq;
}

static void test_isn_rfc6528(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    uint32_t a = syn_isn(f, &c, 50000, 80);
    uint32_t b = syn_isn(f, &c, 50001, 80);
    uint32_t d = syn_isn(f, &c, 50000, 81);
    assert_int_not_equal(a, b);
    assert_int_not_equal(a, d);
    assert_int_not_equal(b, d);
    tc_advance(f, US_SEC);
    uint32_t a2 = syn_isn(f, &c, 50000, 80);
    assert_int_equal(a2 - a, 250000);
    tc_advance(f, 100 * US_SEC);
    uint32_t a3 = syn_isn(f, &c, 50000, 80);
    assert_int_equal(a3 - a2, 25000000);
    /* Another stack with another seed: another secret. */
    struct flow_opts o = {.seed = 99};
    struct flow *g = tc_flow(&o);
    struct tc_conn c2 = {0};
    uint32_t other = syn_isn(g, &c2, 50000, 80);
    assert_int_equal(us_now(g->s), FLOW_START_TIME); /* the same clock as a's SYN */
    assert_int_not_equal(other, a);
}

/* RFC 6056 with Linux's ip_local_port_range: ephemeral ports are in
 * 32768..60999 and distinct while in use. */
static void test_ephemeral_ports(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    static struct tc_conn conns[60];
    uint16_t ports[60];
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    for (int i = 0; i < 60; i++) {
        struct tc_conn *c = &conns[i];
        memset(c, 0, sizeof(*c));
        c->pcb = tc_pcb(c, f);
        assert_int_equal(us_tcp_connect(c->pcb, &peer, 80), 0);
        struct tc_rx r;
        tc_expect_raw(f, &r);
        ports[i] = r.sport;
        assert_int_equal(ports[i], c->pcb->lport);
        assert_true(ports[i] >= 32768 && ports[i] <= 60999);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ports[i], ports[j]);
    }
    /* Binding to port 0 picks from the same range. */
    struct tc_conn l = {0};
    struct us_tcp_pcb *pcb = tc_pcb(&l, f);
    assert_int_equal(us_tcp_bind(pcb, NULL, 0, false), 0);
    assert_true(pcb->lport >= 32768 && pcb->lport <= 60999);
}

/* A SYN-ACK to a SYN-SENT connection whose ACK is not for our SYN gets a
 * reset <SEQ=SEG.ACK><CTL=RST> and the connection keeps waiting
 * (RFC 9293 3.10.7.3). */
static void test_syn_sent_bad_ack(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.irs = TC_PEER_ISN;
    c.win = 65535;
    c.pcb = tc_pcb(&c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, TC_PEER_PORT), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    c.lport = r.sport;
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "S.", 0, 1000, 65535, &none, 0);
    tc_out(&c, "R", 1000, TC_ANY, 0);
    assert_int_equal(c.pcb->state, TCPS_SYN_SENT);
    tc_in_full(&c, "S.", 0, 0, 65535, &none, 0); /* SEG.ACK = ISS: not acceptable */
    tc_out(&c, "R", 0, TC_ANY, 0);
    assert_int_equal(c.pcb->state, TCPS_SYN_SENT);
    /* A RST with an unacceptable ACK is dropped; without ACK, ignored. */
    tc_in_full(&c, "R.", 0, 1000, 0, &none, 0);
    tc_in_full(&c, "R", 0, 0, 0, &none, 0);
    tc_expect_none(&c);
    assert_int_equal(c.pcb->state, TCPS_SYN_SENT);
    /* The right SYN-ACK still completes it. */
    tc_in_full(&c, "S.", 0, 1, 65535, &none, 0);
    tc_out(&c, ".", 1, 1, 0);
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
}

/* A RST acking our SYN refuses the connection: ECONNREFUSED. */
static void test_syn_sent_refused(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.f = f;
    c.pport = TC_PEER_PORT;
    c.irs = 0;
    c.win = 0;
    c.pcb = tc_pcb(&c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c.pcb, &peer, TC_PEER_PORT), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    c.iss = r.seq;
    c.lport = r.sport;
    struct tc_opts none = tc_no_opts();
    tc_in_full(&c, "R.", 0, 1, 0, &none, 0);
    tc_expect_none(&c);
    assert_int_equal(c.n_closed, 1);
    assert_int_equal(c.pcb->state, TCPS_CLOSED);
    assert_int_equal(us_tcp_take_error(c.pcb), ECONNREFUSED);
    /* No more SYNs. */
    tc_advance(f, 10 * US_SEC);
    tc_expect_none(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_active_open),       TC_TEST(test_syn_shape),
        TC_TEST(test_passive_open),      TC_TEST(test_syn_retries),
        TC_TEST(test_synack_retries),    TC_TEST(test_syn_retransmit_in_syn_received),
        TC_TEST(test_simultaneous_open), TC_TEST(test_simultaneous_open_plain_ack),
        TC_TEST(test_isn_rfc6528),       TC_TEST(test_ephemeral_ports),
        TC_TEST(test_syn_sent_bad_ack),  TC_TEST(test_syn_sent_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
