/* Flow tests for ICMPv4 (RFC 792, RFC 1122 3.2.2): echo, errors and when
 * not to send them, the error rate limit, and errors delivered to UDP. */
#include "flow.h"

#include <errno.h>
#include <string.h>

#include "udp/udp.h"

#define REASM_TIMEOUT (30 * US_SEC)

static const uint8_t ALLHOSTS_MAC[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};

static void test_echo_reply_mirrors_request(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t data[333];
    flow_pattern(data, sizeof(data), 4);
    flow_inject_echo(f, 0xabcd, 0x0102, data, sizeof(data)); /* odd length */
    struct flow_icmp_rx r;
    flow_expect_icmp(f, 0, 0, &r); /* the harness checks the checksum */
    assert_int_equal(r.id, 0xabcd);
    assert_int_equal(r.seq, 0x0102);
    assert_int_equal(r.dlen, sizeof(data));
    assert_memory_equal(r.data, data, sizeof(data));
    assert_int_equal(r.ip.src, FLOW_OUR_IP);
    assert_int_equal(r.ip.dst, FLOW_PEER_IP);
    assert_int_equal(r.ip.ttl, 64);
    assert_false(r.ip.mf);
    assert_memory_equal(r.ip.eth_dst, FLOW_PEER_MAC, 6);
    flow_expect_none(f);

    flow_inject_echo(f, 1, 65535, NULL, 0); /* no data */
    flow_expect_echo_reply(f, 1, 65535, NULL, 0);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "icmp4.echo_reply_out"), 2);
}

/* A request carrying IP options (IHL 6) is answered all the same. */
static void test_echo_with_ip_options(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t msg[8 + 16];
    size_t n = flow_build_echo(msg, 8, 5, 6, "0123456789abcdef", 16);
    static const uint8_t ra[4] = {0x94, 0x04, 0x00, 0x00}; /* router alert */
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.opts = ra;
    h.optlen = 4;
    flow_inject_ip4(f, NULL, &h, msg, n);
    flow_expect_echo_reply(f, 5, 6, "0123456789abcdef", 16);
    flow_expect_none(f);
}

/* RFC 1122 3.2.2.6: echoes to a broadcast or multicast address may be
 * ignored; ustack ignores them, like Linux by default. */
static void test_echo_to_broadcast_ignored(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t msg[8 + 4];
    size_t n = flow_build_echo(msg, 8, 9, 9, "bcst", 4);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    h.dst = flow_ip(10, 0, 0, 255);
    flow_inject_ip4(f, FLOW_BCAST_MAC, &h, msg, n);
    h.dst = flow_ip(255, 255, 255, 255);
    flow_inject_ip4(f, FLOW_BCAST_MAC, &h, msg, n);
    h.dst = flow_ip(224, 0, 0, 1);
    flow_inject_ip4(f, ALLHOSTS_MAC, &h, msg, n);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.icmp4_bcast_echo"), 3);
    /* The same request to our unicast address is answered. */
    h.dst = FLOW_OUR_IP;
    flow_inject_ip4(f, NULL, &h, msg, n);
    flow_expect_echo_reply(f, 9, 9, "bcst", 4);
    flow_expect_none(f);
}

/* Pops an ICMP error of type/code about `orig` (the IP datagram as sent by
 * the peer): it must quote the IP header and at least 8 bytes after it,
 * byte for byte. */
static void expect_error_quoting(struct flow *f, uint8_t type, uint8_t code, const uint8_t *orig,
                                 size_t orig_len)
{
    struct flow_icmp_rx e;
    flow_expect_icmp(f, type, code, &e);
    size_t hlen = (orig[0] & 15) * 4u;
    assert_int_equal(e.ip.src, FLOW_OUR_IP);
    assert_int_equal(e.ip.dst, FLOW_PEER_IP);
    assert_memory_equal(e.ip.eth_dst, FLOW_PEER_MAC, 6);
    assert_int_equal(e.id, 0); /* unused field */
    assert_int_equal(e.seq, 0);
    size_t want = orig_len < 548 ? orig_len : 548;
    assert_true(e.dlen >= hlen + 8);
    assert_int_equal(e.dlen, want);
    assert_memory_equal(e.data, orig, e.dlen);
    assert_true(e.ip.total_len <= 576);
}

static void test_port_unreachable(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t data[100], u[108], ip[128];
    flow_pattern(data, sizeof(data), 7);
    size_t ulen = flow_build_udp(u, FLOW_PEER_IP, FLOW_OUR_IP, 40000, 33333, data, sizeof(data),
                                 FLOW_CSUM_OK);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    size_t n = flow_build_ip4(ip, &h, u, ulen);
    flow_inject_ip4(f, NULL, &h, u, ulen);
    expect_error_quoting(f, 3, 3, ip, n);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.udp_no_port"), 1);

    /* A large datagram: the quote is cut to keep the error within 576. */
    static uint8_t big[1400], ubig[1408], ipbig[1428];
    ulen = flow_build_udp(ubig, FLOW_PEER_IP, FLOW_OUR_IP, 40000, 33333, big, sizeof(big),
                          FLOW_CSUM_OK);
    n = flow_build_ip4(ipbig, &h, ubig, ulen);
    flow_inject_ip4(f, NULL, &h, ubig, ulen);
    expect_error_quoting(f, 3, 3, ipbig, n);
    flow_expect_none(f);
}

/* RFC 1122 3.2.2.1: Protocol Unreachable for a transport we lack. */
static void test_protocol_unreachable(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t payload[40], ip[60];
    flow_pattern(payload, sizeof(payload), 8);
    struct flow_ip4 h = flow_ip4_hdr(253);
    size_t n = flow_build_ip4(ip, &h, payload, sizeof(payload));
    flow_inject_ip4(f, NULL, &h, payload, sizeof(payload));
    expect_error_quoting(f, 3, 2, ip, n);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_unknown_proto"), 1);
}

/* A datagram reassembled from fragments is answered about as a whole: the
 * error quotes the reassembled header (offset 0, no MF). */
static void test_error_about_reassembled_datagram(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    static uint8_t data[2000], u[2008];
    size_t ulen =
        flow_build_udp(u, FLOW_PEER_IP, FLOW_OUR_IP, 1, 33333, data, sizeof(data), FLOW_CSUM_OK);
    flow_inject_fragmented(f, PROTO_UDP, 0x2222, u, ulen, 1000, NULL, 0);
    struct flow_icmp_rx e;
    flow_expect_icmp(f, 3, 3, &e);
    assert_true(e.dlen >= 28);
    assert_int_equal(e.data[4] << 8 | e.data[5], 0x2222);
    assert_int_equal((e.data[6] << 8 | e.data[7]) & 0x3fff, 0); /* MF clear, offset 0 */
    assert_int_equal(e.data[2] << 8 | e.data[3], 20 + ulen);
    assert_memory_equal(e.data + 20, u, 8);
    flow_expect_none(f);
}

/* Injects a UDP datagram to closed port 33333 with header h at eth_dst. */
static void inject_closed_port(struct flow *f, const uint8_t *eth_dst, struct flow_ip4 *h)
{
    uint8_t u[16];
    size_t n = flow_build_udp(u, h->src, h->dst, 40000, 33333, "12345678", 8, FLOW_CSUM_OK);
    flow_inject_ip4(f, eth_dst, h, u, n);
}

/* RFC 1122 3.2.2: no error about a datagram to a broadcast or multicast
 * address, nor about one received as a link-layer broadcast. */
static void test_no_error_about_broadcast_or_multicast(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    h.dst = flow_ip(10, 0, 0, 255);
    inject_closed_port(f, FLOW_BCAST_MAC, &h);
    h.dst = flow_ip(255, 255, 255, 255);
    inject_closed_port(f, FLOW_BCAST_MAC, &h);
    h.dst = flow_ip(224, 0, 0, 1);
    inject_closed_port(f, ALLHOSTS_MAC, &h);
    h.dst = FLOW_OUR_IP; /* unicast IP, link broadcast */
    inject_closed_port(f, FLOW_BCAST_MAC, &h);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.udp_no_port"), 4);
    assert_int_equal(flow_counter(f, "icmp4.error_out"), 0);
    /* Control: plain unicast gets its error. */
    inject_closed_port(f, NULL, &h);
    flow_expect_icmp(f, 3, 3, NULL);
    flow_expect_none(f);
}

/* RFC 1122 3.2.2: no error about a datagram whose source does not define a
 * single host (0.0.0.0 here; broadcast sources are dropped earlier). */
static void test_no_error_about_source_zero(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    h.src = 0;
    inject_closed_port(f, NULL, &h);
    h.src = flow_ip(10, 0, 0, 255);
    inject_closed_port(f, NULL, &h);
    h.src = flow_ip(127, 0, 0, 1);
    inject_closed_port(f, NULL, &h);
    h = flow_ip4_hdr(253);
    h.src = 0;
    flow_inject_ip4(f, NULL, &h, "x", 1);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "icmp4.error_out"), 0);
}

/* RFC 1122 3.2.2: no error about an ICMP error. Here the error would be a
 * Time Exceeded for an incomplete fragmented ICMP Destination Unreachable;
 * the same for an incomplete echo request is sent (control). */
static void test_no_error_about_icmp_error(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    static uint8_t quote[1600], msg[1608];
    flow_pattern(quote, sizeof(quote), 1);
    size_t n = flow_build_icmp(msg, 3, 1, 0, quote, sizeof(quote));
    const int first[] = {0};
    flow_inject_fragmented(f, PROTO_ICMP, 0x3333, msg, n, 1000, first, 1);
    n = flow_build_echo(msg, 8, 1, 1, quote, sizeof(quote));
    flow_inject_fragmented(f, PROTO_ICMP, 0x4444, msg, n, 1000, first, 1);
    flow_advance(f, REASM_TIMEOUT - US_SEC);
    flow_prime_arp(f);
    flow_advance(f, 2 * US_SEC);
    struct flow_icmp_rx e;
    flow_expect_icmp(f, 11, 1, &e);
    assert_int_equal(e.data[4] << 8 | e.data[5], 0x4444); /* about the echo only */
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.ip4_frag_timeout"), 2);
}

/* RFC 1122 3.2.2: no error about a fragment other than the first. Only
 * later fragments of a datagram to a closed port: nothing, even when the
 * reassembly times out. */
static void test_no_error_about_non_first_fragment(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    static uint8_t data[2000], u[2008];
    size_t ulen =
        flow_build_udp(u, FLOW_PEER_IP, FLOW_OUR_IP, 1, 33333, data, sizeof(data), FLOW_CSUM_OK);
    const int later[] = {1, 2};
    flow_inject_fragmented(f, PROTO_UDP, 0x5555, u, ulen, 1000, later, 2);
    flow_advance(f, REASM_TIMEOUT + US_SEC);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "icmp4.error_out"), 0);
}

static void burst_closed_port(struct flow *f, int n)
{
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    for (int i = 0; i < n; i++) {
        h.id = (uint16_t)i;
        inject_closed_port(f, NULL, &h);
    }
}

static int count_errors(struct flow *f)
{
    int n = 0;
    while (flow_pending(f)) {
        flow_expect_icmp(f, 3, 3, NULL);
        n++;
    }
    return n;
}

/* Token bucket (burst 10, 100/s): 50 at once give 10 errors; 100 ms later
 * 10 tokens have come back; after a long pause the bucket holds no more
 * than the burst. */
static void test_error_rate_limit(void **state)
{
    (void)state;
    struct flow_opts o = {.icmp_burst = 10, .icmp_rate = 100};
    struct flow *f = flow_new(&o);
    flow_prime_arp(f);
    burst_closed_port(f, 50);
    assert_int_equal(count_errors(f), 10);
    assert_int_equal(flow_counter(f, "drop.icmp4_rate_limited"), 40);

    flow_advance_ms(f, 100);
    burst_closed_port(f, 50);
    assert_int_equal(count_errors(f), 10);
    assert_int_equal(flow_counter(f, "drop.icmp4_rate_limited"), 80);

    flow_advance_ms(f, 50);
    burst_closed_port(f, 50);
    assert_int_equal(count_errors(f), 5);

    flow_advance_ms(f, 10000);
    burst_closed_port(f, 50);
    assert_int_equal(count_errors(f), 10);
    assert_int_equal(flow_counter(f, "icmp4.error_out"), 35);
    assert_int_equal(flow_counter(f, "drop.icmp4_rate_limited"), 165);
}

/* Tokens accrue steadily: one every 10 ms at 100/s, with no loss from
 * frequent polling in between. */
static void test_error_rate_refill_steady(void **state)
{
    (void)state;
    struct flow_opts o = {.icmp_burst = 10, .icmp_rate = 100};
    struct flow *f = flow_new(&o);
    flow_prime_arp(f);
    burst_closed_port(f, 20);
    assert_int_equal(count_errors(f), 10);
    int sent = 0;
    for (int ms = 1; ms <= 100; ms++) {
        flow_advance_ms(f, 1);
        burst_closed_port(f, 1);
        sent += count_errors(f);
    }
    assert_int_equal(sent, 10);
}

/* Regression test: rate_allow() in
 * src/ip4/icmp4.c computes elapsed * icmp_rate_per_sec in 64 bits before
 * dividing; after a long enough quiet spell (2^64 / rate nanoseconds:
 * about 213 days at 1000/s, 5 hours at 1000000/s) the product wraps, and
 * for some gaps the refill comes out as zero: here, the first errors after
 * 2^64/1000 ns of silence are all suppressed although the bucket should be
 * full (RFC 1812 4.3.2.8 token bucket: tokens accrue up to the burst).
 * Capping elapsed at burst/rate seconds before multiplying fixes it. */
static void test_error_rate_after_long_quiet(void **state)
{
    (void)state;
    struct flow_opts o = {.icmp_burst = 10, .icmp_rate = 1000};
    struct flow *f = flow_new(&o);
    flow_prime_arp(f);
    burst_closed_port(f, 10);
    assert_int_equal(count_errors(f), 10);  /* bucket empty, last refill now */
    flow_advance(f, UINT64_MAX / 1000 + 1); /* elapsed * 1000 wraps to 384 */
    flow_prime_arp(f);
    burst_closed_port(f, 50);
    assert_int_equal(count_errors(f), 10);
}

static void test_bad_icmp_checksum_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    uint8_t msg[8 + 10];
    size_t n = flow_build_echo(msg, 8, 1, 1, "abcdefghij", 10);
    msg[2] ^= 0x10;
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    flow_inject_ip4(f, NULL, &h, msg, n);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.icmp4_bad_checksum"), 1);
    /* Too short for an ICMP header. */
    flow_inject_ip4(f, NULL, &h, msg, 7);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.icmp4_short"), 1);
    /* A type we do not handle (timestamp). */
    n = flow_build_icmp(msg, 13, 0, 0, "abcdefghij", 10);
    flow_inject_ip4(f, NULL, &h, msg, n);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.icmp4_unknown_type"), 1);
}

/* Sends one datagram through pcb to the peer and returns, in quote, its IP
 * header and first 8 UDP bytes as they went on the wire. */
static void send_and_capture(struct flow *f, struct us_udp_pcb *pcb, uint16_t dport,
                             uint8_t quote[28])
{
    assert_int_equal(flow_udp_send(f, pcb, dport, "query", 5), 0);
    struct flow_udp_rx u;
    flow_expect_udp(f, 0, dport, "query", 5, &u);
    assert_int_equal(u.ip.hlen, 20);
    memcpy(quote, u.ip.hdr, 28);
}

static void inject_port_unreachable(struct flow *f, const uint8_t quote[28])
{
    uint8_t msg[8 + 28];
    size_t n = flow_build_icmp(msg, 3, 3, 0, quote, 28);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    flow_inject_ip4(f, NULL, &h, msg, n);
}

/* A Port Unreachable about a datagram from a connected pcb reaches its
 * error callback as ECONNREFUSED; an unconnected pcb is not told (as Linux
 * without IP_RECVERR), nor is a pcb the error is not about. */
static void test_port_unreachable_to_connected_pcb(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    struct flow_udp_sink conn, unconn;
    struct us_udp_pcb *pc = flow_udp_open(f, &conn, 0);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_udp_connect(pc, &peer, 53), 0);
    struct us_udp_pcb *pu = flow_udp_open(f, &unconn, 5353);
    uint8_t qc[28], qu[28];
    send_and_capture(f, pc, 53, qc);
    send_and_capture(f, pu, 53, qu);

    inject_port_unreachable(f, qu);
    assert_int_equal(unconn.errs, 0);
    assert_int_equal(conn.errs, 0);

    uint8_t other[28];
    memcpy(other, qc, 28);
    other[22] ^= 0x01; /* another destination port */
    inject_port_unreachable(f, other);
    assert_int_equal(conn.errs, 0);

    inject_port_unreachable(f, qc);
    assert_int_equal(conn.errs, 1);
    assert_int_equal(conn.last_err, ECONNREFUSED);
    assert_int_equal(unconn.errs, 0);
    flow_expect_none(f); /* and no ICMP about the ICMP */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_echo_reply_mirrors_request),
        FLOW_TEST(test_echo_with_ip_options),
        FLOW_TEST(test_echo_to_broadcast_ignored),
        FLOW_TEST(test_port_unreachable),
        FLOW_TEST(test_protocol_unreachable),
        FLOW_TEST(test_error_about_reassembled_datagram),
        FLOW_TEST(test_no_error_about_broadcast_or_multicast),
        FLOW_TEST(test_no_error_about_source_zero),
        FLOW_TEST(test_no_error_about_icmp_error),
        FLOW_TEST(test_no_error_about_non_first_fragment),
        FLOW_TEST(test_error_rate_limit),
        FLOW_TEST(test_error_rate_refill_steady),
        FLOW_TEST(test_error_rate_after_long_quiet),
        FLOW_TEST(test_bad_icmp_checksum_dropped),
        FLOW_TEST(test_port_unreachable_to_connected_pcb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
