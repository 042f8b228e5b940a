/* TCP output: segments from the send buffer within the peer's window and
 * the congestion window, Nagle and sender-side SWS avoidance (RFC 9293
 * 3.7.4, 3.8.6.2.1), SACK-based recovery sends (RFC 6675 5), SYNs, ACKs
 * and resets. */
#include <errno.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/ip4.h"
#include "tcp/tcp.h"
#include "tcp/tcp_seq.h"

uint32_t tcp_flight(const struct us_tcp_pcb *pcb)
{
    return pcb->snd_max - pcb->snd_una;
}

/* The window to advertise: the free buffer space, never shrinking the
 * right edge already offered (RFC 9293 3.8.6), and moving that edge only
 * by at least min(half the buffer, one MSS) (receiver SWS avoidance,
 * RFC 9293 3.8.6.2.2). */
uint32_t tcp_rcv_window(const struct us_tcp_pcb *pcb)
{
    uint32_t space = tcp_rcvbuf_space(&pcb->rcv);
    uint32_t max = 65535u << pcb->rcv_wscale;
    uint32_t edge = pcb->rcv_nxt + (space < max ? space : max);
    uint32_t thresh = pcb->rcv.limit / 2 < pcb->mss ? pcb->rcv.limit / 2 : pcb->mss;
    if (seq_lt(edge, pcb->rcv_adv) ||
        (seq_gt(pcb->rcv_adv, pcb->rcv_nxt) && edge - pcb->rcv_adv < thresh))
        edge = seq_max(pcb->rcv_adv, pcb->rcv_nxt);
    uint32_t wnd = edge - pcb->rcv_nxt;
    return wnd > max ? max : wnd;
}

/* The 16-bit window field; records the right edge it promises. */
static uint16_t window_field(struct us_tcp_pcb *pcb, bool syn)
{
    uint32_t wnd = tcp_rcv_window(pcb);
    if (syn) { /* never scaled (RFC 7323 2.2) */
        wnd = wnd > 65535 ? 65535 : wnd;
        if (seq_gt(pcb->rcv_nxt + wnd, pcb->rcv_adv))
            pcb->rcv_adv = pcb->rcv_nxt + wnd;
        return (uint16_t)wnd;
    }
    uint32_t field = wnd >> pcb->rcv_wscale;
    if (seq_lt(pcb->rcv_nxt + (field << pcb->rcv_wscale), pcb->rcv_adv) && field < 65535)
        field++; /* rounding down would shrink the window */
    uint32_t edge = pcb->rcv_nxt + (field << pcb->rcv_wscale);
    if (seq_gt(edge, pcb->rcv_adv))
        pcb->rcv_adv = edge;
    return (uint16_t)field;
}

static void log_seg(struct us_tcp_pcb *pcb, const struct tcp_view *v)
{
    struct ustack *s = pcb->stack;
    if (!us_log_enabled(s, US_CH_TCP, US_LOG_DEBUG))
        return;
    char a[48], b[48];
    us_addr_str(&pcb->local, a, sizeof(a));
    us_addr_str(&pcb->remote, b, sizeof(b));
    us_log_emit(s, US_CH_TCP, US_LOG_DEBUG,
                "TCP tx %s:%u > %s:%u [%s%s%s%s%s] seq %u ack %u win %u len %u", a, v->sport, b,
                v->dport, v->flags & TCP_SYN ? "S" : "", v->flags & TCP_FIN ? "F" : "",
                v->flags & TCP_RST ? "R" : "", v->flags & TCP_PSH ? "P" : "",
                v->flags & TCP_ACK ? "." : "", v->seq, v->ack, v->win, v->plen);
}

static void transmit(struct us_tcp_pcb *pcb, struct us_pkt *p, const struct tcp_view *v,
                     size_t optlen)
{
    struct ustack *s = pcb->stack;
    if (p->gso_size) { /* TSO: the link sums each segment */
        tcp_build_csum_partial(p->data, v, optlen, &pcb->local, &pcb->remote);
        us_pkt_csum_mark_partial(p, p->data, TCP_CSUM_FIELD);
    } else {
        tcp_build(p->data, v, optlen, &pcb->local, &pcb->remote);
    }
    log_seg(pcb, v);
    s->cnt.tx[US_P_tcp]++;
    us_ip4_output(s, p, pcb->local.v4, pcb->remote.v4, IP_PROTO_TCP, US_IP4_DEFAULT_TTL, 0, true);
}

/* Builds and sends one segment carrying [seq, seq+len) of the send buffer.
 * The FIN flag is added when this segment ends where our FIN sits. */
void tcp_send_segment(struct us_tcp_pcb *pcb, uint32_t seq, uint32_t len, uint8_t flags)
{
    struct ustack *s = pcb->stack;
    struct tcp_opts o;
    memset(&o, 0, sizeof(o));
    if (pcb->ts_ok) {
        o.ts_ok = true;
        o.tsval = tcp_ts_now(pcb);
        o.tsecr = pcb->ts_recent;
    }
    if (pcb->sack_ok && pcb->rcv.nooo)
        tcp_sack_fill_blocks(pcb, &o);
    uint8_t opts[TCP_MAX_OPTLEN];
    size_t optlen = tcp_build_opts(opts, &o, false);
    /* Room for options and data is what a full segment with timestamps
     * has; SACK blocks that do not fit in a full segment are left out. A
     * TSO frame (len > MSS, see tso_burst) is cut into full segments. */
    uint32_t room = pcb->mss + (pcb->ts_ok ? TCP_TS_ROOM : 0);
    uint32_t seg_len = len > pcb->mss ? pcb->mss : len;
    while (o.nsack && optlen + seg_len > room) {
        o.nsack--;
        optlen = tcp_build_opts(opts, &o, false);
    }
    struct us_pkt *p = us_pkt_alloc(s, TCP_HLEN + optlen + len);
    if (!p) {
        us_count_drop(s, US_P_tcp, US_DROP_no_buffer);
        return;
    }
    if (len > pcb->mss)
        p->gso_size = (uint16_t)pcb->mss;
    memcpy(p->data + TCP_HLEN, opts, optlen);
    if (len)
        tcp_sndbuf_copy(&pcb->snd, seq - pcb->snd_una, p->data + TCP_HLEN + optlen, len);
    if (pcb->fin_sent && seq + len == pcb->fin_seq)
        flags |= TCP_FIN;
    struct tcp_view v = {
        .sport = pcb->lport,
        .dport = pcb->rport,
        .seq = seq,
        .ack = pcb->rcv_nxt,
        .flags = flags,
        .win = window_field(pcb, false),
        .plen = len,
    };
    if (flags & TCP_ACK) {
        pcb->last_ack_sent = pcb->rcv_nxt;
        pcb->unacked_segs = 0;
        pcb->delack_pending = false;
        us_timer_cancel(s, &pcb->delack_timer);
    }
    transmit(pcb, p, &v, optlen);
}

void tcp_send_ack(struct us_tcp_pcb *pcb)
{
    if (pcb->state < TCPS_SYN_RECEIVED)
        return;
    if (pcb->state == TCPS_SYN_RECEIVED) {
        tcp_send_syn(pcb);
        return;
    }
    tcp_send_segment(pcb, pcb->snd_nxt, 0, TCP_ACK);
}

void tcp_send_rst(struct us_tcp_pcb *pcb)
{
    us_count_event(pcb->stack, US_EV_tcp_reset_sent);
    tcp_send_segment(pcb, pcb->snd_nxt, 0, TCP_RST | TCP_ACK);
}

void tcp_send_syn(struct us_tcp_pcb *pcb)
{
    struct ustack *s = pcb->stack;
    bool synack = pcb->state == TCPS_SYN_RECEIVED;
    struct tcp_opts o;
    memset(&o, 0, sizeof(o));
    o.mss_ok = true;
    o.mss = tcp_mss_for_route(s, &pcb->remote);
    if (pcb->user_mss && pcb->user_mss < o.mss)
        o.mss = pcb->user_mss;
    o.ws_ok = pcb->ws_ok;
    o.ws = pcb->rcv_wscale;
    o.sack_ok = pcb->sack_ok;
    if (pcb->ts_ok) {
        o.ts_ok = true;
        o.tsval = tcp_ts_now(pcb);
        o.tsecr = synack ? pcb->ts_recent : 0;
    }
    uint8_t opts[TCP_MAX_OPTLEN];
    size_t optlen = tcp_build_opts(opts, &o, true);
    struct us_pkt *p = us_pkt_alloc(s, TCP_HLEN + optlen);
    if (!p) {
        us_count_drop(s, US_P_tcp, US_DROP_no_buffer);
        return;
    }
    memcpy(p->data + TCP_HLEN, opts, optlen);
    struct tcp_view v = {
        .sport = pcb->lport,
        .dport = pcb->rport,
        .seq = pcb->iss,
        .ack = synack ? pcb->rcv_nxt : 0,
        .flags = (uint8_t)(TCP_SYN | (synack ? TCP_ACK : 0)),
        .win = window_field(pcb, true),
    };
    pcb->snd_nxt = pcb->iss + 1;
    pcb->snd_max = seq_max(pcb->snd_max, pcb->snd_nxt);
    if (synack)
        pcb->last_ack_sent = pcb->rcv_nxt;
    transmit(pcb, p, &v, optlen);
    if (!us_timer_armed(&pcb->rtx_timer))
        tcp_rearm_rtx(pcb);
}

/* RFC 9293 3.10.7.1: the reset for a segment no connection wants. */
void tcp_send_rst_for(struct ustack *s, const struct us_addr *src, const struct us_addr *dst,
                      const struct tcp_view *th)
{
    if (th->flags & TCP_RST)
        return;
    struct us_pkt *p = us_pkt_alloc(s, TCP_HLEN);
    if (!p)
        return;
    struct tcp_view v = {.sport = th->dport, .dport = th->sport};
    if (th->flags & TCP_ACK) {
        v.seq = th->ack;
        v.flags = TCP_RST;
    } else {
        uint32_t seglen = th->plen + !!(th->flags & TCP_SYN) + !!(th->flags & TCP_FIN);
        v.seq = 0;
        v.ack = th->seq + seglen;
        v.flags = TCP_RST | TCP_ACK;
    }
    tcp_build(p->data, &v, 0, dst, src);
    s->cnt.tx[US_P_tcp]++;
    us_count_event(s, US_EV_tcp_reset_sent);
    US_DEBUG(s, US_CH_TCP, "TCP tx reset for :%u > :%u seq %u ack %u", v.sport, v.dport, v.seq,
             v.ack);
    us_ip4_output(s, p, dst->v4, src->v4, IP_PROTO_TCP, US_IP4_DEFAULT_TTL, 0, true);
}

static uint32_t data_end(const struct us_tcp_pcb *pcb)
{
    return pcb->snd_una + pcb->snd.len;
}

/* Marks the FIN as sent at the end of the data and moves the state on
 * (RFC 9293 3.10.4 CLOSE). */
static void queue_fin(struct us_tcp_pcb *pcb)
{
    pcb->fin_sent = true;
    pcb->fin_seq = data_end(pcb);
    if (pcb->state == TCPS_ESTABLISHED || pcb->state == TCPS_SYN_RECEIVED)
        tcp_set_state(pcb, TCPS_FIN_WAIT_1);
    else if (pcb->state == TCPS_CLOSE_WAIT)
        tcp_set_state(pcb, TCPS_LAST_ACK);
}

static bool new_data_sendable(const struct us_tcp_pcb *pcb)
{
    return seq_lt(pcb->snd_nxt, data_end(pcb)) && seq_lt(pcb->snd_nxt, pcb->snd_una + pcb->snd_wnd);
}

static void resend(struct us_tcp_pcb *pcb, uint32_t seq, uint32_t len)
{
    tcp_send_segment(pcb, seq, len, TCP_ACK);
    pcb->retransmits++;
    us_count_event(pcb->stack, US_EV_tcp_retransmit);
}

/* RFC 6675 NextSeg rule (4): once per recovery, the segment holding the
 * highest outstanding unSACKed byte (the tail, when no ACKs will come). */
static bool rescue(struct us_tcp_pcb *pcb)
{
    if (pcb->rescue_done)
        return false;
    uint32_t hole_start = pcb->nscore ? pcb->score[pcb->nscore - 1].end : pcb->snd_una;
    uint32_t end = seq_min(pcb->snd_max, data_end(pcb));
    if (!seq_lt(hole_start, pcb->snd_max))
        return false;
    uint32_t start = seq_lt(hole_start, end)
                         ? seq_max(hole_start, end - seq_min(end - hole_start, pcb->mss))
                         : end;
    pcb->rescue_done = true;
    resend(pcb, start, end - start);
    return true;
}

/* RFC 6675 5 (C): while the pipe leaves room, send by NextSeg: lost holes
 * (1), new data (2, left to tcp_output), other holes (3), a rescue (4). */
static bool sack_recovery_send(struct us_tcp_pcb *pcb)
{
    bool sent = false;
    for (int budget = 64; budget; budget--) {
        uint32_t pipe = tcp_sack_pipe(pcb);
        if (pipe >= pcb->cwnd || pcb->cwnd - pipe < pcb->mss)
            break;
        uint32_t seq, len;
        if (tcp_sack_next_hole(pcb, &seq, &len)) {
            resend(pcb, seq, len);
            pcb->high_rxt = seq + len;
        } else if (new_data_sendable(pcb)) {
            break;
        } else if (tcp_sack_next_unsacked(pcb, &seq, &len)) {
            resend(pcb, seq, len);
            pcb->high_rxt = seq + len;
        } else if (!rescue(pcb)) {
            break;
        }
        sent = true;
    }
    return sent;
}

/* Bytes the windows let us put in flight beyond SND.NXT. */
static uint32_t usable_window(const struct us_tcp_pcb *pcb)
{
    uint32_t wnd = pcb->snd_wnd < pcb->cwnd ? pcb->snd_wnd : pcb->cwnd;
    if (pcb->in_recovery && pcb->sack_ok) {
        /* RFC 6675: new data also goes only where the pipe leaves room. */
        uint32_t pipe = tcp_sack_pipe(pcb);
        uint32_t room = pcb->cwnd > pipe ? pcb->cwnd - pipe : 0;
        uint32_t rwnd_room = pcb->snd_una + pcb->snd_wnd - pcb->snd_nxt;
        if (seq_lt(pcb->snd_una + pcb->snd_wnd, pcb->snd_nxt))
            rwnd_room = 0;
        return room < rwnd_room ? room : rwnd_room;
    }
    uint32_t edge = pcb->snd_una + wnd;
    return seq_gt(edge, pcb->snd_nxt) ? edge - pcb->snd_nxt : 0;
}

/* Nagle (RFC 9293 3.7.4) and sender SWS avoidance (3.8.6.2.1) for a
 * segment shorter than the MSS. */
static bool small_segment_ok(const struct us_tcp_pcb *pcb, uint32_t len, uint32_t unsent)
{
    /* Window-limited: only if it is a good part of the largest window the
     * peer offered, or nothing is in flight (then no ACK would come to let
     * us send later: this stands in for the override timer of 3.8.6.2.1). */
    if (len < unsent)
        return len > 0 && (len >= pcb->max_snd_wnd / 2 || pcb->snd_nxt == pcb->snd_una);
    /* all that is queued: Nagle says wait while data is unacknowledged */
    return pcb->nodelay || pcb->snd_nxt == pcb->snd_una;
}

/* The most new data one frame may carry: a whole number of MSS-sized
 * segments when the route's link offloads segmentation (TSO, see
 * us_driver.tso_max), else one MSS. Not with SACK blocks to send (their
 * number, so the header length, varies) nor on an impaired link (whose
 * losses are per frame, so should be per wire segment). */
static uint32_t tso_burst(const struct us_tcp_pcb *pcb)
{
    if (pcb->sack_ok && pcb->rcv.nooo)
        return pcb->mss;
    struct us_ip4_route rt;
    if (pcb->remote.family != US_AF_INET || us_ip4_route(pcb->stack, pcb->remote.v4, &rt) != 0 ||
        rt.nif->impair)
        return pcb->mss;
    uint32_t segs = rt.nif->drv.tso_max / pcb->mss;
    return segs > 1 ? segs * pcb->mss : pcb->mss;
}

/* After a timeout: resend [rtx_nxt, SND.NXT) as cwnd allows, counting what
 * was resent and not yet acknowledged as the data in flight. */
static bool loss_recovery_send(struct us_tcp_pcb *pcb)
{
    bool sent = false;
    while (pcb->in_loss && seq_lt(pcb->rtx_nxt, pcb->snd_nxt)) {
        uint32_t inflight = pcb->rtx_nxt - pcb->snd_una;
        if (inflight && inflight + pcb->mss > pcb->cwnd)
            break;
        uint32_t end = data_end(pcb);
        uint32_t avail = seq_lt(pcb->rtx_nxt, end) ? end - pcb->rtx_nxt : 0;
        uint32_t len = avail < pcb->mss ? avail : pcb->mss;
        bool fin = pcb->fin_sent && pcb->rtx_nxt + len == pcb->fin_seq;
        if (!len && !fin)
            break;
        tcp_send_segment(pcb, pcb->rtx_nxt, len, TCP_ACK);
        pcb->rtx_nxt += len + (fin ? 1 : 0);
        pcb->retransmits++;
        us_count_event(pcb->stack, US_EV_tcp_retransmit);
        sent = true;
    }
    if (pcb->in_loss && !seq_lt(pcb->rtx_nxt, pcb->snd_nxt))
        pcb->in_loss = false;
    return sent;
}

void tcp_output(struct us_tcp_pcb *pcb)
{
    switch (pcb->state) {
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
    case TCPS_FIN_WAIT_1:
    case TCPS_CLOSING:
    case TCPS_LAST_ACK:
        break;
    default:
        return;
    }
    bool sent = false;
    if (pcb->in_loss)
        sent = loss_recovery_send(pcb);
    if (pcb->in_loss)
        goto timers; /* new data waits until the resending is done */
    if (pcb->in_recovery && pcb->sack_ok)
        sent |= sack_recovery_send(pcb);
    uint32_t burst = tso_burst(pcb);
    for (;;) {
        if (pcb->fin_sent && seq_gt(pcb->snd_nxt, pcb->fin_seq))
            break; /* everything, FIN included, is out */
        uint32_t end = data_end(pcb);
        uint32_t unsent = seq_lt(pcb->snd_nxt, end) ? end - pcb->snd_nxt : 0;
        uint32_t len = unsent < burst ? unsent : burst;
        uint32_t usable = usable_window(pcb);
        if (len > usable)
            len = usable;
        if (len > pcb->mss && len < unsent)
            len -= len % pcb->mss; /* only the tail of the data may be short */
        bool fin_here = pcb->fin_queued && len == unsent;
        if (len == 0 && !fin_here)
            break;
        if (len < pcb->mss && !fin_here && !small_segment_ok(pcb, len, unsent))
            break;
        if (fin_here && !pcb->fin_sent)
            queue_fin(pcb);
        uint8_t flags = TCP_ACK | (len && len == unsent ? TCP_PSH : 0);
        if (!pcb->ts_ok && !pcb->rtt_timing && pcb->snd_nxt == pcb->snd_max && len) {
            pcb->rtt_timing = true; /* one timed segment at a time (RFC 6298 3) */
            pcb->rtt_seq = pcb->snd_nxt;
            pcb->rtt_start = pcb->stack->now;
        }
        tcp_send_segment(pcb, pcb->snd_nxt, len, flags);
        pcb->snd_nxt += len + (fin_here ? 1 : 0);
        pcb->snd_max = seq_max(pcb->snd_max, pcb->snd_nxt);
        sent = true;
    }
timers:
    if (sent && !us_timer_armed(&pcb->rtx_timer))
        tcp_rearm_rtx(pcb);
    if (!sent && pcb->snd_wnd == 0 && seq_lt(pcb->snd_nxt, data_end(pcb)) &&
        pcb->snd_nxt == pcb->snd_una && !us_timer_armed(&pcb->rtx_timer))
        tcp_rearm_rtx(pcb); /* enters persist: see tcp_timer.c */
}
