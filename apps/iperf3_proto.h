/* The iperf3 control protocol (as spoken by iperf 3.x, TCP tests only),
 * shared by the `iperf3` service of `ustack serve` and `ustack iperf3`.
 *
 * A test runs over one control connection and N data connections to the
 * server's port (5201). The client opens the control connection and sends
 * a 37-byte cookie (36 characters and a NUL). From then on the server
 * drives the test with one-byte state messages; JSON messages travel as a
 * 4-byte big-endian length and the text:
 *
 *   server -> PARAM_EXCHANGE;   client -> parameters (JSON)
 *   server -> CREATE_STREAMS;   client opens N data connections, each
 *                               sending the cookie first
 *   server -> TEST_START, TEST_RUNNING; data flows (client to server, or
 *                               server to client with "reverse")
 *   client -> TEST_END          (the client keeps the time)
 *   server -> EXCHANGE_RESULTS; client -> its results (JSON);
 *                               server -> its results (JSON)
 *   server -> DISPLAY_RESULTS;  client -> IPERF_DONE
 *
 * A busy server answers a new control connection with ACCESS_DENIED; an
 * error is SERVER_ERROR followed by two 4-byte big-endian numbers (iperf3's
 * i_errno, then errno). */
#ifndef USTACK_APPS_IPERF3_PROTO_H
#define USTACK_APPS_IPERF3_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_mini.h"
#include "ustack/ustack.h"

struct us_tcp_pcb;

#define IP3_PORT 5201
#define IP3_COOKIE_SIZE 37 /* 36 characters and a NUL */
#define IP3_DEFAULT_BLKSIZE (128 * 1024)
#define IP3_MAX_BLKSIZE (1024 * 1024)
#define IP3_MAX_STREAMS 128
#define IP3_MAX_TIME 86400 /* seconds */
#define IP3_DEFAULT_TIME 10
#define IP3_JSON_MAX (256 * 1024) /* the longest JSON message we accept */
#define IP3_VERSION "3.12"        /* the protocol version we follow */

/* States (one signed byte on the control connection). */
enum ip3_state {
    IP3_TEST_START = 1,
    IP3_TEST_RUNNING = 2,
    IP3_TEST_END = 4,
    IP3_PARAM_EXCHANGE = 9,
    IP3_CREATE_STREAMS = 10,
    IP3_SERVER_TERMINATE = 11,
    IP3_CLIENT_TERMINATE = 12,
    IP3_EXCHANGE_RESULTS = 13,
    IP3_DISPLAY_RESULTS = 14,
    IP3_IPERF_START = 15,
    IP3_IPERF_DONE = 16,
    IP3_ACCESS_DENIED = -1,
    IP3_SERVER_ERROR = -2,
};

/* The iperf3 error numbers (i_errno) we send or explain. */
enum ip3_errno {
    IP3_IE_UNIMP = 13, /* "an option you are trying to set is not implemented yet" */
    IP3_IE_RECVPARAMS = 114,
    IP3_IE_RECVRESULTS = 117,
    IP3_IE_CLIENTTERM = 119,
    IP3_IE_SERVERTERM = 120,
    IP3_IE_ACCESSDENIED = 121,
    IP3_IE_STREAMID = 208,
};

/* A short explanation of an iperf3 error number (never NULL). */
const char *ip3_strerror(int i_errno);
const char *ip3_state_name(int state);

/* The test parameters the client sends (the fields iperf 3.12 sends). */
struct ip3_params {
    bool tcp, udp, sctp;
    bool reverse, bidirectional;
    int omit;            /* seconds left out of the results at the start */
    int time;            /* test length in seconds (0 with num/blockcount) */
    uint64_t num;        /* bytes to send, 0: by time */
    uint64_t blockcount; /* blocks to send, 0: by time */
    int parallel;        /* data connections */
    uint32_t len;        /* block size */
    uint32_t mss;        /* 0: default */
    uint64_t window;     /* socket buffer size, 0: default */
    bool nodelay;
    int get_server_output;
    uint64_t bandwidth; /* bits/s, 0: unlimited */
    int pacing_timer;
    char client_version[16];
};

void ip3_params_default(struct ip3_params *p);
/* The parameters as iperf3's JSON (a NUL-terminated string the caller
 * frees), or NULL when out of memory. */
char *ip3_params_to_json(const struct ip3_params *p, size_t *len);
/* Reads and judges parameters. 0, or -1 with a reason in err and, when
 * the test is well-formed but asks for what we do not do, *i_errno set
 * (else *i_errno is IP3_IE_RECVPARAMS). */
int ip3_params_from_json(const char *text, size_t len, struct ip3_params *p, int *i_errno,
                         char *err, size_t errlen);

/* One stream's results as exchanged at the end of a test. */
struct ip3_stream_result {
    int id;
    uint64_t bytes;
    int64_t retransmits; /* -1: not known (a receiver) */
    double jitter;
    int64_t errors, packets;
    double start_time, end_time; /* seconds */
};

struct ip3_results {
    double cpu_total, cpu_user, cpu_system; /* percent */
    int sender_has_retransmits;             /* 1: yes, 0: no, -1: we were the receiver */
    char congestion_used[16];               /* "" when not reported */
    const char *server_output_text;         /* --get-server-output (written only); NULL: none */
    int nstreams;
    struct ip3_stream_result streams[IP3_MAX_STREAMS];
};

char *ip3_results_to_json(const struct ip3_results *r, size_t *len);
/* 0, or -1 with a reason in err (missing fields, more than
 * IP3_MAX_STREAMS streams). */
int ip3_results_from_json(const char *text, size_t len, struct ip3_results *r, char *err,
                          size_t errlen);
/* The stream with that id, or NULL. */
const struct ip3_stream_result *ip3_results_find(const struct ip3_results *r, int id);

/* The buffer size for the sending (or receiving) side of each of the
 * parallel data connections when the client asks for none: 2 MiB, less
 * with many streams so that all of them together hold at most 16 MiB of
 * queued data (down to 128 KiB each). */
uint32_t ip3_stream_bufsize(int parallel);

/* Bytes of a sending connection's data that went out at least once,
 * given the bytes the application handed to it: what still waits in the
 * send buffer is not counted (with large buffers and many streams it
 * would overstate the transfer). */
uint64_t ip3_sent_bytes(const struct us_tcp_pcb *pcb, uint64_t handed);

/* The iperf3 stream id of the n-th data connection (from 0): 1, 3, 4, 5...
 * (iperf3 numbers the first stream 1 and the next ones from 3). */
int ip3_stream_id(int n);

/* A cookie from 36 random bytes: characters a-z and 2-7, then a NUL. */
void ip3_make_cookie(char cookie[IP3_COOKIE_SIZE], const uint8_t random[IP3_COOKIE_SIZE - 1]);
/* True when c is 36 cookie characters and a NUL. */
bool ip3_cookie_valid(const char c[IP3_COOKIE_SIZE]);

/* ---- Message framing ---- */

/* The 4-byte big-endian length in front of a JSON message. */
void ip3_put_len(uint8_t hdr[4], uint32_t len);

/* Bytes received on a control connection, not yet consumed. */
struct ip3_rx {
    uint8_t *buf;
    size_t len, cap;
};

/* Appends n bytes. 0, or -1 when more than a JSON message and its header
 * would be held (a peer that floods the control connection). */
int ip3_rx_append(struct ip3_rx *rx, const void *data, size_t n);
/* Takes exactly n bytes into out when that many are held: 1, else 0. */
int ip3_rx_take(struct ip3_rx *rx, void *out, size_t n);
/* Takes one state byte: 1, else 0. */
int ip3_rx_take_state(struct ip3_rx *rx, int *state);
/* Takes one length-prefixed JSON message: 1 with *text (malloc'd,
 * NUL-terminated, the caller frees) and *len; 0 while incomplete; -1 when
 * the announced length exceeds IP3_JSON_MAX or memory ran out. */
int ip3_rx_take_json(struct ip3_rx *rx, char **text, size_t *len);
void ip3_rx_free(struct ip3_rx *rx);

/* ---- A control connection on a TCP pcb (stack thread) ---- */

struct ip3_ctrl {
    struct us_tcp_pcb *pcb;
    struct ip3_rx rx;
    uint8_t *out; /* bytes us_tcp_send did not take yet */
    size_t out_len, out_cap;
    bool eof; /* the peer closed its side */
    int err;  /* positive errno once the connection failed */
};

/* Moves every byte the pcb holds into ctrl->rx. 0, or -1 when the
 * connection failed (ctrl->err) or the peer flooded it (EMSGSIZE); sets
 * ctrl->eof at the end of the stream. */
int ip3_ctrl_pull(struct ip3_ctrl *c);
/* Queues bytes and pushes what the send buffer takes. 0 or -1 (ctrl->err). */
int ip3_ctrl_send(struct ip3_ctrl *c, const void *data, size_t len);
int ip3_ctrl_send_state(struct ip3_ctrl *c, int state);
int ip3_ctrl_send_json(struct ip3_ctrl *c, const char *json, size_t len);
/* Pushes queued bytes (on US_TCP_EV_WRITABLE). */
int ip3_ctrl_flush(struct ip3_ctrl *c);
void ip3_ctrl_free(struct ip3_ctrl *c);

/* ---- Numbers as iperf3 prints them ---- */

/* "2.75 GByte" (1024-based) or "2.36 Gbit" (1000-based; value in bytes
 * per second, printed as bits): four significant places, like iperf3's
 * unit_snprintf with 'A' and 'a'. Callers add the "s" or "s/sec". */
void ip3_format_bytes(char *buf, size_t len, double bytes);
void ip3_format_bits(char *buf, size_t len, double bytes_per_sec);

/* Process CPU time for the results' cpu_util fields. */
struct ip3_cpu {
    us_time_t wall, user, system; /* nanoseconds */
};
void ip3_cpu_sample(struct ip3_cpu *c, us_time_t wall_now);
/* Percentages of the wall time between a and b. */
void ip3_cpu_util(const struct ip3_cpu *a, const struct ip3_cpu *b, double *total, double *user,
                  double *system);

#endif
