/* TCP timers: retransmission (RFC 6298) with the persist timer sharing it,
 * delayed ACKs (RFC 9293 3.8.6.3), keep-alive (RFC 9293 3.8.4, RFC 1122
 * 4.2.3.6), FIN-WAIT-2 and TIME-WAIT. */
#include <errno.h>

#include "core/stack.h"
#include "tcp/cc.h"
#include "tcp/tcp.h"
#include "tcp/tcp_seq.h"

static void rtx_fire(struct ustack *s, struct us_timer *t);
static void delack_fire(struct ustack *s, struct us_timer *t);
static void keep_fire(struct ustack *s, struct us_timer *t);

void tcp_timers_init(struct us_tcp_pcb *pcb)
{
    us_timer_init(&pcb->rtx_timer, rtx_fire);
    us_timer_init(&pcb->delack_timer, delack_fire);
    us_timer_init(&pcb->keep_timer, keep_fire);
}

void tcp_timers_stop(struct us_tcp_pcb *pcb)
{
    us_timer_cancel(pcb->stack, &pcb->rtx_timer);
    us_timer_cancel(pcb->stack, &pcb->delack_timer);
    us_timer_cancel(pcb->stack, &pcb->keep_timer);
}

static us_time_t backed_off(const struct us_tcp_pcb *pcb, us_time_t base)
{
    us_time_t t = base;
    for (int i = 0; i < pcb->backoff && t < TCP_RTO_MAX; i++)
        t *= 2;
    return t > TCP_RTO_MAX ? TCP_RTO_MAX : t;
}

static bool unsent_data(const struct us_tcp_pcb *pcb)
{
    return seq_lt(pcb->snd_nxt, pcb->snd_una + pcb->snd.len) || (pcb->fin_queued && !pcb->fin_sent);
}

/* RFC 6298 5.3 restarts the timer on every ACK of new data: only the
 * deadline moves; the heap entry is moved only when it must fire earlier,
 * and a firing before the deadline re-arms (no heap work per ACK). */
static void arm_rtx(struct us_tcp_pcb *pcb, us_time_t deadline)
{
    pcb->rtx_deadline = deadline;
    if (!us_timer_armed(&pcb->rtx_timer) || pcb->rtx_timer.deadline > deadline)
        us_timer_arm(pcb->stack, &pcb->rtx_timer, deadline);
}

/* Arms it for exactly this deadline (persist, SYN, TIME-WAIT). */
static void set_rtx(struct us_tcp_pcb *pcb, us_time_t deadline)
{
    pcb->rtx_deadline = deadline;
    us_timer_arm(pcb->stack, &pcb->rtx_timer, deadline);
}

/* Arms the retransmission timer when something is in flight, or the
 * persist timer when the peer's window is closed with data waiting
 * (RFC 9293 3.8.6.1); cancels it otherwise. */
void tcp_rearm_rtx(struct us_tcp_pcb *pcb)
{
    struct ustack *s = pcb->stack;
    if (pcb->state == TCPS_TIME_WAIT)
        return;
    if (pcb->snd_max != pcb->snd_una) {
        pcb->persist = false;
        arm_rtx(pcb, s->now + backed_off(pcb, pcb->rto));
        return;
    }
    if (pcb->snd_wnd == 0 && unsent_data(pcb)) {
        us_time_t base = pcb->rto < TCP_PERSIST_MIN ? TCP_PERSIST_MIN : pcb->rto;
        us_time_t t = backed_off(pcb, base);
        pcb->persist = true;
        set_rtx(pcb, s->now + (t > TCP_PERSIST_MAX ? TCP_PERSIST_MAX : t));
        return;
    }
    pcb->persist = false;
    us_timer_cancel(s, &pcb->rtx_timer);
}

/* RFC 6298 2.2 and 2.3 (alpha 1/8, beta 1/4, K 4), clamped to our bounds. */
void tcp_rtt_sample(struct us_tcp_pcb *pcb, us_time_t rtt)
{
    if (pcb->srtt == 0) {
        pcb->srtt = rtt ? rtt : 1;
        pcb->rttvar = rtt / 2;
    } else {
        us_time_t delta = pcb->srtt > rtt ? pcb->srtt - rtt : rtt - pcb->srtt;
        pcb->rttvar = (3 * pcb->rttvar + delta) / 4;
        pcb->srtt = (7 * pcb->srtt + rtt) / 8;
    }
    /* The variance term is floored at TCP_RTO_MIN rather than the clock
     * granularity, as Linux does: on a fast link RTO is SRTT + 200 ms, so a
     * receiver's delayed ACK (up to 200 ms) never races the timer. */
    us_time_t var = 4 * pcb->rttvar > TCP_RTO_MIN ? 4 * pcb->rttvar : TCP_RTO_MIN;
    us_time_t rto = pcb->srtt + var;
    pcb->rto = rto < TCP_RTO_MIN ? TCP_RTO_MIN : rto > TCP_RTO_MAX ? TCP_RTO_MAX : rto;
    US_LOG(pcb->stack, US_CH_TCP, US_LOG_TRACE, "TCP :%u rtt %llu us srtt %llu us rto %llu ms",
           pcb->lport, (unsigned long long)(rtt / 1000), (unsigned long long)(pcb->srtt / 1000),
           (unsigned long long)(pcb->rto / US_MSEC));
}

/* A zero-window or keep-alive probe: one old sequence number, no data,
 * which the peer must answer with an ACK carrying its window. */
static void send_probe(struct us_tcp_pcb *pcb)
{
    tcp_send_segment(pcb, pcb->snd_una - 1, 0, TCP_ACK);
}

static void give_up(struct us_tcp_pcb *pcb)
{
    us_count_event(pcb->stack, US_EV_tcp_timeout);
    int err = pcb->soft_err ? pcb->soft_err : ETIMEDOUT;
    if (pcb->state == TCPS_SYN_SENT && pcb->soft_err == 0)
        err = ETIMEDOUT;
    tcp_closed(pcb, err);
}

static void syn_timeout(struct us_tcp_pcb *pcb)
{
    int limit = pcb->state == TCPS_SYN_SENT ? TCP_SYN_RETRIES : TCP_SYNACK_RETRIES;
    if (pcb->backoff >= limit) {
        give_up(pcb);
        return;
    }
    pcb->backoff++;
    pcb->retransmits++;
    us_count_event(pcb->stack, US_EV_tcp_retransmit);
    tcp_send_syn(pcb);
    set_rtx(pcb, pcb->stack->now + backed_off(pcb, pcb->rto));
}

/* RFC 6298 5.4-5.7 and RFC 5681 (4): retransmit the earliest segment,
 * back off, shrink to the loss window and go back to SND.UNA. */
static void retransmit_timeout(struct us_tcp_pcb *pcb)
{
    if (pcb->snd_max == pcb->snd_una) {
        tcp_rearm_rtx(pcb); /* nothing outstanding after all: persist or stop */
        return;
    }
    if (pcb->backoff >= TCP_DATA_RETRIES) {
        give_up(pcb);
        return;
    }
    us_count_event(pcb->stack, US_EV_tcp_rto);
    pcb->cc->on_rto(pcb);
    pcb->backoff++;
    pcb->in_recovery = false;
    pcb->dupacks = 0;
    pcb->nscore = 0;             /* the receiver may renege on SACKs (RFC 2018 8) */
    pcb->recover = pcb->snd_max; /* RFC 6582 4.1: no fast retransmit for old data */
    pcb->rtt_timing = false;     /* Karn: the timed segment is being resent */
    /* Everything outstanding is presumed lost and resent from SND.UNA as
     * the window grows back; SND.NXT keeps its place so that our ACKs stay
     * acceptable to the peer. */
    pcb->in_loss = true;
    pcb->rtx_nxt = pcb->snd_una;
    us_timer_cancel(pcb->stack, &pcb->rtx_timer);
    tcp_output(pcb);
    tcp_rearm_rtx(pcb);
}

static void rtx_fire(struct ustack *s, struct us_timer *t)
{
    (void)s;
    struct us_tcp_pcb *pcb = us_container_of(t, struct us_tcp_pcb, rtx_timer);
    if (pcb->rtx_deadline > s->now && pcb->state != TCPS_TIME_WAIT) {
        us_timer_arm(s, t, pcb->rtx_deadline); /* restarted since it was armed */
        return;
    }
    switch (pcb->state) {
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        syn_timeout(pcb);
        return;
    case TCPS_TIME_WAIT:
        tcp_closed(pcb, 0);
        return;
    case TCPS_CLOSED:
    case TCPS_LISTEN:
        return;
    default:
        break;
    }
    if (pcb->persist) {
        us_count_event(s, US_EV_tcp_window_probe);
        send_probe(pcb);
        if (pcb->backoff < 16)
            pcb->backoff++;
        tcp_rearm_rtx(pcb);
        return;
    }
    retransmit_timeout(pcb);
}

static void delack_fire(struct ustack *s, struct us_timer *t)
{
    (void)s;
    struct us_tcp_pcb *pcb = us_container_of(t, struct us_tcp_pcb, delack_timer);
    if (pcb->delack_pending)
        tcp_send_ack(pcb);
}

void tcp_schedule_delack(struct us_tcp_pcb *pcb)
{
    pcb->delack_pending = true;
    if (!us_timer_armed(&pcb->delack_timer))
        us_timer_arm(pcb->stack, &pcb->delack_timer, pcb->stack->now + TCP_DELACK);
}

/* Called on every segment received: restarts the idle clock. */
void tcp_keepalive_reset(struct us_tcp_pcb *pcb)
{
    struct ustack *s = pcb->stack;
    pcb->keep_probes = 0;
    pcb->idle_since = s->now;
    if (pcb->state == TCPS_FIN_WAIT_2 && pcb->user_closed) {
        us_timer_arm(s, &pcb->keep_timer, s->now + TCP_FIN_WAIT2_TIMEOUT);
        return;
    }
    /* Lazily: the timer checks the idle clock when it fires, so a busy
     * connection does not touch the timer heap per segment. */
    if (pcb->keepalive && pcb->state >= TCPS_ESTABLISHED && pcb->state != TCPS_TIME_WAIT) {
        if (!us_timer_armed(&pcb->keep_timer))
            us_timer_arm(s, &pcb->keep_timer, s->now + (us_time_t)pcb->keepidle_s * US_SEC);
    } else if (us_timer_armed(&pcb->keep_timer)) {
        us_timer_cancel(s, &pcb->keep_timer);
    }
}

static void keep_fire(struct ustack *s, struct us_timer *t)
{
    struct us_tcp_pcb *pcb = us_container_of(t, struct us_tcp_pcb, keep_timer);
    if (pcb->state == TCPS_FIN_WAIT_2 && pcb->user_closed) {
        tcp_closed(pcb, 0); /* orphaned: the peer never closed */
        return;
    }
    if (!pcb->keepalive || pcb->state < TCPS_ESTABLISHED || pcb->state == TCPS_TIME_WAIT)
        return;
    us_time_t idle_deadline = pcb->idle_since + (us_time_t)pcb->keepidle_s * US_SEC;
    if (pcb->keep_probes == 0 && s->now < idle_deadline) {
        us_timer_arm(s, t, idle_deadline); /* traffic since it was armed */
        return;
    }
    if (pcb->keep_probes >= pcb->keepcnt) {
        tcp_send_rst(pcb);
        tcp_closed(pcb, ETIMEDOUT);
        return;
    }
    us_count_event(s, US_EV_tcp_keepalive_probe);
    send_probe(pcb);
    pcb->keep_probes++;
    us_timer_arm(s, t, s->now + (us_time_t)pcb->keepintvl_s * US_SEC);
}

void tcp_enter_timewait(struct us_tcp_pcb *pcb)
{
    struct ustack *s = pcb->stack;
    tcp_set_state(pcb, TCPS_TIME_WAIT);
    us_timer_cancel(s, &pcb->delack_timer);
    us_timer_cancel(s, &pcb->keep_timer);
    set_rtx(pcb, s->now + TCP_TIMEWAIT);
    tcp_sndbuf_free(&pcb->snd);
}
