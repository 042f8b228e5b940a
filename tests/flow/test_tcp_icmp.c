/* TCP flow tests: ICMP errors for TCP (RFC 5927, RFC 1122 4.2.3.9, RFC
 * 1191): believed only when they quote a sequence number in flight; a
 * hard error aborts only a connection in SYN-SENT; "fragmentation needed"
 * lowers the MSS. */
#include "flow_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/stack.h"

/* Injects ICMP type/code from the peer quoting the IP header and the
 * first 8 TCP bytes of the segment last popped on c, with its sequence
 * number moved by seq_delta. */
static void icmp_quoting(struct tc_conn *c, uint8_t type, uint8_t code, uint32_t rest_host,
                         uint32_t seq_delta)
{
    uint8_t quote[60 + 8];
    size_t hlen = c->rx.ip.hlen;
    memcpy(quote, c->rx.ip.hdr, hlen + 8);
    uint8_t *seq = quote + hlen + 4;
    uint32_t v =
        ((uint32_t)seq[0] << 24 | (uint32_t)seq[1] << 16 | (uint32_t)seq[2] << 8 | seq[3]) +
        seq_delta;
    seq[0] = (uint8_t)(v >> 24);
    seq[1] = (uint8_t)(v >> 16);
    seq[2] = (uint8_t)(v >> 8);
    seq[3] = (uint8_t)v;
    uint8_t msg[8 + sizeof(quote)];
    size_t n = flow_build_icmp(msg, type, code, htonl(rest_host), quote, hlen + 8);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    flow_inject_ip4(c->f, NULL, &h, msg, n);
}

static void start_connect(struct tc_conn *c, struct flow *f)
{
    memset(c, 0, sizeof(*c));
    c->f = f;
    c->pport = TC_PEER_PORT;
    c->irs = TC_PEER_ISN;
    c->win = 65535;
    c->pcb = tc_pcb(c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_tcp_connect(c->pcb, &peer, TC_PEER_PORT), 0);
    tc_expect_raw(f, &c->rx);
    c->iss = c->rx.seq;
    c->lport = c->rx.sport;
}

/* Port unreachable quoting our SYN: ECONNREFUSED, no more SYNs. */
static void test_port_unreachable_in_syn_sent(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    start_connect(&c, f);
    icmp_quoting(&c, 3, 3, 0, 0);
    assert_int_equal(c.pcb->state, TCPS_CLOSED);
    assert_int_equal(c.n_closed, 1);
    assert_int_equal(us_tcp_take_error(c.pcb), ECONNREFUSED);
    tc_advance(f, 10 * US_SEC);
    tc_expect_none(&c);
}

/* Host unreachable quoting our SYN also ends the attempt at once, with
 * EHOSTUNREACH, as Linux's tcp_v4_err() does for a connection opening. */
static void test_host_unreachable_in_syn_sent(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    start_connect(&c, f);
    icmp_quoting(&c, 3, 1, 0, 0);
    assert_int_equal(c.pcb->state, TCPS_CLOSED);
    assert_int_equal(us_tcp_take_error(c.pcb), EHOSTUNREACH);
    tc_advance(f, 10 * US_SEC);
    tc_expect_none(&c);
}

/* The same error quoting a sequence number we never sent is ignored and
 * counted (drop.tcp_icmp_invalid): RFC 5927 4.1. */
static void test_port_unreachable_bad_seq(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    start_connect(&c, f);
    icmp_quoting(&c, 3, 3, 0, 1000);
    icmp_quoting(&c, 3, 3, 0, (uint32_t)-1);
    assert_int_equal(c.pcb->state, TCPS_SYN_SENT);
    assert_int_equal(flow_counter(f, "drop.tcp_icmp_invalid"), 2);
    assert_true(tc_run_until_sent(f, 2 * US_SEC));
    tc_out(&c, "S", 0, TC_ANY, 0);
}

/* An error for no connection at all is counted and ignored. */
static void test_icmp_for_unknown_connection(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c;
    start_connect(&c, f);
    uint8_t saved[2]; /* quote our SYN, but with another port */
    uint8_t *tcp = (uint8_t *)c.rx.ip.hdr + c.rx.ip.hlen;
    memcpy(saved, tcp, 2);
    tcp[0] ^= 0x01;
    icmp_quoting(&c, 3, 3, 0, 0);
    memcpy(tcp, saved, 2);
    assert_int_equal(c.pcb->state, TCPS_SYN_SENT);
    assert_int_equal(flow_counter(f, "drop.tcp_icmp_invalid"), 1);
}

/* RFC 5927 / Linux: a hard error on an established connection does not
 * abort it (it would let anyone kill connections). */
static void test_port_unreachable_established_ignored(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_connect(&c, f, NULL);
    uint32_t off = 0;
    tc_send(&c, &off, 100);
    tc_out(&c, "P.", 1, 1, 100);
    icmp_quoting(&c, 3, 3, 0, 0);
    icmp_quoting(&c, 3, 1, 0, 0); /* host unreachable */
    assert_int_equal(c.pcb->state, TCPS_ESTABLISHED);
    assert_int_equal(c.n_closed, 0);
    tc_in(&c, ".", 1, 101, 0);
    tc_send(&c, &off, 10);
    tc_out(&c, "P.", 101, 1, 10);
}

/* RFC 1191: "fragmentation needed" with a next-hop MTU of 1000, quoting
 * data in flight: what is outstanding is resent in segments that fit
 * (IP total length <= 1000, options included). */
static void test_frag_needed_lowers_mss(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_connect(&c, f, NULL);
    uint32_t off = 0;
    tc_send(&c, &off, 2 * 1448);
    tc_out(&c, ".", 1, 1, 1448);
    tc_out(&c, "P.", 1449, 1, 1448);
    icmp_quoting(&c, 3, 4, 1000, (uint32_t)-1448);
    uint32_t seq = 1;
    while (seq < 1 + 2 * 1448) {
        tc_out(&c, ".", seq, 1, TC_ANY);
        /* CORE BUG (see report): the MSS becomes MTU - 40 without room for
         * the 12-byte timestamp option, so the segments are 1012 bytes. */
        if (c.rx.ip.total_len > 1000)
            fail_msg("segment at %u is %u bytes, over the 1000-byte path MTU", seq,
                     c.rx.ip.total_len);
        seq += (uint32_t)c.rx.len;
    }
    tc_expect_none(&c);
}

/* A "fragmentation needed" quoting an old (acknowledged) sequence number
 * is ignored. */
static void test_frag_needed_old_seq_ignored(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_connect(&c, f, NULL);
    uint32_t off = 0;
    tc_send(&c, &off, 100);
    tc_out(&c, "P.", 1, 1, 100);
    tc_in(&c, ".", 1, 101, 0);
    icmp_quoting(&c, 3, 4, 600, 0);
    tc_expect_none(&c);
    assert_int_equal(c.pcb->mss, 1448);
    assert_int_equal(flow_counter(f, "drop.tcp_icmp_invalid"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC_TEST(test_port_unreachable_in_syn_sent),
        TC_TEST(test_host_unreachable_in_syn_sent),
        TC_TEST(test_port_unreachable_bad_seq),
        TC_TEST(test_icmp_for_unknown_connection),
        TC_TEST(test_port_unreachable_established_ignored),
        TC_TEST(test_frag_needed_lowers_mss),
        TC_TEST(test_frag_needed_old_seq_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
