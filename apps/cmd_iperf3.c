/* `ustack iperf3`: an iperf3 client (TCP) on the stack, compatible with
 * `iperf3 -s`. The protocol runs on the stack thread through the TCP
 * callback API (iperf3_proto.h describes it); the engine writes the report
 * text into a buffer and wakes the main thread, which prints it, watches
 * for signals and tears everything down at the end. Output follows
 * iperf3's: interval lines, then sender and receiver lines with bytes,
 * bitrate and retransmits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cli.h"
#include "commands.h"
#include "core/stack.h"
#include "core/timer.h"
#include "iface.h"
#include "iperf3_proto.h"
#include "signals.h"
#include "tcp/tcp.h"
#include "ustack/runtime.h"

#define CLIENT_SETUP_TIMEOUT (15 * US_SEC)   /* each step before the test runs */
#define CLIENT_RESULTS_TIMEOUT (15 * US_SEC) /* from TEST_END to the results */
#define FIRST_ID_LABEL 5                     /* iperf3 shows socket numbers: 5, 7, 9... */

static const char separator[] = "- - - - - - - - - - - - - - - - - - - - - - - - -\n";

/* ---- The engine (stack thread) ---- */

struct cstream {
    struct client *c;
    struct us_tcp_pcb *pcb;
    int id, label;
    size_t cookie_sent;
    bool connected;
    uint64_t bytes; /* received, or handed to TCP (then: sent, after the end) */
    uint64_t retr_base, retransmits;
    uint64_t iv_bytes, iv_retr; /* at the start of the current interval */
};

enum cphase { CP_CONNECT, CP_SETUP, CP_RUNNING, CP_ENDED, CP_FINISHED, CP_FAILED };

struct client_opts {
    struct us_addr server;
    uint16_t port;
    int time, parallel;
    uint32_t len;
    uint32_t window; /* socket buffer sizes of the data connections, 0: default */
    bool reverse;
    us_time_t interval; /* 0: no interval reports */
};

struct client {
    struct ustack *s;
    struct client_opts o;
    struct ip3_params params;
    char cookie[IP3_COOKIE_SIZE];
    char server_text[48];
    struct ip3_ctrl ctrl;
    enum cphase phase;
    bool want_results, want_error;
    bool running;
    bool last_was_separator;
    struct cstream streams[IP3_MAX_STREAMS];
    int nstreams; /* data connections opened so far */
    struct us_timer end_timer, interval_timer, watchdog;
    us_time_t t_start, t_end, iv_start;
    struct ip3_cpu cpu_start, cpu_end;
    struct ip3_results peer;
    uint8_t *block;   /* what we send */
    uint8_t *scratch; /* where received data goes */
    /* Output for the main thread, under the stack lock. */
    char *out;
    size_t out_len, out_cap;
    char err[256];
    us_time_t (*clock)(struct ustack *s);
    void (*notify)(void *ctx);
    void *notify_ctx;
};

static __attribute__((format(printf, 2, 3))) void out_printf(struct client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (c->out_len + (size_t)n + 1 > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 1024;
        while (cap < c->out_len + (size_t)n + 1)
            cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b)
            return;
        c->out = b;
        c->out_cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(c->out + c->out_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    c->out_len += (size_t)n;
    c->last_was_separator = false;
}

static void out_separator(struct client *c)
{
    out_printf(c, "%s", separator);
    c->last_was_separator = true;
}

static void wake(struct client *c)
{
    if (c->notify)
        c->notify(c->notify_ctx);
}

static us_time_t client_now(struct client *c)
{
    return c->clock(c->s);
}

static bool client_over(const struct client *c)
{
    return c->phase == CP_FINISHED || c->phase == CP_FAILED;
}

static __attribute__((format(printf, 2, 3))) void client_fail(struct client *c, const char *fmt,
                                                              ...)
{
    if (client_over(c))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    c->phase = CP_FAILED;
    c->running = false;
    us_timer_cancel(c->s, &c->end_timer);
    us_timer_cancel(c->s, &c->interval_timer);
    us_timer_cancel(c->s, &c->watchdog);
    wake(c);
}

static void arm_watchdog(struct client *c, us_time_t after)
{
    us_timer_arm(c->s, &c->watchdog, client_now(c) + after);
}

static void send_state(struct client *c, int state)
{
    if (ip3_ctrl_send_state(&c->ctrl, state) != 0)
        client_fail(c, "unable to write to the control connection: %s", strerror(c->ctrl.err));
}

/* -- Reports -- */

static double secs(us_time_t t)
{
    return (double)t / US_SEC;
}

static void interval_line(struct client *c, const char *who, double from, double to, uint64_t bytes,
                          long retr, uint32_t cwnd, bool sum)
{
    char b[32], r[32], w[32];
    ip3_format_bytes(b, sizeof(b), (double)bytes);
    ip3_format_bits(r, sizeof(r), to > from ? (double)bytes / (to - from) : 0);
    if (c->o.reverse)
        out_printf(c, "[%s] %6.2f-%-6.2f sec  %ss  %ss/sec                  \n", who, from, to, b,
                   r);
    else if (sum)
        out_printf(c, "[%s] %6.2f-%-6.2f sec  %ss  %ss/sec  %3ld             \n", who, from, to, b,
                   r, retr);
    else {
        ip3_format_bytes(w, sizeof(w), (double)cwnd);
        out_printf(c, "[%s] %6.2f-%-6.2f sec  %ss  %ss/sec  %3ld   %ss       \n", who, from, to, b,
                   r, retr, w);
    }
}

/* What a stream has moved so far: received, or sent. */
static uint64_t stream_bytes(const struct cstream *st)
{
    return st->c->o.reverse || !st->c->running ? st->bytes : ip3_sent_bytes(st->pcb, st->bytes);
}

/* Reports [iv_start, now) and starts the next interval. */
static void report_interval(struct client *c, us_time_t now)
{
    double from = secs(c->iv_start - c->t_start), to = secs(now - c->t_start);
    uint64_t sum_bytes = 0;
    long sum_retr = 0;
    for (int i = 0; i < c->nstreams; i++) {
        struct cstream *st = &c->streams[i];
        uint64_t retr = st->pcb->retransmits - st->retr_base;
        uint64_t total = stream_bytes(st);
        uint64_t bytes = total - st->iv_bytes;
        long r = (long)(retr - st->iv_retr);
        char who[16];
        snprintf(who, sizeof(who), "%3d", st->label);
        interval_line(c, who, from, to, bytes, r, st->pcb ? st->pcb->cwnd : 0, false);
        sum_bytes += bytes;
        sum_retr += r;
        st->iv_bytes = total;
        st->iv_retr = retr;
    }
    if (c->nstreams > 1) {
        interval_line(c, "SUM", from, to, sum_bytes, sum_retr, 0, true);
        out_separator(c);
    }
    c->iv_start = now;
    wake(c);
}

static void summary_line(struct client *c, const char *who, double dur, uint64_t bytes, long retr,
                         const char *role)
{
    char b[32], r[32];
    ip3_format_bytes(b, sizeof(b), (double)bytes);
    ip3_format_bits(r, sizeof(r), dur > 0 ? (double)bytes / dur : 0);
    if (retr >= 0)
        out_printf(c, "[%s] %6.2f-%-6.2f sec  %ss  %ss/sec  %3ld             %s\n", who, 0.0, dur,
                   b, r, retr, role);
    else
        out_printf(c, "[%s] %6.2f-%-6.2f sec  %ss  %ss/sec                  %s\n", who, 0.0, dur, b,
                   r, role);
}

/* Sender and receiver lines per stream and, for several, their sums.
 * Ours come from our counters, the other side's from its results. */
static void report_summary(struct client *c)
{
    bool we_send = !c->o.reverse;
    bool retr_known = we_send || c->peer.sender_has_retransmits == 1;
    if (!c->last_was_separator)
        out_separator(c);
    out_printf(c, "[ ID] Interval           Transfer     Bitrate%s\n",
               retr_known ? "         Retr" : "");
    double our_dur = secs(c->t_end - c->t_start), max_snd = 0, max_rcv = 0;
    uint64_t snd_sum = 0, rcv_sum = 0;
    long retr_sum = 0;
    for (int i = 0; i < c->nstreams; i++) {
        const struct cstream *st = &c->streams[i];
        const struct ip3_stream_result *p = ip3_results_find(&c->peer, st->id);
        double peer_dur = p ? p->end_time - p->start_time : 0;
        uint64_t peer_bytes = p ? p->bytes : 0;
        long retr = we_send ? (long)st->retransmits : p && retr_known ? (long)p->retransmits : -1;
        double snd_dur = we_send ? our_dur : peer_dur, rcv_dur = we_send ? peer_dur : our_dur;
        uint64_t snd_bytes = we_send ? st->bytes : peer_bytes;
        uint64_t rcv_bytes = we_send ? peer_bytes : st->bytes;
        char who[16];
        snprintf(who, sizeof(who), "%3d", st->label);
        summary_line(c, who, snd_dur, snd_bytes, retr_known ? (retr < 0 ? 0 : retr) : -1, "sender");
        summary_line(c, who, rcv_dur, rcv_bytes, -1, "receiver");
        snd_sum += snd_bytes;
        rcv_sum += rcv_bytes;
        retr_sum += retr > 0 ? retr : 0;
        max_snd = snd_dur > max_snd ? snd_dur : max_snd;
        max_rcv = rcv_dur > max_rcv ? rcv_dur : max_rcv;
    }
    if (c->nstreams > 1) {
        summary_line(c, "SUM", max_snd, snd_sum, retr_known ? retr_sum : -1, "sender");
        summary_line(c, "SUM", max_rcv, rcv_sum, -1, "receiver");
    }
    out_printf(c, "\niperf Done.\n");
}

/* -- Data connections -- */

static void stream_fill(struct cstream *st)
{
    struct client *c = st->c;
    uint32_t total = us_tcp_writable(st->pcb), done = 0;
    while (done < total) {
        uint32_t chunk = total - done < c->o.len ? total - done : c->o.len;
        ssize_t n = us_tcp_send(st->pcb, c->block, chunk, done + chunk < total);
        if (n <= 0)
            break;
        done += (uint32_t)n;
    }
    st->bytes += done;
}

/* Reads everything; counts it while the test runs. In reverse mode the
 * reading goes on after TEST_END so the server is never stuck. */
static int stream_drain(struct cstream *st)
{
    struct client *c = st->c;
    for (;;) {
        ssize_t n = us_tcp_recv(st->pcb, c->scratch, IP3_MAX_BLKSIZE, false);
        if (n == -EAGAIN || n == 0)
            return 0;
        if (n < 0)
            return (int)-n;
        if (c->running)
            st->bytes += (uint64_t)n;
    }
}

static void connect_next_stream(struct client *c);

/* A data connection starts with the test's cookie. */
static void push_cookie(struct cstream *st)
{
    while (st->cookie_sent < IP3_COOKIE_SIZE) {
        ssize_t n = us_tcp_send(st->pcb, st->c->cookie + st->cookie_sent,
                                IP3_COOKIE_SIZE - st->cookie_sent, false);
        if (n <= 0)
            break;
        st->cookie_sent += (size_t)n;
    }
}

static void stream_connected(struct cstream *st)
{
    struct client *c = st->c;
    st->connected = true;
    push_cookie(st);
    char local[48];
    us_addr_str(&st->pcb->local, local, sizeof(local));
    out_printf(c, "[%3d] local %s port %u connected to %s port %u\n", st->label, local,
               st->pcb->lport, c->server_text, c->o.port);
    wake(c);
    connect_next_stream(c);
}

static void stream_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct cstream *st = ctx;
    struct client *c = st->c;
    (void)pcb;
    if (client_over(c))
        return;
    if ((ev & US_TCP_EV_CONNECTED) && !st->connected)
        stream_connected(st);
    else if (st->connected && st->cookie_sent < IP3_COOKIE_SIZE && (ev & US_TCP_EV_WRITABLE))
        push_cookie(st);
    int err = stream_drain(st);
    if (!err && (ev & US_TCP_EV_ERROR))
        err = us_tcp_take_error(st->pcb);
    if (err && (!st->connected || c->phase <= CP_RUNNING)) {
        client_fail(c, "%s data connection %d: %s", st->connected ? "lost" : "unable to open",
                    st->id, strerror(err));
        return;
    }
    if (c->running && !c->o.reverse && (ev & US_TCP_EV_WRITABLE))
        stream_fill(st);
}

static void connect_next_stream(struct client *c)
{
    if (c->nstreams == c->o.parallel)
        return;
    struct cstream *st = &c->streams[c->nstreams];
    memset(st, 0, sizeof(*st));
    st->c = c;
    st->id = ip3_stream_id(c->nstreams);
    st->label = FIRST_ID_LABEL + 2 * c->nstreams;
    st->pcb = us_tcp_new(c->s, stream_event, st);
    if (!st->pcb) {
        client_fail(c, "unable to open data connection %d: out of memory", st->id);
        return;
    }
    c->nstreams++;
    if (c->o.window) /* as SO_SNDBUF and SO_RCVBUF, before the handshake */
        us_tcp_set_bufsizes(st->pcb, c->o.window, c->o.window);
    else if (c->o.reverse)
        us_tcp_set_bufsizes(st->pcb, 0, ip3_stream_bufsize(c->o.parallel));
    else
        us_tcp_set_bufsizes(st->pcb, ip3_stream_bufsize(c->o.parallel), 0);
    int rc = us_tcp_connect(st->pcb, &c->o.server, c->o.port);
    if (rc != 0)
        client_fail(c, "unable to open data connection %d: %s", st->id, strerror(-rc));
    else
        arm_watchdog(c, CLIENT_SETUP_TIMEOUT);
}

/* -- Timers -- */

static void interval_fire(struct ustack *s, struct us_timer *t)
{
    struct client *c = us_container_of(t, struct client, interval_timer);
    report_interval(c, client_now(c));
    us_timer_arm(s, t, t->deadline + c->o.interval); /* on schedule, even when late */
}

/* Stops counting and takes the end of test counters (once). */
static void take_end(struct client *c)
{
    if (c->phase != CP_RUNNING)
        return;
    us_time_t now = client_now(c);
    c->running = false;
    c->t_end = now;
    ip3_cpu_sample(&c->cpu_end, us_clock_monotonic());
    for (int i = 0; i < c->nstreams; i++) {
        struct cstream *st = &c->streams[i];
        st->retransmits = st->pcb->retransmits - st->retr_base;
        if (!c->o.reverse)
            st->bytes = ip3_sent_bytes(st->pcb, st->bytes);
    }
    /* The last interval, unless it is a sliver (the interval timer may
     * have fired at this very deadline); without intervals, iperf3 shows
     * the whole test as one. */
    if (!c->o.interval)
        out_printf(c, "[ ID] Interval           Transfer     Bitrate%s\n",
                   c->o.reverse ? "" : "         Retr  Cwnd");
    if (!c->o.interval || now - c->iv_start > c->o.interval / 10)
        report_interval(c, now);
    us_timer_cancel(c->s, &c->interval_timer);
    us_timer_cancel(c->s, &c->end_timer);
    c->phase = CP_ENDED;
}

/* The test time is over: stop sending, take the counters, TEST_END. */
static void end_fire(struct ustack *s, struct us_timer *t)
{
    (void)s;
    struct client *c = us_container_of(t, struct client, end_timer);
    take_end(c);
    arm_watchdog(c, CLIENT_RESULTS_TIMEOUT);
    send_state(c, IP3_TEST_END);
}

static void watchdog_fire(struct ustack *s, struct us_timer *t)
{
    (void)s;
    struct client *c = us_container_of(t, struct client, watchdog);
    if (c->phase == CP_CONNECT)
        client_fail(c, "unable to connect to server %s port %u: %s", c->server_text, c->o.port,
                    strerror(ETIMEDOUT));
    else if (c->phase == CP_ENDED)
        client_fail(c, "timed out waiting for the server's results");
    else
        client_fail(c, "timed out waiting for the server");
}

/* -- Control connection -- */

static void send_params(struct client *c)
{
    size_t len;
    char *json = ip3_params_to_json(&c->params, &len);
    if (!json || ip3_ctrl_send_json(&c->ctrl, json, len) != 0)
        client_fail(c, "unable to send the parameters");
    free(json);
    if (c->o.reverse)
        out_printf(c, "Reverse mode, remote host %s is sending\n", c->server_text);
    wake(c);
}

static void test_start(struct client *c)
{
    c->t_start = client_now(c);
    c->iv_start = c->t_start;
    ip3_cpu_sample(&c->cpu_start, us_clock_monotonic());
    for (int i = 0; i < c->nstreams; i++)
        c->streams[i].retr_base = c->streams[i].pcb->retransmits;
    us_timer_cancel(c->s, &c->watchdog);
    us_timer_arm(c->s, &c->end_timer, c->t_start + (us_time_t)c->o.time * US_SEC);
    if (c->o.interval) {
        us_timer_arm(c->s, &c->interval_timer, c->t_start + c->o.interval);
        out_printf(c, "[ ID] Interval           Transfer     Bitrate%s\n",
                   c->o.reverse ? "" : "         Retr  Cwnd");
        wake(c);
    }
    c->phase = CP_RUNNING; /* counting starts with TEST_RUNNING */
}

static void test_running(struct client *c)
{
    c->phase = CP_RUNNING;
    c->running = true;
    if (!c->o.reverse)
        for (int i = 0; i < c->nstreams; i++)
            stream_fill(&c->streams[i]);
}

static void send_results(struct client *c)
{
    take_end(c); /* a server that ends the test itself */
    struct ip3_results *r = calloc(1, sizeof(*r));
    if (!r) {
        client_fail(c, "out of memory");
        return;
    }
    ip3_cpu_util(&c->cpu_start, &c->cpu_end, &r->cpu_total, &r->cpu_user, &r->cpu_system);
    r->sender_has_retransmits = c->o.reverse ? -1 : 1;
    r->nstreams = c->nstreams;
    for (int i = 0; i < c->nstreams; i++) {
        const struct cstream *st = &c->streams[i];
        r->streams[i] = (struct ip3_stream_result){
            .id = st->id,
            .bytes = st->bytes,
            .retransmits = c->o.reverse ? -1 : (int64_t)st->retransmits,
            .end_time = secs(c->t_end - c->t_start),
        };
    }
    size_t len;
    char *json = ip3_results_to_json(r, &len);
    if (!json || ip3_ctrl_send_json(&c->ctrl, json, len) != 0)
        client_fail(c, "unable to send the results");
    free(json);
    free(r);
    c->want_results = true;
}

static void take_results(struct client *c)
{
    char *text, why[160];
    size_t len;
    int rc = ip3_rx_take_json(&c->ctrl.rx, &text, &len);
    if (rc == 0)
        return;
    if (rc < 0) {
        client_fail(c, "unable to receive results: too long");
        return;
    }
    rc = ip3_results_from_json(text, len, &c->peer, why, sizeof(why));
    free(text);
    c->want_results = false;
    if (rc != 0) {
        client_fail(c, "unable to receive results: %s", why);
        return;
    }
    for (int i = 0; i < c->nstreams; i++) {
        if (!ip3_results_find(&c->peer, c->streams[i].id)) {
            client_fail(c, "the server's results lack stream %d", c->streams[i].id);
            return;
        }
    }
}

static void display_results(struct client *c)
{
    us_timer_cancel(c->s, &c->watchdog);
    report_summary(c);
    send_state(c, IP3_IPERF_DONE);
    if (!client_over(c))
        c->phase = CP_FINISHED;
    wake(c);
}

static void take_error(struct client *c)
{
    uint8_t b[8];
    if (!ip3_rx_take(&c->ctrl.rx, b, sizeof(b)))
        return;
    int32_t i_errno = (int32_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | b[2] << 8 | b[3]);
    int32_t err = (int32_t)((uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | b[6] << 8 | b[7]);
    c->want_error = false;
    if (err > 0 && err < 4096)
        client_fail(c, "the server reported an error: %s: %s", ip3_strerror(i_errno),
                    strerror(err));
    else
        client_fail(c, "the server reported an error: %s", ip3_strerror(i_errno));
}

static void on_state(struct client *c, int state)
{
    switch (state) {
    case IP3_PARAM_EXCHANGE:
        c->phase = CP_SETUP;
        arm_watchdog(c, CLIENT_SETUP_TIMEOUT);
        send_params(c);
        break;
    case IP3_CREATE_STREAMS:
        connect_next_stream(c);
        break;
    case IP3_TEST_START:
        test_start(c);
        break;
    case IP3_TEST_RUNNING:
        test_running(c);
        break;
    case IP3_EXCHANGE_RESULTS:
        send_results(c);
        break;
    case IP3_DISPLAY_RESULTS:
        display_results(c);
        break;
    case IP3_SERVER_TERMINATE:
        client_fail(c, "%s", ip3_strerror(IP3_IE_SERVERTERM));
        break;
    case IP3_ACCESS_DENIED:
        client_fail(c, "%s", ip3_strerror(IP3_IE_ACCESSDENIED));
        break;
    case IP3_SERVER_ERROR:
        c->want_error = true;
        break;
    default:
        client_fail(c, "unexpected message %d from the server", state);
    }
}

static void ctrl_process(struct client *c)
{
    while (!client_over(c)) {
        size_t before = c->ctrl.rx.len;
        int state;
        if (c->want_error)
            take_error(c);
        else if (c->want_results)
            take_results(c);
        else if (ip3_rx_take_state(&c->ctrl.rx, &state))
            on_state(c, state);
        if (c->ctrl.rx.len == before)
            return;
    }
}

static void ctrl_connected(struct client *c)
{
    c->phase = CP_SETUP;
    arm_watchdog(c, CLIENT_SETUP_TIMEOUT);
    if (ip3_ctrl_send(&c->ctrl, c->cookie, IP3_COOKIE_SIZE) != 0)
        client_fail(c, "unable to send the cookie: %s", strerror(c->ctrl.err));
}

static void ctrl_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct client *c = ctx;
    if (client_over(c))
        return;
    if (ev & US_TCP_EV_CONNECTED)
        ctrl_connected(c);
    if (c->phase == CP_CONNECT && (ev & (US_TCP_EV_ERROR | US_TCP_EV_CLOSED))) {
        int err = us_tcp_take_error(pcb);
        client_fail(c, "unable to connect to server %s port %u: %s", c->server_text, c->o.port,
                    strerror(err ? err : ECONNREFUSED));
        return;
    }
    if (ev & US_TCP_EV_WRITABLE)
        ip3_ctrl_flush(&c->ctrl);
    ip3_ctrl_pull(&c->ctrl);
    ctrl_process(c);
    if (client_over(c))
        return;
    if (c->ctrl.err)
        client_fail(c, "control connection: %s", strerror(c->ctrl.err));
    else if (c->ctrl.eof)
        client_fail(c, "the server has unexpectedly closed the connection");
}

/* Sets up and starts the test (stack lock held). 0 or -errno. */
static int client_start(struct client *c)
{
    c->params = (struct ip3_params){0};
    ip3_params_default(&c->params);
    c->params.time = c->o.time;
    c->params.parallel = c->o.parallel;
    c->params.len = c->o.len;
    c->params.reverse = c->o.reverse;
    c->params.window = c->o.window;
    us_addr_str(&c->o.server, c->server_text, sizeof(c->server_text));
    uint8_t rnd[IP3_COOKIE_SIZE - 1];
    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (uint8_t)us_random32(c->s);
    ip3_make_cookie(c->cookie, rnd);
    c->block = malloc(c->o.len);
    c->scratch = malloc(IP3_MAX_BLKSIZE);
    if (!c->block || !c->scratch)
        return -ENOMEM;
    for (uint32_t i = 0; i < c->o.len; i++)
        c->block[i] = (uint8_t)(i * 131 + 7);
    us_timer_init(&c->end_timer, end_fire);
    us_timer_init(&c->interval_timer, interval_fire);
    us_timer_init(&c->watchdog, watchdog_fire);
    c->ctrl.pcb = us_tcp_new(c->s, ctrl_event, c);
    if (!c->ctrl.pcb)
        return -ENOMEM;
    c->ctrl.pcb->nodelay = true;
    c->phase = CP_CONNECT;
    arm_watchdog(c, CLIENT_SETUP_TIMEOUT);
    return us_tcp_connect(c->ctrl.pcb, &c->o.server, c->o.port);
}

/* A finished test's data connection, half-closed: what the server still
 * sends (in reverse mode, what it had queued before TEST_END) is read and
 * dropped until its FIN, then the connection closes, gracefully both ways
 * where closing on unread data would reset it. */
static void stream_linger_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct cstream *st = ctx;
    (void)ev;
    ssize_t n;
    while ((n = us_tcp_recv(pcb, st->c->scratch, IP3_MAX_BLKSIZE, false)) > 0) {
    }
    if (n == -EAGAIN)
        return;
    pcb->event = NULL;
    us_tcp_close(pcb);
    st->pcb = NULL;
}

/* Closes what is left of the streams (stack lock held). */
static void close_streams(struct client *c)
{
    for (int i = 0; i < c->nstreams; i++) {
        if (c->streams[i].pcb) {
            c->streams[i].pcb->event = NULL;
            us_tcp_close(c->streams[i].pcb);
            c->streams[i].pcb = NULL;
        }
    }
}

/* Closes every connection and stops the timers (stack lock held, never
 * from a callback). A test still running is cut short with
 * CLIENT_TERMINATE, as iperf3 does on an interrupt. The data connections
 * of a finished one linger (stream_linger_event) until the caller's
 * iface_linger_tcp and close_streams. */
static void client_stop(struct client *c)
{
    if (c->ctrl.pcb && (c->phase == CP_SETUP || c->phase == CP_RUNNING || c->phase == CP_ENDED))
        ip3_ctrl_send_state(&c->ctrl, IP3_CLIENT_TERMINATE);
    us_timer_cancel(c->s, &c->end_timer);
    us_timer_cancel(c->s, &c->interval_timer);
    us_timer_cancel(c->s, &c->watchdog);
    for (int i = 0; c->phase == CP_FINISHED && i < c->nstreams; i++) {
        struct cstream *st = &c->streams[i];
        if (!st->pcb)
            continue;
        st->pcb->event = stream_linger_event;
        st->pcb->ctx = st;
        us_tcp_shutdown(st->pcb, SHUT_WR);
        stream_linger_event(st, st->pcb, 0);
    }
    if (c->phase != CP_FINISHED)
        close_streams(c);
    if (c->ctrl.pcb) {
        c->ctrl.pcb->event = NULL;
        us_tcp_close(c->ctrl.pcb);
        c->ctrl.pcb = NULL;
    }
    ip3_ctrl_free(&c->ctrl);
}

/* Frees the client; streams still lingering are closed first (the stack
 * must then still be there, its lock held or no runtime running). */
static void client_free(struct client *c)
{
    close_streams(c);
    free(c->block);
    free(c->scratch);
    free(c->out);
    free(c);
}

static us_time_t real_clock(struct ustack *s)
{
    (void)s;
    return us_clock_monotonic();
}

/* ---- The command (main thread) ---- */

enum {
    IPERF_OPT_CLIENT,
    IPERF_OPT_PORT,
    IPERF_OPT_TIME,
    IPERF_OPT_PARALLEL,
    IPERF_OPT_REVERSE,
    IPERF_OPT_LENGTH,
    IPERF_OPT_INTERVAL,
    IPERF_OPT_WINDOW,
};

struct iperf_args {
    struct client_opts o;
    const char *host;
};

static int parse_host(struct iperf_args *a, const char *opt, const char *value, char *err,
                      size_t errlen)
{
    struct us_addr addr;
    uint32_t host = 0;
    if (us_addr_parse(value, &addr) == 0 && addr.family == US_AF_INET)
        host = ntohl(addr.v4);
    if (host == 0 || host == 0xffffffffu || (host >> 28) == 0xe)
        return cli_invalid(err, errlen, opt, value, "a unicast IPv4 address");
    a->o.server = addr;
    a->host = value;
    return 0;
}

static int iperf_apply(void *ctx, int id, const char *opt, const char *value, char *err,
                       size_t errlen)
{
    struct iperf_args *a = ctx;
    unsigned long n;
    switch (id) {
    case IPERF_OPT_CLIENT:
        return parse_host(a, opt, value, err, errlen);
    case IPERF_OPT_REVERSE:
        a->o.reverse = true;
        return 0;
    case IPERF_OPT_INTERVAL:
        if (strcmp(value, "0") == 0) {
            a->o.interval = 0;
            return 0;
        }
        return cli_parse_seconds(opt, value, 0.1, 60, &a->o.interval, err, errlen);
    }
    static const struct {
        int id;
        unsigned long min, max;
    } ranges[] = {
        {IPERF_OPT_PORT, 1, 65535},
        {IPERF_OPT_TIME, 1, IP3_MAX_TIME},
        {IPERF_OPT_PARALLEL, 1, IP3_MAX_STREAMS},
        {IPERF_OPT_LENGTH, 1, IP3_MAX_BLKSIZE},
        {IPERF_OPT_WINDOW, TCP_MIN_BUF, TCP_MAX_BUF},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (ranges[i].id != id)
            continue;
        if (cli_parse_uint(opt, value, ranges[i].min, ranges[i].max, &n, err, errlen) != 0)
            return -1;
        if (id == IPERF_OPT_PORT)
            a->o.port = (uint16_t)n;
        else if (id == IPERF_OPT_TIME)
            a->o.time = (int)n;
        else if (id == IPERF_OPT_PARALLEL)
            a->o.parallel = (int)n;
        else if (id == IPERF_OPT_LENGTH)
            a->o.len = (uint32_t)n;
        else
            a->o.window = (uint32_t)n;
        return 0;
    }
    return -1;
}

static const struct cli_opt iperf_opts[] = {
    {"--client", 'c', "HOST", "run a test against the iperf3 server at HOST (IPv4, required)",
     IPERF_OPT_CLIENT},
    {"--port", 'p', "PORT", "server port (default 5201)", IPERF_OPT_PORT},
    {"--time", 't', "SECS", "seconds to transmit, 1..86400 (default 10)", IPERF_OPT_TIME},
    {"--parallel", 'P', "N", "parallel data connections, 1..128 (default 1)", IPERF_OPT_PARALLEL},
    {"--reverse", 'R', NULL, "reverse: the server sends, we receive", IPERF_OPT_REVERSE},
    {"--length", 'l', "BYTES", "block size written at a time, 1..1048576 (default 131072)",
     IPERF_OPT_LENGTH},
    {"--interval", 'i', "SECS", "seconds between interval reports, 0.1..60, 0: none (default 1)",
     IPERF_OPT_INTERVAL},
    {"--window", 'w', "BYTES",
     "send and receive buffer of each data connection, 4096..16777216 (default 2 MiB); "
     "the server is asked for the same",
     IPERF_OPT_WINDOW},
};

static const char iperf_details[] =
    "Speaks the iperf3 protocol (TCP tests) with 'iperf3 -s' or 'ustack serve\n"
    "--service iperf3', and prints iperf3's report: interval lines, then the\n"
    "sender and receiver lines with bytes, bitrate and retransmits.\n"
    "Exits 0 when the test completed, 1 when it failed, 2 on bad usage.\n";

struct run {
    struct iface ifc;
    struct client *c;
    int pipe[2];
    int sigfd;
};

static void notify_pipe(void *ctx)
{
    struct run *r = ctx;
    char b = 1;
    if (write(r->pipe[1], &b, 1) < 0) {
        /* full: the main thread has a wake-up pending anyway */
    }
}

/* Prints what the engine wrote; returns whether the test is over. */
static bool flush_output(struct run *r)
{
    char b[64];
    while (read(r->pipe[0], b, sizeof(b)) > 0) {
    }
    iface_lock(&r->ifc);
    char *out = r->c->out;
    size_t len = r->c->out_len;
    r->c->out = NULL;
    r->c->out_len = r->c->out_cap = 0;
    bool over = client_over(r->c);
    iface_unlock(&r->ifc);
    if (len)
        fwrite(out, 1, len, stdout);
    fflush(stdout);
    free(out);
    return over;
}

/* Waits for the end of the test or a stop signal; false on a signal. */
static bool wait_test(struct run *r)
{
    for (;;) {
        if (flush_output(r))
            return true;
        struct pollfd pfds[2] = {{.fd = r->pipe[0], .events = POLLIN},
                                 {.fd = r->sigfd, .events = POLLIN}};
        poll(pfds, 2, -1);
        int signo;
        while ((signo = signals_read(r->sigfd)) != 0)
            if (iface_on_signal(&r->ifc, signo))
                return false;
    }
}

static int run_session(struct run *r)
{
    printf("Connecting to host %s, port %u\n", r->c->server_text, r->c->o.port);
    fflush(stdout);
    iface_lock(&r->ifc);
    int rc = client_start(r->c);
    iface_unlock(&r->ifc);
    us_runtime_kick(r->ifc.stack); /* the watchdog was armed from here */
    if (rc != 0) {
        fprintf(stderr, "ustack: iperf3: unable to connect to server %s port %u: %s\n",
                r->c->server_text, r->c->o.port, strerror(-rc));
        return 1;
    }
    bool completed = wait_test(r);
    iface_lock(&r->ifc);
    enum cphase phase = r->c->phase;
    client_stop(r->c);
    iface_unlock(&r->ifc);
    iface_linger_tcp(&r->ifc, 2000);
    iface_lock(&r->ifc);
    close_streams(r->c); /* those whose server never closed */
    iface_unlock(&r->ifc);
    if (!completed) {
        fprintf(stderr, "ustack: iperf3: interrupted, the test was not completed\n");
        return 1;
    }
    if (phase == CP_FAILED) {
        fprintf(stderr, "ustack: iperf3: %s\n", r->c->err);
        return 1;
    }
    return 0;
}

static int iperf_run(struct iperf_args *a, const struct cli_args *args)
{
    char err[CLI_ERRLEN];
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct run *r = calloc(1, sizeof(*r));
    if (!r)
        return 1;
    r->c = calloc(1, sizeof(*r->c));
    r->sigfd = signals_open();
    if (!r->c || r->sigfd < 0 || pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        perror("ustack: iperf3");
        free(r->c);
        free(r);
        return 1;
    }
    r->c->o = a->o;
    us_addr_str(&a->o.server, r->c->server_text, sizeof(r->c->server_text));
    r->c->clock = real_clock;
    r->c->notify = notify_pipe;
    r->c->notify_ctx = r;
    int status = 1;
    if (iface_open(&r->ifc, &args->iface, err, sizeof(err)) != 0)
        fprintf(stderr, "ustack: %s\n", err);
    else if (iface_wait_ready(&r->ifc, r->sigfd) == IFACE_READY) {
        r->c->s = r->ifc.stack;
        status = run_session(r);
    }
    iface_close(&r->ifc, false);
    close(r->sigfd);
    close(r->pipe[0]);
    close(r->pipe[1]);
    client_free(r->c);
    free(r);
    return status;
}

int cmd_iperf3(int argc, char **argv)
{
    struct iperf_args a = {
        .o = {.port = IP3_PORT,
              .time = IP3_DEFAULT_TIME,
              .parallel = 1,
              .len = IP3_DEFAULT_BLKSIZE,
              .interval = US_SEC},
    };
    const struct cli_cmd cmd = {
        .name = "iperf3",
        .synopsis =
            "[OPTIONS] -c HOST [-R] [-t SECS] [-P N] [-p PORT] [-l BYTES] [-i SECS] [-w BYTES]",
        .summary = "Runs an iperf3 TCP test against an iperf3 server from the stack.",
        .details = iperf_details,
        .opts = iperf_opts,
        .nopts = sizeof(iperf_opts) / sizeof(iperf_opts[0]),
        .apply = iperf_apply,
        .ctx = &a,
    };
    struct cli_args args;
    char err[CLI_ERRLEN];
    int parsed = cli_parse_command(&cmd, argc, argv, &args);
    if (parsed != CLI_GO_ON)
        return parsed;
    if (args.npos > 0) {
        fprintf(stderr, "ustack: iperf3: unexpected argument '%s'\n", args.pos[0]);
        return 2;
    }
    if (!a.host) {
        fprintf(stderr, "ustack: iperf3: missing -c HOST (the iperf3 server to test against)\n");
        return 2;
    }
    if (iface_validate(&args.iface, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
        return 2;
    }
    return iperf_run(&a, &args);
}
