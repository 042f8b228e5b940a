/* Flow tests for UDP input and pcbs (RFC 768, RFC 1122 4.1, RFC 6056). */
#include "flow.h"

#include <errno.h>
#include <string.h>

#include "core/stack.h"
#include "udp/udp.h"

/* Injects UDP 10.0.0.1:sport -> 10.0.0.2:dport with a checksum mode, the
 * UDP length field optionally overridden (0: correct). */
static void inject_udp(struct flow *f, uint16_t sport, uint16_t dport, const char *text,
                       enum flow_csum mode, uint16_t len_field)
{
    uint8_t u[256];
    size_t n = flow_build_udp(u, FLOW_PEER_IP, FLOW_OUR_IP, sport, dport, text, strlen(text), mode);
    if (len_field) {
        u[4] = (uint8_t)(len_field >> 8);
        u[5] = (uint8_t)len_field;
    }
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    flow_inject_ip4(f, NULL, &h, u, n);
}

static void test_delivered_with_source(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp(f, 1234, 7000, "hello", FLOW_CSUM_OK, 0);
    assert_int_equal(sink.count, 1);
    assert_int_equal(sink.len, 5);
    assert_memory_equal(sink.data, "hello", 5);
    assert_int_equal(sink.sport, 1234);
    assert_int_equal(sink.src.v4, FLOW_PEER_IP);
    assert_int_equal(sink.dst.v4, FLOW_OUR_IP);
    assert_int_equal(flow_counter(f, "udp.rx"), 1);
    flow_expect_none(f);
}

/* A bad checksum drops the datagram, counted, with no Port Unreachable
 * either (nothing about it can be trusted). */
static void test_bad_checksum_dropped(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp(f, 1234, 7000, "hello", FLOW_CSUM_BAD, 0);
    inject_udp(f, 1234, 7001, "closed", FLOW_CSUM_BAD, 0);
    assert_int_equal(sink.count, 0);
    flow_expect_none(f);
    assert_int_equal(flow_counter(f, "drop.udp_bad_checksum"), 2);
    assert_int_equal(flow_counter(f, "udp.rx"), 0);
}

/* RFC 768: a zero checksum means the sender computed none (IPv4). */
static void test_zero_checksum_accepted(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp(f, 1234, 7000, "nocsum", FLOW_CSUM_ZERO, 0);
    assert_int_equal(sink.count, 1);
    assert_memory_equal(sink.data, "nocsum", 6);
}

/* A length field larger than the IP payload is dropped (drop.udp_bad_len);
 * one smaller than the header too. A smaller but valid length delivers
 * only that many bytes (the rest is IP padding). */
static void test_bad_length(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    inject_udp(f, 1234, 7000, "hello", FLOW_CSUM_ZERO, 8 + 6);
    inject_udp(f, 1234, 7000, "hello", FLOW_CSUM_ZERO, 7);
    assert_int_equal(sink.count, 0);
    assert_int_equal(flow_counter(f, "drop.udp_bad_len"), 2);
    inject_udp(f, 1234, 7000, "hello", FLOW_CSUM_ZERO, 8 + 3);
    assert_int_equal(sink.count, 1);
    assert_int_equal(sink.len, 3);
    assert_memory_equal(sink.data, "hel", 3);
}

/* Links a second pcb on a port already bound, as an SO_REUSEADDR bind
 * would: the pcb API has no way to do that, and the demultiplexer must
 * still pick the most specific match. */
static struct us_udp_pcb *add_pcb_on_port(struct flow *f, struct flow_udp_sink *sink,
                                          uint32_t local, uint16_t port, uint32_t remote,
                                          uint16_t rport)
{
    struct us_udp_pcb *pcb = flow_udp_open(f, sink, 0);
    pcb->local = us_addr4(local);
    pcb->lport = port;
    pcb->remote = us_addr4(remote);
    pcb->rport = rport;
    pcb->bound = true;
    struct us_udp_pcb **head = &f->s->udp.hash[port & (US_UDP_HASH - 1)];
    pcb->next = *head;
    *head = pcb;
    return pcb;
}

/* A datagram goes to the most specific pcb: connected 4-tuple over bound
 * address over wildcard, whatever the order the pcbs were created in. */
static void most_specific(bool reverse)
{
    struct flow *f = flow_new(NULL);
    static struct flow_udp_sink wild, addr, conn;
    if (reverse) {
        add_pcb_on_port(f, &addr, FLOW_OUR_IP, 8000, 0, 0);
        add_pcb_on_port(f, &wild, 0, 8000, 0, 0);
        add_pcb_on_port(f, &conn, FLOW_OUR_IP, 8000, FLOW_PEER_IP, 1111);
    } else {
        add_pcb_on_port(f, &conn, FLOW_OUR_IP, 8000, FLOW_PEER_IP, 1111);
        add_pcb_on_port(f, &wild, 0, 8000, 0, 0);
        add_pcb_on_port(f, &addr, FLOW_OUR_IP, 8000, 0, 0);
    }

    inject_udp(f, 1111, 8000, "to-conn", FLOW_CSUM_OK, 0);
    assert_int_equal(conn.count, 1);
    assert_int_equal(addr.count + wild.count, 0);

    inject_udp(f, 2222, 8000, "to-addr", FLOW_CSUM_OK, 0); /* other source port */
    assert_int_equal(addr.count, 1);
    assert_int_equal(conn.count + wild.count, 1);

    /* To the subnet broadcast: only the wildcard pcb matches. */
    uint8_t u[32];
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    h.dst = flow_ip(10, 0, 0, 255);
    size_t n = flow_build_udp(u, h.src, h.dst, 1111, 8000, "to-wild", 7, FLOW_CSUM_OK);
    flow_inject_ip4(f, FLOW_BCAST_MAC, &h, u, n);
    assert_int_equal(wild.count, 1);
    assert_memory_equal(wild.data, "to-wild", 7);
    assert_int_equal(conn.count, 1);
    assert_int_equal(addr.count, 1);
    flow_free(f);
}

static void test_most_specific_pcb(void **state)
{
    (void)state;
    most_specific(false);
    most_specific(true);
}

/* Only the public API: a connected pcb receives only from its peer; a
 * datagram from elsewhere to its port finds no pcb. */
static void test_connected_pcb_filters_source(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    struct flow_udp_sink sink;
    struct us_udp_pcb *pcb = flow_udp_open(f, &sink, 9100);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    assert_int_equal(us_udp_connect(pcb, &peer, 53), 0);
    inject_udp(f, 53, 9100, "answer", FLOW_CSUM_OK, 0);
    assert_int_equal(sink.count, 1);
    inject_udp(f, 54, 9100, "other", FLOW_CSUM_OK, 0);
    assert_int_equal(sink.count, 1);
    flow_expect_icmp(f, 3, 3, NULL); /* no pcb for it: port unreachable */
    flow_expect_none(f);
}

/* RFC 6056 / Linux ip_local_port_range: ephemeral ports in 32768..60999,
 * distinct across consecutive binds. */
static void test_ephemeral_ports(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    static struct flow_udp_sink sinks[40];
    uint16_t ports[40];
    for (int i = 0; i < 40; i++) {
        struct us_udp_pcb *pcb = flow_udp_open(f, &sinks[i], 0);
        assert_int_equal(us_udp_bind(pcb, NULL, 0), 0);
        ports[i] = pcb->lport;
        assert_true(ports[i] >= 32768 && ports[i] <= 60999);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ports[i], ports[j]);
    }
    /* Sending from an unbound pcb binds one too, and it is the source port. */
    flow_prime_arp(f);
    struct flow_udp_sink s2;
    struct us_udp_pcb *pcb = flow_udp_open(f, &s2, 0);
    assert_int_equal(flow_udp_send(f, pcb, 9, "x", 1), 0);
    struct flow_udp_rx u;
    flow_expect_udp(f, 0, 9, "x", 1, &u);
    assert_true(u.sport >= 32768 && u.sport <= 60999);
    assert_int_equal(u.sport, pcb->lport);
}

static void test_bind_in_use(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink a, b, c;
    flow_udp_open(f, &a, 6000);
    struct us_udp_pcb *pb = flow_udp_open(f, &b, 0);
    struct us_addr any = us_addr4(0), ours = us_addr4(FLOW_OUR_IP);
    assert_int_equal(us_udp_bind(pb, &any, 6000), -EADDRINUSE);
    assert_int_equal(us_udp_bind(pb, &ours, 6000), -EADDRINUSE);
    struct us_addr foreign = us_addr4(flow_ip(192, 0, 2, 1));
    assert_int_equal(us_udp_bind(pb, &foreign, 6001), -EADDRNOTAVAIL);
    assert_int_equal(us_udp_bind(pb, &ours, 6001), 0);
    assert_int_equal(us_udp_bind(pb, &ours, 6002), -EINVAL); /* already bound */
    struct us_udp_pcb *pc = flow_udp_open(f, &c, 0);
    assert_int_equal(us_udp_bind(pc, &any, 6001), -EADDRINUSE);
    /* The first binding still works. */
    inject_udp(f, 1, 6000, "a", FLOW_CSUM_OK, 0);
    inject_udp(f, 1, 6001, "b", FLOW_CSUM_OK, 0);
    assert_int_equal(a.count, 1);
    assert_int_equal(b.count, 1);
    assert_int_equal(c.count, 0);
}

/* An IP header with options (IHL 6) does not disturb UDP. */
static void test_ip_options_delivered(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    uint8_t u[32];
    size_t n = flow_build_udp(u, FLOW_PEER_IP, FLOW_OUR_IP, 99, 7000, "opts", 4, FLOW_CSUM_OK);
    static const uint8_t ra[4] = {0x94, 0x04, 0x00, 0x00};
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    h.opts = ra;
    h.optlen = 4;
    flow_inject_ip4(f, NULL, &h, u, n);
    assert_int_equal(sink.count, 1);
    assert_int_equal(sink.len, 4);
    assert_memory_equal(sink.data, "opts", 4);
    assert_int_equal(sink.sport, 99);
}

/* Link padding after the IP datagram is not taken as UDP data. */
static void test_link_padding_ignored(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct flow_udp_sink sink;
    flow_udp_open(f, &sink, 7000);
    uint8_t u[16], ip[64], frame[80];
    size_t n = flow_build_udp(u, FLOW_PEER_IP, FLOW_OUR_IP, 99, 7000, "pad", 3, FLOW_CSUM_OK);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    size_t iplen = flow_build_ip4(ip, &h, u, n);
    memset(ip + iplen, 0xee, sizeof(ip) - iplen);
    size_t flen = flow_build_eth(frame, FLOW_OUR_MAC, FLOW_PEER_MAC, ETHT_IP4, ip, 46);
    flow_inject(f, frame, flen); /* 60-byte frame, 31 bytes of IP */
    assert_int_equal(sink.count, 1);
    assert_int_equal(sink.len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FLOW_TEST(test_delivered_with_source),  FLOW_TEST(test_bad_checksum_dropped),
        FLOW_TEST(test_zero_checksum_accepted), FLOW_TEST(test_bad_length),
        FLOW_TEST(test_most_specific_pcb),      FLOW_TEST(test_connected_pcb_filters_source),
        FLOW_TEST(test_ephemeral_ports),        FLOW_TEST(test_bind_in_use),
        FLOW_TEST(test_ip_options_delivered),   FLOW_TEST(test_link_padding_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
