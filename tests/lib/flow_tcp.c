/* TCP segment builders and expectations on the flow harness (see
 * flow_tcp.h). Independent of src/wire: options and checksums are laid out
 * and verified here by hand. */
#include "flow_tcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"

#define MAX_TRACKED 512
#define ARP_REFRESH (20 * US_SEC)

static struct {
    struct flow *f;
    struct us_tcp_pcb *pcb;
} tracked[MAX_TRACKED];

static struct {
    struct flow *f;
    us_time_t last;
} arp_fresh[16];

static void tc_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void tc_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("%s:%d: tcp expectation failed: %s\n", file, line, msg);
    _fail(file, line);
    abort();
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- options ---- */

struct tc_opts tc_linux_opts(void)
{
    struct tc_opts o = {
        .mss_ok = true, .mss = 1460, .sack_ok = true, .ts_ok = true, .ws_ok = true, .ws = 7};
    return o;
}

struct tc_opts tc_no_opts(void)
{
    struct tc_opts o;
    memset(&o, 0, sizeof(o));
    return o;
}

size_t tc_build_opts(uint8_t *out, const struct tc_opts *o)
{
    size_t n = 0;
    if (o->rawlen) {
        assert_true(o->rawlen <= 40);
        memcpy(out, o->raw, o->rawlen);
        n = o->rawlen;
        while (n % 4)
            out[n++] = 0;
        return n;
    }
    if (o->mss_ok) {
        out[n++] = 2;
        out[n++] = 4;
        put16(out + n, o->mss);
        n += 2;
    }
    if (o->sack_ok && o->ts_ok) {
        out[n++] = 4;
        out[n++] = 2;
    } else if (o->sack_ok) {
        out[n++] = 1;
        out[n++] = 1;
        out[n++] = 4;
        out[n++] = 2;
    } else if (o->ts_ok) {
        out[n++] = 1;
        out[n++] = 1;
    }
    if (o->ts_ok) {
        out[n++] = 8;
        out[n++] = 10;
        put32(out + n, o->tsval);
        put32(out + n + 4, o->tsecr);
        n += 8;
    }
    if (o->ws_ok) {
        out[n++] = 1;
        out[n++] = 3;
        out[n++] = 3;
        out[n++] = o->ws;
    }
    if (o->nsack) {
        out[n++] = 1;
        out[n++] = 1;
        out[n++] = 5;
        out[n++] = (uint8_t)(2 + 8 * o->nsack);
        for (int i = 0; i < o->nsack; i++) {
            put32(out + n, o->sack[i].l);
            put32(out + n + 4, o->sack[i].r);
            n += 8;
        }
    }
    assert_true(n <= 40);
    while (n % 4)
        out[n++] = 1;
    return n;
}

/* Returns NULL or what is wrong. */
static const char *parse_opts(const uint8_t *p, size_t len, struct tc_opts *o)
{
    memset(o, 0, sizeof(*o));
    int k = 0;
    for (size_t i = 0; i < len;) {
        uint8_t kind = p[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len)
            return "option runs past the header";
        uint8_t olen = p[i + 1];
        const uint8_t *v = p + i + 2;
        if (k < 7)
            o->order[k++] = kind;
        switch (kind) {
        case 2:
            if (olen != 4)
                return "MSS option length";
            o->mss_ok = true;
            o->mss = get16(v);
            break;
        case 3:
            if (olen != 3)
                return "WS option length";
            o->ws_ok = true;
            o->ws = v[0];
            break;
        case 4:
            if (olen != 2)
                return "SACK-permitted option length";
            o->sack_ok = true;
            break;
        case 5:
            if (olen < 10 || (olen - 2) % 8 || (olen - 2) / 8 > 4)
                return "SACK option length";
            o->nsack = (olen - 2) / 8;
            for (int b = 0; b < o->nsack; b++) {
                o->sack[b].l = get32(v + 8 * b);
                o->sack[b].r = get32(v + 8 * b + 4);
            }
            break;
        case 8:
            if (olen != 10)
                return "timestamp option length";
            o->ts_ok = true;
            o->tsval = get32(v);
            o->tsecr = get32(v + 4);
            break;
        default:
            return "unexpected option kind";
        }
        i += olen;
    }
    return NULL;
}

/* ---- building and injecting ---- */

uint8_t tc_flags(const char *s)
{
    uint8_t fl = 0;
    for (; *s; s++) {
        switch (*s) {
        case 'F':
            fl |= TCP_FIN;
            break;
        case 'S':
            fl |= TCP_SYN;
            break;
        case 'R':
            fl |= TCP_RST;
            break;
        case 'P':
            fl |= TCP_PSH;
            break;
        case '.':
            fl |= TCP_ACK;
            break;
        case 'U':
            fl |= TCP_URG;
            break;
        case 'E':
            fl |= TCP_ECE;
            break;
        case 'W':
            fl |= TCP_CWR;
            break;
        default:
            fail_msg("bad flag character '%c' in \"%s\"", *s, s);
        }
    }
    return fl;
}

static void flags_str(uint8_t fl, char *buf)
{
    int n = 0;
    if (fl & TCP_SYN)
        buf[n++] = 'S';
    if (fl & TCP_FIN)
        buf[n++] = 'F';
    if (fl & TCP_RST)
        buf[n++] = 'R';
    if (fl & TCP_PSH)
        buf[n++] = 'P';
    if (fl & TCP_URG)
        buf[n++] = 'U';
    if (fl & TCP_ACK)
        buf[n++] = '.';
    buf[n] = 0;
}

void tc_inject(struct flow *f, const struct tc_seg *seg)
{
    size_t cap = 60 + seg->len;
    uint8_t *t = malloc(cap);
    assert_non_null(t);
    size_t optlen = tc_build_opts(t + 20, &seg->opt);
    size_t hlen = 20 + optlen;
    put16(t, seg->sport);
    put16(t + 2, seg->dport);
    put32(t + 4, seg->seq);
    put32(t + 8, seg->ack);
    t[12] = (uint8_t)((hlen / 4) << 4);
    t[13] = seg->flags;
    put16(t + 14, seg->win);
    put16(t + 16, 0);
    put16(t + 18, 0);
    if (seg->len)
        memcpy(t + hlen, seg->data, seg->len);
    uint32_t src = seg->src ? seg->src : FLOW_PEER_IP;
    uint16_t c = flow_csum_pseudo(src, FLOW_OUR_IP, PROTO_TCP, t, hlen + seg->len);
    if (seg->bad_csum)
        c ^= 0x0404;
    put16(t + 16, c);
    struct flow_ip4 h = flow_ip4_hdr(PROTO_TCP);
    h.src = src;
    h.df = true;
    flow_inject_ip4(f, NULL, &h, t, hlen + seg->len);
    free(t);
}

/* ---- expectations ---- */

void tc_expect_raw_at(struct flow *f, struct tc_rx *out, const char *file, int line)
{
    struct tc_rx v;
    memset(&v, 0, sizeof(v));
    flow_expect_ip4_at(f, PROTO_TCP, &v.ip, file, line);
    if (v.ip.mf || v.ip.off)
        tc_fail(file, line, "TCP segment sent as an IP fragment");
    if (v.ip.src != FLOW_OUR_IP)
        tc_fail(file, line, "TCP segment not from our address");
    if (memcmp(v.ip.eth_dst, FLOW_PEER_MAC, 6) != 0)
        tc_fail(file, line, "TCP segment not sent to the peer's MAC");
    const uint8_t *t = v.ip.payload;
    if (v.ip.plen < 20)
        tc_fail(file, line, "TCP segment of %zu bytes", v.ip.plen);
    v.hlen = (uint8_t)((t[12] >> 4) * 4);
    if (v.hlen < 20 || v.hlen > v.ip.plen)
        tc_fail(file, line, "TCP header length %u in %zu bytes", v.hlen, v.ip.plen);
    if (flow_csum_pseudo(v.ip.src, v.ip.dst, PROTO_TCP, t, v.ip.plen) != 0)
        tc_fail(file, line, "bad TCP checksum");
    if (t[12] & 0x0f)
        tc_fail(file, line, "reserved TCP header bits set");
    v.sport = get16(t);
    v.dport = get16(t + 2);
    v.seq = get32(t + 4);
    v.ack = get32(t + 8);
    v.flags = t[13];
    v.win = get16(t + 14);
    const char *bad = parse_opts(t + 20, v.hlen - 20u, &v.opt);
    if (bad)
        tc_fail(file, line, "malformed options from the stack: %s", bad);
    v.data = t + v.hlen;
    v.len = v.ip.plen - v.hlen;
    v.t = v.ip.t;
    *out = v;
}

/* ---- pcbs and events ---- */

static void track(struct flow *f, struct us_tcp_pcb *pcb)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (!tracked[i].pcb) {
            tracked[i].f = f;
            tracked[i].pcb = pcb;
            return;
        }
    }
    fail_msg("too many pcbs");
}

static void untrack(struct us_tcp_pcb *pcb)
{
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i].pcb == pcb)
            tracked[i].pcb = NULL, tracked[i].f = NULL;
}

static void on_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct tc_conn *c = ctx;
    (void)pcb;
    c->events |= ev;
    c->n_readable += !!(ev & US_TCP_EV_READABLE);
    c->n_writable += !!(ev & US_TCP_EV_WRITABLE);
    c->n_closed += !!(ev & US_TCP_EV_CLOSED);
    c->n_error += !!(ev & US_TCP_EV_ERROR);
    c->n_acceptable += !!(ev & US_TCP_EV_ACCEPTABLE);
    c->n_connected += !!(ev & US_TCP_EV_CONNECTED);
}

struct us_tcp_pcb *tc_pcb(struct tc_conn *c, struct flow *f)
{
    struct us_tcp_pcb *pcb = us_tcp_new(f->s, on_event, c);
    assert_non_null(pcb);
    track(f, pcb);
    return pcb;
}

void tc_close(struct us_tcp_pcb *pcb)
{
    untrack(pcb);
    us_tcp_close(pcb);
}

void tc_abort(struct us_tcp_pcb *pcb)
{
    untrack(pcb);
    us_tcp_abort(pcb);
}

struct us_tcp_pcb *tc_accept_child(struct tc_conn *c)
{
    struct us_tcp_pcb *child = us_tcp_accept(c->listener);
    if (!child)
        return NULL;
    child->event = on_event;
    child->ctx = c;
    track(c->f, child);
    c->pcb = child;
    return child;
}

int tc_teardown(void **state)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i].pcb) {
            struct us_tcp_pcb *pcb = tracked[i].pcb;
            tracked[i].pcb = NULL;
            tracked[i].f = NULL;
            us_tcp_close(pcb);
        }
    }
    memset(arp_fresh, 0, sizeof(arp_fresh));
    return flow_teardown(state);
}

/* ---- clock ---- */

static us_time_t *arp_last(struct flow *f)
{
    for (int i = 0; i < 16; i++)
        if (arp_fresh[i].f == f)
            return &arp_fresh[i].last;
    return NULL;
}

struct flow *tc_flow(const struct flow_opts *o)
{
    struct flow *f = flow_new(o);
    flow_prime_arp(f);
    flow_inject_arp_reply(f); /* REACHABLE from now */
    for (int i = 0; i < 16; i++) {
        if (!arp_fresh[i].f) {
            arp_fresh[i].f = f;
            arp_fresh[i].last = us_now(f->s);
            return f;
        }
    }
    fail_msg("too many flows");
    return f;
}

void tc_flow_free(struct flow *f)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i].pcb && tracked[i].f == f) {
            struct us_tcp_pcb *pcb = tracked[i].pcb;
            tracked[i].pcb = NULL;
            tracked[i].f = NULL;
            us_tcp_close(pcb);
        }
    }
    for (int i = 0; i < 16; i++)
        if (arp_fresh[i].f == f)
            arp_fresh[i].f = NULL;
    flow_free(f);
}

us_time_t tc_now(struct flow *f)
{
    return us_now(f->s);
}

static bool run(struct flow *f, us_time_t target, bool stop_on_frame)
{
    us_time_t *last = arp_last(f);
    for (long guard = 0;; guard++) {
        if (stop_on_frame && flow_pending(f))
            return true;
        us_time_t now = us_now(f->s);
        if (now >= target)
            break;
        assert_true(guard < 10000000);
        us_time_t step = target;
        if (last && *last + ARP_REFRESH < step)
            step = *last + ARP_REFRESH;
        us_time_t next = us_next_deadline(f->s);
        if (next <= step) {
            us_poll(f->s, next > now ? next : now); /* one deadline at a time */
            continue;
        }
        us_poll(f->s, step);
        if (last && us_now(f->s) >= *last + ARP_REFRESH) {
            flow_inject_arp_reply(f);
            *last = us_now(f->s);
        }
    }
    return flow_pending(f) > 0;
}

void tc_advance(struct flow *f, us_time_t d)
{
    run(f, us_now(f->s) + d, false);
}

bool tc_run_until_sent(struct flow *f, us_time_t max)
{
    return run(f, us_now(f->s) + max, true);
}

/* ---- connections ---- */

uint32_t tc_peer_tsval(struct tc_conn *c)
{
    return TC_TS_BASE + (uint32_t)(flow_elapsed(c->f) / US_MSEC);
}

void tc_in_full(struct tc_conn *c, const char *flags, uint32_t seq, uint32_t ack, uint16_t win,
                const struct tc_opts *o, size_t len)
{
    struct tc_seg s;
    memset(&s, 0, sizeof(s));
    s.sport = c->pport;
    s.dport = c->lport;
    s.flags = tc_flags(flags);
    s.seq = c->irs + seq;
    s.ack = (s.flags & TCP_ACK) ? c->iss + ack : 0;
    s.win = win;
    if (o) {
        s.opt = *o;
        if (s.opt.ts_ok && s.opt.tsval == 0 && s.opt.tsecr == 0) {
            s.opt.tsval = tc_peer_tsval(c);
            s.opt.tsecr = c->ts_last;
        }
    } else if (c->ts) {
        s.opt.ts_ok = true;
        s.opt.tsval = tc_peer_tsval(c);
        s.opt.tsecr = c->ts_last;
    }
    uint8_t *data = NULL;
    if (len) {
        data = malloc(len);
        assert_non_null(data);
        uint32_t first = seq + !!(s.flags & TCP_SYN);
        for (size_t i = 0; i < len; i++)
            data[i] = tc_peer_byte(first + (uint32_t)i);
    }
    s.data = data;
    s.len = len;
    tc_inject(c->f, &s);
    free(data);
}

void tc_in(struct tc_conn *c, const char *flags, uint32_t seq, uint32_t ack, size_t len)
{
    tc_in_full(c, flags, seq, ack, c->win, NULL, len);
}

void tc_in_sack(struct tc_conn *c, uint32_t seq, uint32_t ack, int n, const uint32_t *blocks)
{
    struct tc_opts o = tc_no_opts();
    if (c->ts) {
        o.ts_ok = true;
        o.tsval = tc_peer_tsval(c);
        o.tsecr = c->ts_last;
    }
    assert_true(n >= 0 && n <= (c->ts ? 3 : 4));
    o.nsack = n;
    for (int i = 0; i < n; i++) {
        o.sack[i].l = c->iss + blocks[2 * i];
        o.sack[i].r = c->iss + blocks[2 * i + 1];
    }
    tc_in_full(c, ".", seq, ack, c->win, &o, 0);
}

static void describe(const struct tc_conn *c, const struct tc_rx *r, char *buf, size_t len)
{
    char fl[12];
    flags_str(r->flags, fl);
    snprintf(buf, len, "[%s] seq %u ack %u win %u len %zu at +%.3f ms (%u -> %u)", fl,
             r->seq - c->iss, r->ack - c->irs, r->win, r->len, (double)(r->t - c->f->t0) / US_MSEC,
             r->sport, r->dport);
}

const struct tc_rx *tc_out_at(struct tc_conn *c, const char *flags, uint32_t seq, uint32_t ack,
                              uint32_t len, const char *file, int line)
{
    struct tc_rx *r = &c->rx;
    if (!flow_pending(c->f))
        tc_fail(file, line, "expected [%s] seq %u ack %u at +%.3f ms, nothing was sent", flags, seq,
                ack, (double)flow_elapsed(c->f) / US_MSEC);
    tc_expect_raw_at(c->f, r, file, line);
    char d[200];
    describe(c, r, d, sizeof(d));
    if (r->ip.dst != FLOW_PEER_IP || r->sport != c->lport || r->dport != c->pport)
        tc_fail(file, line, "segment of another connection: %s", d);
    uint8_t want = tc_flags(flags);
    uint8_t got = r->flags;
    if (!strchr(flags, 'P'))
        got &= (uint8_t)~TCP_PSH;
    if (got != want)
        tc_fail(file, line, "expected flags [%s], got %s", flags, d);
    if (seq != TC_ANY && r->seq - c->iss != seq)
        tc_fail(file, line, "expected seq %u, got %s", seq, d);
    if (ack != TC_ANY && (r->flags & TCP_ACK) && r->ack - c->irs != ack)
        tc_fail(file, line, "expected ack %u, got %s", ack, d);
    if (ack != TC_ANY && !(r->flags & TCP_ACK) && r->ack != 0 && !(r->flags & TCP_RST))
        tc_fail(file, line, "ack field %u without the ACK flag: %s", r->ack, d);
    if (len != TC_ANY && r->len != len)
        tc_fail(file, line, "expected %u bytes of data, got %s", len, d);
    if (c->ts && !(r->flags & TCP_RST)) {
        if (!r->opt.ts_ok)
            tc_fail(file, line, "timestamps agreed but the segment has none: %s", d);
        if ((int32_t)(r->opt.tsval - c->ts_last) < 0)
            tc_fail(file, line, "TSval %u went back from %u: %s", r->opt.tsval, c->ts_last, d);
        c->ts_last = r->opt.tsval;
    }
    if (!c->ts && r->opt.ts_ok && !(r->flags & TCP_SYN))
        tc_fail(file, line, "timestamp option on a connection without them: %s", d);
    if (!c->sack && r->opt.nsack)
        tc_fail(file, line, "SACK blocks on a connection without SACK: %s", d);
    return r;
}

void tc_connect_at(struct tc_conn *c, struct flow *f, const struct tc_opts *synack_opts,
                   const char *file, int line)
{
    c->f = f;
    if (!c->pport)
        c->pport = TC_PEER_PORT;
    if (!c->win)
        c->win = 65535;
    c->irs = TC_PEER_ISN;
    c->pcb = tc_pcb(c, f);
    struct us_addr peer = us_addr4(FLOW_PEER_IP);
    int rc = us_tcp_connect(c->pcb, &peer, c->pport);
    if (rc != 0)
        tc_fail(file, line, "us_tcp_connect: %d", rc);
    struct tc_rx syn;
    tc_expect_raw_at(f, &syn, file, line);
    if (syn.flags != TCP_SYN || syn.dport != c->pport || syn.len)
        tc_fail(file, line, "expected a SYN to port %u, got flags 0x%02x to %u", c->pport,
                syn.flags, syn.dport);
    if (!syn.opt.mss_ok || !syn.opt.sack_ok || !syn.opt.ts_ok || !syn.opt.ws_ok)
        tc_fail(file, line, "SYN does not offer MSS, SACK, TS and WS");
    c->lport = syn.sport;
    c->iss = syn.seq;
    c->mss = syn.opt.mss;
    c->ts_last = syn.opt.tsval;
    c->rx = syn;
    struct tc_opts o = synack_opts ? *synack_opts : tc_linux_opts();
    c->ts = o.ts_ok && !o.rawlen;
    c->sack = o.sack_ok && !o.rawlen;
    c->ws = o.ws_ok && !o.rawlen;
    c->peer_ws = c->ws ? o.ws : 0;
    if (o.ts_ok && !o.tsval && !o.tsecr) {
        o.tsval = tc_peer_tsval(c);
        o.tsecr = c->ts_last;
    }
    bool ts = c->ts;
    c->ts = false; /* the SYN-ACK carries o's options only */
    tc_in_full(c, "S.", 0, 1, c->win, &o, 0);
    c->ts = ts;
    tc_out_at(c, ".", 1, 1, 0, file, line);
    if (c->pcb->state != TCPS_ESTABLISHED)
        tc_fail(file, line, "not ESTABLISHED after the handshake: %s",
                us_tcp_state_name(c->pcb->state));
}

void tc_accept_at(struct tc_conn *c, struct flow *f, uint16_t port, const struct tc_opts *syn_opts,
                  const char *file, int line)
{
    c->f = f;
    if (!c->pport)
        c->pport = TC_PEER_PORT;
    if (!c->win)
        c->win = 65535;
    if (!c->irs)
        c->irs = TC_PEER_ISN;
    c->lport = port;
    if (!c->listener) {
        c->listener = tc_pcb(c, f);
        if (us_tcp_bind(c->listener, NULL, port, false) != 0 || us_tcp_listen(c->listener, 16) != 0)
            tc_fail(file, line, "cannot listen on %u", port);
    }
    struct tc_opts o = syn_opts ? *syn_opts : tc_linux_opts();
    if (o.ts_ok && !o.tsval && !o.tsecr)
        o.tsval = tc_peer_tsval(c);
    c->ts = false;
    c->sack = o.sack_ok; /* the SYN-ACK may echo SACK-permitted */
    tc_in_full(c, "S", 0, 0, c->win, &o, 0);
    c->sack = false;
    struct tc_rx *r = &c->rx;
    tc_expect_raw_at(f, r, file, line);
    c->iss = r->seq;
    char d[200];
    describe(c, r, d, sizeof(d));
    if (r->flags != (TCP_SYN | TCP_ACK) || r->ack != c->irs + 1 || r->sport != port ||
        r->dport != c->pport || r->len)
        tc_fail(file, line, "expected a SYN-ACK, got %s", d);
    if (!r->opt.mss_ok)
        tc_fail(file, line, "SYN-ACK without MSS");
    bool plain = !o.rawlen;
    if (r->opt.sack_ok != (plain && o.sack_ok) || r->opt.ts_ok != (plain && o.ts_ok) ||
        r->opt.ws_ok != (plain && o.ws_ok))
        tc_fail(file, line, "SYN-ACK options (sack %d ts %d ws %d) do not answer the SYN's",
                r->opt.sack_ok, r->opt.ts_ok, r->opt.ws_ok);
    if (r->opt.ts_ok && r->opt.tsecr != o.tsval)
        tc_fail(file, line, "SYN-ACK TSecr %u, the SYN's TSval was %u", r->opt.tsecr, o.tsval);
    c->mss = r->opt.mss;
    c->ts = r->opt.ts_ok;
    c->sack = r->opt.sack_ok;
    c->ws = r->opt.ws_ok;
    c->peer_ws = c->ws ? o.ws : 0;
    c->ts_last = r->opt.tsval;
    tc_in(c, ".", 1, 1, 0);
    if (!tc_accept_child(c))
        tc_fail(file, line, "no connection to accept after the handshake");
    if (c->pcb->state != TCPS_ESTABLISHED)
        tc_fail(file, line, "child not ESTABLISHED: %s", us_tcp_state_name(c->pcb->state));
}

/* ---- data ---- */

void tc_send(struct tc_conn *c, uint32_t *off, size_t n)
{
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = tc_our_byte(*off + (uint32_t)i);
    ssize_t got = us_tcp_send(c->pcb, buf, n, false);
    free(buf);
    assert_int_equal(got, (ssize_t)n);
    *off += (uint32_t)n;
}

size_t tc_read(struct tc_conn *c, uint32_t *seq)
{
    static uint8_t buf[65536];
    size_t total = 0;
    /* Only what is readable: a pending error stays for the test to see. */
    while (us_tcp_readable(c->pcb)) {
        ssize_t n = us_tcp_recv(c->pcb, buf, sizeof(buf), false);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != tc_peer_byte(*seq + (uint32_t)i))
                fail_msg("byte at relative seq %u differs", *seq + (uint32_t)i);
        *seq += (uint32_t)n;
        total += (size_t)n;
    }
    return total;
}
