/* TCP on top of the flow harness (flow.h), in the spirit of packetdrill:
 * the test plays the peer 10.0.0.1, injects segments it scripts, and pops
 * the segments the stack sends, checking flags, sequence and
 * acknowledgment numbers, window, options, length and the time they left.
 *
 * Segments are built and parsed here, independently of src/wire, with the
 * checksum computed (or verified) over the pseudo-header.
 *
 * A struct tc_conn follows one connection from the peer's side. Sequence
 * numbers given to tc_in and tc_out are relative, as packetdrill's:
 *   in  (peer -> stack): seq relative to the peer's ISN (c->irs), ack
 *                        relative to the stack's ISN (c->iss);
 *   out (stack -> peer): seq relative to c->iss, ack relative to c->irs.
 * So after a handshake the first data byte either way is at 1.
 *
 * Flags are strings as tcpdump prints them: "S" SYN, "F" FIN, "R" RST,
 * "P" PSH, "." ACK, "U" URG, "E" ECE, "W" CWR. Expected flags must match
 * exactly, except that PSH is only checked when the string names it.
 *
 * pcbs made through these helpers are closed by the teardown of TC_TEST,
 * also after a failure, so ASan sees no leak. */
#ifndef USTACK_TESTS_FLOW_TCP_H
#define USTACK_TESTS_FLOW_TCP_H

#include "flow.h"

#include "tcp/tcp.h"

#define PROTO_TCP 6
#define TC_ANY 0xffffffffu /* "do not check" for seq, ack, win, len */
#define TC_PEER_PORT 40000 /* the peer's port unless a test picks another */
#define TC_PEER_ISN 1000000u
#define TC_TS_BASE 5000u /* the peer's timestamp clock at flow start */

/* TCP options as the peer sends them or as parsed from the stack. */
struct tc_opts {
    bool mss_ok, ws_ok, sack_ok, ts_ok;
    uint16_t mss;
    uint8_t ws;
    uint32_t tsval, tsecr;
    int nsack;
    struct {
        uint32_t l, r;
    } sack[4];
    /* When rawlen is set, these bytes are sent verbatim instead (padded
     * with EOL to a multiple of 4). Not filled on parse. */
    const uint8_t *raw;
    size_t rawlen;
    int order[8]; /* parse only: option kinds in the order seen (0 ends) */
};

/* What a Linux peer offers on a SYN: MSS 1460, SACK-permitted,
 * timestamps, window scale 7. */
struct tc_opts tc_linux_opts(void);
/* Nothing at all. */
struct tc_opts tc_no_opts(void);
/* Lays options out as Linux does; returns the length (multiple of 4). */
size_t tc_build_opts(uint8_t *out, const struct tc_opts *o);

/* A raw segment from the peer (src 10.0.0.1 unless src is set). */
struct tc_seg {
    uint32_t src; /* network order; 0: the peer */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    struct tc_opts opt;
    const void *data;
    size_t len;
    bool bad_csum;
};
uint8_t tc_flags(const char *s);
void tc_inject(struct flow *f, const struct tc_seg *seg);

/* A segment the stack sent, parsed and checked (IP and TCP checksums,
 * addresses, Ethernet destination the peer). */
struct tc_rx {
    struct flow_ip4_rx ip;
    uint16_t sport, dport;
    uint32_t seq, ack; /* absolute */
    uint8_t flags, hlen;
    uint16_t win;
    struct tc_opts opt;
    const uint8_t *data;
    size_t len;
    us_time_t t;
};
#define tc_expect_raw(f, out) tc_expect_raw_at((f), (out), __FILE__, __LINE__)
void tc_expect_raw_at(struct flow *f, struct tc_rx *out, const char *file, int line);

/* ---- Scripted connections ---- */
struct tc_conn {
    struct flow *f;
    struct us_tcp_pcb *pcb;      /* the stack's end */
    struct us_tcp_pcb *listener; /* for passive opens */
    uint16_t lport, pport;       /* the stack's port, the peer's */
    uint32_t irs, iss;           /* the peer's ISN, the stack's ISN */
    uint16_t win;                /* window field the peer sends (default 65535) */
    uint8_t peer_ws;             /* the peer's window scale (0: none) */
    bool ts, sack, ws;           /* negotiated */
    uint32_t ts_last;            /* the stack's newest TSval (the peer echoes it) */
    uint16_t mss;                /* the stack's announced MSS */
    struct tc_rx rx;             /* the segment popped last */
    /* Events seen by the connection's callback. */
    unsigned events;
    int n_readable, n_writable, n_closed, n_error, n_acceptable, n_connected;
};

/* The peer's byte at relative sequence number seq (the data tc_in sends). */
static inline uint8_t tc_peer_byte(uint32_t seq)
{
    return (uint8_t)(seq * 31u + 7u);
}
/* Data the stack sends in tests: byte i of the stream (i from 0). */
static inline uint8_t tc_our_byte(uint32_t i)
{
    return (uint8_t)(i * 13u + 101u);
}

/* A flow with the peer's ARP entry resolved and kept REACHABLE by
 * tc_advance (which refreshes it every 20 s of virtual time). */
struct flow *tc_flow(const struct flow_opts *o);
/* Closes the pcbs made on f by the helpers, then frees f. */
void tc_flow_free(struct flow *f);
/* A pcb made with the recording callback (ctx c), closed on teardown. */
struct us_tcp_pcb *tc_pcb(struct tc_conn *c, struct flow *f);
/* Releases a pcb made with tc_pcb (us_tcp_close) and forgets it. */
void tc_close(struct us_tcp_pcb *pcb);
/* The same with us_tcp_abort. */
void tc_abort(struct us_tcp_pcb *pcb);
/* Accepts a child of c->listener into c->pcb with the recording callback. */
struct us_tcp_pcb *tc_accept_child(struct tc_conn *c);

/* Active open from the stack to 10.0.0.1:TC_PEER_PORT: checks the SYN
 * offers MSS, SACK-permitted, timestamps and window scale, answers with a
 * SYN-ACK carrying synack_opts (NULL: tc_linux_opts) and expects the ACK. */
#define tc_connect(c, f, synack_opts) tc_connect_at((c), (f), (synack_opts), __FILE__, __LINE__)
void tc_connect_at(struct tc_conn *c, struct flow *f, const struct tc_opts *synack_opts,
                   const char *file, int line);
/* Passive open: listens on port (backlog 16) unless c->listener is set,
 * sends a SYN with syn_opts (NULL: tc_linux_opts), expects the SYN-ACK,
 * ACKs it and accepts the child into c->pcb. */
#define tc_accept(c, f, port, syn_opts)                                                            \
    tc_accept_at((c), (f), (port), (syn_opts), __FILE__, __LINE__)
void tc_accept_at(struct tc_conn *c, struct flow *f, uint16_t port, const struct tc_opts *syn_opts,
                  const char *file, int line);

/* Peer -> stack with relative numbers, the window c->win, the timestamp
 * option when negotiated (TSval from the peer's clock, TSecr c->ts_last),
 * and len bytes of tc_peer_byte data. */
void tc_in(struct tc_conn *c, const char *flags, uint32_t seq, uint32_t ack, size_t len);
/* The same with a window field and options of the test's choosing (o NULL:
 * as tc_in). Options in o replace the automatic timestamp. */
void tc_in_full(struct tc_conn *c, const char *flags, uint32_t seq, uint32_t ack, uint16_t win,
                const struct tc_opts *o, size_t len);
/* A duplicate ACK / SACK from the peer: ACK at ack with SACK blocks given
 * as relative (to iss) pairs l0, r0, l1, r1... (n blocks). */
void tc_in_sack(struct tc_conn *c, uint32_t seq, uint32_t ack, int n, const uint32_t *blocks);
/* The peer's timestamp clock now. */
uint32_t tc_peer_tsval(struct tc_conn *c);

/* Pops the next frame, which must be a segment of this connection with
 * these flags, relative seq and ack, and payload length (TC_ANY: any).
 * Returns &c->rx. On a timestamp connection the segment must carry the
 * option (RST excepted). */
#define tc_out(c, flags, seq, ack, len)                                                            \
    tc_out_at((c), (flags), (seq), (ack), (len), __FILE__, __LINE__)
const struct tc_rx *tc_out_at(struct tc_conn *c, const char *flags, uint32_t seq, uint32_t ack,
                              uint32_t len, const char *file, int line);
/* Relative sequence numbers of the last popped segment. */
static inline uint32_t tc_rx_seq(const struct tc_conn *c)
{
    return c->rx.seq - c->iss;
}
/* Milliseconds between time t and when the last popped segment left. */
static inline int64_t tc_ms(const struct tc_conn *c, us_time_t t)
{
    return (int64_t)(c->rx.t - t) / (int64_t)US_MSEC;
}
#define tc_expect_none(c) flow_expect_none((c)->f)

/* ---- Clock ---- */
us_time_t tc_now(struct flow *f);
/* Advances virtual time, firing timers one deadline at a time and keeping
 * the peer's ARP entry fresh. */
void tc_advance(struct flow *f, us_time_t d);
#define tc_advance_ms(f, ms) tc_advance((f), FLOW_MS(ms))
/* Advances until the stack has sent a frame, or at most max; returns
 * whether a frame is pending. */
bool tc_run_until_sent(struct flow *f, us_time_t max);

/* Sends n bytes of tc_our_byte data (stream offset *off, advanced) with
 * us_tcp_send; asserts it was all taken. */
void tc_send(struct tc_conn *c, uint32_t *off, size_t n);
/* Reads everything readable (never the EOF or a pending error); returns
 * the byte count, checking it against tc_peer_byte from relative sequence *seq (advanced). */
size_t tc_read(struct tc_conn *c, uint32_t *seq);

/* cmocka teardown: closes every pcb made by the helpers, then frees the
 * flows (flow_teardown). */
int tc_teardown(void **state);
#define TC_TEST(fn) cmocka_unit_test_teardown(fn, tc_teardown)

#endif
