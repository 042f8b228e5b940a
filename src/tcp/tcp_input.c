/* TCP input: segment arrival processed in the order of RFC 9293 3.10.7
 * (LISTEN, SYN-SENT, then sequence acceptability, RST, SYN, ACK, URG, data,
 * FIN), hardened per RFC 5961, with PAWS (RFC 7323 5), fast retransmit and
 * recovery (RFC 5681, RFC 6582, RFC 6675), limited transmit (RFC 3042) and
 * delayed acknowledgments. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/icmp4.h"
#include "ip4/ip4.h"
#include "tcp/cc.h"
#include "tcp/tcp.h"
#include "tcp/tcp_seq.h"

#define PAWS_IDLE (24ULL * 24 * 3600 * US_SEC) /* RFC 7323 5.5 */

static void log_rx(struct ustack *s, const struct us_addr *src, const struct us_addr *dst,
                   const struct tcp_view *v)
{
    if (!us_log_enabled(s, US_CH_TCP, US_LOG_DEBUG))
        return;
    char a[48], b[48];
    us_addr_str(src, a, sizeof(a));
    us_addr_str(dst, b, sizeof(b));
    us_log_emit(s, US_CH_TCP, US_LOG_DEBUG,
                "TCP rx %s:%u > %s:%u [%s%s%s%s%s] seq %u ack %u win %u len %u", a, v->sport, b,
                v->dport, v->flags & TCP_SYN ? "S" : "", v->flags & TCP_FIN ? "F" : "",
                v->flags & TCP_RST ? "R" : "", v->flags & TCP_PSH ? "P" : "",
                v->flags & TCP_ACK ? "." : "", v->seq, v->ack, v->win, v->plen);
}

/* RFC 5961 7: challenge ACKs are limited per second for the whole stack. */
static void challenge_ack(struct us_tcp_pcb *pcb)
{
    struct ustack *s = pcb->stack;
    if (s->now - s->tcp.challenge_window >= US_SEC) {
        s->tcp.challenge_window = s->now;
        s->tcp.challenge_count = 0;
    }
    if (s->tcp.challenge_count >= TCP_CHALLENGE_LIMIT) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_challenge_limit);
        return;
    }
    s->tcp.challenge_count++;
    us_count_event(s, US_EV_tcp_challenge_ack);
    tcp_send_ack(pcb);
}

static uint32_t seg_len(const struct tcp_view *th)
{
    return th->plen + !!(th->flags & TCP_SYN) + !!(th->flags & TCP_FIN);
}

/* RFC 9293 3.10.7.4 first: segment acceptability. The four cases of the
 * RFC, with the "special allowance" it asks for valid ACKs when the window
 * is small or zero, come down to what Linux checks (tcp_sequence()): the
 * segment must not start beyond the right edge and must reach RCV.NXT.
 * Data beyond the window is trimmed later; keep-alive and window probes
 * (one old byte, or none before RCV.NXT) stay unacceptable and get an ACK. */
static bool acceptable(const struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    uint32_t wnd = seq_gt(pcb->rcv_adv, pcb->rcv_nxt) ? pcb->rcv_adv - pcb->rcv_nxt : 0;
    uint32_t len = seg_len(th);
    if (seq_gt(th->seq, pcb->rcv_nxt + wnd))
        return false;
    if (len == 0)
        return seq_ge(th->seq, pcb->rcv_nxt);
    return seq_ge(th->seq + len, pcb->rcv_nxt);
}

/* ACKs for out-of-window segments without data are limited per
 * connection, so two stacks that each find the other's ACKs unacceptable
 * cannot ACK each other for ever (as Linux's tcp_oow_rate_limited()). */
static void oow_ack(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    struct ustack *s = pcb->stack;
    if (th->flags & TCP_RST)
        return;
    if (th->plen == 0 && !(th->flags & TCP_SYN) && pcb->last_oow_ack &&
        s->now - pcb->last_oow_ack < TCP_OOW_ACK_INTERVAL)
        return;
    pcb->last_oow_ack = s->now;
    tcp_send_ack(pcb);
}

/* ---- ACK processing ---- */

static uint32_t data_end(const struct us_tcp_pcb *pcb)
{
    return pcb->snd_una + pcb->snd.len;
}

/* Resends the first unacknowledged segment (or the FIN alone). */
static void retransmit_first(struct us_tcp_pcb *pcb)
{
    uint32_t end = data_end(pcb);
    uint32_t avail = seq_gt(end, pcb->snd_una) ? end - pcb->snd_una : 0;
    uint32_t len = avail < pcb->mss ? avail : pcb->mss;
    if (len == 0 && !pcb->fin_sent)
        return;
    tcp_send_segment(pcb, pcb->snd_una, len, TCP_ACK);
    if (pcb->in_recovery && pcb->sack_ok)
        pcb->high_rxt = pcb->snd_una + len;
    pcb->retransmits++;
    us_count_event(pcb->stack, US_EV_tcp_retransmit);
}

/* RFC 5681 3.2 / RFC 6675 5 (4): three duplicate ACKs (or the scoreboard
 * saying the first segment is lost) start fast retransmit and recovery,
 * unless they are about data sent before a previous recovery (RFC 6582 4.1). */
static void enter_recovery(struct us_tcp_pcb *pcb)
{
    if (!seq_gt(pcb->snd_una, pcb->recover) && pcb->recover != pcb->iss)
        return;
    pcb->cc->on_loss(pcb);
    pcb->recover = pcb->snd_max;
    pcb->in_recovery = true;
    pcb->high_rxt = pcb->snd_una;
    pcb->rescue_done = false;
    pcb->rtt_timing = false;
    us_count_event(pcb->stack, US_EV_tcp_fast_retransmit);
    if (pcb->sack_ok) {
        us_count_event(pcb->stack, US_EV_tcp_sack_recovery);
        pcb->cwnd = pcb->ssthresh;
    } else {
        us_count_event(pcb->stack, US_EV_tcp_newreno_recovery);
        pcb->cwnd = pcb->ssthresh + TCP_DUPTHRESH * (uint32_t)pcb->mss;
    }
    retransmit_first(pcb);
}

/* RFC 3042: the first two duplicate ACKs may each release one new segment
 * if the receiver's window allows, without growing cwnd for it. */
static void limited_transmit(struct us_tcp_pcb *pcb)
{
    uint32_t end = data_end(pcb);
    if (!seq_lt(pcb->snd_nxt, end))
        return;
    uint32_t unsent = end - pcb->snd_nxt;
    uint32_t len = unsent < pcb->mss ? unsent : pcb->mss;
    if (seq_gt(pcb->snd_nxt + len, pcb->snd_una + pcb->snd_wnd))
        return;
    if (tcp_flight(pcb) + len > pcb->cwnd + 2u * pcb->mss)
        return;
    tcp_send_segment(pcb, pcb->snd_nxt, len, TCP_ACK | (len == unsent ? TCP_PSH : 0));
    pcb->snd_nxt += len;
    pcb->snd_max = seq_max(pcb->snd_max, pcb->snd_nxt);
}

static void duplicate_ack(struct us_tcp_pcb *pcb)
{
    pcb->dupacks++;
    if (pcb->in_recovery) {
        if (!pcb->sack_ok)
            pcb->cwnd += pcb->mss; /* RFC 6582 3.2 (4): inflate per dupack */
        return;
    }
    if (pcb->dupacks >= TCP_DUPTHRESH ||
        (pcb->sack_ok && pcb->nscore && tcp_sack_is_lost(pcb, pcb->snd_una)))
        enter_recovery(pcb);
    else
        limited_transmit(pcb);
}

/* RFC 6582 3.2 (5): a partial ACK in NewReno recovery retransmits the next
 * hole and deflates cwnd by what it acknowledged, adding back one MSS. */
static void partial_ack(struct us_tcp_pcb *pcb, uint32_t acked)
{
    if (pcb->sack_ok)
        return; /* RFC 6675: the pipe decides what goes next */
    retransmit_first(pcb);
    pcb->cwnd = pcb->cwnd > acked ? pcb->cwnd - acked : 0;
    if (acked >= pcb->mss)
        pcb->cwnd += pcb->mss;
    if (pcb->cwnd < pcb->mss)
        pcb->cwnd = pcb->mss;
}

static void rtt_from_ack(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    if (pcb->ts_ok && th->opt.ts_ok && th->opt.tsecr) {
        /* RFC 7323 4.1: the echoed timestamp times every ACK of new data. */
        uint32_t ms = tcp_ts_now(pcb) - th->opt.tsecr;
        if (ms < 600000)
            tcp_rtt_sample(pcb, (us_time_t)ms * US_MSEC + US_MSEC / 2);
    } else if (pcb->rtt_timing && seq_gt(th->ack, pcb->rtt_seq)) {
        pcb->rtt_timing = false;
        tcp_rtt_sample(pcb, pcb->stack->now - pcb->rtt_start);
    }
}

/* Our FIN was acknowledged: FIN-WAIT-1, CLOSING or LAST-ACK move on.
 * Returns false when the connection is gone. */
static bool fin_acked(struct us_tcp_pcb *pcb)
{
    switch (pcb->state) {
    case TCPS_FIN_WAIT_1:
        tcp_set_state(pcb, TCPS_FIN_WAIT_2);
        tcp_keepalive_reset(pcb);
        return true;
    case TCPS_CLOSING:
        tcp_enter_timewait(pcb);
        return true;
    case TCPS_LAST_ACK:
        tcp_closed(pcb, 0);
        return false;
    default:
        return true;
    }
}

static void new_ack(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    uint32_t acked = th->ack - pcb->snd_una;
    /* RFC 7661 spirit: grow cwnd only while it limits the sender; a
     * connection held back by the peer's window or its own buffer would
     * otherwise inflate it without bound. */
    bool cwnd_limited = tcp_flight(pcb) + 2u * pcb->mss >= pcb->cwnd;
    rtt_from_ack(pcb, th);
    uint32_t data_acked = acked;
    if (pcb->fin_sent && seq_gt(th->ack, pcb->fin_seq))
        data_acked--;
    tcp_sndbuf_consume(&pcb->snd, data_acked);
    pcb->snd_una = th->ack;
    if (seq_lt(pcb->snd_nxt, pcb->snd_una))
        pcb->snd_nxt = pcb->snd_una;
    pcb->backoff = 0;
    if (pcb->in_loss && seq_gt(pcb->snd_una, pcb->rtx_nxt))
        pcb->rtx_nxt = pcb->snd_una;
    if (pcb->in_loss && seq_ge(pcb->snd_una, pcb->recover))
        pcb->in_loss = false;
    tcp_sack_trim(pcb);
    if (pcb->in_recovery) {
        if (seq_ge(th->ack, pcb->recover)) {
            pcb->in_recovery = false;
            pcb->dupacks = 0;
            pcb->cc->on_recovery_end(pcb);
        } else {
            partial_ack(pcb, acked);
        }
    } else {
        pcb->dupacks = 0;
        if (cwnd_limited)
            pcb->cc->on_ack(pcb, acked);
    }
    tcp_rearm_rtx(pcb); /* RFC 6298 5.3 */
}

/* RFC 9293 3.10.7.4 fifth (ACK field) for synchronized states. Returns
 * false when the connection is gone. */
static bool process_ack(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    if (pcb->sack_ok && th->opt.nsack)
        tcp_sack_update(pcb, &th->opt);
    bool win_changed = false;
    if (seq_lt(pcb->snd_wl1, th->seq) ||
        (pcb->snd_wl1 == th->seq && seq_le(pcb->snd_wl2, th->ack))) {
        uint32_t wnd = (uint32_t)th->win << pcb->snd_wscale;
        win_changed = wnd != pcb->snd_wnd;
        pcb->snd_wnd = wnd;
        pcb->snd_wl1 = th->seq;
        pcb->snd_wl2 = th->ack;
        if (wnd > pcb->max_snd_wnd)
            pcb->max_snd_wnd = wnd;
    }
    if (seq_gt(th->ack, pcb->snd_una)) {
        bool was_full = tcp_sndbuf_space(&pcb->snd) == 0;
        new_ack(pcb, th);
        if (pcb->fin_sent && seq_gt(th->ack, pcb->fin_seq) && !fin_acked(pcb))
            return false;
        if (tcp_sndbuf_space(&pcb->snd) && (was_full || pcb->snd.len == 0))
            tcp_notify(pcb, US_TCP_EV_WRITABLE);
        else if (tcp_sndbuf_space(&pcb->snd) >= pcb->snd.limit / 2)
            tcp_notify(pcb, US_TCP_EV_WRITABLE);
    } else if (th->ack == pcb->snd_una) {
        /* RFC 5681 2: a duplicate ACK carries no data, no SYN or FIN,
         * does not change the window, and outstanding data exists. SACK
         * information makes it count even with a window change. */
        bool dup = pcb->snd_max != pcb->snd_una && th->plen == 0 &&
                   !(th->flags & (TCP_SYN | TCP_FIN)) && (!win_changed || th->opt.nsack);
        if (dup)
            duplicate_ack(pcb);
        else if (win_changed)
            tcp_rearm_rtx(pcb); /* a window opening ends persist */
    }
    return true;
}

/* ---- Data and FIN ---- */

static void accept_fin(struct us_tcp_pcb *pcb)
{
    pcb->rcv_nxt++;
    pcb->fin_received = true;
    pcb->ooo_fin = false;
    switch (pcb->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        tcp_set_state(pcb, TCPS_CLOSE_WAIT);
        break;
    case TCPS_FIN_WAIT_1:
        tcp_set_state(pcb, TCPS_CLOSING); /* simultaneous close */
        break;
    case TCPS_FIN_WAIT_2:
        tcp_enter_timewait(pcb);
        break;
    default:
        break;
    }
    tcp_notify(pcb, US_TCP_EV_READABLE);
}

/* Within a receive batch, the ACK every second full segment earns waits
 * for the end of the batch (a stretch ACK, as after GRO); the delayed-ACK
 * timer stays armed as a fallback. */
static void batch_ack(struct us_tcp_pcb *pcb)
{
    struct ustack *s = pcb->stack;
    tcp_schedule_delack(pcb);
    if (pcb->ack_batched)
        return;
    tcp_pcb_hold(pcb);
    pcb->ack_batched = true;
    pcb->ack_batch_next = s->ack_batch;
    s->ack_batch = pcb;
}

void tcp_flush_batched_acks(struct ustack *s)
{
    while (s->ack_batch) {
        struct us_tcp_pcb *pcb = s->ack_batch;
        s->ack_batch = pcb->ack_batch_next;
        pcb->ack_batched = false;
        if (!tcp_pcb_gone(pcb) && pcb->delack_pending && pcb->last_ack_sent != pcb->rcv_nxt)
            tcp_send_ack(pcb);
        tcp_pcb_put(pcb);
    }
}

/* RFC 9293 3.10.7.4 seventh: queue the text, in order or not. Returns
 * whether an immediate ACK is due. */
static bool process_data(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    uint32_t seq = th->seq + !!(th->flags & TCP_SYN);
    const uint8_t *data = th->payload;
    uint32_t len = th->plen;
    if (seq_lt(seq, pcb->rcv_nxt)) {
        uint32_t skip = pcb->rcv_nxt - seq;
        if (skip >= len)
            return true; /* all old: tell the peer where we are */
        data += skip;
        len -= skip;
        seq = pcb->rcv_nxt;
    }
    uint32_t off = seq - pcb->rcv_nxt;
    /* What the buffer can take, or what we advertised if that is more (a
     * scaled window is rounded up rather than shrunk): a promise is kept. */
    uint32_t space = tcp_rcvbuf_space(&pcb->rcv);
    if (seq_gt(pcb->rcv_adv, pcb->rcv_nxt + space))
        space = pcb->rcv_adv - pcb->rcv_nxt;
    if (off >= space) {
        us_count_drop(pcb->stack, US_P_tcp, US_DROP_tcp_out_of_window);
        return true;
    }
    if (off + len > space)
        len = space - off; /* beyond the buffer: the peer sends it again */
    if (tcp_rcvbuf_store(&pcb->rcv, pcb->rcv_nxt, off, data, len) < 0) {
        us_count_drop(pcb->stack, US_P_tcp, US_DROP_no_buffer);
        return true;
    }
    if (off) {
        if (tcp_rcvbuf_ooo_add(&pcb->rcv, pcb->rcv_nxt, seq, len) < 0)
            us_count_drop(pcb->stack, US_P_tcp, US_DROP_tcp_ofo_full);
        return true; /* RFC 5681 4.2: out-of-order data is ACKed at once */
    }
    bool filled_hole = pcb->rcv.nooo != 0;
    pcb->rcv_nxt = tcp_rcvbuf_advance(&pcb->rcv, pcb->rcv_nxt, len);
    /* RFC 9293 3.8.6.3: an ACK for at least every second full segment;
     * one that fills a hole goes at once (RFC 5681 4.2). */
    bool fin_now = pcb->ooo_fin && pcb->rcv_nxt == pcb->ooo_fin_seq;
    bool second_full = len >= pcb->mss && ++pcb->unacked_segs >= 2;
    bool ack_now = filled_hole || fin_now || second_full;
    if (second_full && !filled_hole && !fin_now && pcb->stack->batching) {
        batch_ack(pcb); /* one ACK for the batch, sent at its end */
        ack_now = false;
    } else if (!ack_now) {
        tcp_schedule_delack(pcb);
    }
    if (fin_now)
        accept_fin(pcb); /* tells the owner too */
    else
        tcp_notify(pcb, US_TCP_EV_READABLE);
    return ack_now;
}

/* RFC 9293 3.10.7.4 eighth: the FIN, in order or remembered for later. */
static bool process_fin(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    uint32_t fin_seq = th->seq + !!(th->flags & TCP_SYN) + th->plen;
    if (pcb->fin_received) {
        if (pcb->state == TCPS_TIME_WAIT) /* a retransmitted FIN: restart 2 MSL */
            tcp_enter_timewait(pcb);
        return true;
    }
    if (fin_seq == pcb->rcv_nxt)
        accept_fin(pcb);
    else if (seq_gt(fin_seq, pcb->rcv_nxt)) {
        pcb->ooo_fin = true;
        pcb->ooo_fin_seq = fin_seq;
    }
    return true;
}

/* ---- SYN-RECEIVED to ESTABLISHED ---- */

/* Returns false if the connection cannot be established yet (the
 * listener's accept queue is full: the ACK is dropped, as Linux does). */
static bool establish_passive(struct us_tcp_pcb *pcb)
{
    struct us_tcp_pcb *l = pcb->listener;
    if (!l)
        return true;
    if (l->acc_q_len >= l->backlog) {
        us_count_drop(pcb->stack, US_P_tcp, US_DROP_tcp_accept_queue_full);
        return false;
    }
    for (struct us_tcp_pcb **pp = &l->syn_q; *pp; pp = &(*pp)->q_next) {
        if (*pp == pcb) {
            *pp = pcb->q_next;
            l->syn_q_len--;
            break;
        }
    }
    struct us_tcp_pcb **tail = &l->acc_q;
    while (*tail)
        tail = &(*tail)->q_next;
    pcb->q_next = NULL;
    *tail = pcb;
    l->acc_q_len++;
    return true;
}

static bool syn_received_ack(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    if (!(seq_lt(pcb->snd_una, th->ack) && seq_le(th->ack, pcb->snd_max))) {
        tcp_send_rst_for(pcb->stack, &pcb->remote, &pcb->local, th);
        return false;
    }
    if (!establish_passive(pcb))
        return false;
    struct us_tcp_pcb *l = pcb->listener;
    tcp_set_state(pcb, TCPS_ESTABLISHED);
    pcb->snd_una = th->ack;
    pcb->snd_wnd = (uint32_t)th->win << pcb->snd_wscale;
    pcb->max_snd_wnd = pcb->snd_wnd;
    pcb->snd_wl1 = th->seq;
    pcb->snd_wl2 = th->ack;
    bool syn_resent = pcb->backoff > 0;
    pcb->backoff = 0;
    us_timer_cancel(pcb->stack, &pcb->rtx_timer);
    rtt_from_ack(pcb, th);
    if (syn_resent && pcb->srtt == 0)
        pcb->rto = TCP_RTO_AFTER_SYN_LOSS;
    tcp_keepalive_reset(pcb);
    if (l)
        tcp_notify(l, US_TCP_EV_ACCEPTABLE);
    else
        tcp_notify(pcb, US_TCP_EV_CONNECTED | US_TCP_EV_WRITABLE);
    return true;
}

/* ---- Synchronized states ---- */

static void handle_rst(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    /* RFC 5961 3.2: only an exact RCV.NXT match resets; any other in-window
     * RST gets a challenge ACK. */
    if (th->seq != pcb->rcv_nxt) {
        challenge_ack(pcb);
        return;
    }
    us_count_event(pcb->stack, US_EV_tcp_reset_rcvd);
    switch (pcb->state) {
    case TCPS_SYN_RECEIVED:
        tcp_closed(pcb, pcb->listener ? 0 : ECONNREFUSED);
        return;
    case TCPS_CLOSE_WAIT:
        tcp_closed(pcb, EPIPE); /* as Linux tcp_reset(): reading is done */
        return;
    case TCPS_TIME_WAIT:
        return; /* RFC 1337: TIME-WAIT is not assassinated by a RST */
    default:
        tcp_closed(pcb, ECONNRESET);
    }
}

static bool paws_reject(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    if (!pcb->ts_ok || !th->opt.ts_ok || (th->flags & TCP_RST))
        return false;
    if (!seq_lt(th->opt.tsval, pcb->ts_recent))
        return false;
    if (pcb->stack->now - pcb->ts_recent_age > PAWS_IDLE)
        return false; /* ts_recent is too old to judge by (RFC 7323 5.5) */
    return true;
}

/* RFC 7323 4.3: remember the timestamp of the segment that covers the
 * last ACK we sent. */
static void update_ts_recent(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    if (pcb->ts_ok && th->opt.ts_ok && seq_le(th->seq, pcb->last_ack_sent) &&
        seq_ge(th->opt.tsval, pcb->ts_recent)) {
        pcb->ts_recent = th->opt.tsval;
        pcb->ts_recent_age = pcb->stack->now;
    }
}

enum input_result { INPUT_DONE, INPUT_REOPEN };

static enum input_result conn_input(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    struct ustack *s = pcb->stack;
    /* RFC 9293 3.10.7.4 and RFC 6191 spirit: a new SYN above the old
     * sequence space may reuse a TIME-WAIT connection's 4-tuple. */
    if (pcb->state == TCPS_TIME_WAIT && (th->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
        seq_gt(th->seq, pcb->rcv_nxt)) {
        tcp_closed(pcb, 0);
        return INPUT_REOPEN;
    }
    if (pcb->state == TCPS_SYN_RECEIVED && (th->flags & TCP_SYN) && !(th->flags & TCP_ACK) &&
        th->seq == pcb->irs) {
        tcp_send_syn(pcb); /* our SYN-ACK was lost */
        return INPUT_DONE;
    }
    /* RFC 9293 figure 8: in a simultaneous open our SYN-ACK crosses the
     * peer's, which acknowledges our SYN and repeats its own. */
    if (pcb->state == TCPS_SYN_RECEIVED &&
        (th->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) && th->seq == pcb->irs &&
        th->ack == pcb->snd_nxt) {
        if (syn_received_ack(pcb, th) && !tcp_pcb_gone(pcb))
            tcp_send_ack(pcb);
        return INPUT_DONE;
    }
    /* RFC 9293 3.10.7.4 eighth: a retransmitted FIN in TIME-WAIT is
     * acknowledged and restarts the 2 MSL wait. */
    if (pcb->state == TCPS_TIME_WAIT && (th->flags & TCP_FIN) && !(th->flags & TCP_RST) &&
        th->seq + th->plen + 1 == pcb->rcv_nxt) {
        tcp_send_ack(pcb);
        tcp_enter_timewait(pcb);
        return INPUT_DONE;
    }
    /* RFC 7323 3.2: once timestamps are agreed, a segment without one
     * (other than a RST) is silently dropped. */
    if (pcb->ts_ok && !th->opt.ts_ok && !(th->flags & TCP_RST)) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_no_timestamp);
        return INPUT_DONE;
    }
    if (paws_reject(pcb, th)) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_paws);
        oow_ack(pcb, th);
        return INPUT_DONE;
    }
    if (!acceptable(pcb, th)) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_out_of_window);
        oow_ack(pcb, th);
        return INPUT_DONE;
    }
    if (th->flags & TCP_RST) {
        handle_rst(pcb, th);
        return INPUT_DONE;
    }
    if (th->flags & TCP_SYN) {
        challenge_ack(pcb); /* RFC 5961 4.2 */
        return INPUT_DONE;
    }
    if (!(th->flags & TCP_ACK)) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_bad_flags);
        return INPUT_DONE;
    }
    update_ts_recent(pcb, th);
    tcp_keepalive_reset(pcb);
    if (pcb->state == TCPS_SYN_RECEIVED && (!syn_received_ack(pcb, th) || tcp_pcb_gone(pcb)))
        return INPUT_DONE;
    /* RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]. */
    if (seq_gt(th->ack, pcb->snd_max) ||
        seq_lt(th->ack, pcb->snd_una - (pcb->max_snd_wnd ? pcb->max_snd_wnd : 1))) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_bad_ack);
        challenge_ack(pcb);
        return INPUT_DONE;
    }
    if (!process_ack(pcb, th) || tcp_pcb_gone(pcb))
        return INPUT_DONE;
    uint64_t tx_before = s->cnt.tx[US_P_tcp];
    /* RFC 1122 4.2.2.13 / RFC 2525: new data for a connection whose owner
     * closed it can never be read: reset. */
    if (pcb->user_closed && th->plen && seq_gt(th->seq + th->plen, pcb->rcv_nxt) &&
        (pcb->state == TCPS_FIN_WAIT_1 || pcb->state == TCPS_FIN_WAIT_2)) {
        tcp_send_rst(pcb);
        tcp_closed(pcb, 0);
        return INPUT_DONE;
    }
    bool ack_now = false;
    bool takes_data = pcb->state == TCPS_ESTABLISHED || pcb->state == TCPS_FIN_WAIT_1 ||
                      pcb->state == TCPS_FIN_WAIT_2;
    if (th->plen && takes_data)
        ack_now |= process_data(pcb, th);
    if (tcp_pcb_gone(pcb))
        return INPUT_DONE;
    if (th->flags & TCP_FIN)
        ack_now |= process_fin(pcb, th);
    if (tcp_pcb_gone(pcb))
        return INPUT_DONE;
    if (pcb->state == TCPS_TIME_WAIT && !(th->flags & TCP_FIN))
        return INPUT_DONE;
    tcp_output(pcb);
    /* Anything sent since the data was processed carried the ACK. */
    if (ack_now && s->cnt.tx[US_P_tcp] == tx_before)
        tcp_send_ack(pcb);
    return INPUT_DONE;
}

/* ---- SYN-SENT ---- */

static void syn_sent_input(struct us_tcp_pcb *pcb, const struct tcp_view *th)
{
    if (th->flags & TCP_ACK) {
        if (seq_le(th->ack, pcb->iss) || seq_gt(th->ack, pcb->snd_max)) {
            tcp_send_rst_for(pcb->stack, &pcb->remote, &pcb->local, th);
            return;
        }
    }
    if (th->flags & TCP_RST) {
        if (th->flags & TCP_ACK) {
            us_count_event(pcb->stack, US_EV_tcp_reset_rcvd);
            tcp_closed(pcb, ECONNREFUSED);
        }
        return;
    }
    if (!(th->flags & TCP_SYN))
        return;
    tcp_init_pcb_from_syn(pcb, th);
    if (!(th->flags & TCP_ACK)) {
        /* Simultaneous open (RFC 9293 3.5, figure 8). */
        tcp_set_state(pcb, TCPS_SYN_RECEIVED);
        tcp_send_syn(pcb);
        return;
    }
    pcb->snd_una = th->ack;
    pcb->snd_wl2 = th->ack;
    bool syn_resent = pcb->backoff > 0;
    pcb->backoff = 0;
    rtt_from_ack(pcb, th);
    if (syn_resent && pcb->srtt == 0)
        pcb->rto = TCP_RTO_AFTER_SYN_LOSS;
    us_timer_cancel(pcb->stack, &pcb->rtx_timer);
    tcp_set_state(pcb, TCPS_ESTABLISHED);
    tcp_keepalive_reset(pcb);
    tcp_send_ack(pcb);
    tcp_notify(pcb, US_TCP_EV_CONNECTED | US_TCP_EV_WRITABLE);
}

/* ---- LISTEN ---- */

static uint8_t wscale_for(uint32_t limit)
{
    uint8_t ws = 0;
    while (ws < TCP_MAX_WS && (limit >> ws) > 65535)
        ws++;
    return ws;
}

static struct us_tcp_pcb *new_child(struct us_tcp_pcb *l, const struct us_addr *src,
                                    const struct us_addr *dst, const struct tcp_view *th)
{
    struct ustack *s = l->stack;
    struct us_tcp_pcb *c = us_tcp_new(s, NULL, NULL);
    if (!c)
        return NULL;
    c->local = *dst;
    c->lport = th->dport;
    c->remote = *src;
    c->rport = th->sport;
    c->nodelay = l->nodelay;
    c->keepalive = l->keepalive;
    c->keepidle_s = l->keepidle_s;
    c->keepintvl_s = l->keepintvl_s;
    c->keepcnt = l->keepcnt;
    c->user_mss = l->user_mss;
    c->snd.limit = l->snd.limit;
    c->rcv.limit = l->rcv.limit;
    c->linger_on = l->linger_on;
    c->linger_sec = l->linger_sec;
    c->mss = tcp_mss_for_route(s, src);
    if (c->user_mss && c->user_mss < c->mss)
        c->mss = c->user_mss;
    c->listener = l;
    return c;
}

static void listen_syn(struct us_tcp_pcb *l, const struct us_addr *src, const struct us_addr *dst,
                       const struct tcp_view *th)
{
    struct ustack *s = l->stack;
    if (l->acc_q_len >= l->backlog) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_accept_queue_full);
        return;
    }
    if (l->syn_q_len >= l->backlog) {
        /* RFC 4987 3.6: the SYN queue is full, answer with a cookie. */
        tcp_cookie_send_synack(s, src, dst, th, tcp_mss_for_route(s, src));
        l->cookie_sent_at = s->now ? s->now : 1;
        return;
    }
    struct us_tcp_pcb *c = new_child(l, src, dst, th);
    if (!c) {
        us_count_drop(s, US_P_tcp, US_DROP_no_buffer);
        return;
    }
    c->ws_ok = c->ts_ok = c->sack_ok = true; /* offered if the peer offered */
    c->rcv_wscale = wscale_for(c->rcv.limit);
    c->iss = tcp_isn(s, dst, th->dport, src, th->sport);
    c->snd_una = c->snd_nxt = c->snd_max = c->recover = c->iss;
    c->ts_offset = (uint32_t)tcp_isn(s, src, th->sport, dst, th->dport) ^ 0x5a5a5a5au;
    tcp_init_pcb_from_syn(c, th);
    c->q_next = l->syn_q;
    l->syn_q = c;
    l->syn_q_len++;
    tcp_set_state(c, TCPS_SYN_RECEIVED);
    tcp_hash_insert(s, c);
    us_count_event(s, US_EV_tcp_passive_open);
    tcp_send_syn(c);
}

/* An ACK for a listener: the third step of a handshake answered with a
 * cookie (RFC 4987 3.6). Only a listener that sent cookies lately checks
 * for one, as Linux does (tcp_synq_no_recent_overflow): otherwise the ACK
 * is for no connection, and guessing cookies gets an attacker nowhere. */
static void listen_ack(struct us_tcp_pcb *l, const struct us_addr *src, const struct us_addr *dst,
                       const struct tcp_view *th)
{
    struct ustack *s = l->stack;
    if (!l->cookie_sent_at || s->now - l->cookie_sent_at > TCP_COOKIE_RECENT) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_no_socket);
        tcp_send_rst_for(s, src, dst, th);
        return;
    }
    uint16_t mss = tcp_cookie_check(s, dst, th->dport, src, th->sport, th->seq - 1, th->ack - 1);
    if (!mss || (th->flags & (TCP_SYN | TCP_RST | TCP_FIN)) == TCP_SYN) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_bad_cookie);
        tcp_send_rst_for(s, src, dst, th);
        return;
    }
    if (l->acc_q_len >= l->backlog) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_accept_queue_full);
        return;
    }
    struct us_tcp_pcb *c = new_child(l, src, dst, th);
    if (!c)
        return;
    if (mss < c->mss)
        c->mss = mss;
    c->iss = th->ack - 1;
    c->snd_una = c->snd_nxt = c->snd_max = c->recover = th->ack;
    c->irs = th->seq - 1;
    c->rcv_nxt = th->seq;
    c->rcv_adv = th->seq + 65535;
    c->snd_wnd = th->win;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = th->seq;
    c->snd_wl2 = th->ack;
    c->last_ack_sent = c->rcv_nxt;
    c->cc->init(c);
    c->q_next = l->syn_q; /* establish_passive moves it to the accept queue */
    l->syn_q = c;
    l->syn_q_len++;
    establish_passive(c);
    tcp_set_state(c, TCPS_ESTABLISHED);
    tcp_hash_insert(s, c);
    us_count_event(s, US_EV_tcp_syncookie_ok);
    us_count_event(s, US_EV_tcp_passive_open);
    tcp_pcb_hold(c); /* the owner may accept and close it right away */
    tcp_notify(l, US_TCP_EV_ACCEPTABLE);
    if ((th->plen || (th->flags & TCP_FIN)) && !tcp_pcb_gone(c))
        conn_input(c, th);
    tcp_pcb_put(c);
}

static void listen_input(struct us_tcp_pcb *l, const struct us_addr *src, const struct us_addr *dst,
                         const struct tcp_view *th)
{
    if (th->flags & TCP_RST)
        return;
    if (th->flags & TCP_ACK) {
        if (th->flags & TCP_SYN)
            tcp_send_rst_for(l->stack, src, dst, th);
        else
            listen_ack(l, src, dst, th);
        return;
    }
    if (th->flags & TCP_SYN)
        listen_syn(l, src, dst, th);
}

/* ---- Entry ---- */

void us_tcp_input(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                  const struct ip4_view *ip)
{
    (void)nif;
    struct us_addr src = us_addr4(ip->src), dst = us_addr4(ip->dst);
    struct tcp_view th;
    enum us_drop why =
        tcp_parse_csum(p->data + ip->hlen, p->len - ip->hlen, &src, &dst, !p->csum_ok, &th);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_tcp, why);
        return;
    }
    s->cnt.rx[US_P_tcp]++;
    log_rx(s, &src, &dst, &th);
    if (p->link_bcast) {
        us_drop(s, p, US_P_tcp, US_DROP_tcp_no_socket); /* never to broadcasts */
        return;
    }
    for (int round = 0; round < 2; round++) {
        bool is_listener;
        struct us_tcp_pcb *pcb = tcp_lookup(s, &src, th.sport, &dst, th.dport, &is_listener);
        if (!pcb) {
            us_count_drop(s, US_P_tcp, US_DROP_tcp_no_socket);
            tcp_send_rst_for(s, &src, &dst, &th);
            break;
        }
        if (is_listener) {
            listen_input(pcb, &src, &dst, &th);
            break;
        }
        tcp_pcb_hold(pcb);
        enum input_result r = INPUT_DONE;
        if (pcb->state == TCPS_SYN_SENT)
            syn_sent_input(pcb, &th);
        else
            r = conn_input(pcb, &th);
        tcp_pcb_put(pcb);
        if (r != INPUT_REOPEN)
            break;
    }
    us_pkt_free(p);
}

/* RFC 5927: believe an ICMP error only if it quotes a sequence number we
 * have sent and not had acknowledged; abort only a connection still in
 * SYN-SENT, on hard errors. */
void us_tcp_icmp_error(struct ustack *s, const struct ip4_view *inner, const uint8_t *tcp_hdr,
                       uint8_t type, uint8_t code, uint32_t rest, int err)
{
    struct us_addr local = us_addr4(inner->src), remote = us_addr4(inner->dst);
    uint16_t lport = (uint16_t)(tcp_hdr[0] << 8 | tcp_hdr[1]);
    uint16_t rport = (uint16_t)(tcp_hdr[2] << 8 | tcp_hdr[3]);
    uint32_t seq = (uint32_t)tcp_hdr[4] << 24 | (uint32_t)tcp_hdr[5] << 16 |
                   (uint32_t)tcp_hdr[6] << 8 | tcp_hdr[7];
    bool is_listener;
    struct us_tcp_pcb *pcb = tcp_lookup(s, &remote, rport, &local, lport, &is_listener);
    if (!pcb || is_listener ||
        !seq_in(seq, pcb->snd_una, pcb->snd_max + (pcb->snd_max == pcb->snd_una))) {
        us_count_drop(s, US_P_tcp, US_DROP_tcp_icmp_invalid);
        return;
    }
    if (type == ICMP4_DEST_UNREACH && code == ICMP4_UNREACH_FRAG_NEEDED) {
        uint32_t mtu = ntohl(rest) & 0xffff;
        uint32_t opts = pcb->ts_ok ? TCP_TS_ROOM : 0;
        if (mtu >= 68 + opts && mtu - IP4_HLEN - TCP_HLEN - opts < pcb->mss) {
            pcb->mss = (uint16_t)(mtu - IP4_HLEN - TCP_HLEN - opts);
            /* Resend what is outstanding in smaller pieces (RFC 1191),
             * as after a timeout but without touching cwnd. */
            pcb->in_loss = true;
            pcb->rtx_nxt = pcb->snd_una;
            pcb->recover = pcb->snd_max;
            tcp_output(pcb);
        }
        return;
    }
    /* A connection still opening gives up at once, as Linux's
     * tcp_v4_err() does; an established one only remembers the error
     * (RFC 1122 4.2.3.9: soft errors must not abort it). */
    if (pcb->state == TCPS_SYN_SENT) {
        tcp_closed(pcb, err);
        return;
    }
    pcb->soft_err = err;
}
