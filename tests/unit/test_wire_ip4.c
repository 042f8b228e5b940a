/* Unit tests for the IPv4 header view (src/wire/ip4.c, RFC 791). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wire/checksum.h"
#include "wire/ip4.h"

/* The classic example header: UDP, 115 bytes, DF, TTL 64,
 * 192.168.0.1 -> 192.168.0.199, checksum 0xb861 (worked out by hand). */
static const uint8_t known_hdr[IP4_HLEN] = {
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
    0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
};
#define KNOWN_TOTAL 0x73

/* IGMP-style header with a Router Alert option (RFC 2113): IHL 6, TOS 0xc0,
 * TTL 1, proto 2, 10.0.0.1 -> 224.0.0.22, total 32, checksum 0x3a01. */
static const uint8_t opt_hdr[24] = {
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x3a, 0x01,
    10,   0,    0,    1,    224,  0,    0,    22,   0x94, 0x04, 0x00, 0x00,
};
#define OPT_TOTAL 32

/* A first fragment: id 0xabcd, MF, offset 1480 (185 units), total 1500. */
static const uint8_t frag_hdr[IP4_HLEN] = {
    0x45, 0x00, 0x05, 0xdc, 0xab, 0xcd, 0x20, 0xb9, 0x40, 0x11,
    0x94, 0x88, 10,   0,    0,    1,    10,   0,    0,    2,
};

static uint8_t pkt[2048];

/* Copies hdr into pkt, the payload after it zero-filled. */
static uint8_t *make_packet(const uint8_t *hdr, size_t hlen)
{
    memset(pkt, 0, sizeof pkt);
    memcpy(pkt, hdr, hlen);
    return pkt;
}

/* Recomputes the header checksum so a test isolates one defect. */
static void fix_csum(uint8_t *p, size_t hlen)
{
    p[10] = p[11] = 0;
    uint16_t c = us_csum(p, hlen);
    memcpy(p + 10, &c, 2);
}

static void set_total(uint8_t *p, uint16_t total)
{
    p[2] = (uint8_t)(total >> 8);
    p[3] = (uint8_t)total;
}

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t bytes[4] = {a, b, c, d};
    uint32_t v;
    memcpy(&v, bytes, 4);
    return v;
}

static void test_known_header_checksum(void **state)
{
    (void)state;
    assert_int_equal(us_csum(known_hdr, IP4_HLEN), 0);
    assert_int_equal(us_csum(opt_hdr, sizeof opt_hdr), 0);
    assert_int_equal(us_csum(frag_hdr, IP4_HLEN), 0);
}

static void test_parse_known(void **state)
{
    (void)state;
    uint8_t *p = make_packet(known_hdr, IP4_HLEN);
    struct ip4_view v;
    assert_int_equal(ip4_parse(p, KNOWN_TOTAL, &v), US_DROP_none);
    assert_int_equal(v.hlen, 20);
    assert_int_equal(v.tos, 0);
    assert_int_equal(v.total_len, 115);
    assert_int_equal(v.id, 0);
    assert_true(v.df);
    assert_false(v.mf);
    assert_int_equal(v.frag_off, 0);
    assert_int_equal(v.ttl, 64);
    assert_int_equal(v.proto, IP_PROTO_UDP);
    assert_int_equal(v.src, ip(192, 168, 0, 1));
    assert_int_equal(v.dst, ip(192, 168, 0, 199));
    assert_false(ip4_is_fragment(&v));
}

static void test_parse_options(void **state)
{
    (void)state;
    uint8_t *p = make_packet(opt_hdr, sizeof opt_hdr);
    struct ip4_view v;
    assert_int_equal(ip4_parse(p, OPT_TOTAL, &v), US_DROP_none);
    assert_int_equal(v.hlen, 24);
    assert_int_equal(v.tos, 0xc0);
    assert_int_equal(v.total_len, OPT_TOTAL);
    assert_int_equal(v.ttl, 1);
    assert_int_equal(v.proto, 2);
    assert_int_equal(v.dst, ip(224, 0, 0, 22));
}

static void test_parse_fragment(void **state)
{
    (void)state;
    uint8_t *p = make_packet(frag_hdr, IP4_HLEN);
    struct ip4_view v;
    assert_int_equal(ip4_parse(p, 1500, &v), US_DROP_none);
    assert_int_equal(v.id, 0xabcd);
    assert_true(v.mf);
    assert_false(v.df);
    assert_int_equal(v.frag_off, 1480);
    assert_int_equal(v.total_len, 1500);
    assert_true(ip4_is_fragment(&v));
}

/* Link padding after total_len (Ethernet minimum frame) is allowed. */
static void test_parse_padded(void **state)
{
    (void)state;
    uint8_t *p = make_packet(known_hdr, IP4_HLEN);
    struct ip4_view v;
    assert_int_equal(ip4_parse(p, KNOWN_TOTAL + 30, &v), US_DROP_none);
    assert_int_equal(v.total_len, KNOWN_TOTAL);
    /* A bare 20-byte header with total 20 inside a 46-byte payload. */
    set_total(p, 20);
    fix_csum(p, IP4_HLEN);
    assert_int_equal(ip4_parse(p, 46, &v), US_DROP_none);
    assert_int_equal(v.total_len, 20);
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    struct ip4_view v;
    uint8_t *p = make_packet(known_hdr, IP4_HLEN);
    for (size_t len = 0; len < IP4_HLEN; len++)
        assert_int_equal(ip4_parse(p, len, &v), US_DROP_ip4_short);
    for (size_t len = IP4_HLEN; len < KNOWN_TOTAL; len++)
        assert_int_equal(ip4_parse(p, len, &v), US_DROP_ip4_bad_total_len);

    p = make_packet(opt_hdr, sizeof opt_hdr);
    for (size_t len = 0; len < IP4_HLEN; len++)
        assert_int_equal(ip4_parse(p, len, &v), US_DROP_ip4_short);
    for (size_t len = IP4_HLEN; len < sizeof opt_hdr; len++)
        assert_int_equal(ip4_parse(p, len, &v), US_DROP_ip4_bad_hlen);
    for (size_t len = sizeof opt_hdr; len < OPT_TOTAL; len++)
        assert_int_equal(ip4_parse(p, len, &v), US_DROP_ip4_bad_total_len);
}

static void test_bad_version(void **state)
{
    (void)state;
    struct ip4_view v;
    for (uint8_t ver = 0; ver < 16; ver++) {
        if (ver == 4)
            continue;
        uint8_t *p = make_packet(known_hdr, IP4_HLEN);
        p[0] = (uint8_t)(ver << 4 | 5);
        fix_csum(p, IP4_HLEN);
        assert_int_equal(ip4_parse(p, KNOWN_TOTAL, &v), US_DROP_ip4_bad_version);
    }
}

/* IHL below 5 words, or a header longer than the buffer. */
static void test_bad_hlen(void **state)
{
    (void)state;
    struct ip4_view v;
    for (uint8_t ihl = 0; ihl < 5; ihl++) {
        uint8_t *p = make_packet(known_hdr, IP4_HLEN);
        p[0] = (uint8_t)(0x40 | ihl);
        assert_int_equal(ip4_parse(p, KNOWN_TOTAL, &v), US_DROP_ip4_bad_hlen);
    }
    /* IHL 15 (60 bytes) but only 40 bytes present. */
    uint8_t *p = make_packet(known_hdr, IP4_HLEN);
    p[0] = 0x4f;
    set_total(p, 40);
    assert_int_equal(ip4_parse(p, 40, &v), US_DROP_ip4_bad_hlen);
    assert_int_equal(ip4_parse(p, 59, &v), US_DROP_ip4_bad_hlen);
}

/* The largest header, IHL 15, with 40 bytes of NOP options, is accepted. */
static void test_max_hlen(void **state)
{
    (void)state;
    struct ip4_view v;
    uint8_t *p = make_packet(known_hdr, IP4_HLEN);
    p[0] = 0x4f;
    memset(p + 20, 1, 40); /* NOP options */
    set_total(p, 60);
    fix_csum(p, 60);
    assert_int_equal(ip4_parse(p, 60, &v), US_DROP_none);
    assert_int_equal(v.hlen, 60);
    /* The checksum covers the options too. */
    p[59] ^= 1;
    assert_int_equal(ip4_parse(p, 60, &v), US_DROP_ip4_bad_checksum);
}

/* Total length below the header length or beyond the buffer. */
static void test_bad_total_len(void **state)
{
    (void)state;
    struct ip4_view v;
    for (uint16_t total = 0; total < IP4_HLEN; total++) {
        uint8_t *p = make_packet(known_hdr, IP4_HLEN);
        set_total(p, total);
        fix_csum(p, IP4_HLEN);
        assert_int_equal(ip4_parse(p, KNOWN_TOTAL, &v), US_DROP_ip4_bad_total_len);
    }
    for (uint16_t total = 20; total < 24; total++) {
        uint8_t *p = make_packet(opt_hdr, sizeof opt_hdr);
        set_total(p, total);
        fix_csum(p, sizeof opt_hdr);
        assert_int_equal(ip4_parse(p, OPT_TOTAL, &v), US_DROP_ip4_bad_total_len);
    }
    const uint16_t too_big[] = {KNOWN_TOTAL + 1, 1500, 0xffff};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        uint8_t *p = make_packet(known_hdr, IP4_HLEN);
        set_total(p, too_big[i]);
        fix_csum(p, IP4_HLEN);
        assert_int_equal(ip4_parse(p, KNOWN_TOTAL, &v), US_DROP_ip4_bad_total_len);
    }
}

/* Any single flipped bit is caught: by the checksum, or by an earlier check
 * when it hits version, IHL or total length. */
static void test_bad_checksum_every_bit(void **state)
{
    (void)state;
    struct ip4_view v;
    for (size_t byte = 0; byte < IP4_HLEN; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *p = make_packet(known_hdr, IP4_HLEN);
            p[byte] ^= (uint8_t)(1u << bit);
            enum us_drop why = ip4_parse(p, KNOWN_TOTAL, &v);
            assert_int_not_equal(why, US_DROP_none);
            if (byte == 1 || byte >= 4)
                assert_int_equal(why, US_DROP_ip4_bad_checksum);
        }
    }
    /* Flipping a bit that lowers total_len leaves a valid-looking length, so
     * the checksum is what catches it. */
    uint8_t *p = make_packet(known_hdr, IP4_HLEN);
    p[3] ^= 0x01; /* 0x73 -> 0x72 */
    assert_int_equal(ip4_parse(p, KNOWN_TOTAL, &v), US_DROP_ip4_bad_checksum);
}

static void test_build_known_bytes(void **state)
{
    (void)state;
    struct ip4_view v = {
        .tos = 0,
        .total_len = 0x73,
        .id = 0,
        .frag_off = 0,
        .df = true,
        .mf = false,
        .ttl = 64,
        .proto = IP_PROTO_UDP,
        .src = ip(192, 168, 0, 1),
        .dst = ip(192, 168, 0, 199),
    };
    uint8_t out[IP4_HLEN + 1];
    memset(out, 0xa5, sizeof out);
    ip4_build(out, &v);
    assert_memory_equal(out, known_hdr, IP4_HLEN);
    assert_int_equal(out[IP4_HLEN], 0xa5);

    struct ip4_view f = {
        .total_len = 1500,
        .id = 0xabcd,
        .frag_off = 1480,
        .mf = true,
        .ttl = 64,
        .proto = IP_PROTO_UDP,
        .src = ip(10, 0, 0, 1),
        .dst = ip(10, 0, 0, 2),
    };
    ip4_build(out, &f);
    assert_memory_equal(out, frag_hdr, IP4_HLEN);
}

static void test_build_parse_round_trip(void **state)
{
    (void)state;
    const struct ip4_view cases[] = {
        {.tos = 0xb8, .total_len = 20, .id = 1, .ttl = 255, .proto = IP_PROTO_ICMP},
        {.total_len = 1500, .id = 0xffff, .df = true, .ttl = 1, .proto = IP_PROTO_TCP},
        {.total_len = 100, .id = 7, .mf = true, .frag_off = 0, .ttl = 64, .proto = 17},
        {.total_len = 100, .id = 7, .frag_off = 65528, .ttl = 64, .proto = 17}, /* max */
        {.total_len = 100, .id = 7, .frag_off = 8, .mf = true, .ttl = 64, .proto = 17},
    };
    static uint8_t buf[1501 + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ip4_view in = cases[i], out;
        in.src = ip(10, 1, 2, (uint8_t)i);
        in.dst = ip(172, 16, 0, 254);
        memset(buf, 0, sizeof buf);
        ip4_build(buf + 1, &in); /* odd alignment */
        assert_int_equal(ip4_parse(buf + 1, in.total_len, &out), US_DROP_none);
        assert_int_equal(out.hlen, IP4_HLEN);
        assert_int_equal(out.tos, in.tos);
        assert_int_equal(out.total_len, in.total_len);
        assert_int_equal(out.id, in.id);
        assert_int_equal(out.frag_off, in.frag_off);
        assert_int_equal(out.df, in.df);
        assert_int_equal(out.mf, in.mf);
        assert_int_equal(out.ttl, in.ttl);
        assert_int_equal(out.proto, in.proto);
        assert_int_equal(out.src, in.src);
        assert_int_equal(out.dst, in.dst);
        assert_int_equal(ip4_is_fragment(&out), in.mf || in.frag_off != 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_header_checksum),
        cmocka_unit_test(test_parse_known),
        cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_parse_fragment),
        cmocka_unit_test(test_parse_padded),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_hlen),
        cmocka_unit_test(test_max_hlen),
        cmocka_unit_test(test_bad_total_len),
        cmocka_unit_test(test_bad_checksum_every_bit),
        cmocka_unit_test(test_build_known_bytes),
        cmocka_unit_test(test_build_parse_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
