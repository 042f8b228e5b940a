/* NewReno congestion control: slow start and congestion avoidance (RFC
 * 5681 3.1) with appropriate byte counting (RFC 3465, L = 2 SMSS), the
 * initial window of RFC 6928, and the window reductions of RFC 5681 (4)
 * and RFC 6582 3.2. */
#include "tcp/cc.h"
#include "tcp/tcp.h"

static uint32_t half_flight(const struct us_tcp_pcb *pcb)
{
    uint32_t half = tcp_flight(pcb) / 2;
    return half > 2u * pcb->mss ? half : 2u * pcb->mss;
}

static void newreno_init(struct us_tcp_pcb *pcb)
{
    /* RFC 6928: min(10*MSS, max(2*MSS, 14600)). */
    uint32_t iw = TCP_INIT_CWND * pcb->mss;
    uint32_t floor = 2u * pcb->mss > 14600 ? 2u * pcb->mss : 14600;
    pcb->cwnd = iw < floor ? iw : floor;
    pcb->ssthresh = UINT32_MAX;
    pcb->bytes_acked = 0;
}

static void newreno_on_ack(struct us_tcp_pcb *pcb, uint32_t acked)
{
    if (pcb->cwnd < pcb->ssthresh) {
        uint32_t limit = 2u * pcb->mss;
        pcb->cwnd += acked < limit ? acked : limit;
        return;
    }
    pcb->bytes_acked += acked;
    if (pcb->bytes_acked >= pcb->cwnd) {
        pcb->bytes_acked -= pcb->cwnd;
        pcb->cwnd += pcb->mss;
    }
}

static void newreno_on_loss(struct us_tcp_pcb *pcb)
{
    pcb->ssthresh = half_flight(pcb);
    pcb->bytes_acked = 0;
}

static void newreno_on_rto(struct us_tcp_pcb *pcb)
{
    pcb->ssthresh = half_flight(pcb);
    pcb->cwnd = pcb->mss; /* RFC 5681: the loss window is one segment */
    pcb->bytes_acked = 0;
}

static void newreno_on_recovery_end(struct us_tcp_pcb *pcb)
{
    /* RFC 6582 3.2 step 3, option (1): deflate to ssthresh, but never
     * beyond what is in flight plus one segment (avoids a burst). */
    uint32_t limit = tcp_flight(pcb) + pcb->mss;
    pcb->cwnd = pcb->ssthresh < limit ? pcb->ssthresh : limit;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_loss = newreno_on_loss,
    .on_rto = newreno_on_rto,
    .on_recovery_end = newreno_on_recovery_end,
};
