/* Writes the seed corpora for fuzz_tap and fuzz_tun (fuzz/corpus/tap/ and
 * fuzz/corpus/tun/). Each seed is a sequence of records in the fuzz targets'
 * input format: [flags | clock advance][length, 2 bytes BE][frame]. Every
 * record asks the harness to fix checksums (bit 7): the seeds' checksums are
 * already right, and mutants of them then keep reaching past the checks.
 *
 * Build and run from the repository root:
 *   cc -Iinclude -Isrc fuzz/corpus/gen_corpus.c src/wire/[a-z]*.c -o /tmp/gen_corpus
 *   /tmp/gen_corpus fuzz/corpus
 *
 * The peer is 10.0.0.1 (02:00:00:00:00:01); the stack under test is 10.0.0.2
 * (02:00:00:00:00:02) on 10.0.0.0/24 with a UDP echo service on port 7. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/icmp4.h"
#include "wire/ip4.h"
#include "wire/udp.h"

#define MAX_SEED 8192
#define FIX_CSUM 0x80
/* Clock codes (low 7 bits of the record's first byte): t < 100 is t * 100 ms,
 * larger ones are (t - 99) * 10 s. */
#define TICKS_SEC(n) ((uint8_t)((n)*10))
#define TICKS_10S(n) ((uint8_t)(99 + (n)))

static const struct us_mac peer_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
static const struct us_mac our_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
static const struct us_mac bcast_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

struct seed {
    uint8_t b[MAX_SEED];
    size_t len;
};

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t bytes[4] = {a, b, c, d};
    uint32_t v;
    memcpy(&v, bytes, 4);
    return v;
}

static void add_record(struct seed *s, uint8_t ticks, const uint8_t *frame, size_t len)
{
    if (s->len + 3 + len > MAX_SEED) {
        fprintf(stderr, "gen_corpus: seed too large\n");
        exit(1);
    }
    s->b[s->len++] = (uint8_t)(ticks | FIX_CSUM);
    s->b[s->len++] = (uint8_t)(len >> 8);
    s->b[s->len++] = (uint8_t)len;
    if (len)
        memcpy(s->b + s->len, frame, len);
    s->len += len;
}

/* An IPv4 packet (header + payload) as a TUN frame, or in an Ethernet frame
 * (padded to the 60-byte minimum) for TAP. */
static void add_ip(struct seed *s, int tap, uint8_t ticks, const struct us_mac *dst,
                   const uint8_t *pkt, size_t len)
{
    uint8_t frame[ETH_HLEN + 1500 + 46] = {0};
    if (!tap) {
        add_record(s, ticks, pkt, len);
        return;
    }
    eth_build(frame, dst, &peer_mac, ETH_TYPE_IP4);
    memcpy(frame + ETH_HLEN, pkt, len);
    size_t flen = ETH_HLEN + len;
    add_record(s, ticks, frame, flen < 60 ? 60 : flen);
}

static void add_arp(struct seed *s, uint8_t ticks, uint16_t op, const struct us_mac *dst,
                    uint32_t spa, uint32_t tpa)
{
    uint8_t frame[60] = {0};
    struct arp_view v = {.op = op, .sha = peer_mac, .spa = spa, .tpa = tpa};
    if (op == ARP_OP_REPLY)
        v.tha = *dst;
    eth_build(frame, dst, &peer_mac, ETH_TYPE_ARP);
    arp_build(frame + ETH_HLEN, &v);
    add_record(s, ticks, frame, sizeof frame);
}

/* "Who has 10.0.0.2? Tell 10.0.0.1": also teaches the stack the peer's MAC
 * (RFC 826 merge), so replies need no resolution. */
static void add_arp_request(struct seed *s)
{
    add_arp(s, 0, ARP_OP_REQUEST, &bcast_mac, ip(10, 0, 0, 1), ip(10, 0, 0, 2));
}

static size_t make_ip(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, size_t payload,
                      uint16_t id, uint16_t frag_off, bool mf)
{
    struct ip4_view v = {
        .total_len = (uint16_t)(IP4_HLEN + payload),
        .id = id,
        .frag_off = frag_off,
        .mf = mf,
        .ttl = 64,
        .proto = proto,
        .src = src,
        .dst = dst,
    };
    ip4_build(p, &v);
    return IP4_HLEN + payload;
}

static size_t make_echo_request(uint8_t *p)
{
    size_t icmp_len = ICMP4_HLEN + 56;
    uint8_t *m = p + IP4_HLEN;
    for (size_t i = ICMP4_HLEN; i < icmp_len; i++)
        m[i] = (uint8_t)i;
    const uint8_t rest[4] = {0x00, 0x2a, 0x00, 0x01}; /* id 42, seq 1 */
    struct icmp4_view v = {.type = ICMP4_ECHO_REQUEST};
    memcpy(&v.rest, rest, 4);
    icmp4_build(m, icmp_len, &v);
    return make_ip(p, ip(10, 0, 0, 1), ip(10, 0, 0, 2), IP_PROTO_ICMP, icmp_len, 0x1001, 0, false);
}

static size_t make_udp(uint8_t *p, uint32_t src, uint32_t dst, uint16_t dport, const char *text)
{
    size_t plen = strlen(text);
    struct us_addr s = {.family = US_AF_INET}, d = {.family = US_AF_INET};
    s.v4 = src;
    d.v4 = dst;
    memcpy(p + IP4_HLEN + UDP_HLEN, text, plen);
    udp_build(p + IP4_HLEN, 40000, dport, plen, &s, &d);
    return make_ip(p, src, dst, IP_PROTO_UDP, UDP_HLEN + plen, 0x2002, 0, false);
}

/* One UDP datagram to port 7 split in two fragments at byte 24 of the IP
 * payload (fragment offsets count 8-byte units). */
static void make_udp_fragments(uint8_t *f1, size_t *l1, uint8_t *f2, size_t *l2)
{
    uint8_t whole[IP4_HLEN + 64];
    const char *text = "fragmented datagram for echo, 48 bytes long!!!!";
    size_t total = make_udp(whole, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 7, text);
    size_t payload = total - IP4_HLEN, cut = 24;
    memcpy(f1 + IP4_HLEN, whole + IP4_HLEN, cut);
    *l1 = make_ip(f1, ip(10, 0, 0, 1), ip(10, 0, 0, 2), IP_PROTO_UDP, cut, 0x3003, 0, true);
    memcpy(f2 + IP4_HLEN, whole + IP4_HLEN + cut, payload - cut);
    *l2 = make_ip(f2, ip(10, 0, 0, 1), ip(10, 0, 0, 2), IP_PROTO_UDP, payload - cut, 0x3003,
                  (uint16_t)cut, false);
}

/* Sends an IP payload (already carrying its transport header) from 10.0.0.1
 * to 10.0.0.2 as fragments of at most 1480 payload bytes each. */
static void add_fragmented(struct seed *s, int tap, uint8_t proto, const uint8_t *payload,
                           size_t plen, uint16_t id)
{
    uint8_t frag[IP4_HLEN + 1480];
    for (size_t off = 0; off < plen; off += 1480) {
        size_t n = plen - off < 1480 ? plen - off : 1480;
        memcpy(frag + IP4_HLEN, payload + off, n);
        size_t len = make_ip(frag, ip(10, 0, 0, 1), ip(10, 0, 0, 2), proto, n, id, (uint16_t)off,
                             off + n < plen);
        add_ip(s, tap, 0, &our_mac, frag, len);
    }
}

/* A UDP datagram to the echo port too big for one frame, with no checksum
 * (RFC 768 allows that over IPv4) so that mutants of its payload still get
 * through; the echo then goes out fragmented. */
static void add_big_udp_echo(struct seed *s, int tap)
{
    static uint8_t dgram[UDP_HLEN + 3000];
    size_t len = sizeof dgram;
    for (size_t i = UDP_HLEN; i < len; i++)
        dgram[i] = (uint8_t)(i * 7);
    dgram[0] = 40000 >> 8;
    dgram[1] = 40000 & 0xff;
    dgram[2] = 0;
    dgram[3] = 7;
    dgram[4] = (uint8_t)(len >> 8);
    dgram[5] = (uint8_t)len;
    dgram[6] = dgram[7] = 0;
    add_fragmented(s, tap, IP_PROTO_UDP, dgram, len, 0x4004);
}

/* ping -s 3000: an echo request in fragments, whose reply is fragmented too. */
static void add_big_icmp_echo(struct seed *s, int tap)
{
    static uint8_t msg[ICMP4_HLEN + 3000];
    for (size_t i = ICMP4_HLEN; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    const uint8_t rest[4] = {0x00, 0x2b, 0x00, 0x07}; /* id 43, seq 7 */
    struct icmp4_view v = {.type = ICMP4_ECHO_REQUEST};
    memcpy(&v.rest, rest, 4);
    icmp4_build(msg, sizeof msg, &v);
    add_fragmented(s, tap, IP_PROTO_ICMP, msg, sizeof msg, 0x5005);
}

/* An ICMP error from 10.0.0.1 about a UDP datagram the stack sent from port
 * 5000 (the harness's connected pcb) to 10.0.0.1:9. */
static size_t make_icmp_error_about_udp(uint8_t *p, uint8_t type, uint8_t code, uint16_t mtu)
{
    uint8_t *m = p + IP4_HLEN;
    uint8_t *quoted = m + ICMP4_HLEN;
    size_t qlen = make_udp(quoted, ip(10, 0, 0, 2), ip(10, 0, 0, 1), 9, "probe");
    quoted[IP4_HLEN] = 5000 >> 8; /* source port 5000 */
    quoted[IP4_HLEN + 1] = 5000 & 0xff;
    qlen = IP4_HLEN + UDP_HLEN; /* RFC 792: the header plus 64 bits */
    const uint8_t rest[4] = {0, 0, (uint8_t)(mtu >> 8), (uint8_t)mtu};
    struct icmp4_view v = {.type = type, .code = code};
    memcpy(&v.rest, rest, 4);
    icmp4_build(m, ICMP4_HLEN + qlen, &v);
    return make_ip(p, ip(10, 0, 0, 1), ip(10, 0, 0, 2), IP_PROTO_ICMP, ICMP4_HLEN + qlen, 0x6006, 0,
                   false);
}

/* An echo reply for the harness's listener (identifier 42). */
static size_t make_echo_reply(uint8_t *p)
{
    size_t icmp_len = ICMP4_HLEN + 16;
    uint8_t *m = p + IP4_HLEN;
    memset(m + ICMP4_HLEN, 0x61, 16);
    const uint8_t rest[4] = {0x00, 0x2a, 0x00, 0x03}; /* id 42, seq 3 */
    struct icmp4_view v = {.type = ICMP4_ECHO_REPLY};
    memcpy(&v.rest, rest, 4);
    icmp4_build(m, icmp_len, &v);
    return make_ip(p, ip(10, 0, 0, 1), ip(10, 0, 0, 2), IP_PROTO_ICMP, icmp_len, 0x7007, 0, false);
}

static void write_seed(const char *dir, const char *kind, const char *name, const struct seed *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", dir, kind, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->b, 1, s->len, f) != s->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void gen(const char *dir, int tap)
{
    const char *kind = tap ? "tap" : "tun";
    uint8_t p[1600], p2[1600];
    size_t n, n2;
    struct seed s;

    if (tap) {
        s.len = 0;
        add_arp_request(&s);
        write_seed(dir, kind, "arp_request", &s);

        s.len = 0;
        add_arp(&s, 0, ARP_OP_REPLY, &bcast_mac, ip(10, 0, 0, 1), ip(10, 0, 0, 1));
        write_seed(dir, kind, "arp_reply_gratuitous", &s);
    }

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    n = make_echo_request(p);
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "icmp_echo", &s);

    if (tap) {
        /* The reply waits for ARP; time passes through the retries. */
        s.len = 0;
        add_ip(&s, tap, 0, &our_mac, p, n);
        add_record(&s, TICKS_SEC(2), NULL, 0);
        write_seed(dir, kind, "icmp_echo_unresolved", &s);
    }

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    n = make_udp(p, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 7, "hello, echo");
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "udp_echo", &s);

    /* Echo, then again after the ARP entry went stale (RFC 1122 2.3.2.1). */
    if (tap) {
        s.len = 0;
        add_arp_request(&s);
        add_ip(&s, tap, 0, &our_mac, p, n);
        add_ip(&s, tap, TICKS_10S(6), &our_mac, p, n);
        add_record(&s, TICKS_SEC(3), NULL, 0);
        write_seed(dir, kind, "udp_echo_after_ageing", &s);
    }

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    n = make_udp(p, ip(192, 0, 2, 1), ip(10, 0, 0, 2), 7, "from off link, via the gateway");
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "udp_echo_offlink", &s);

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    n = make_udp(p, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 9, "nobody listens on 9");
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "udp_closed_port", &s);

    s.len = 0;
    n = make_udp(p, ip(10, 0, 0, 1), ip(10, 0, 0, 255), 7, "subnet broadcast");
    add_ip(&s, tap, 0, &bcast_mac, p, n);
    write_seed(dir, kind, "udp_broadcast", &s);

    make_udp_fragments(p, &n, p2, &n2);
    s.len = 0;
    if (tap)
        add_arp_request(&s);
    add_ip(&s, tap, 0, &our_mac, p, n);
    add_ip(&s, tap, 5, &our_mac, p2, n2);
    write_seed(dir, kind, "udp_fragments", &s);

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    add_ip(&s, tap, 0, &our_mac, p2, n2);
    add_ip(&s, tap, 1, &our_mac, p, n);
    write_seed(dir, kind, "udp_fragments_reversed", &s);

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    add_big_udp_echo(&s, tap);
    write_seed(dir, kind, "udp_big_fragments", &s);

    s.len = 0;
    if (tap)
        add_arp_request(&s);
    add_big_icmp_echo(&s, tap);
    write_seed(dir, kind, "icmp_big_echo_fragments", &s);

    s.len = 0;
    n = make_icmp_error_about_udp(p, ICMP4_DEST_UNREACH, ICMP4_UNREACH_PORT, 0);
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "icmp_port_unreachable", &s);

    s.len = 0;
    n = make_icmp_error_about_udp(p, ICMP4_DEST_UNREACH, ICMP4_UNREACH_FRAG_NEEDED, 1000);
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "icmp_frag_needed", &s);

    s.len = 0;
    n = make_icmp_error_about_udp(p, ICMP4_TIME_EXCEEDED, ICMP4_EXC_TTL, 0);
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "icmp_time_exceeded", &s);

    s.len = 0;
    n = make_echo_reply(p);
    add_ip(&s, tap, 0, &our_mac, p, n);
    write_seed(dir, kind, "icmp_echo_reply", &s);

    /* Only the first fragment: after 30 s the stack gives up and sends ICMP
     * time exceeded (RFC 792, code 1). */
    s.len = 0;
    if (tap)
        add_arp_request(&s);
    add_ip(&s, tap, 0, &our_mac, p, n);
    add_record(&s, TICKS_10S(4), NULL, 0);
    write_seed(dir, kind, "fragment_timeout", &s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (containing tap/ and tun/)\n", argv[0]);
        return 2;
    }
    gen(argv[1], 1);
    gen(argv[1], 0);
    return 0;
}
