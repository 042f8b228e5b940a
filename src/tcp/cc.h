/* Congestion control behind one interface; one file per algorithm. The
 * loss-recovery machinery (fast retransmit, SACK, NewReno partial ACKs)
 * lives in tcp_input.c and asks the algorithm only how to size cwnd. */
#ifndef US_TCP_CC_H
#define US_TCP_CC_H

#include <stdint.h>

struct us_tcp_pcb;

struct tcp_cc_ops {
    const char *name;
    void (*init)(struct us_tcp_pcb *pcb);
    /* acked bytes of new data acknowledged outside recovery. */
    void (*on_ack)(struct us_tcp_pcb *pcb, uint32_t acked);
    /* Loss detected by duplicate ACKs or SACK: set ssthresh (RFC 5681 (4)). */
    void (*on_loss)(struct us_tcp_pcb *pcb);
    /* Retransmission timeout (RFC 5681 (4) and the loss window). */
    void (*on_rto)(struct us_tcp_pcb *pcb);
    /* Fast recovery ended with a full acknowledgment. */
    void (*on_recovery_end)(struct us_tcp_pcb *pcb);
};

extern const struct tcp_cc_ops tcp_cc_newreno;

#endif
