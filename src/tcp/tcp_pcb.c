/* TCP connection blocks: creation, lookup, ports, the user calls of RFC
 * 9293 3.10 (OPEN, SEND, RECEIVE, CLOSE, ABORT) and the end of a
 * connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/stack.h"
#include "ip4/ip4.h"
#include "tcp/cc.h"
#include "tcp/tcp.h"
#include "tcp/tcp_seq.h"

static const char *const state_names[] = {"CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
                                          "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                          "CLOSING",     "LAST-ACK",   "TIME-WAIT"};

const char *us_tcp_state_name(int state)
{
    return (unsigned)state <= TCPS_TIME_WAIT ? state_names[state] : "?";
}

/* ---- Hashing and lookup ---- */

static uint32_t addr_hash(const struct us_addr *a)
{
    if (a->family == US_AF_INET6) {
        uint32_t h = 0, w;
        for (int i = 0; i < 16; i += 4) {
            memcpy(&w, a->v6 + i, 4);
            h ^= w;
        }
        return h;
    }
    return a->v4;
}

static uint32_t conn_hash(const struct us_addr *raddr, uint16_t lport, uint16_t rport)
{
    uint32_t h = addr_hash(raddr) ^ ((uint32_t)lport << 16 | rport);
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    return h & (TCP_HASH - 1);
}

static uint16_t *port_refs(struct ustack *s)
{
    if (!s->tcp.port_refs)
        s->tcp.port_refs = calloc(65536, sizeof(uint16_t));
    return s->tcp.port_refs;
}

static void port_ref(struct ustack *s, uint16_t port, int delta)
{
    uint16_t *refs = port_refs(s);
    if (refs)
        refs[port] = (uint16_t)(refs[port] + delta);
}

/* A bound pcb without a peer (listening or about to) lives on the listener
 * list; a connection with a peer lives in the 4-tuple hash. */
void tcp_hash_insert(struct ustack *s, struct us_tcp_pcb *pcb)
{
    if (pcb->hashed)
        return;
    struct us_tcp_pcb **head = pcb->rport
                                   ? &s->tcp.conns[conn_hash(&pcb->remote, pcb->lport, pcb->rport)]
                                   : &s->tcp.listeners;
    pcb->next = *head;
    *head = pcb;
    pcb->hashed = true;
    port_ref(s, pcb->lport, 1);
}

void tcp_hash_remove(struct ustack *s, struct us_tcp_pcb *pcb)
{
    if (!pcb->hashed)
        return;
    struct us_tcp_pcb **pp = pcb->rport
                                 ? &s->tcp.conns[conn_hash(&pcb->remote, pcb->lport, pcb->rport)]
                                 : &s->tcp.listeners;
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == pcb) {
            *pp = pcb->next;
            break;
        }
    }
    pcb->hashed = false;
    port_ref(s, pcb->lport, -1);
}

struct us_tcp_pcb *tcp_lookup(struct ustack *s, const struct us_addr *src, uint16_t sport,
                              const struct us_addr *dst, uint16_t dport, bool *is_listener)
{
    *is_listener = false;
    for (struct us_tcp_pcb *p = s->tcp.conns[conn_hash(src, dport, sport)]; p; p = p->next)
        if (p->lport == dport && p->rport == sport && us_addr_eq(&p->remote, src) &&
            us_addr_eq(&p->local, dst))
            return p;
    struct us_tcp_pcb *wild = NULL;
    for (struct us_tcp_pcb *p = s->tcp.listeners; p; p = p->next) {
        if (p->lport != dport || p->state != TCPS_LISTEN)
            continue;
        if (us_addr_eq(&p->local, dst)) {
            *is_listener = true;
            return p;
        }
        if (us_addr_is_any(&p->local))
            wild = p;
    }
    *is_listener = wild != NULL;
    return wild;
}

/* ---- Numbers: ISN (RFC 6528), timestamps (RFC 7323 5.4) ---- */

static uint64_t tuple_hash(struct ustack *s, const struct us_addr *la, uint16_t lp,
                           const struct us_addr *ra, uint16_t rp, uint32_t salt)
{
    uint8_t id[40] = {0};
    memcpy(id, la->family == US_AF_INET6 ? la->v6 : (const uint8_t *)&la->v4, 16);
    memcpy(id + 16, ra->family == US_AF_INET6 ? ra->v6 : (const uint8_t *)&ra->v4, 16);
    memcpy(id + 32, &lp, 2);
    memcpy(id + 34, &rp, 2);
    memcpy(id + 36, &salt, 4);
    return us_siphash(s->secret, id, sizeof(id));
}

/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, key),
 * M a timer ticking every 4 microseconds. */
uint32_t tcp_isn(struct ustack *s, const struct us_addr *la, uint16_t lp, const struct us_addr *ra,
                 uint16_t rp)
{
    uint32_t m = (uint32_t)(s->now / 4000);
    return m + (uint32_t)tuple_hash(s, la, lp, ra, rp, 0x15a);
}

uint32_t tcp_ts_now(const struct us_tcp_pcb *pcb)
{
    return (uint32_t)(pcb->stack->now / US_MSEC) + pcb->ts_offset;
}

/* MSS for a destination: the route's MTU minus IP and TCP headers. */
uint16_t tcp_mss_for_route(struct ustack *s, const struct us_addr *dst)
{
    struct us_ip4_route rt;
    uint32_t mtu = 1500;
    if (dst->family == US_AF_INET && us_ip4_route(s, dst->v4, &rt) == 0)
        mtu = rt.nif->mtu;
    uint32_t mss = mtu - IP4_HLEN - TCP_HLEN;
    return (uint16_t)(mss > 65495 ? 65495 : mss);
}

/* ---- Creation and teardown ---- */

struct us_tcp_pcb *us_tcp_new(struct ustack *s, us_tcp_event_fn event, void *ctx)
{
    struct us_tcp_pcb *pcb = calloc(1, sizeof(*pcb));
    if (!pcb)
        return NULL;
    pcb->stack = s;
    pcb->state = TCPS_CLOSED;
    pcb->local.family = US_AF_INET;
    pcb->remote.family = US_AF_INET;
    pcb->snd.limit = TCP_DEFAULT_SNDBUF;
    pcb->rcv.limit = TCP_DEFAULT_RCVBUF;
    pcb->cc = &tcp_cc_newreno;
    pcb->rto = TCP_RTO_INIT;
    pcb->mss = TCP_DEFAULT_MSS;
    pcb->keepidle_s = TCP_KEEPIDLE_DEFAULT / US_SEC;
    pcb->keepintvl_s = TCP_KEEPINTVL_DEFAULT / US_SEC;
    pcb->keepcnt = TCP_KEEPCNT_DEFAULT;
    pcb->event = event;
    pcb->ctx = ctx;
    tcp_timers_init(pcb);
    return pcb;
}

static void pcb_free(struct us_tcp_pcb *pcb)
{
    tcp_timers_stop(pcb);
    tcp_hash_remove(pcb->stack, pcb);
    tcp_sndbuf_free(&pcb->snd);
    tcp_rcvbuf_free(&pcb->rcv);
    pcb->event = NULL;
    if (pcb->busy) {
        pcb->zombie = true; /* tcp_pcb_put frees it */
        return;
    }
    free(pcb);
}

void tcp_pcb_put(struct us_tcp_pcb *pcb)
{
    if (--pcb->busy == 0 && pcb->zombie)
        free(pcb);
}

void tcp_notify(struct us_tcp_pcb *pcb, unsigned events)
{
    if (pcb->event)
        pcb->event(pcb->ctx, pcb, events);
}

void tcp_set_state(struct us_tcp_pcb *pcb, int state)
{
    US_DEBUG(pcb->stack, US_CH_TCP, "TCP :%u > :%u %s -> %s", pcb->lport, pcb->rport,
             us_tcp_state_name(pcb->state), us_tcp_state_name(state));
    pcb->state = (uint8_t)state;
}

/* Unlinks a child from its listener's SYN or accept queue. */
static void child_unlink(struct us_tcp_pcb *child)
{
    struct us_tcp_pcb *l = child->listener;
    if (!l)
        return;
    for (struct us_tcp_pcb **pp = &l->syn_q; *pp; pp = &(*pp)->q_next) {
        if (*pp == child) {
            *pp = child->q_next;
            l->syn_q_len--;
            child->listener = NULL;
            return;
        }
    }
    for (struct us_tcp_pcb **pp = &l->acc_q; *pp; pp = &(*pp)->q_next) {
        if (*pp == child) {
            *pp = child->q_next;
            l->acc_q_len--;
            child->listener = NULL;
            return;
        }
    }
}

static bool in_accept_queue(const struct us_tcp_pcb *child)
{
    for (const struct us_tcp_pcb *c = child->listener ? child->listener->acc_q : NULL; c;
         c = c->q_next)
        if (c == child)
            return true;
    return false;
}

void tcp_closed(struct us_tcp_pcb *pcb, int err)
{
    tcp_timers_stop(pcb);
    tcp_hash_remove(pcb->stack, pcb);
    tcp_set_state(pcb, TCPS_CLOSED);
    if (pcb->listener && err && in_accept_queue(pcb)) {
        /* Established but not yet accepted, then reset or timed out: as on
         * Linux it stays in the accept queue, and accept() returns it with
         * its error (and any data it received) for the application. */
        pcb->err = err;
        return;
    }
    if (pcb->listener) {
        /* Never accepted: nobody owns it but the listener. */
        child_unlink(pcb);
        pcb_free(pcb);
        return;
    }
    if (err)
        pcb->err = err;
    if (pcb->user_closed) {
        pcb_free(pcb);
        return;
    }
    tcp_notify(pcb, US_TCP_EV_CLOSED | US_TCP_EV_READABLE | US_TCP_EV_WRITABLE |
                        (err ? US_TCP_EV_ERROR : 0));
}

/* ---- User calls ---- */

static bool port_free(struct ustack *s, uint16_t port)
{
    uint16_t *refs = port_refs(s);
    return refs ? refs[port] == 0 : true;
}

/* Linux semantics: a port is taken by a listener or a bound socket on an
 * overlapping address; connections on it only block a rebind without
 * SO_REUSEADDR (e.g. TIME-WAIT after a server restart). */
static bool bind_conflict(struct ustack *s, const struct us_addr *addr, uint16_t port, bool reuse)
{
    if (port_free(s, port))
        return false;
    for (struct us_tcp_pcb *p = s->tcp.listeners; p; p = p->next) {
        if (p->lport != port)
            continue;
        if (us_addr_is_any(&p->local) || us_addr_is_any(addr) || us_addr_eq(&p->local, addr))
            return true;
    }
    return !reuse;
}

static bool ephemeral_in_use(struct ustack *s, uint16_t port)
{
    return !port_free(s, port);
}

int us_tcp_bind(struct us_tcp_pcb *pcb, const struct us_addr *addr, uint16_t port, bool reuse)
{
    struct ustack *s = pcb->stack;
    if (pcb->hashed || pcb->lport || pcb->state != TCPS_CLOSED)
        return -EINVAL;
    struct us_addr local = addr ? *addr : us_addr4(0);
    int err = us_bind_addr_check(s, &local);
    if (err)
        return err;
    if (!port_refs(s))
        return -ENOBUFS;
    if (port == 0) {
        port = us_ephemeral_port(s, &local, &pcb->remote, 0, ephemeral_in_use);
        if (port == 0)
            return -EADDRINUSE;
    } else if (bind_conflict(s, &local, port, reuse)) {
        return -EADDRINUSE;
    }
    pcb->local = local;
    pcb->lport = port;
    tcp_hash_insert(s, pcb); /* on the listener list, not yet listening */
    return 0;
}

int us_tcp_listen(struct us_tcp_pcb *pcb, int backlog)
{
    if (pcb->state == TCPS_LISTEN) {
        pcb->backlog = (uint16_t)(backlog < 1 ? 1 : backlog > 4096 ? 4096 : backlog);
        return 0;
    }
    if (pcb->state != TCPS_CLOSED)
        return -EINVAL;
    if (!pcb->lport) {
        int err = us_tcp_bind(pcb, NULL, 0, false);
        if (err)
            return err;
    }
    pcb->backlog = (uint16_t)(backlog < 1 ? 1 : backlog > 4096 ? 4096 : backlog);
    tcp_set_state(pcb, TCPS_LISTEN);
    return 0;
}

struct us_tcp_pcb *us_tcp_accept(struct us_tcp_pcb *l)
{
    struct us_tcp_pcb *c = l->acc_q;
    if (!c)
        return NULL;
    l->acc_q = c->q_next;
    l->acc_q_len--;
    c->q_next = NULL;
    c->listener = NULL;
    return c;
}

static uint8_t wscale_for(uint32_t limit)
{
    uint8_t ws = 0;
    while (ws < TCP_MAX_WS && (limit >> ws) > 65535)
        ws++;
    return ws;
}

int us_tcp_connect(struct us_tcp_pcb *pcb, const struct us_addr *addr, uint16_t port)
{
    struct ustack *s = pcb->stack;
    if (pcb->state == TCPS_SYN_SENT || pcb->state == TCPS_SYN_RECEIVED)
        return -EALREADY;
    if (pcb->state != TCPS_CLOSED || pcb->rport)
        return pcb->state == TCPS_LISTEN ? -EINVAL : -EISCONN;
    if (addr->family != US_AF_INET)
        return -EAFNOSUPPORT;
    if (port == 0 || addr->v4 == 0 || addr->v4 == 0xffffffffu)
        return -ECONNREFUSED;
    struct us_ip4_route rt;
    int err = us_ip4_route(s, addr->v4, &rt);
    if (err)
        return err;
    if (!port_refs(s))
        return -ENOBUFS;
    tcp_hash_remove(s, pcb); /* leaves the listener list if bound */
    if (us_addr_is_any(&pcb->local))
        pcb->local = us_addr4(rt.src);
    pcb->remote = *addr;
    pcb->rport = port;
    if (!pcb->lport) {
        pcb->lport = us_ephemeral_port(s, &pcb->local, addr, port, ephemeral_in_use);
        if (!pcb->lport) {
            pcb->rport = 0;
            return -EADDRNOTAVAIL;
        }
    }
    pcb->ws_ok = pcb->ts_ok = pcb->sack_ok = true; /* offered; the SYN-ACK decides */
    pcb->iss = tcp_isn(s, &pcb->local, pcb->lport, addr, port);
    pcb->recover = pcb->iss;
    pcb->snd_una = pcb->snd_nxt = pcb->snd_max = pcb->iss;
    pcb->ts_offset = (uint32_t)tuple_hash(s, &pcb->local, pcb->lport, addr, port, 0x75);
    pcb->mss = tcp_mss_for_route(s, addr);
    if (pcb->user_mss && pcb->user_mss < pcb->mss)
        pcb->mss = pcb->user_mss;
    pcb->rcv_wscale = wscale_for(pcb->rcv.limit);
    tcp_hash_insert(s, pcb);
    tcp_set_state(pcb, TCPS_SYN_SENT);
    us_count_event(s, US_EV_tcp_active_open);
    tcp_send_syn(pcb);
    return 0;
}

/* Common set-up of a connection from the peer's SYN (passive open, or the
 * SYN-ACK of an active one): options negotiated per RFC 7323 and 2018. */
void tcp_init_pcb_from_syn(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    pcb->irs = th->seq;
    pcb->rcv_nxt = th->seq + 1;
    pcb->rcv_adv = pcb->rcv_nxt;
    pcb->peer_mss = th->opt.mss_ok ? th->opt.mss : TCP_DEFAULT_MSS;
    /* RFC 9293 3.7.1 / RFC 6691: what we send fits the peer's MSS. */
    if (pcb->peer_mss < pcb->mss)
        pcb->mss = pcb->peer_mss;
    if (pcb->mss < 64)
        pcb->mss = 64;
    if (!th->opt.ws_ok)
        pcb->ws_ok = false;
    pcb->snd_wscale = pcb->ws_ok ? th->opt.ws : 0;
    if (!pcb->ws_ok)
        pcb->rcv_wscale = 0;
    if (!th->opt.sack_ok)
        pcb->sack_ok = false;
    if (!th->opt.ts_ok) {
        pcb->ts_ok = false;
    } else if (pcb->ts_ok) {
        pcb->ts_recent = th->opt.tsval;
        pcb->ts_recent_age = pcb->stack->now;
        /* RFC 6691: the MSS excludes options, so every segment's data
         * shrinks by the timestamp option it always carries. */
        pcb->mss -= TCP_TS_ROOM;
    }
    /* The SYN's window is never scaled (RFC 7323 2.2). */
    pcb->snd_wnd = th->win;
    pcb->max_snd_wnd = pcb->snd_wnd;
    pcb->snd_wl1 = th->seq;
    pcb->cc->init(pcb);
}

ssize_t us_tcp_send(struct us_tcp_pcb *pcb, const void *buf, size_t len, bool more)
{
    if (pcb->err)
        return -us_tcp_take_error(pcb);
    switch (pcb->state) {
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
        break;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        return 0; /* the owner waits for US_TCP_EV_CONNECTED */
    case TCPS_CLOSED:
    case TCPS_LISTEN:
        return -ENOTCONN;
    default:
        return -EPIPE;
    }
    if (pcb->fin_queued)
        return -EPIPE;
    size_t n = tcp_sndbuf_append(&pcb->snd, buf, len);
    if (n && !more)
        tcp_output(pcb);
    return (ssize_t)n;
}

/* After the application reads: a window update goes out only when the
 * window the peer knows has fallen to half of what can be advertised and
 * the read at least doubles it (as Linux's tcp_cleanup_rbuf), and the
 * opening is worth it (RFC 9293 3.8.6.2.2: at least min(half the buffer,
 * one segment)). Otherwise the ACKs that data earns carry the news. */
static void window_update(struct us_tcp_pcb *pcb)
{
    uint32_t avail = tcp_rcvbuf_space(&pcb->rcv);
    uint32_t max = 65535u << pcb->rcv_wscale;
    if (avail > max)
        avail = max; /* what can be advertised at all */
    if (avail > pcb->rcv.limit)
        avail = pcb->rcv.limit;
    uint32_t adv = pcb->rcv_adv - pcb->rcv_nxt;
    uint32_t window_max = pcb->rcv.limit < max ? pcb->rcv.limit : max;
    uint32_t thresh = pcb->rcv.limit / 2 < pcb->mss ? pcb->rcv.limit / 2 : pcb->mss;
    if (2 * (uint64_t)adv > window_max || avail < 2 * (uint64_t)adv)
        return;
    if (avail > adv && avail - adv >= thresh && avail - adv >= (1u << pcb->rcv_wscale))
        tcp_send_ack(pcb);
}

ssize_t us_tcp_recv(struct us_tcp_pcb *pcb, void *buf, size_t len, bool peek)
{
    size_t n = tcp_rcvbuf_read(&pcb->rcv, buf, len, peek);
    if (n) {
        if (!peek && pcb->state >= TCPS_ESTABLISHED && pcb->state != TCPS_TIME_WAIT &&
            !pcb->fin_received)
            window_update(pcb);
        return (ssize_t)n;
    }
    if (pcb->err)
        return -us_tcp_take_error(pcb);
    if (pcb->fin_received || pcb->rcv_shutdown || pcb->state == TCPS_CLOSED)
        return 0;
    if (pcb->state == TCPS_LISTEN)
        return -ENOTCONN;
    return -EAGAIN;
}

uint32_t us_tcp_readable(const struct us_tcp_pcb *pcb)
{
    return pcb->rcv.unread;
}

uint32_t us_tcp_writable(const struct us_tcp_pcb *pcb)
{
    return tcp_sndbuf_space(&pcb->snd);
}

bool us_tcp_eof(const struct us_tcp_pcb *pcb)
{
    return pcb->fin_received || pcb->rcv_shutdown;
}

int us_tcp_take_error(struct us_tcp_pcb *pcb)
{
    int e = pcb->err;
    pcb->err = 0;
    return e;
}

int us_tcp_set_bufsizes(struct us_tcp_pcb *pcb, uint32_t sndbuf, uint32_t rcvbuf)
{
    if (sndbuf) {
        sndbuf = sndbuf < TCP_MIN_BUF ? TCP_MIN_BUF : sndbuf > TCP_MAX_BUF ? TCP_MAX_BUF : sndbuf;
        if (sndbuf < pcb->snd.len)
            return -EINVAL;
        pcb->snd.limit = sndbuf;
    }
    if (rcvbuf) {
        rcvbuf = rcvbuf < TCP_MIN_BUF ? TCP_MIN_BUF : rcvbuf > TCP_MAX_BUF ? TCP_MAX_BUF : rcvbuf;
        /* Only before the window scale is chosen on the handshake. */
        if (pcb->state != TCPS_CLOSED && pcb->state != TCPS_LISTEN)
            return -EINVAL;
        pcb->rcv.limit = rcvbuf;
    }
    return 0;
}

int us_tcp_shutdown(struct us_tcp_pcb *pcb, int how)
{
    if (pcb->state == TCPS_LISTEN || pcb->state == TCPS_CLOSED || pcb->state == TCPS_SYN_SENT)
        return -ENOTCONN;
    if (how == SHUT_RD || how == SHUT_RDWR)
        pcb->rcv_shutdown = true;
    if ((how == SHUT_WR || how == SHUT_RDWR) && !pcb->fin_queued) {
        pcb->fin_queued = true;
        tcp_output(pcb);
    }
    return 0;
}

static void close_listener(struct us_tcp_pcb *l)
{
    while (l->syn_q)
        tcp_closed(l->syn_q, 0);
    while (l->acc_q) {
        struct us_tcp_pcb *c = l->acc_q;
        if (c->state != TCPS_CLOSED)
            tcp_send_rst(c);
        tcp_closed(c, 0);
    }
    pcb_free(l);
}

void us_tcp_abort(struct us_tcp_pcb *pcb)
{
    pcb->user_closed = true;
    pcb->event = NULL;
    if (pcb->state == TCPS_LISTEN) {
        close_listener(pcb);
        return;
    }
    if (pcb->state >= TCPS_SYN_RECEIVED && pcb->state != TCPS_TIME_WAIT)
        tcp_send_rst(pcb);
    if (pcb->state == TCPS_CLOSED && !pcb->hashed)
        pcb_free(pcb);
    else
        tcp_closed(pcb, ECONNABORTED);
}

void us_tcp_close(struct us_tcp_pcb *pcb)
{
    pcb->user_closed = true;
    pcb->event = NULL;
    switch (pcb->state) {
    case TCPS_LISTEN:
        close_listener(pcb);
        return;
    case TCPS_CLOSED:
    case TCPS_SYN_SENT:
        if (pcb->hashed || pcb->state == TCPS_SYN_SENT)
            tcp_closed(pcb, 0);
        else
            pcb_free(pcb);
        return;
    case TCPS_TIME_WAIT:
        return; /* the timer frees it */
    default:
        break;
    }
    /* RFC 9293 3.10.4 / RFC 2525 2.17: data the application never read
     * means the connection is reset, not closed. So does SO_LINGER 0. */
    if (pcb->rcv.unread || (pcb->linger_on && pcb->linger_sec == 0)) {
        us_tcp_abort(pcb);
        return;
    }
    if (!pcb->fin_queued) {
        pcb->fin_queued = true;
        tcp_output(pcb);
    }
    if (pcb->state == TCPS_FIN_WAIT_2)
        tcp_keepalive_reset(pcb); /* arms the orphan FIN-WAIT-2 timeout */
}

void us_tcp_destroy(struct ustack *s)
{
    for (int i = 0; i < TCP_HASH; i++) {
        while (s->tcp.conns[i]) {
            struct us_tcp_pcb *p = s->tcp.conns[i];
            tcp_hash_remove(s, p);
            bool unaccepted = p->listener != NULL;
            child_unlink(p);
            if (p->user_closed || unaccepted)
                pcb_free(p);
        }
    }
    while (s->tcp.listeners) {
        struct us_tcp_pcb *p = s->tcp.listeners;
        tcp_hash_remove(s, p);
        while (p->acc_q) /* what is left: connections that ended unaccepted */
            tcp_closed(p->acc_q, 0);
        if (p->user_closed)
            pcb_free(p);
    }
    free(s->tcp.port_refs);
    s->tcp.port_refs = NULL;
}
