/* Flow tests for IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2):
 * order, duplicates, overlaps, timeout with Time Exceeded, limits. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/ip4_reassembly.h" /* US_REASM_MAX_DGRAMS */

/* The reassembly timeout ustack promises (Linux ipfrag_time); written out
 * rather than taken from the header so a change to it is noticed. */
#define REASM_TIMEOUT (30 * US_SEC)
#define ECHO_DATA 3000
#define FRAG 1480

static struct flow_dgram dg; /* large: keep off the stack */

/* An echo request message (ICMP header + data) in buf; returns its length. */
static size_t echo_msg(uint8_t *buf, uint16_t id, uint16_t seq, const uint8_t *data, size_t len)
{
    return flow_build_echo(buf, 8, id, seq, data, len);
}

/* Pops the (fragmented) echo reply and checks it mirrors the request. */
static void expect_big_echo_reply(struct flow *f, uint16_t id, uint16_t seq, const uint8_t *data,
                                  size_t len)
{
    flow_expect_dgram(f, 1500, &dg);
    assert_int_equal(dg.proto, PROTO_ICMP);
    assert_int_equal(dg.src, FLOW_OUR_IP);
    assert_int_equal(dg.dst, FLOW_PEER_IP);
    assert_int_equal(dg.plen, 8 + len);
    assert_int_equal(flow_csum(dg.payload, dg.plen), 0);
    assert_int_equal(dg.payload[0], 0);
    assert_int_equal(dg.payload[1], 0);
    assert_int_equal(dg.payload[4] << 8 | dg.payload[5], id);
    assert_int_equal(dg.payload[6] << 8 | dg.payload[7], seq);
    assert_memory_equal(dg.payload + 8, data, len);
}

struct echo_case {
    struct flow *f;
    uint8_t data[ECHO_DATA];
    uint8_t msg[8 + ECHO_DATA];
    size_t mlen;
};

static struct echo_case the_case;

static struct echo_case *echo_case_new(void)
{
    struct echo_case *c = &the_case;
    memset(c, 0, sizeof(*c));
    c->f = flow_new(NULL);
    flow_prime_arp(c->f);
    flow_pattern(c->data, sizeof(c->data), 42);
    c->mlen = echo_msg(c->msg, 0x4242, 7, c->data, sizeof(c->data));
    return c;
}

static void inject_order(struct echo_case *c, uint16_t ip_id, const int *order, int n)
{
    flow_inject_fragmented(c->f, PROTO_ICMP, ip_id, c->msg, c->mlen, FRAG, order, n);
}

static void test_in_order(void **state)
{
    (void)state;
    struct echo_case *c = echo_case_new();
    inject_order(c, 100, NULL, 0);
    expect_big_echo_reply(c->f, 0x4242, 7, c->data, ECHO_DATA);
    flow_expect_none(c->f);
    assert_int_equal(flow_counter(c->f, "ip4.reasm_ok"), 1);
    assert_int_equal(c->f->s->reasm.count, 0);
    assert_int_equal(c->f->s->reasm.mem, 0);
}

static void test_last_fragment_first(void **state)
{
    (void)state;
    struct echo_case *c = echo_case_new();
    const int order[] = {2, 1, 0};
    inject_order(c, 101, order, 3);
    expect_big_echo_reply(c->f, 0x4242, 7, c->data, ECHO_DATA);
    flow_expect_none(c->f);
    const int order2[] = {1, 2, 0};
    inject_order(c, 102, order2, 3);
    expect_big_echo_reply(c->f, 0x4242, 7, c->data, ECHO_DATA);
    flow_expect_none(c->f);
    assert_int_equal(flow_counter(c->f, "ip4.reasm_ok"), 2);
}

/* Exact duplicates are ignored and counted; the datagram is delivered once
 * and nothing is left behind to time out. */
static void test_exact_duplicates(void **state)
{
    (void)state;
    struct echo_case *c = echo_case_new();
    const int order[] = {0, 0, 2, 2, 1};
    inject_order(c, 103, order, 5);
    expect_big_echo_reply(c->f, 0x4242, 7, c->data, ECHO_DATA);
    flow_expect_none(c->f);
    assert_int_equal(flow_counter(c->f, "drop.ip4_frag_dup"), 2);
    assert_int_equal(flow_counter(c->f, "ip4.reasm_ok"), 1);
    assert_int_equal(c->f->s->reasm.count, 0);
    flow_advance(c->f, REASM_TIMEOUT + US_SEC);
    flow_expect_none(c->f);
}

/* A fragment that overlaps another without being its duplicate drops the
 * whole datagram: no reply, drop.ip4_frag_overlap. */
static void test_overlap_drops_datagram(void **state)
{
    (void)state;
    struct echo_case *c = echo_case_new();
    struct flow *f = c->f;
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.id = 104;
    h.mf = true;
    flow_inject_ip4(f, NULL, &h, c->msg, FRAG); /* [0, 1480) */
    h.off = FRAG - 8;                           /* [1472, 2952): overlaps by 8 */
    flow_inject_ip4(f, NULL, &h, c->msg + FRAG - 8, FRAG);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_overlap"), 1);
    h.off = FRAG; /* the right pieces now come too late */
    flow_inject_ip4(f, NULL, &h, c->msg + FRAG, FRAG);
    h.off = 2 * FRAG;
    h.mf = false;
    flow_inject_ip4(f, NULL, &h, c->msg + 2 * FRAG, c->mlen - 2 * FRAG);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "ip4.reasm_ok"), 0);
    /* The late pieces lack the first fragment: they expire silently. */
    flow_advance(f, REASM_TIMEOUT + US_SEC);
    flow_expect_none(f);
    assert_int_equal(f->s->reasm.count, 0);
}

/* A fragment overlapping the end of the previous one with different data
 * (the classic teardrop shape) is an overlap too. */
static void test_overlap_inside(void **state)
{
    (void)state;
    struct echo_case *c = echo_case_new();
    struct flow *f = c->f;
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.id = 105;
    h.mf = true;
    flow_inject_ip4(f, NULL, &h, c->msg, 1000);
    h.off = 496; /* inside [0, 1000) */
    flow_inject_ip4(f, NULL, &h, c->msg + 496, 16);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_overlap"), 1);
    assert_int_equal(f->s->reasm.count, 0);
}

/* No last fragment within REASM_TIMEOUT: the datagram is dropped and,
 * since its first fragment came, ICMP Time Exceeded code 1 (fragment
 * reassembly time exceeded, RFC 792) quotes that fragment's header and at
 * least its first 8 data bytes. */
static void test_timeout_time_exceeded(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    uint8_t data[ECHO_DATA], msg[8 + ECHO_DATA], first[20 + FRAG];
    flow_pattern(data, sizeof(data), 9);
    size_t mlen = echo_msg(msg, 1, 1, data, sizeof(data));
    const int order[] = {0, 1};
    flow_inject_fragmented(f, PROTO_ICMP, 106, msg, mlen, FRAG, order, 2);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.id = 106;
    h.mf = true;
    flow_build_ip4(first, &h, msg, FRAG);

    flow_advance(f, REASM_TIMEOUT - US_SEC);
    flow_prime_arp(f); /* so the error goes out at once when it is due */
    flow_advance(f, US_SEC - US_MSEC);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_timeout"), 0);
    flow_advance(f, US_MSEC);
    struct flow_icmp_rx e;
    flow_expect_icmp(f, 11, 1, &e);
    assert_int_equal(e.ip.t - f->t0, REASM_TIMEOUT);
    assert_int_equal(e.ip.src, FLOW_OUR_IP);
    assert_int_equal(e.ip.dst, FLOW_PEER_IP);
    assert_memory_equal(e.ip.eth_dst, FLOW_PEER_MAC, 6);
    assert_true(e.dlen >= 20 + 8);
    assert_true(e.dlen <= 20 + FRAG);
    assert_memory_equal(e.data, first, e.dlen); /* header (MF, offset 0, id) and data */
    assert_int_equal(e.ip.total_len <= 576, 1); /* RFC 1812 4.3.2.3 */
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_timeout"), 1);
    assert_int_equal(f->s->reasm.count, 0);
    assert_int_equal(f->s->reasm.mem, 0);
}

/* The timer runs from the first fragment received and is not restarted by
 * later ones. */
static void test_timeout_not_restarted(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    uint8_t msg[8 + ECHO_DATA] = {8};
    const int second[] = {1}, first[] = {0};
    flow_inject_fragmented(f, PROTO_ICMP, 107, msg, sizeof(msg), FRAG, second, 1);
    flow_advance(f, 20 * US_SEC);
    flow_inject_fragmented(f, PROTO_ICMP, 107, msg, sizeof(msg), FRAG, first, 1);
    flow_prime_arp(f);
    flow_advance(f, REASM_TIMEOUT - 20 * US_SEC);
    flow_expect_icmp(f, 11, 1, NULL);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_timeout"), 1);
}

/* Without the first fragment there is nothing to quote: no Time Exceeded. */
static void test_timeout_without_first_is_silent(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t msg[8 + ECHO_DATA] = {8};
    const int order[] = {1, 2};
    flow_inject_fragmented(f, PROTO_ICMP, 108, msg, sizeof(msg), FRAG, order, 2);
    flow_advance(f, REASM_TIMEOUT + US_SEC);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_timeout"), 1);
    assert_int_equal(flow_counter(f, "icmp4.error_out"), 0);
}

/* Reassembly memory is capped: many incomplete datagrams never push it
 * past the cap, the oldest are evicted (drop.ip4_frag_mem), and a complete
 * datagram arriving afterwards is still reassembled. */
static void test_memory_cap(void **state)
{
    (void)state;
    const uint32_t cap = 12000;
    struct flow_opts o = {.reasm_mem = cap};
    struct flow *f = flow_new(&o);
    flow_prime_arp(f);
    uint8_t msg[8 + ECHO_DATA] = {0};
    const int first[] = {0};
    for (int i = 0; i < 40; i++) {
        flow_inject_fragmented(f, PROTO_ICMP, (uint16_t)(200 + i), msg, sizeof(msg), FRAG, first,
                               1);
        assert_true(f->s->reasm.mem <= cap);
    }
    assert_true(f->s->reasm.mem > 0);
    assert_true(flow_counter(f, "drop.ip4_frag_mem") > 0);
    assert_true(f->s->reasm.count < 40);

    uint8_t data[ECHO_DATA], m2[8 + ECHO_DATA];
    flow_pattern(data, sizeof(data), 77);
    size_t mlen = echo_msg(m2, 9, 9, data, sizeof(data));
    flow_inject_fragmented(f, PROTO_ICMP, 999, m2, mlen, FRAG, NULL, 0);
    assert_true(f->s->reasm.mem <= cap);
    expect_big_echo_reply(f, 9, 9, data, ECHO_DATA);
    flow_expect_none(f);
}

/* Every fragment but the last carries a multiple of 8 bytes (RFC 791). */
static void test_non_last_not_multiple_of_8(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t msg[2000];
    size_t mlen = echo_msg(msg, 3, 3, NULL, 0);
    memset(msg + mlen, 0xab, sizeof(msg) - mlen);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.id = 300;
    h.mf = true;
    flow_inject_ip4(f, NULL, &h, msg, 1001);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_bad"), 1);
    assert_int_equal(f->s->reasm.count, 0);
    h.mf = false;
    h.off = 1008;
    flow_inject_ip4(f, NULL, &h, msg + 1008, 16);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "ip4.reasm_ok"), 0);
}

/* A fragment whose end lies beyond the 65535-byte datagram limit is
 * dropped (the ping-of-death shape); one ending just inside is kept. */
static void test_beyond_65535(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    uint8_t junk[64] = {0};
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.id = 400;
    h.off = 65528; /* the largest offset the header can carry */
    flow_inject_ip4(f, NULL, &h, junk, 16);
    h.off = 65472;
    flow_inject_ip4(f, NULL, &h, junk, 48); /* 20 + 65472 + 48 > 65535 */
    assert_int_equal(flow_counter(f, "drop.ip4_frag_too_big"), 2);
    assert_int_equal(f->s->reasm.count, 0);
    h.off = 65504;
    flow_inject_ip4(f, NULL, &h, junk, 8); /* 20 + 65512 <= 65535 */
    assert_int_equal(flow_counter(f, "drop.ip4_frag_too_big"), 2);
    assert_int_equal(f->s->reasm.count, 1);
    flow_expect_none(f);
}

/* At most US_REASM_MAX_DGRAMS datagrams are held: one more evicts the
 * oldest, which can then never complete, while the newest can. */
static void test_max_datagrams(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t data[ECHO_DATA], msg[8 + ECHO_DATA];
    flow_pattern(data, sizeof(data), 5);
    size_t mlen = echo_msg(msg, 5, 5, data, sizeof(data));
    const int first[] = {0}, rest[] = {1, 2};
    for (int i = 0; i <= US_REASM_MAX_DGRAMS; i++) {
        flow_inject_fragmented(f, PROTO_ICMP, (uint16_t)(1000 + i), msg, mlen, FRAG, first, 1);
        assert_true(f->s->reasm.count <= US_REASM_MAX_DGRAMS);
    }
    assert_int_equal(f->s->reasm.count, US_REASM_MAX_DGRAMS);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_mem"), 1);
    /* The oldest (1000) was evicted: its other fragments do not complete it. */
    flow_inject_fragmented(f, PROTO_ICMP, 1000, msg, mlen, FRAG, rest, 2);
    flow_expect_none(f);
    /* The newest completes. */
    flow_inject_fragmented(f, PROTO_ICMP, (uint16_t)(1000 + US_REASM_MAX_DGRAMS), msg, mlen, FRAG,
                           rest, 2);
    expect_big_echo_reply(f, 5, 5, data, ECHO_DATA);
    flow_expect_none(f);
}

/* Fragments of different datagrams (id, source, protocol) do not mix. */
static void test_keys_do_not_mix(void **state)
{
    (void)state;
    struct echo_case *c = echo_case_new();
    struct flow *f = c->f;
    const int first[] = {0}, rest[] = {1, 2};
    inject_order(c, 500, first, 1);
    inject_order(c, 501, rest, 2); /* other id */
    flow_expect_none(f);
    /* Same id, other protocol (253): its own datagram. */
    flow_inject_fragmented(f, 253, 500, c->msg, c->mlen, FRAG, rest, 2);
    flow_expect_none(f);
    assert_int_equal(f->s->reasm.count, 3);
    inject_order(c, 500, rest, 2);
    expect_big_echo_reply(f, 0x4242, 7, c->data, ECHO_DATA);
    flow_expect_none(f);
}

/* Regression test: the 65535-byte limit must hold
 * for the reassembled datagram, whose header is the first fragment's. Each
 * fragment is checked against its own header length only
 * (us_ip4_reasm_input: end + ip->hlen), so a first fragment with 40 bytes
 * of options and later ones without reassemble into 60 + 65515 = 65575
 * bytes; dgram_join truncates the total length to 16 bits (39), the
 * re-parse in us_ip4_input fails unchecked, and the datagram is delivered
 * anyway. RFC 791: a datagram is at most 65535 octets. */
static void test_reassembled_too_big_via_first_header_options(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 5000);
    const size_t ulen = 65535 - 20; /* the most a 20-byte-header fragment allows */
    uint8_t *dgram = malloc(ulen), *data = malloc(ulen - 8);
    assert_non_null(dgram);
    assert_non_null(data);
    flow_pattern(data, ulen - 8, 3);
    flow_build_udp(dgram, FLOW_PEER_IP, FLOW_OUR_IP, 1234, 5000, data, ulen - 8, FLOW_CSUM_OK);
    uint8_t opts[40];
    memset(opts, 1, sizeof(opts)); /* NOPs */
    opts[39] = 0;                  /* EOL */
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    h.id = 600;
    for (size_t off = 0; off < ulen; off += FRAG) {
        size_t chunk = ulen - off < FRAG ? ulen - off : FRAG;
        h.off = (uint16_t)off;
        h.mf = off + chunk < ulen;
        h.opts = off == 0 ? opts : NULL;
        h.optlen = off == 0 ? sizeof(opts) : 0;
        flow_inject_ip4(f, NULL, &h, dgram + off, chunk);
    }
    free(dgram);
    free(data);
    assert_int_equal(sink.count, 0);
    assert_true(flow_counter(f, "drop.ip4_frag_too_big") >= 1);
    assert_int_equal(flow_counter(f, "ip4.reasm_ok"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_in_order),
        FLOW_TEST(test_last_fragment_first),
        FLOW_TEST(test_exact_duplicates),
        FLOW_TEST(test_overlap_drops_datagram),
        FLOW_TEST(test_overlap_inside),
        FLOW_TEST(test_timeout_time_exceeded),
        FLOW_TEST(test_timeout_not_restarted),
        FLOW_TEST(test_timeout_without_first_is_silent),
        FLOW_TEST(test_memory_cap),
        FLOW_TEST(test_non_last_not_multiple_of_8),
        FLOW_TEST(test_beyond_65535),
        FLOW_TEST(test_max_datagrams),
        FLOW_TEST(test_keys_do_not_mix),
        FLOW_TEST(test_reassembled_too_big_via_first_header_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
