/* ICMPv4 (RFC 792, RFC 1122 3.2.2): echo replies, errors to transports,
 * and error generation under a token-bucket rate limit. */
#include "ip4/icmp4.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/ip4.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* RFC 1812 4.3.2.3 keeps errors within 576 octets: quote up to this much. */
#define ICMP4_QUOTE_MAX (576 - IP4_HLEN - ICMP4_HLEN)

void us_icmp4_init(struct ustack *s)
{
    s->icmp4.tokens_milli = (uint64_t)s->cfg.icmp_burst * 1000;
    s->icmp4.last_refill = s->now;
}

static void log_icmp(struct ustack *s, const char *dir, uint32_t src, uint32_t dst,
                     const struct icmp4_view *v, size_t len)
{
    if (!us_log_enabled(s, US_CH_ICMP4, US_LOG_DEBUG))
        return;
    char a[16], b[16];
    inet_ntop(AF_INET, &src, a, sizeof(a));
    inet_ntop(AF_INET, &dst, b, sizeof(b));
    if (v->type == ICMP4_ECHO_REQUEST || v->type == ICMP4_ECHO_REPLY)
        us_log_emit(s, US_CH_ICMP4, US_LOG_DEBUG, "ICMP4 %s echo %s %s > %s id %u seq %u len %zu",
                    dir, v->type == ICMP4_ECHO_REQUEST ? "request" : "reply", a, b, v->id, v->seq,
                    len);
    else
        us_log_emit(s, US_CH_ICMP4, US_LOG_DEBUG, "ICMP4 %s type %u code %u %s > %s len %zu", dir,
                    v->type, v->code, a, b, len);
}

/* Refills at icmp_rate_per_sec up to icmp_burst; takes one token if any. */
static bool rate_allow(struct ustack *s)
{
    struct us_icmp4 *ic = &s->icmp4;
    uint64_t cap = (uint64_t)s->cfg.icmp_burst * 1000;
    us_time_t elapsed = s->now - ic->last_refill;
    us_time_t fill_time = (us_time_t)s->cfg.icmp_burst * US_SEC / s->cfg.icmp_rate_per_sec + 1;
    if (elapsed > fill_time)
        elapsed = fill_time; /* the bucket is full by then; avoids overflow */
    uint64_t add = elapsed * s->cfg.icmp_rate_per_sec / US_MSEC; /* milli-tokens */
    if (add) {
        ic->tokens_milli = ic->tokens_milli + add > cap ? cap : ic->tokens_milli + add;
        ic->last_refill = s->now;
    }
    if (ic->tokens_milli < 1000)
        return false;
    ic->tokens_milli -= 1000;
    return true;
}

static void echo_reply(struct ustack *s, struct us_pkt *p, const struct ip4_view *ip,
                       struct icmp4_view *v)
{
    /* Reuse the request in place: type 0, same id, seq and data. */
    uint8_t *icmp = p->data;
    v->type = ICMP4_ECHO_REPLY;
    v->code = 0;
    icmp4_build(icmp, p->len, v);
    log_icmp(s, "tx", ip->dst, ip->src, v, p->len);
    s->cnt.tx[US_P_icmp4]++;
    us_count_event(s, US_EV_icmp4_echo_reply_out);
    us_ip4_output(s, p, ip->dst, ip->src, IP_PROTO_ICMP, US_IP4_DEFAULT_TTL, ip->tos, false);
}

static void echo_to_listener(struct ustack *s, struct us_pkt *p, const struct ip4_view *ip,
                             const struct icmp4_view *v)
{
    for (struct us_icmp4_echo_listener *l = s->icmp4.echo; l; l = l->next) {
        if (l->id == v->id) {
            l->fn(l->ctx, p, ip->src, ip->ttl);
            return;
        }
    }
    us_drop(s, p, US_P_icmp4, US_DROP_icmp4_no_listener);
}

static int error_to_errno(uint8_t type, uint8_t code)
{
    if (type == ICMP4_DEST_UNREACH) {
        switch (code) {
        case ICMP4_UNREACH_NET:
            return ENETUNREACH;
        case ICMP4_UNREACH_PORT:
            return ECONNREFUSED;
        case ICMP4_UNREACH_PROTO:
            return ENOPROTOOPT;
        case ICMP4_UNREACH_FRAG_NEEDED:
            return EMSGSIZE;
        default:
            return EHOSTUNREACH;
        }
    }
    if (type == ICMP4_PARAM_PROBLEM)
        return EPROTO;
    return EHOSTUNREACH; /* time exceeded */
}

/* An error quotes the offending IP header and at least 8 bytes after it
 * (RFC 792). The quote is truncated, so its lengths are checked leniently. */
/* Hands an error about the datagram quoted at q to its transport. Returns
 * false when the quote is too short to say which connection it was. */
static bool dispatch_error(struct ustack *s, const uint8_t *q, size_t qlen, uint8_t type,
                           uint8_t code, uint32_t rest)
{
    struct ip4_view inner;
    if (qlen < IP4_HLEN || (q[0] >> 4) != 4 || (q[0] & 0x0f) < 5 || (q[0] & 0x0f) * 4u + 8 > qlen)
        return false;
    inner.hlen = (uint8_t)((q[0] & 0x0f) * 4);
    inner.proto = q[9];
    memcpy(&inner.src, q + 12, 4);
    memcpy(&inner.dst, q + 16, 4);
    int err = error_to_errno(type, code);
    if (inner.proto == IP_PROTO_UDP)
        us_udp_icmp_error(s, &inner, q + inner.hlen, err);
    else if (inner.proto == IP_PROTO_TCP)
        us_tcp_icmp_error(s, &inner, q + inner.hlen, type, code, rest, err);
    return true;
}

static void error_input(struct ustack *s, struct us_pkt *p, const struct icmp4_view *v)
{
    if (!dispatch_error(s, p->data + ICMP4_HLEN, p->len - ICMP4_HLEN, v->type, v->code, v->rest)) {
        us_drop(s, p, US_P_icmp4, US_DROP_icmp4_bad_quote);
        return;
    }
    us_pkt_free(p);
}

void us_icmp4_local_error(struct ustack *s, const struct us_pkt *p, uint8_t type, uint8_t code)
{
    dispatch_error(s, p->data, p->len, type, code, 0);
}

void us_icmp4_input(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                    const struct ip4_view *ip)
{
    (void)nif;
    us_pkt_pull(p, ip->hlen);
    struct icmp4_view v;
    enum us_drop why = icmp4_parse(p->data, p->len, &v);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_icmp4, why);
        return;
    }
    s->cnt.rx[US_P_icmp4]++;
    log_icmp(s, "rx", ip->src, ip->dst, &v, p->len);
    switch (v.type) {
    case ICMP4_ECHO_REQUEST:
        /* RFC 1122 3.2.2.6 lets a host ignore echoes to broadcast; Linux
         * does by default (icmp_echo_ignore_broadcasts), so do we. */
        if (p->link_bcast)
            us_drop(s, p, US_P_icmp4, US_DROP_icmp4_bcast_echo);
        else
            echo_reply(s, p, ip, &v);
        return;
    case ICMP4_ECHO_REPLY:
        echo_to_listener(s, p, ip, &v);
        return;
    case ICMP4_DEST_UNREACH:
    case ICMP4_TIME_EXCEEDED:
    case ICMP4_PARAM_PROBLEM:
        error_input(s, p, &v);
        return;
    default:
        us_drop(s, p, US_P_icmp4, US_DROP_icmp4_unknown_type);
    }
}

static bool is_icmp_error_type(uint8_t type)
{
    return type == ICMP4_DEST_UNREACH || type == 4 /* source quench */ || type == ICMP4_REDIRECT ||
           type == ICMP4_TIME_EXCEEDED || type == ICMP4_PARAM_PROBLEM;
}

/* RFC 1122 3.2.2: when an error must not be sent. */
static bool error_allowed(const struct us_pkt *orig, const struct ip4_view *ip)
{
    if (orig->link_bcast || ip->dst == 0xffffffffu || (ntohl(ip->dst) >> 28) == 0xe)
        return false;
    if (ip->frag_off != 0)
        return false; /* not the first fragment */
    uint32_t h = ntohl(ip->src);
    if (ip->src == 0 || ip->src == 0xffffffffu || (h >> 28) == 0xe || (h >> 24) == 127)
        return false;
    if (ip->proto == IP_PROTO_ICMP) {
        const uint8_t *icmp = orig->data + ip->hlen;
        if (orig->len < ip->hlen + 1u || is_icmp_error_type(icmp[0]))
            return false;
    }
    return true;
}

void us_icmp4_error(struct ustack *s, struct us_pkt *orig, const struct ip4_view *ip, uint8_t type,
                    uint8_t code, uint32_t rest)
{
    if (!error_allowed(orig, ip))
        return;
    if (!rate_allow(s)) {
        us_count_drop(s, US_P_icmp4, US_DROP_icmp4_rate_limited);
        return;
    }
    us_pkt_csum_complete(orig); /* the quote goes out as it is */
    size_t quote = orig->len < ICMP4_QUOTE_MAX ? orig->len : ICMP4_QUOTE_MAX;
    struct us_pkt *p = us_pkt_alloc(s, ICMP4_HLEN + quote);
    if (!p) {
        us_count_drop(s, US_P_icmp4, US_DROP_no_buffer);
        return;
    }
    memcpy(p->data + ICMP4_HLEN, orig->data, quote);
    struct icmp4_view v = {.type = type, .code = code, .rest = rest};
    icmp4_build(p->data, p->len, &v);
    log_icmp(s, "tx", ip->dst, ip->src, &v, p->len);
    s->cnt.tx[US_P_icmp4]++;
    us_count_event(s, US_EV_icmp4_error_out);
    /* Answer from the address the offending packet was sent to. */
    us_ip4_output(s, p, ip->dst, ip->src, IP_PROTO_ICMP, US_IP4_DEFAULT_TTL, 0, false);
}

int us_icmp4_echo_send(struct ustack *s, uint32_t dst, uint16_t id, uint16_t seq,
                       const void *payload, size_t payload_len)
{
    if (payload_len > IP4_MAX_LEN - IP4_HLEN - ICMP4_HLEN)
        return -EMSGSIZE;
    struct us_pkt *p = us_pkt_alloc(s, ICMP4_HLEN + payload_len);
    if (!p)
        return -ENOBUFS;
    if (payload_len)
        memcpy(p->data + ICMP4_HLEN, payload, payload_len);
    struct icmp4_view v = {.type = ICMP4_ECHO_REQUEST};
    uint16_t nid = htons(id), nseq = htons(seq);
    memcpy((uint8_t *)&v.rest, &nid, 2);
    memcpy((uint8_t *)&v.rest + 2, &nseq, 2);
    v.id = id;
    v.seq = seq;
    icmp4_build(p->data, p->len, &v);
    s->cnt.tx[US_P_icmp4]++;
    log_icmp(s, "tx", 0, dst, &v, p->len);
    return us_ip4_output(s, p, 0, dst, IP_PROTO_ICMP, US_IP4_DEFAULT_TTL, 0, false);
}

void us_icmp4_echo_listen(struct ustack *s, struct us_icmp4_echo_listener *l)
{
    l->next = s->icmp4.echo;
    s->icmp4.echo = l;
}

void us_icmp4_echo_unlisten(struct ustack *s, struct us_icmp4_echo_listener *l)
{
    for (struct us_icmp4_echo_listener **pp = &s->icmp4.echo; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            return;
        }
    }
}
