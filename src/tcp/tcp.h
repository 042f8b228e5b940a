/* TCP (RFC 9293): connection state, the callback API the sockets layer and
 * in-stack services use, and the pieces shared by tcp_*.c. Addresses are
 * dual-stack; IPv6 plugs in at tcp_output's IP call and tcp_input's entry. */
#ifndef US_TCP_TCP_H
#define US_TCP_TCP_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/pkt.h"
#include "core/timer.h"
#include "tcp/tcp_buf.h"
#include "wire/ip4.h"
#include "wire/tcp.h"

enum tcp_state {
    TCPS_CLOSED,
    TCPS_LISTEN,
    TCPS_SYN_SENT,
    TCPS_SYN_RECEIVED,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_CLOSE_WAIT,
    TCPS_CLOSING,
    TCPS_LAST_ACK,
    TCPS_TIME_WAIT,
};

/* Events reported to the owner of a connection. */
#define US_TCP_EV_READABLE 0x01   /* data or end of stream to read */
#define US_TCP_EV_WRITABLE 0x02   /* send buffer space */
#define US_TCP_EV_CONNECTED 0x04  /* handshake done (active open) */
#define US_TCP_EV_ACCEPTABLE 0x08 /* a listener has a connection to accept */
#define US_TCP_EV_ERROR 0x10      /* a pending error (see us_tcp_error) */
#define US_TCP_EV_CLOSED 0x20     /* the connection is gone (reset, timed out, closed) */

struct us_tcp_pcb;
typedef void (*us_tcp_event_fn)(void *ctx, struct us_tcp_pcb *pcb, unsigned events);

/* Defaults, Linux-like where Linux has one. */
#define TCP_DEFAULT_SNDBUF (2u << 20)
#define TCP_DEFAULT_RCVBUF (2u << 20)
#define TCP_MAX_BUF (16u << 20)
#define TCP_MIN_BUF 4096u
#define TCP_DEFAULT_MSS 536 /* RFC 9293 3.7.1 when the peer sends none */
#define TCP_TS_ROOM 12      /* the timestamp option with its two NOPs */
#define TCP_INIT_CWND 10    /* segments, RFC 6928 */
#define TCP_RTO_INIT (1 * US_SEC)
#define TCP_RTO_MIN (200 * US_MSEC) /* Linux TCP_RTO_MIN */
#define TCP_RTO_MAX (120 * US_SEC)
#define TCP_RTO_AFTER_SYN_LOSS (3 * US_SEC) /* RFC 6298 5.7 */
#define TCP_SYN_RETRIES 6
#define TCP_SYNACK_RETRIES 5
#define TCP_DATA_RETRIES 15
#define TCP_DELACK (40 * US_MSEC)  /* Linux TCP_DELACK_MIN */
#define TCP_TIMEWAIT (60 * US_SEC) /* 2 MSL as Linux */
#define TCP_FIN_WAIT2_TIMEOUT (60 * US_SEC)
#define TCP_KEEPIDLE_DEFAULT (7200 * US_SEC)
#define TCP_KEEPINTVL_DEFAULT (75 * US_SEC)
#define TCP_KEEPCNT_DEFAULT 9
#define TCP_PERSIST_MIN (200 * US_MSEC)
#define TCP_PERSIST_MAX (60 * US_SEC)
#define TCP_DUPTHRESH 3
#define TCP_SCORE_MAX 16 /* SACK scoreboard ranges */
#define TCP_HASH 4096
#define TCP_OOW_ACK_INTERVAL (500 * US_MSEC) /* Linux tcp_invalid_ratelimit */
#define TCP_CHALLENGE_LIMIT 1000             /* per second, as Linux tcp_challenge_ack_limit */

struct tcp_cc_ops;

struct us_tcp_pcb {
    struct us_tcp_pcb *next; /* hash chain */
    struct ustack *stack;
    uint8_t state;
    bool hashed;
    struct us_addr local, remote;
    uint16_t lport, rport;

    /* Send sequence space (RFC 9293 3.3.1). */
    uint32_t iss, snd_una, snd_nxt, snd_max; /* snd_max: highest ever sent */
    uint32_t snd_wnd;                        /* scaled */
    uint32_t snd_wl1, snd_wl2;
    uint32_t max_snd_wnd; /* largest window the peer offered (sender SWS) */
    uint8_t snd_wscale, rcv_wscale;
    uint16_t mss;      /* bytes of data per segment we send (options excluded) */
    uint16_t peer_mss; /* what the peer announced */
    uint16_t user_mss; /* TCP_MAXSEG, 0: none */

    /* Receive sequence space. */
    uint32_t irs, rcv_nxt;
    uint32_t rcv_adv; /* right edge we advertised */

    /* Options agreed on the handshake (RFC 7323, RFC 2018). */
    bool ws_ok, ts_ok, sack_ok;
    uint32_t ts_recent, ts_offset;
    us_time_t ts_recent_age;
    uint32_t last_ack_sent;

    /* Round-trip estimation (RFC 6298). */
    us_time_t srtt, rttvar, rto;
    bool rtt_timing;
    uint32_t rtt_seq;
    us_time_t rtt_start;
    uint8_t backoff; /* retransmissions of the current segment */

    /* Congestion control and loss recovery (RFC 5681, 6582, 6675). */
    const struct tcp_cc_ops *cc;
    uint32_t cwnd, ssthresh;
    uint32_t bytes_acked; /* appropriate byte counting in congestion avoidance */
    uint8_t dupacks;
    bool in_recovery;
    uint32_t recover;  /* RFC 6582 / RFC 6675 RecoveryPoint */
    uint32_t high_rxt; /* RFC 6675 HighRxt */
    bool in_loss;      /* after a timeout: resending from rtx_nxt, go-back-N */
    uint32_t rtx_nxt;  /* SND.NXT stays the highest sent; this walks up to it */
    bool rescue_done;  /* RFC 6675 rule (4): one rescue retransmission per recovery */
    struct tcp_range score[TCP_SCORE_MAX]; /* SACKed ranges above snd_una */
    uint8_t nscore;
    uint64_t retransmits; /* segments retransmitted, for iperf3 */

    /* Buffers. */
    struct tcp_sndbuf snd;
    struct tcp_rcvbuf rcv;

    /* Flags. */
    bool fin_queued; /* the application shut down writing */
    bool fin_sent;   /* our FIN has a sequence number: fin_seq */
    uint32_t fin_seq;
    bool ooo_fin; /* the peer's FIN arrived ahead of data: at ooo_fin_seq */
    uint32_t ooo_fin_seq;
    bool fin_received; /* the peer's FIN is in RCV.NXT */
    bool nodelay, keepalive;
    bool delack_pending;
    uint8_t unacked_segs; /* full segments received since our last ACK */
    bool linger_on;
    uint32_t linger_sec;
    bool user_closed;       /* the owner let go: free on reaching CLOSED */
    uint8_t busy;           /* input is working on it: freeing waits (see tcp_pcb_put) */
    bool zombie;            /* freed while busy */
    us_time_t last_oow_ack; /* last ACK sent for an out-of-window segment */
    bool ack_batched;       /* on the stack's ack_batch list */
    struct us_tcp_pcb *ack_batch_next;
    bool rcv_shutdown;
    uint8_t keep_probes;
    uint32_t keepidle_s, keepintvl_s, keepcnt;
    int err; /* pending error (positive errno) */
    int soft_err;

    /* Timers. */
    struct us_timer rtx_timer; /* retransmission, persist, SYN, TIME-WAIT */
    us_time_t rtx_deadline;    /* when it is really due (the heap entry may be earlier) */
    struct us_timer delack_timer;
    struct us_timer keep_timer; /* keep-alive, FIN-WAIT-2 */
    bool persist;
    us_time_t idle_since;

    /* Listening. */
    struct us_tcp_pcb *listener;      /* for a child not yet accepted */
    struct us_tcp_pcb *syn_q, *acc_q; /* a listener's children */
    struct us_tcp_pcb *q_next;
    uint16_t backlog, syn_q_len, acc_q_len;
    us_time_t cookie_sent_at; /* a listener's last SYN cookie; 0: none yet */

    us_tcp_event_fn event;
    void *ctx;
};

struct us_tcp {
    struct us_tcp_pcb *conns[TCP_HASH]; /* by 4-tuple */
    struct us_tcp_pcb *listeners;       /* and bound-not-connected */
    uint32_t next_ephemeral;
    uint32_t challenge_count; /* challenge ACKs in the current second */
    us_time_t challenge_window;
    uint16_t *port_refs; /* pcbs using each local port (allocated on first use) */
};

/* ---- API (callers hold the stack lock) ---- */
struct us_tcp_pcb *us_tcp_new(struct ustack *s, us_tcp_event_fn event, void *ctx);
/* port 0 picks an ephemeral one. 0 or -errno (EADDRINUSE, EADDRNOTAVAIL,
 * EINVAL). reuse: SO_REUSEADDR (binding over TIME-WAIT connections). */
int us_tcp_bind(struct us_tcp_pcb *pcb, const struct us_addr *addr, uint16_t port, bool reuse);
int us_tcp_listen(struct us_tcp_pcb *pcb, int backlog);
/* Pops an established connection from a listener (NULL: none). The child
 * inherits the listener's options; set its event callback afterwards. */
struct us_tcp_pcb *us_tcp_accept(struct us_tcp_pcb *listener);
/* Starts an active open (0 or -errno). US_TCP_EV_CONNECTED or an error
 * event follows. */
int us_tcp_connect(struct us_tcp_pcb *pcb, const struct us_addr *addr, uint16_t port);
/* Copies up to len bytes into the send buffer; returns bytes taken, or
 * -EPIPE / -ENOTCONN / -errno of a pending error; 0 when the buffer is full. */
ssize_t us_tcp_send(struct us_tcp_pcb *pcb, const void *buf, size_t len, bool more);
/* Reads up to len bytes; 0 at end of stream; -EAGAIN when nothing yet. */
ssize_t us_tcp_recv(struct us_tcp_pcb *pcb, void *buf, size_t len, bool peek);
/* SHUT_RD, SHUT_WR, SHUT_RDWR. */
int us_tcp_shutdown(struct us_tcp_pcb *pcb, int how);
/* Releases the connection: a graceful close, or a reset when unread data is
 * left or SO_LINGER with zero time says so. The pcb is freed by the stack. */
void us_tcp_close(struct us_tcp_pcb *pcb);
void us_tcp_abort(struct us_tcp_pcb *pcb);
uint32_t us_tcp_readable(const struct us_tcp_pcb *pcb);
uint32_t us_tcp_writable(const struct us_tcp_pcb *pcb);
bool us_tcp_eof(const struct us_tcp_pcb *pcb);
/* Reads and clears the pending error (positive errno, or 0). */
int us_tcp_take_error(struct us_tcp_pcb *pcb);
int us_tcp_set_bufsizes(struct us_tcp_pcb *pcb, uint32_t sndbuf, uint32_t rcvbuf);
const char *us_tcp_state_name(int state);

/* ---- Inside TCP ---- */
void us_tcp_input(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                  const struct ip4_view *ip);
/* An ICMP error quoting a segment we sent (RFC 5927): tcp_hdr holds at
 * least 8 bytes; rest is the ICMP header's second word (next-hop MTU). */
void us_tcp_icmp_error(struct ustack *s, const struct ip4_view *inner, const uint8_t *tcp_hdr,
                       uint8_t type, uint8_t code, uint32_t rest, int err);
void us_tcp_destroy(struct ustack *s);

/* tcp_pcb.c */
void tcp_hash_insert(struct ustack *s, struct us_tcp_pcb *pcb);
void tcp_hash_remove(struct ustack *s, struct us_tcp_pcb *pcb);
struct us_tcp_pcb *tcp_lookup(struct ustack *s, const struct us_addr *src, uint16_t sport,
                              const struct us_addr *dst, uint16_t dport, bool *is_listener);
void tcp_set_state(struct us_tcp_pcb *pcb, int state);
/* Moves to CLOSED; reports err (0: orderly) and frees the pcb if its owner
 * has let go of it. */
void tcp_closed(struct us_tcp_pcb *pcb, int err);
void tcp_notify(struct us_tcp_pcb *pcb, unsigned events);
/* Input holds a pcb across calls that may reach its owner, who may close
 * it: the memory stays valid until the matching put. */
static inline void tcp_pcb_hold(struct us_tcp_pcb *pcb)
{
    pcb->busy++;
}
void tcp_pcb_put(struct us_tcp_pcb *pcb);
static inline bool tcp_pcb_gone(const struct us_tcp_pcb *pcb)
{
    return pcb->zombie || pcb->state == TCPS_CLOSED;
}
uint32_t tcp_isn(struct ustack *s, const struct us_addr *la, uint16_t lp, const struct us_addr *ra,
                 uint16_t rp);
uint32_t tcp_ts_now(const struct us_tcp_pcb *pcb);
void tcp_init_pcb_from_syn(struct us_tcp_pcb *pcb, const struct tcp_view *th);
uint16_t tcp_mss_for_route(struct ustack *s, const struct us_addr *dst);

/* Sends the ACKs that segments of a receive batch deferred. */
void tcp_flush_batched_acks(struct ustack *s);

/* tcp_output.c */
/* Sends what the windows allow, then arms timers. */
void tcp_output(struct us_tcp_pcb *pcb);
void tcp_send_ack(struct us_tcp_pcb *pcb);
void tcp_send_syn(struct us_tcp_pcb *pcb); /* SYN or SYN-ACK per state */
void tcp_send_rst_for(struct ustack *s, const struct us_addr *src, const struct us_addr *dst,
                      const struct tcp_view *th);
void tcp_send_rst(struct us_tcp_pcb *pcb);
/* Sends one segment [seq, seq+len) of the send buffer with flags. */
void tcp_send_segment(struct us_tcp_pcb *pcb, uint32_t seq, uint32_t len, uint8_t flags);
uint32_t tcp_rcv_window(const struct us_tcp_pcb *pcb);
uint32_t tcp_flight(const struct us_tcp_pcb *pcb);

/* tcp_timer.c */
void tcp_timers_init(struct us_tcp_pcb *pcb);
void tcp_timers_stop(struct us_tcp_pcb *pcb);
void tcp_rearm_rtx(struct us_tcp_pcb *pcb);
void tcp_rtt_sample(struct us_tcp_pcb *pcb, us_time_t rtt);
void tcp_schedule_delack(struct us_tcp_pcb *pcb);
void tcp_keepalive_reset(struct us_tcp_pcb *pcb);
void tcp_enter_timewait(struct us_tcp_pcb *pcb);

/* tcp_sack.c */
void tcp_sack_update(struct us_tcp_pcb *pcb, const struct tcp_opts *o);
void tcp_sack_trim(struct us_tcp_pcb *pcb);
uint32_t tcp_sack_pipe(const struct us_tcp_pcb *pcb);
bool tcp_sack_is_lost(const struct us_tcp_pcb *pcb, uint32_t seq);
/* RFC 6675 NextSeg: a hole to retransmit; false when none. */
bool tcp_sack_next_hole(const struct us_tcp_pcb *pcb, uint32_t *seq, uint32_t *len);
/* RFC 6675 NextSeg rule (3): an unSACKed hole above HighRxt, lost or not. */
bool tcp_sack_next_unsacked(const struct us_tcp_pcb *pcb, uint32_t *seq, uint32_t *len);
/* The SACK blocks we advertise as a receiver (RFC 2018 section 4). */
void tcp_sack_fill_blocks(const struct us_tcp_pcb *pcb, struct tcp_opts *o);

/* tcp_syncookie.c */
void tcp_cookie_send_synack(struct ustack *s, const struct us_addr *src, const struct us_addr *dst,
                            const struct tcp_view *th, uint16_t mss);
uint32_t tcp_cookie_make(struct ustack *s, const struct us_addr *la, uint16_t lp,
                         const struct us_addr *ra, uint16_t rp, uint32_t peer_isn, uint16_t mss);
/* How long after a listener's last SYN cookie an ACK to it is checked as
 * one (the cookie's own lifetime, two 64-second slots). */
#define TCP_COOKIE_RECENT (128 * US_SEC)
/* Returns the MSS the cookie encodes, or 0 if it is not one of ours. */
uint16_t tcp_cookie_check(struct ustack *s, const struct us_addr *la, uint16_t lp,
                          const struct us_addr *ra, uint16_t rp, uint32_t peer_isn,
                          uint32_t cookie);

#endif
