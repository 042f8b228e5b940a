/* Flow-test harness (see flow.h). Frames are built and checked here with
 * code independent of src/wire, so a bug there cannot hide itself. */
#include "flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"
#include "ip4/icmp4.h"
#include "udp/udp.h"

const uint8_t FLOW_OUR_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t FLOW_PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t FLOW_OTHER_MAC[6] = {0x02, 0, 0, 0, 0, 0x99};
const uint8_t FLOW_BCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t FLOW_ZERO_MAC[6] = {0};

#define MAX_PCBS 64

static struct flow *live_flows;
static struct {
    struct flow *f;
    struct us_udp_pcb *pcb;
} pcbs[MAX_PCBS];

/* ---- failure reporting ---- */

static void flow_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void flow_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("%s:%d: flow expectation failed: %s\n", file, line, msg);
    _fail(file, line);
    abort(); /* not reached */
}

static const char *mac_s(const uint8_t *m, char *buf)
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

static const char *ip_s(uint32_t a, char *buf)
{
    const uint8_t *b = (const uint8_t *)&a;
    snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- checksums (RFC 1071), written plainly ---- */

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

uint16_t flow_csum(const void *data, size_t len)
{
    return (uint16_t)~sum16(0, data, len);
}

uint16_t flow_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, const void *data, size_t len)
{
    uint8_t ph[12];
    memcpy(ph, &src, 4);
    memcpy(ph + 4, &dst, 4);
    ph[8] = 0;
    ph[9] = proto;
    put16(ph + 10, (uint16_t)len);
    return (uint16_t)~sum16(sum16(0, ph, 12), data, len);
}

/* ---- life cycle ---- */

static void silent_log(void *ctx, enum us_log_level level, enum us_log_chan chan, const char *line)
{
    (void)ctx, (void)level, (void)chan, (void)line;
}

static void loud_log(void *ctx, enum us_log_level level, enum us_log_chan chan, const char *line)
{
    struct flow *f = ctx;
    (void)chan;
    us_time_t t = f->s ? us_now(f->s) - f->t0 : 0;
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    fprintf(stderr, "  [%4llu.%06llu] %-5s %s\n", (unsigned long long)(t / US_SEC),
            (unsigned long long)(t % US_SEC / 1000), (unsigned)level < 5 ? names[level] : "?",
            line);
}

static void drv_transmit(void *ctx, struct us_pkt *p)
{
    struct flow *f = ctx;
    us_pkt_csum_complete(p); /* what a NIC with checksum offload does */
    size_t len = us_pkt_len(p);
    struct flow_frame *fr = malloc(sizeof(*fr) + len);
    assert_non_null(fr);
    fr->next = NULL;
    fr->t = us_now(f->s);
    fr->len = len;
    memcpy(fr->data, us_pkt_data(p), len);
    us_pkt_free(p);
    if (f->tail)
        f->tail->next = fr;
    else
        f->head = fr;
    f->tail = fr;
    f->queued++;
}

struct flow *flow_new(const struct flow_opts *o)
{
    static const struct flow_opts none;
    if (!o)
        o = &none;
    struct flow *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = o->seed ? o->seed : 1;
    cfg.start_time = FLOW_START_TIME;
    const char *env = getenv("FLOW_LOG");
    bool loud = env && strcmp(env, "1") == 0;
    cfg.log_fn = loud ? loud_log : silent_log;
    cfg.log_ctx = f;
    cfg.log_level = loud ? US_LOG_TRACE : US_LOG_ERROR;
    if (o->icmp_burst)
        cfg.icmp_burst = o->icmp_burst;
    if (o->icmp_rate)
        cfg.icmp_rate_per_sec = o->icmp_rate;
    if (o->reasm_mem)
        cfg.reasm_mem_limit = o->reasm_mem;
    f->s = us_stack_new(&cfg);
    assert_non_null(f->s);
    f->t0 = us_now(f->s);
    struct us_netif_config nc = {
        .name = "flow0", .type = US_LINK_ETHERNET, .mtu = o->mtu, .acd = o->acd};
    memcpy(nc.mac.b, FLOW_OUR_MAC, 6);
    struct us_driver drv = {
        .name = "flow", .transmit = drv_transmit, .ctx = f, .tso_max = o->tso_max};
    f->nif = us_netif_add(f->s, &nc, &drv);
    assert_non_null(f->nif);
    if (!o->no_addr) {
        struct us_addr a = us_addr4(FLOW_OUR_IP);
        assert_int_equal(us_netif_add_addr(f->nif, &a, 24), 0);
    }
    f->next_live = live_flows;
    live_flows = f;
    return f;
}

static void free_frames(struct flow *f)
{
    while (f->head) {
        struct flow_frame *n = f->head->next;
        free(f->head);
        f->head = n;
    }
    f->tail = NULL;
    f->queued = 0;
    free(f->last);
    f->last = NULL;
}

void flow_free(struct flow *f)
{
    if (!f)
        return;
    for (struct flow **pp = &live_flows; *pp; pp = &(*pp)->next_live) {
        if (*pp == f) {
            *pp = f->next_live;
            break;
        }
    }
    for (int i = 0; i < MAX_PCBS; i++) {
        if (pcbs[i].f == f) {
            us_udp_free(pcbs[i].pcb);
            pcbs[i].f = NULL;
            pcbs[i].pcb = NULL;
        }
    }
    us_stack_free(f->s);
    free_frames(f);
    free(f);
}

int flow_teardown(void **state)
{
    (void)state;
    while (live_flows)
        flow_free(live_flows);
    return 0;
}

uint64_t flow_counter(struct flow *f, const char *name)
{
    return us_counter_get(f->s, name);
}

us_time_t flow_elapsed(const struct flow *f)
{
    return us_now(f->s) - f->t0;
}

/* ---- clock ---- */

void flow_run_until(struct flow *f, us_time_t t)
{
    for (int guard = 0;; guard++) {
        us_time_t next = us_next_deadline(f->s);
        if (next > t)
            break;
        if (guard > 10000000)
            flow_fail(__FILE__, __LINE__, "timers do not settle before %llu",
                      (unsigned long long)t);
        us_poll(f->s, next);
    }
    us_poll(f->s, t);
}

void flow_advance(struct flow *f, us_time_t d)
{
    flow_run_until(f, us_now(f->s) + d);
}

/* ---- building ---- */

struct flow_ip4 flow_ip4_hdr(uint8_t proto)
{
    struct flow_ip4 h = {
        .src = FLOW_PEER_IP, .dst = FLOW_OUR_IP, .id = 0x1234, .ttl = 64, .proto = proto};
    return h;
}

size_t flow_build_eth(uint8_t *out, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
                      const void *payload, size_t len)
{
    memcpy(out, dst, 6);
    memcpy(out + 6, src, 6);
    put16(out + 12, type);
    if (len)
        memmove(out + 14, payload, len);
    return 14 + len;
}

size_t flow_build_arp(uint8_t *out, uint16_t op, const uint8_t sha[6], uint32_t spa,
                      const uint8_t tha[6], uint32_t tpa)
{
    put16(out, 1);
    put16(out + 2, 0x0800);
    out[4] = 6;
    out[5] = 4;
    put16(out + 6, op);
    memcpy(out + 8, sha, 6);
    memcpy(out + 14, &spa, 4);
    memcpy(out + 18, tha ? tha : FLOW_ZERO_MAC, 6);
    memcpy(out + 24, &tpa, 4);
    return 28;
}

size_t flow_build_ip4(uint8_t *out, const struct flow_ip4 *h, const void *payload, size_t len)
{
    size_t hlen = 20 + h->optlen;
    out[0] = (uint8_t)(0x40 | hlen / 4);
    out[1] = h->tos;
    put16(out + 2, (uint16_t)(hlen + len));
    put16(out + 4, h->id);
    put16(out + 6, (uint16_t)((h->df ? 0x4000 : 0) | (h->mf ? 0x2000 : 0) | (h->off / 8)));
    out[8] = h->ttl;
    out[9] = h->proto;
    out[10] = out[11] = 0;
    memcpy(out + 12, &h->src, 4);
    memcpy(out + 16, &h->dst, 4);
    if (h->optlen)
        memcpy(out + 20, h->opts, h->optlen);
    put16(out + 10, (uint16_t)(flow_csum(out, hlen) ^ (h->bad_csum ? 0x0101 : 0)));
    if (len)
        memmove(out + hlen, payload, len);
    return hlen + len;
}

size_t flow_build_icmp(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest_net,
                       const void *data, size_t len)
{
    out[0] = type;
    out[1] = code;
    out[2] = out[3] = 0;
    memcpy(out + 4, &rest_net, 4);
    if (len)
        memmove(out + 8, data, len);
    put16(out + 2, flow_csum(out, 8 + len));
    return 8 + len;
}

size_t flow_build_echo(uint8_t *out, uint8_t type, uint16_t id, uint16_t seq, const void *data,
                       size_t len)
{
    uint8_t rest[4];
    put16(rest, id);
    put16(rest + 2, seq);
    uint32_t r;
    memcpy(&r, rest, 4);
    return flow_build_icmp(out, type, 0, r, data, len);
}

size_t flow_build_udp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                      const void *data, size_t len, enum flow_csum mode)
{
    put16(out, sport);
    put16(out + 2, dport);
    put16(out + 4, (uint16_t)(8 + len));
    out[6] = out[7] = 0;
    if (len)
        memmove(out + 8, data, len);
    if (mode != FLOW_CSUM_ZERO) {
        uint16_t c = flow_csum_pseudo(src, dst, PROTO_UDP, out, 8 + len);
        if (c == 0)
            c = 0xffff;
        if (mode == FLOW_CSUM_BAD)
            c ^= 0x5a5a;
        put16(out + 6, c);
    }
    return 8 + len;
}

/* ---- injecting ---- */

void flow_inject(struct flow *f, const void *frame, size_t len)
{
    us_netif_input_bytes(f->nif, frame, len);
}

void flow_inject_eth(struct flow *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
                     const void *payload, size_t len)
{
    uint8_t *buf = malloc(14 + len);
    assert_non_null(buf);
    size_t n = flow_build_eth(buf, dst, src, type, payload, len);
    flow_inject(f, buf, n);
    free(buf);
}

void flow_inject_arp(struct flow *f, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
                     uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
    uint8_t arp[28];
    flow_build_arp(arp, op, sha, spa, tha, tpa);
    flow_inject_eth(f, eth_dst, sha, ETHT_ARP, arp, sizeof(arp));
}

void flow_inject_arp_request(struct flow *f, uint32_t tpa)
{
    flow_inject_arp(f, FLOW_BCAST_MAC, ARPOP_REQ, FLOW_PEER_MAC, FLOW_PEER_IP, NULL, tpa);
}

void flow_inject_arp_reply(struct flow *f)
{
    flow_inject_arp(f, FLOW_OUR_MAC, ARPOP_REP, FLOW_PEER_MAC, FLOW_PEER_IP, FLOW_OUR_MAC,
                    FLOW_OUR_IP);
}

void flow_inject_arp_probe(struct flow *f, const uint8_t sha[6], uint32_t ip)
{
    flow_inject_arp(f, FLOW_BCAST_MAC, ARPOP_REQ, sha, 0, NULL, ip);
}

void flow_inject_arp_announce(struct flow *f, const uint8_t sha[6], uint32_t ip)
{
    flow_inject_arp(f, FLOW_BCAST_MAC, ARPOP_REQ, sha, ip, NULL, ip);
}

void flow_inject_ip4(struct flow *f, const uint8_t *eth_dst, const struct flow_ip4 *h,
                     const void *payload, size_t len)
{
    uint8_t *buf = malloc(60 + len);
    assert_non_null(buf);
    size_t n = flow_build_ip4(buf, h, payload, len);
    flow_inject_eth(f, eth_dst ? eth_dst : FLOW_OUR_MAC, FLOW_PEER_MAC, ETHT_IP4, buf, n);
    free(buf);
}

void flow_inject_echo(struct flow *f, uint16_t id, uint16_t seq, const void *data, size_t len)
{
    uint8_t *buf = malloc(8 + len);
    assert_non_null(buf);
    size_t n = flow_build_echo(buf, 8, id, seq, data, len);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_ICMP);
    flow_inject_ip4(f, NULL, &h, buf, n);
    free(buf);
}

void flow_inject_udp(struct flow *f, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
    uint8_t *buf = malloc(8 + len);
    assert_non_null(buf);
    size_t n =
        flow_build_udp(buf, FLOW_PEER_IP, FLOW_OUR_IP, sport, dport, data, len, FLOW_CSUM_OK);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_UDP);
    flow_inject_ip4(f, NULL, &h, buf, n);
    free(buf);
}

int flow_inject_fragmented(struct flow *f, uint8_t proto, uint16_t id, const void *payload,
                           size_t len, size_t frag_len, const int *order, int norder)
{
    int n = (int)((len + frag_len - 1) / frag_len);
    assert_true(n <= FLOW_MAX_FRAGS);
    int count = order ? norder : n;
    for (int k = 0; k < count; k++) {
        int i = order ? order[k] : k;
        assert_true(i >= 0 && i < n);
        size_t off = (size_t)i * frag_len;
        size_t chunk = len - off < frag_len ? len - off : frag_len;
        struct flow_ip4 h = flow_ip4_hdr(proto);
        h.id = id;
        h.off = (uint16_t)off;
        h.mf = i < n - 1;
        flow_inject_ip4(f, NULL, &h, (const uint8_t *)payload + off, chunk);
    }
    return n;
}

/* ---- expectations ---- */

size_t flow_pending(const struct flow *f)
{
    return f->queued;
}

const struct flow_frame *flow_pop_at(struct flow *f, const char *file, int line)
{
    if (!f->head)
        flow_fail(file, line, "expected a frame at +%.3f ms, none was sent",
                  (double)flow_elapsed(f) / US_MSEC);
    free(f->last);
    f->last = f->head;
    f->head = f->head->next;
    if (!f->head)
        f->tail = NULL;
    f->queued--;
    f->last->next = NULL;
    if (f->last->len < 14)
        flow_fail(file, line, "frame of %zu bytes, shorter than Ethernet", f->last->len);
    if (memcmp(f->last->data + 6, FLOW_OUR_MAC, 6) != 0) {
        char m[18];
        flow_fail(file, line, "frame from %s, not from our MAC", mac_s(f->last->data + 6, m));
    }
    return f->last;
}

static void describe_frame(const struct flow_frame *fr, char *buf, size_t len)
{
    char m[18];
    uint16_t type = fr->len >= 14 ? get16(fr->data + 12) : 0;
    int n = snprintf(buf, len, "%zu bytes to %s type 0x%04x", fr->len, mac_s(fr->data, m), type);
    if (type == ETHT_ARP && fr->len >= 42) {
        char a[16], b[16];
        uint32_t spa, tpa;
        memcpy(&spa, fr->data + 14 + 14, 4);
        memcpy(&tpa, fr->data + 14 + 24, 4);
        snprintf(buf + n, len - (size_t)n, " ARP op %u %s -> %s", get16(fr->data + 20),
                 ip_s(spa, a), ip_s(tpa, b));
    } else if (type == ETHT_IP4 && fr->len >= 34) {
        char a[16], b[16];
        uint32_t src, dst;
        memcpy(&src, fr->data + 26, 4);
        memcpy(&dst, fr->data + 30, 4);
        snprintf(buf + n, len - (size_t)n, " IP proto %u %s -> %s", fr->data[23], ip_s(src, a),
                 ip_s(dst, b));
    }
}

void flow_expect_none_at(struct flow *f, const char *file, int line)
{
    if (f->head) {
        char d[160];
        describe_frame(f->head, d, sizeof(d));
        flow_fail(file, line, "expected no frame, %zu pending; first at +%.3f ms: %s", f->queued,
                  (double)(f->head->t - f->t0) / US_MSEC, d);
    }
}

static const struct flow_frame *pop_type(struct flow *f, uint16_t type, const char *file, int line)
{
    const struct flow_frame *fr = flow_pop_at(f, file, line);
    uint16_t got = get16(fr->data + 12);
    if (got != type) {
        char d[160];
        describe_frame(fr, d, sizeof(d));
        flow_fail(file, line, "expected ethertype 0x%04x, got %s", type, d);
    }
    return fr;
}

void flow_expect_arp_at(struct flow *f, uint16_t op, struct flow_arp *out, const char *file,
                        int line)
{
    const struct flow_frame *fr = pop_type(f, ETHT_ARP, file, line);
    if (fr->len < 14 + 28)
        flow_fail(file, line, "ARP frame of %zu bytes", fr->len);
    const uint8_t *a = fr->data + 14;
    if (get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4)
        flow_fail(file, line, "ARP fixed fields wrong: htype %u ptype 0x%04x hlen %u plen %u",
                  get16(a), get16(a + 2), a[4], a[5]);
    if (get16(a + 6) != op)
        flow_fail(file, line, "expected ARP op %u, got %u", op, get16(a + 6));
    if (memcmp(a + 8, fr->data + 6, 6) != 0)
        flow_fail(file, line, "ARP sender MAC differs from the Ethernet source");
    struct flow_arp v = {.eth_dst = fr->data, .op = op, .t = fr->t};
    memcpy(v.sha, a + 8, 6);
    memcpy(&v.spa, a + 14, 4);
    memcpy(v.tha, a + 18, 6);
    memcpy(&v.tpa, a + 24, 4);
    if (out)
        *out = v;
}

void flow_expect_arp_request_at(struct flow *f, const uint8_t eth_dst[6], uint32_t tpa,
                                const char *file, int line)
{
    struct flow_arp a;
    char m1[18], m2[18], i1[16], i2[16];
    flow_expect_arp_at(f, ARPOP_REQ, &a, file, line);
    if (memcmp(a.eth_dst, eth_dst, 6) != 0)
        flow_fail(file, line, "ARP request to %s, expected %s", mac_s(a.eth_dst, m1),
                  mac_s(eth_dst, m2));
    if (memcmp(a.sha, FLOW_OUR_MAC, 6) != 0 || a.spa != FLOW_OUR_IP)
        flow_fail(file, line, "ARP request sender %s %s, expected ours", mac_s(a.sha, m1),
                  ip_s(a.spa, i1));
    if (memcmp(a.tha, FLOW_ZERO_MAC, 6) != 0)
        flow_fail(file, line, "ARP request target MAC %s, expected zero", mac_s(a.tha, m1));
    if (a.tpa != tpa)
        flow_fail(file, line, "ARP request for %s, expected %s", ip_s(a.tpa, i1), ip_s(tpa, i2));
}

void flow_expect_ip4_at(struct flow *f, int proto, struct flow_ip4_rx *out, const char *file,
                        int line)
{
    const struct flow_frame *fr = pop_type(f, ETHT_IP4, file, line);
    const uint8_t *h = fr->data + 14;
    size_t avail = fr->len - 14;
    if (avail < 20 || (h[0] >> 4) != 4)
        flow_fail(file, line, "not an IPv4 header (%zu bytes)", avail);
    struct flow_ip4_rx v = {.eth_dst = fr->data, .hdr = h, .t = fr->t};
    v.hlen = (uint8_t)((h[0] & 15) * 4);
    v.total_len = get16(h + 2);
    if (v.hlen < 20 || v.total_len < v.hlen || v.total_len > avail)
        flow_fail(file, line, "bad IPv4 lengths: hlen %u total %u frame %zu", v.hlen, v.total_len,
                  avail);
    if (v.total_len != avail)
        flow_fail(file, line, "IPv4 total length %u but %zu bytes after Ethernet", v.total_len,
                  avail);
    if (flow_csum(h, v.hlen) != 0)
        flow_fail(file, line, "bad IPv4 header checksum");
    v.tos = h[1];
    v.id = get16(h + 4);
    uint16_t ff = get16(h + 6);
    if (ff & 0x8000)
        flow_fail(file, line, "reserved IPv4 flag set");
    v.df = ff & 0x4000;
    v.mf = ff & 0x2000;
    v.off = (uint16_t)((ff & 0x1fff) * 8);
    v.ttl = h[8];
    v.proto = h[9];
    memcpy(&v.src, h + 12, 4);
    memcpy(&v.dst, h + 16, 4);
    v.payload = h + v.hlen;
    v.plen = v.total_len - v.hlen;
    if (proto >= 0 && v.proto != proto)
        flow_fail(file, line, "expected IP proto %d, got %u", proto, v.proto);
    if (out)
        *out = v;
}

void flow_expect_icmp_at(struct flow *f, int type, int code, struct flow_icmp_rx *out,
                         const char *file, int line)
{
    struct flow_icmp_rx v;
    flow_expect_ip4_at(f, PROTO_ICMP, &v.ip, file, line);
    if (v.ip.mf || v.ip.off)
        flow_fail(file, line, "ICMP message is a fragment (use flow_expect_dgram)");
    if (v.ip.plen < 8)
        flow_fail(file, line, "ICMP message of %zu bytes", v.ip.plen);
    if (flow_csum(v.ip.payload, v.ip.plen) != 0)
        flow_fail(file, line, "bad ICMP checksum");
    v.type = v.ip.payload[0];
    v.code = v.ip.payload[1];
    v.id = get16(v.ip.payload + 4);
    v.seq = get16(v.ip.payload + 6);
    v.data = v.ip.payload + 8;
    v.dlen = v.ip.plen - 8;
    if ((type >= 0 && v.type != type) || (code >= 0 && v.code != code))
        flow_fail(file, line, "expected ICMP type %d code %d, got type %u code %u", type, code,
                  v.type, v.code);
    if (out)
        *out = v;
}

void flow_expect_echo_reply_at(struct flow *f, uint16_t id, uint16_t seq, const void *data,
                               size_t len, const char *file, int line)
{
    struct flow_icmp_rx v;
    char a[16];
    flow_expect_icmp_at(f, 0, 0, &v, file, line);
    if (memcmp(v.ip.eth_dst, FLOW_PEER_MAC, 6) != 0)
        flow_fail(file, line, "echo reply not sent to the peer's MAC");
    if (v.ip.src != FLOW_OUR_IP || v.ip.dst != FLOW_PEER_IP)
        flow_fail(file, line, "echo reply %s -> %s", ip_s(v.ip.src, a),
                  ip_s(v.ip.dst, (char[16]){0}));
    if (v.id != id || v.seq != seq)
        flow_fail(file, line, "echo reply id %u seq %u, expected %u %u", v.id, v.seq, id, seq);
    if (v.dlen != len || (len && memcmp(v.data, data, len) != 0))
        flow_fail(file, line, "echo reply data differs (%zu bytes, expected %zu)", v.dlen, len);
}

void flow_expect_udp_at(struct flow *f, uint16_t sport, uint16_t dport, const void *data,
                        size_t len, struct flow_udp_rx *out, const char *file, int line)
{
    struct flow_udp_rx v;
    flow_expect_ip4_at(f, PROTO_UDP, &v.ip, file, line);
    if (v.ip.mf || v.ip.off)
        flow_fail(file, line, "UDP datagram is a fragment (use flow_expect_dgram)");
    if (v.ip.plen < 8)
        flow_fail(file, line, "UDP datagram of %zu bytes", v.ip.plen);
    const uint8_t *u = v.ip.payload;
    v.sport = get16(u);
    v.dport = get16(u + 2);
    v.ulen = get16(u + 4);
    v.csum = get16(u + 6);
    if (v.ulen != v.ip.plen)
        flow_fail(file, line, "UDP length %u, IP payload %zu", v.ulen, v.ip.plen);
    if (v.csum == 0)
        flow_fail(file, line, "UDP sent without a checksum");
    if (flow_csum_pseudo(v.ip.src, v.ip.dst, PROTO_UDP, u, v.ulen) != 0)
        flow_fail(file, line, "bad UDP checksum");
    v.data = u + 8;
    v.dlen = v.ulen - 8u;
    if ((sport && v.sport != sport) || v.dport != dport)
        flow_fail(file, line, "UDP ports %u -> %u, expected %u -> %u", v.sport, v.dport, sport,
                  dport);
    if (data && (v.dlen != len || memcmp(v.data, data, len) != 0))
        flow_fail(file, line, "UDP payload differs (%zu bytes, expected %zu)", v.dlen, len);
    if (out)
        *out = v;
}

void flow_expect_dgram_at(struct flow *f, uint32_t mtu, struct flow_dgram *out, const char *file,
                          int line)
{
    memset(out, 0, offsetof(struct flow_dgram, payload));
    out->plen = 0;
    for (;;) {
        struct flow_ip4_rx ip;
        flow_expect_ip4_at(f, -1, &ip, file, line);
        int i = out->nfrags;
        if (i == FLOW_MAX_FRAGS)
            flow_fail(file, line, "more than %d fragments", FLOW_MAX_FRAGS);
        if (i == 0) {
            out->id = ip.id;
            out->proto = ip.proto;
            out->src = ip.src;
            out->dst = ip.dst;
        } else if (ip.id != out->id || ip.proto != out->proto || ip.src != out->src ||
                   ip.dst != out->dst) {
            flow_fail(file, line, "fragment %d: id %u proto %u, expected id %u proto %u", i, ip.id,
                      ip.proto, out->id, out->proto);
        }
        if (ip.total_len > mtu)
            flow_fail(file, line, "fragment %d of %u bytes exceeds the MTU %u", i, ip.total_len,
                      mtu);
        if (ip.off != out->plen)
            flow_fail(file, line, "fragment %d at offset %u, expected %zu", i, ip.off, out->plen);
        if (ip.mf && (ip.plen % 8) != 0)
            flow_fail(file, line, "non-last fragment %d carries %zu bytes, not a multiple of 8", i,
                      ip.plen);
        if (ip.mf && ip.df)
            flow_fail(file, line, "fragment %d has DF set", i);
        memcpy(out->payload + out->plen, ip.payload, ip.plen);
        out->frag_plen[i] = (uint16_t)ip.plen;
        out->frag_off[i] = ip.off;
        out->frag_total_len[i] = ip.total_len;
        out->plen += ip.plen;
        out->nfrags++;
        if (!ip.mf)
            return;
    }
}

/* ---- helpers ---- */

void flow_prime_arp_at(struct flow *f, const char *file, int line)
{
    if (us_icmp4_echo_send(f->s, FLOW_PEER_IP, 0xfeed, 0, NULL, 0) != 0)
        flow_fail(file, line, "echo send to the peer failed");
    flow_expect_arp_request_at(f, FLOW_BCAST_MAC, FLOW_PEER_IP, file, line);
    flow_inject_arp_reply(f);
    struct flow_icmp_rx v;
    flow_expect_icmp_at(f, 8, 0, &v, file, line);
    if (memcmp(v.ip.eth_dst, FLOW_PEER_MAC, 6) != 0)
        flow_fail(file, line, "echo after ARP reply not sent to the learnt MAC");
    flow_expect_none_at(f, file, line);
}

static void sink_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                      const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    (void)pcb;
    struct flow_udp_sink *k = ctx;
    k->count++;
    k->len = us_pkt_len(p) < sizeof(k->data) ? us_pkt_len(p) : sizeof(k->data);
    memcpy(k->data, us_pkt_data(p), k->len);
    k->src = *src;
    k->dst = *dst;
    k->sport = sport;
    us_pkt_free(p);
}

static void sink_err(void *ctx, struct us_udp_pcb *pcb, int err)
{
    (void)pcb;
    struct flow_udp_sink *k = ctx;
    k->errs++;
    k->last_err = err;
}

struct us_udp_pcb *flow_udp_open(struct flow *f, struct flow_udp_sink *sink, uint16_t port)
{
    memset(sink, 0, sizeof(*sink));
    struct us_udp_pcb *pcb = us_udp_new(f->s, sink_recv, sink_err, sink);
    assert_non_null(pcb);
    int slot = -1;
    for (int i = 0; i < MAX_PCBS && slot < 0; i++)
        if (!pcbs[i].pcb)
            slot = i;
    assert_true(slot >= 0);
    pcbs[slot].f = f;
    pcbs[slot].pcb = pcb;
    if (port) {
        struct us_addr any = us_addr4(0);
        assert_int_equal(us_udp_bind(pcb, &any, port), 0);
    }
    return pcb;
}

int flow_udp_send(struct flow *f, struct us_udp_pcb *pcb, uint16_t dport, const void *data,
                  size_t len)
{
    struct us_pkt *p = us_pkt_alloc(f->s, len);
    assert_non_null(p);
    if (len)
        memcpy(us_pkt_data(p), data, len);
    struct us_addr dst = us_addr4(FLOW_PEER_IP);
    return us_udp_sendto(pcb, p, &dst, dport);
}

void flow_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}
