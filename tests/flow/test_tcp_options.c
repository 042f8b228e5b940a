/* TCP flow tests: options on the handshake (RFC 9293 3.1 and 3.7.1, RFC
 * 6691, RFC 7323, RFC 2018) in every combination, and malformed options
 * (dropped, counted drop.tcp_bad_option). */
#include "flow_tcp.h"

#include <string.h>

#include "core/stack.h"

static struct tc_opts combo(int bits, uint16_t mss)
{
    struct tc_opts o = tc_no_opts();
    o.mss_ok = bits & 1;
    o.mss = mss;
    o.ws_ok = bits & 2;
    o.ws = 7;
    o.sack_ok = bits & 4;
    o.ts_ok = bits & 8;
    return o;
}

/* What the agreed options must look like on the pcb and on the wire after
 * a handshake whose peer sent o (mss 1200 when present). */
static void check_agreed(struct tc_conn *c, const struct tc_opts *o, int bits)
{
    uint16_t base = o->mss_ok ? 1200 : 536; /* RFC 9293 3.7.1: 536 by default */
    if (c->pcb->mss != base - (o->ts_ok ? 12 : 0))
        fail_msg("combo %d: mss %u, expected %u", bits, c->pcb->mss, base - (o->ts_ok ? 12 : 0));
    assert_int_equal(c->pcb->ts_ok, o->ts_ok);
    assert_int_equal(c->pcb->sack_ok, o->sack_ok);
    assert_int_equal(c->pcb->ws_ok, o->ws_ok);
    assert_int_equal(c->pcb->snd_wscale, o->ws_ok ? 7 : 0);
    if (!o->ws_ok)
        assert_int_equal(c->pcb->rcv_wscale, 0); /* RFC 7323 2.2: both or neither */
    /* The peer's window from now on is scaled (by 7 when agreed). */
    tc_in_full(c, ".", 1, 1, 100, NULL, 0);
    assert_int_equal(c->pcb->snd_wnd, 100u << (o->ws_ok ? 7 : 0));
    c->win = o->ws_ok ? 1000 : 65535; /* 128000 or 65535 bytes */
    tc_in(c, ".", 1, 1, 0);
    /* A full segment is the agreed MSS (less the timestamp option). */
    uint32_t off = 0;
    c->pcb->nodelay = true; /* the tail too, without waiting for an ACK */
    tc_send(c, &off, 3000);
    uint32_t seg = c->pcb->mss;
    for (uint32_t sent = 0; sent < 3000;) {
        uint32_t len = 3000 - sent < seg ? 3000 - sent : seg;
        tc_out(c, ".", 1 + sent, 1, len);
        assert_int_equal(c->rx.opt.ts_ok, o->ts_ok);
        sent += len;
    }
    /* Our window: unscaled and at most 65535 without WS. */
    if (!o->ws_ok)
        assert_true(c->rx.win <= 65535);
    tc_in(c, ".", 1, 3001, 0);
    tc_expect_none(c);
}

/* Passive open, each of MSS / WS / SACK-permitted / timestamps present or
 * absent in the SYN: the SYN-ACK answers exactly what was offered (it
 * always carries MSS), and the connection uses what was agreed. */
static void test_passive_option_combinations(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    for (int bits = 0; bits < 16; bits++) {
        struct tc_conn c = {0};
        struct tc_opts o = combo(bits, 1200);
        tc_accept(&c, f, (uint16_t)(8000 + bits), &o);
        if (o.ws_ok)
            assert_true(c.rx.opt.ws <= 14);
        check_agreed(&c, &o, bits);
    }
}

/* Active open, each option present or absent in the SYN-ACK. */
static void test_active_option_combinations(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    for (int bits = 0; bits < 16; bits++) {
        struct tc_conn c = {0};
        struct tc_opts o = combo(bits, 1200);
        tc_connect(&c, f, &o);
        check_agreed(&c, &o, bits);
    }
}

/* The peer's MSS above ours: we still send at most what our MTU allows;
 * our own SYN announces MTU - 40, or TCP_MAXSEG when smaller. */
static void test_mss_limits(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    struct tc_opts o = tc_linux_opts();
    o.mss = 9000;
    tc_connect(&c, f, &o);
    assert_int_equal(c.pcb->mss, 1460 - 12);

    struct tc_conn d = {0};
    d.pcb = tc_pcb(&d, f);
    d.pcb->user_mss = 1000;
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(d.pcb, &peer, 81), 0);
    struct tc_rx r;
    tc_expect_raw(f, &r);
    assert_int_equal(r.opt.mss, 1000);

    /* A smaller MTU shows in the MSS. */
    struct flow_opts fo = {.mtu = 1280};
    struct flow *g = tc_flow(&fo);
    struct tc_conn e = {0};
    tc_connect(&e, g, NULL);
    assert_int_equal(e.mss, 1240);
}

/* RFC 7323 2.3: a shift above 14 is used as 14. */
static void test_window_scale_above_14(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    struct tc_opts o = tc_linux_opts();
    o.ws = 15;
    tc_accept(&c, f, 8080, &o);
    assert_int_equal(c.pcb->snd_wscale, 14);
}

/* RFC 7323 2.2: the window of a SYN (and SYN-ACK) is never scaled. */
static void test_syn_window_unscaled(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    c.win = 1000;
    tc_accept(&c, f, 8080, NULL);
    /* The handshake's ACK carried 1000 << 7. */
    assert_int_equal(c.pcb->snd_wnd, 1000u << 7);
    struct tc_conn d = {0};
    d.win = 3000;
    tc_connect(&d, f, NULL);
    assert_int_equal(d.pcb->snd_wnd, 3000); /* from the SYN-ACK: unscaled */
}

/* RFC 7323 4.3: TSecr echoes the TSval of the segment that advanced
 * RCV.NXT; TSval is our clock in milliseconds. */
static void test_timestamp_echo(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t tsval0 = c.ts_last;
    tc_advance_ms(f, 500);
    struct tc_opts o = tc_no_opts();
    o.ts_ok = true;
    o.tsval = 777777;
    o.tsecr = c.ts_last;
    tc_in_full(&c, "P.", 1, 1, c.win, &o, 10);
    tc_advance_ms(f, 40);
    tc_out(&c, ".", 1, 11, 0);
    assert_int_equal(c.rx.opt.tsecr, 777777);
    assert_int_equal(c.rx.opt.tsval - tsval0, 540);
}

/* Unknown options with a proper length are skipped; anything after EOL
 * is ignored. */
static void test_unknown_options_skipped(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    static const uint8_t raw[] = {30, 4, 0xab, 0xcd, 2, 4, 0x04, 0x00, 0, 0xff, 0xff, 0xff};
    struct tc_opts o = tc_no_opts();
    o.raw = raw;
    o.rawlen = sizeof(raw);
    tc_accept(&c, f, 8080, &o);
    assert_int_equal(c.pcb->mss, 1024);
    assert_int_equal(flow_counter(f, "drop.tcp_bad_option"), 0);
}

struct bad_opt {
    const char *what;
    uint8_t bytes[12];
    size_t len;
};

static const struct bad_opt bad_opts[] = {
    {"MSS length 3", {2, 3, 5, 1}, 4},
    {"MSS length 5", {2, 5, 5, 0xb4, 0, 1, 1, 1}, 8},
    {"WS length 2", {3, 2, 1, 1}, 4},
    {"WS length 4", {3, 4, 7, 0}, 4},
    {"SACK-permitted length 3", {4, 3, 0, 1}, 4},
    {"timestamp length 8", {8, 8, 0, 0, 0, 1, 0, 0}, 8},
    {"timestamp length 12", {8, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 12},
    {"SACK length 9", {5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}, 12},
    {"unknown option length 0", {30, 0, 1, 1}, 4},
    {"unknown option length 1", {30, 1, 1, 1}, 4},
    {"length past the header", {8, 10, 0, 0}, 4},
    {"kind without a length octet", {1, 1, 1, 2}, 4},
};

/* RFC 9293 3.1 / 3.10.7: a malformed option makes the segment
 * untrustworthy: a SYN carrying one is dropped without an answer and
 * counted. */
static void test_malformed_options_on_syn(void **state)
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
    assert_int_equal(us_tcp_listen(c.listener, 16), 0);
    size_t n = sizeof(bad_opts) / sizeof(bad_opts[0]);
    for (size_t i = 0; i < n; i++) {
        struct tc_opts o = tc_no_opts();
        o.raw = bad_opts[i].bytes;
        o.rawlen = bad_opts[i].len;
        c.pport = (uint16_t)(TC_PEER_PORT + i);
        tc_in_full(&c, "S", 0, 0, 65535, &o, 0);
        if (flow_pending(f))
            fail_msg("%s: the SYN was answered", bad_opts[i].what);
        if (flow_counter(f, "drop.tcp_bad_option") != i + 1)
            fail_msg("%s: not counted as drop.tcp_bad_option", bad_opts[i].what);
    }
    assert_int_equal(c.listener->syn_q_len, 0);
    assert_int_equal(flow_counter(f, "tcp.passive_open"), 0);
}

/* The same on an established connection: the data is not taken, nothing
 * is sent (not even an ACK), the connection is unharmed. */
static void test_malformed_options_on_data(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    size_t n = sizeof(bad_opts) / sizeof(bad_opts[0]);
    for (size_t i = 0; i < n; i++) {
        struct tc_opts o = tc_no_opts();
        o.raw = bad_opts[i].bytes;
        o.rawlen = bad_opts[i].len;
        tc_in_full(&c, "P.", 1, 1, c.win, &o, 20);
        if (flow_pending(f))
            fail_msg("%s: the segment was answered", bad_opts[i].what);
        assert_int_equal(us_tcp_readable(c.pcb), 0);
    }
    assert_int_equal(flow_counter(f, "drop.tcp_bad_option"), n);
    /* A bad RST is no reset either. */
    struct tc_opts o = tc_no_opts();
    o.raw = bad_opts[0].bytes;
    o.rawlen = bad_opts[0].len;
    tc_in_full(&c, "R", 1, 0, 0, &o, 0);
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
    tc_in(&c, "P.", 1, 1, 20);
    assert_int_equal(us_tcp_readable(c.pcb), 20);
}

/* A corrupted checksum is dropped and counted too. */
static void test_bad_checksum(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    struct tc_seg s = {.sport = c.pport,
                       .dport = c.lport,
                       .seq = c.irs + 1,
                       .ack = c.iss + 1,
                       .flags = TCP_ACK | TCP_RST,
                       .win = 100,
                       .bad_csum = true};
    tc_inject(f, &s);
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
    assert_int_equal(flow_counter(f, "drop.tcp_bad_checksum"), 1);
    tc_expect_none(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_passive_option_combinations),
        TC_TEST(test_active_option_combinations),
        TC_TEST(test_mss_limits),
        TC_TEST(test_window_scale_above_14),
        TC_TEST(test_syn_window_unscaled),
        TC_TEST(test_timestamp_echo),
        TC_TEST(test_unknown_options_skipped),
        TC_TEST(test_malformed_options_on_syn),
        TC_TEST(test_malformed_options_on_data),
        TC_TEST(test_bad_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
