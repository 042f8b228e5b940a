/* The iperf3 service: an iperf3-compatible server on the stack thread.
 *
 * One test at a time, as iperf3: the first connection to port 5201 while
 * idle is the control connection of a new test; while the test waits for
 * its data connections (CREATE_STREAMS), new connections whose first 37
 * bytes are the test's cookie become its streams; any other connection is
 * answered ACCESS_DENIED and closed. The protocol itself is described in
 * iperf3_proto.h.
 *
 * Connections are never closed from inside their own event callback:
 * closing may reset and free a pcb the TCP input path still uses. A test
 * that ends is detached from the server at once and closed by a timer
 * that runs from the stack's poll, outside any callback. */
#include "svc_iperf3.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/timer.h"
#include "iperf3_proto.h"
#include "tcp/cc.h"
#include "tcp/tcp.h"
#include "ustack/runtime.h"

#define SETUP_TIMEOUT (10 * US_SEC) /* cookie, parameters, streams */
#define END_GRACE (10 * US_SEC)     /* past time + omit: the client is gone */
#define RESULTS_TIMEOUT (10 * US_SEC)
#define FILL_CHUNK (64 * 1024)
#define PACE_TICK (2 * US_MSEC) /* how soon a paced stream looks again */
#define DRAIN_BUF (256 * 1024)
#define LISTEN_BACKLOG 64
#define EXTRA_CANDIDATES 16      /* connections beyond "parallel" heard out */
#define LINGER_MAX 128           /* ended data connections awaiting the client's FIN */
#define LINGER_TIME (2 * US_SEC) /* how long each may wait */

enum phase {
    PH_COOKIE,    /* reading the control connection's cookie */
    PH_PARAMS,    /* PARAM_EXCHANGE sent, waiting for the parameters */
    PH_STREAMS,   /* CREATE_STREAMS sent, accepting data connections */
    PH_RUNNING,   /* TEST_RUNNING sent, until the client's TEST_END */
    PH_RESULTS,   /* EXCHANGE_RESULTS sent, waiting for the client's */
    PH_DONE_WAIT, /* DISPLAY_RESULTS sent, waiting for IPERF_DONE */
};

struct test;

/* An accepted data connection: a candidate until its cookie is read. */
struct conn {
    struct test *t;
    struct us_tcp_pcb *pcb;
    struct conn *next; /* in the test's list */
    char cookie[IP3_COOKIE_SIZE];
    size_t cookie_have;
    bool is_stream, denied;
    int id;         /* iperf3 stream id */
    uint64_t bytes; /* counted while the test runs */
    uint64_t retr_base, retransmits;
    uint64_t omitted; /* bytes of the first "omit" seconds, left out of the results */
    uint64_t paced;   /* bytes sent since the test started, for -b */
};

struct server;

struct test {
    struct server *srv;
    struct ip3_ctrl ctrl;
    enum phase phase;
    char cookie[IP3_COOKIE_SIZE];
    struct ip3_params params;
    struct conn *conns; /* streams and candidates */
    struct conn *streams[IP3_MAX_STREAMS];
    int nstreams;
    int ncandidates;          /* data connections accepted, bounded */
    bool running;             /* counting and (reverse) sending */
    bool streams_closing;     /* the reaper closes the data connections */
    bool dead;                /* the reaper frees it all */
    us_time_t t_start, t_end; /* t_start moves to the end of the omitted time */
    struct ip3_cpu cpu_start, cpu_end;
    uint64_t send_limit, sent_total; /* reverse with num/blockcount */
    struct us_timer deadline;
    struct us_timer omit_timer;
    struct us_timer pace_timer; /* reverse with -b: when sending may resume */
    us_time_t pace_start;
    char peer[64];
    struct test *next_dead;
};

struct server {
    struct ustack *s;
    struct us_tcp_pcb *listener;
    struct test *test; /* the current one, or NULL */
    struct test *dead; /* ended, waiting for the reaper */
    struct us_timer reaper;
    struct us_tcp_pcb *linger[LINGER_MAX]; /* see linger_close */
    us_time_t linger_until[LINGER_MAX];
    struct us_timer linger_timer;
    struct server *next;      /* in the registry */
    uint8_t fill[FILL_CHUNK]; /* what reverse tests send */
    uint8_t drain[DRAIN_BUF]; /* where received data goes */
};

static struct server *registry; /* one server per stack */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *report_file;
static bool report_set;

void svc_iperf3_set_report(FILE *f)
{
    report_file = f;
    report_set = true;
}

static FILE *report_out(void)
{
    return report_set ? report_file : stdout;
}

static void report(const struct test *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(const struct test *t, const char *fmt, ...)
{
    FILE *f = report_out();
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "iperf3: %s: ", t->peer);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    va_end(ap);
    fflush(f);
}

static us_time_t real_clock_srv(struct ustack *s)
{
    (void)s;
    return us_clock_monotonic();
}

/* Test times: the real clock (the stack's lags behind while its thread
 * sleeps); tests on a virtual clock point this at us_now. */
static us_time_t (*srv_clock)(struct ustack *s) = real_clock_srv;

static us_time_t now_of(const struct test *t)
{
    return srv_clock(t->srv->s);
}

/* ---- Ending a test ---- */

static void arm_reaper(struct server *srv)
{
    if (!us_timer_armed(&srv->reaper))
        us_timer_arm(srv->s, &srv->reaper, us_now(srv->s));
}

/* Detaches the test from its connections' events and from the server;
 * the reaper closes and frees it. */
static void test_kill(struct test *t)
{
    if (t->dead)
        return;
    t->dead = true;
    t->running = false;
    struct server *srv = t->srv;
    if (t->ctrl.pcb)
        t->ctrl.pcb->event = NULL;
    for (struct conn *c = t->conns; c; c = c->next)
        if (c->pcb)
            c->pcb->event = NULL;
    us_timer_cancel(srv->s, &t->deadline);
    us_timer_cancel(srv->s, &t->omit_timer);
    us_timer_cancel(srv->s, &t->pace_timer);
    if (srv->test == t)
        srv->test = NULL;
    t->next_dead = srv->dead;
    srv->dead = t;
    arm_reaper(srv);
}

static void test_abort(struct test *t, const char *why)
{
    if (t->dead)
        return;
    report(t, "test aborted: %s", why);
    test_kill(t);
}

/* Sends SERVER_ERROR with iperf3's error number and ends the test. */
static void test_fail(struct test *t, int i_errno, const char *why)
{
    uint8_t msg[9];
    msg[0] = (uint8_t)(int8_t)IP3_SERVER_ERROR;
    ip3_put_len(msg + 1, (uint32_t)i_errno);
    ip3_put_len(msg + 5, 0);
    ip3_ctrl_send(&t->ctrl, msg, sizeof(msg));
    test_abort(t, why);
}

/* Reads what is left and closes: a graceful close (FIN) unless data
 * arrives in between, which makes it a reset (RFC 9293 3.10.4). */
static void drain_and_close(struct server *srv, struct us_tcp_pcb *pcb)
{
    pcb->event = NULL;
    while (us_tcp_recv(pcb, srv->drain, sizeof(srv->drain), false) > 0) {
    }
    us_tcp_close(pcb);
}

/* ---- Lingering data connections ----
 *
 * At the end of a test the client's socket may still hold megabytes it sent
 * before TEST_END (at tens of Gbit/s). Closing on them would answer with
 * resets; instead a data connection sends its FIN, reads and drops what
 * still comes until the client's FIN, and only then closes: a graceful end
 * both ways. Bounded: LINGER_MAX connections, LINGER_TIME each. */

static void linger_end(struct server *srv, struct us_tcp_pcb *pcb)
{
    for (int i = 0; i < LINGER_MAX; i++)
        if (srv->linger[i] == pcb)
            srv->linger[i] = NULL;
    pcb->event = NULL;
    us_tcp_close(pcb);
}

static void linger_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct server *srv = ctx;
    (void)ev;
    ssize_t n;
    while ((n = us_tcp_recv(pcb, srv->drain, sizeof(srv->drain), false)) > 0) {
    }
    if (n != -EAGAIN) /* the client's FIN, or the connection is over */
        linger_end(srv, pcb);
}

static void linger_arm(struct server *srv)
{
    us_time_t next = US_TIME_NEVER;
    for (int i = 0; i < LINGER_MAX; i++)
        if (srv->linger[i] && srv->linger_until[i] < next)
            next = srv->linger_until[i];
    if (next != US_TIME_NEVER)
        us_timer_arm(srv->s, &srv->linger_timer, next);
}

static void linger_fire(struct ustack *s, struct us_timer *tm)
{
    struct server *srv = us_container_of(tm, struct server, linger_timer);
    for (int i = 0; i < LINGER_MAX; i++)
        if (srv->linger[i] && srv->linger_until[i] <= us_now(s))
            linger_end(srv, srv->linger[i]); /* unread data left: a reset */
    linger_arm(srv);
}

static void linger_close(struct server *srv, struct us_tcp_pcb *pcb)
{
    int slot = 0;
    while (slot < LINGER_MAX && srv->linger[slot])
        slot++;
    if (slot == LINGER_MAX) {
        drain_and_close(srv, pcb);
        return;
    }
    srv->linger[slot] = pcb;
    srv->linger_until[slot] = us_now(srv->s) + LINGER_TIME;
    pcb->event = linger_event;
    pcb->ctx = srv;
    us_tcp_shutdown(pcb, SHUT_WR);
    if (!us_timer_armed(&srv->linger_timer))
        linger_arm(srv);
    linger_event(srv, pcb, 0); /* what is already there; maybe the FIN too */
}

static void linger_stop(struct server *srv)
{
    us_timer_cancel(srv->s, &srv->linger_timer);
    for (int i = 0; i < LINGER_MAX; i++)
        if (srv->linger[i])
            linger_end(srv, srv->linger[i]);
}

static void close_conn(struct conn *c)
{
    if (c->pcb) {
        linger_close(c->t->srv, c->pcb);
        c->pcb = NULL;
    }
}

static void free_test(struct test *t)
{
    struct ustack *s = t->srv->s;
    if (t->ctrl.pcb)
        drain_and_close(t->srv, t->ctrl.pcb);
    while (t->conns) {
        struct conn *c = t->conns;
        t->conns = c->next;
        close_conn(c);
        free(c);
    }
    us_timer_cancel(s, &t->deadline);
    us_timer_cancel(s, &t->omit_timer);
    us_timer_cancel(s, &t->pace_timer);
    ip3_ctrl_free(&t->ctrl);
    free(t);
}

static void reaper_fire(struct ustack *s, struct us_timer *tm)
{
    (void)s;
    struct server *srv = us_container_of(tm, struct server, reaper);
    while (srv->dead) {
        struct test *t = srv->dead;
        srv->dead = t->next_dead;
        free_test(t);
    }
    struct test *t = srv->test;
    if (t && t->streams_closing) {
        for (struct conn *c = t->conns; c; c = c->next)
            close_conn(c);
    }
    /* Candidates turned away. */
    if (t) {
        for (struct conn *c = t->conns; c; c = c->next)
            if (c->denied)
                close_conn(c);
    }
}

/* The omitted seconds are over: the results count from here (iperf3
 * resets its statistics the same way on both sides). */
static void omit_fire(struct ustack *s, struct us_timer *tm)
{
    (void)s;
    struct test *t = us_container_of(tm, struct test, omit_timer);
    t->t_start = now_of(t);
    for (int i = 0; i < t->nstreams; i++) {
        struct conn *c = t->streams[i];
        c->omitted = c->bytes;
        if (c->pcb)
            c->retr_base = c->pcb->retransmits;
    }
}

static void deadline_fire(struct ustack *s, struct us_timer *tm)
{
    (void)s;
    struct test *t = us_container_of(tm, struct test, deadline);
    test_abort(t, t->phase == PH_RUNNING ? "the client never ended the test"
                                         : "timed out waiting for the client");
}

/* ---- Data connections ---- */

/* -b in reverse mode: each stream may have sent bandwidth/8 bytes per
 * second since the test began (plus one chunk of burst), as iperf3's own
 * server paces; 0 when it must wait (the pace timer resumes it). */
static uint64_t pace_allowance(struct conn *c)
{
    struct test *t = c->t;
    if (!t->params.bandwidth)
        return UINT64_MAX;
    us_time_t elapsed = us_now(t->srv->s) - t->pace_start;
    uint64_t may =
        (uint64_t)((double)t->params.bandwidth / 8.0 * (double)elapsed / US_SEC) + FILL_CHUNK;
    if (may > c->paced)
        return may - c->paced;
    if (!us_timer_armed(&t->pace_timer))
        us_timer_arm(t->srv->s, &t->pace_timer, us_now(t->srv->s) + PACE_TICK);
    return 0;
}

static void conn_fill(struct conn *c);

static void pace_fire(struct ustack *s, struct us_timer *tm)
{
    (void)s;
    struct test *t = us_container_of(tm, struct test, pace_timer);
    if (!t->running || !t->params.reverse)
        return;
    for (int i = 0; i < t->nstreams; i++)
        if (t->streams[i] && t->streams[i]->pcb)
            conn_fill(t->streams[i]);
}

static void conn_fill(struct conn *c)
{
    struct test *t = c->t;
    uint64_t total = us_tcp_writable(c->pcb);
    if (t->send_limit) {
        uint64_t left = t->send_limit > t->sent_total ? t->send_limit - t->sent_total : 0;
        total = total < left ? total : left;
    }
    uint64_t allowed = pace_allowance(c);
    total = total < allowed ? total : allowed;
    uint64_t done = 0;
    while (done < total) {
        size_t chunk = total - done < FILL_CHUNK ? (size_t)(total - done) : FILL_CHUNK;
        /* MSG_MORE until the last chunk, so the segments go out once. */
        ssize_t n = us_tcp_send(c->pcb, t->srv->fill, chunk, done + chunk < total);
        if (n <= 0)
            break;
        done += (uint64_t)n;
    }
    c->bytes += done;
    c->paced += done;
    t->sent_total += done;
}

static void conn_drain(struct conn *c)
{
    uint8_t *buf = c->t->srv->drain;
    for (;;) {
        ssize_t n = us_tcp_recv(c->pcb, buf, DRAIN_BUF, false);
        if (n <= 0) {
            if (n < 0 && n != -EAGAIN && c->t->running)
                test_abort(c->t, "a data connection failed");
            return;
        }
        if (c->t->running)
            c->bytes += (uint64_t)n;
    }
}

static void test_start_running(struct test *t);

/* The candidate's cookie is complete: a stream of this test, or not. */
static void candidate_judge(struct conn *c)
{
    struct test *t = c->t;
    if (t->phase != PH_STREAMS || memcmp(c->cookie, t->cookie, IP3_COOKIE_SIZE) != 0 ||
        t->nstreams == t->params.parallel) {
        int8_t denied = IP3_ACCESS_DENIED;
        us_tcp_send(c->pcb, &denied, 1, false);
        c->denied = true;
        c->pcb->event = NULL;
        arm_reaper(t->srv);
        return;
    }
    c->is_stream = true;
    c->id = ip3_stream_id(t->nstreams);
    t->streams[t->nstreams++] = c;
    /* The receive buffer comes from the listener (it is fixed before the
     * handshake); the send buffer is ours to size. */
    if (t->params.window)
        us_tcp_set_bufsizes(c->pcb, (uint32_t)t->params.window, 0);
    else if (t->params.reverse)
        us_tcp_set_bufsizes(c->pcb, ip3_stream_bufsize(t->params.parallel), 0);
    if (t->nstreams == t->params.parallel)
        test_start_running(t);
}

static void conn_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct conn *c = ctx;
    (void)pcb;
    if (!c->is_stream) {
        while (c->cookie_have < IP3_COOKIE_SIZE) {
            ssize_t n = us_tcp_recv(c->pcb, c->cookie + c->cookie_have,
                                    IP3_COOKIE_SIZE - c->cookie_have, false);
            if (n <= 0)
                break;
            c->cookie_have += (size_t)n;
        }
        if (c->cookie_have < IP3_COOKIE_SIZE) {
            if (ev & (US_TCP_EV_ERROR | US_TCP_EV_CLOSED) || us_tcp_eof(c->pcb)) {
                c->denied = true; /* gone before sending its cookie */
                c->pcb->event = NULL;
                arm_reaper(c->t->srv);
            }
            return;
        }
        candidate_judge(c);
        if (!c->is_stream || c->t->dead)
            return;
    }
    if (!c->t->params.reverse || (ev & US_TCP_EV_READABLE))
        conn_drain(c);
    if (c->t->dead)
        return;
    if (c->t->running && c->t->params.reverse && (ev & US_TCP_EV_WRITABLE))
        conn_fill(c);
    if ((ev & US_TCP_EV_ERROR) && c->t->running)
        test_abort(c->t, "a data connection was reset");
}

static void add_candidate(struct test *t, struct us_tcp_pcb *pcb)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        us_tcp_abort(pcb);
        return;
    }
    c->t = t;
    c->pcb = pcb;
    c->next = t->conns;
    t->conns = c;
    t->ncandidates++;
    pcb->event = conn_event;
    pcb->ctx = c;
    conn_event(c, pcb, US_TCP_EV_READABLE); /* the cookie may be in already */
}

/* ---- The control connection ---- */

static void test_start_running(struct test *t)
{
    us_timer_cancel(t->srv->s, &t->deadline);
    if (ip3_ctrl_send_state(&t->ctrl, IP3_TEST_START) != 0 ||
        ip3_ctrl_send_state(&t->ctrl, IP3_TEST_RUNNING) != 0) {
        test_abort(t, "cannot write to the control connection");
        return;
    }
    t->phase = PH_RUNNING;
    t->running = true;
    t->t_start = now_of(t);
    t->pace_start = t->t_start;
    ip3_cpu_sample(&t->cpu_start, us_clock_monotonic());
    if (t->params.num)
        t->send_limit = t->params.num;
    else if (t->params.blockcount)
        t->send_limit = t->params.blockcount * t->params.len;
    if (t->params.time)
        us_timer_arm(t->srv->s, &t->deadline,
                     t->t_start + (us_time_t)(t->params.time + t->params.omit) * US_SEC +
                         END_GRACE);
    if (t->params.omit)
        us_timer_arm(t->srv->s, &t->omit_timer, t->t_start + (us_time_t)t->params.omit * US_SEC);
    for (int i = 0; i < t->nstreams; i++) {
        struct conn *c = t->streams[i];
        c->retr_base = c->pcb->retransmits;
        if (t->params.reverse)
            conn_fill(c);
    }
}

static void on_cookie(struct test *t)
{
    if (!ip3_rx_take(&t->ctrl.rx, t->cookie, IP3_COOKIE_SIZE))
        return;
    t->phase = PH_PARAMS;
    if (ip3_ctrl_send_state(&t->ctrl, IP3_PARAM_EXCHANGE) != 0)
        test_abort(t, "cannot write to the control connection");
}

static void on_params(struct test *t)
{
    char *text, err[160];
    size_t len;
    int rc = ip3_rx_take_json(&t->ctrl.rx, &text, &len);
    if (rc == 0)
        return;
    if (rc < 0) {
        test_fail(t, IP3_IE_RECVPARAMS, "parameters too long");
        return;
    }
    int i_errno;
    rc = ip3_params_from_json(text, len, &t->params, &i_errno, err, sizeof(err));
    free(text);
    if (rc != 0) {
        test_fail(t, i_errno, err);
        return;
    }
    t->phase = PH_STREAMS;
    if (ip3_ctrl_send_state(&t->ctrl, IP3_CREATE_STREAMS) != 0)
        test_abort(t, "cannot write to the control connection");
}

static void fill_results(struct test *t, struct ip3_results *r)
{
    memset(r, 0, sizeof(*r));
    ip3_cpu_util(&t->cpu_start, &t->cpu_end, &r->cpu_total, &r->cpu_user, &r->cpu_system);
    bool sender = t->params.reverse;
    r->sender_has_retransmits = sender ? 1 : -1;
    r->nstreams = t->nstreams;
    double secs = (double)(t->t_end - t->t_start) / US_SEC;
    for (int i = 0; i < t->nstreams; i++) {
        const struct conn *c = t->streams[i];
        struct ip3_stream_result *sr = &r->streams[i];
        sr->id = c->id;
        sr->bytes = c->bytes - c->omitted;
        sr->retransmits = sender ? (int64_t)c->retransmits : -1;
        sr->end_time = secs;
        if (c->pcb && c->pcb->cc)
            snprintf(r->congestion_used, sizeof(r->congestion_used), "%s", c->pcb->cc->name);
    }
}

static const char *skip_spaces(const char *s)
{
    return s + strspn(s, " ");
}

/* "received 2.31 GBytes in 5.00 sec, 3.98 Gbits/sec, 1 stream" */
static void summary_text(const struct test *t, char *buf, size_t len)
{
    uint64_t bytes = 0, retr = 0;
    for (int i = 0; i < t->nstreams; i++) {
        bytes += t->streams[i]->bytes - t->streams[i]->omitted;
        retr += t->streams[i]->retransmits;
    }
    double secs = (double)(t->t_end - t->t_start) / US_SEC;
    char b[32], r[32], retr_text[48] = "";
    ip3_format_bytes(b, sizeof(b), (double)bytes);
    ip3_format_bits(r, sizeof(r), secs > 0 ? (double)bytes / secs : 0);
    if (t->params.reverse)
        snprintf(retr_text, sizeof(retr_text), ", %llu retransmits", (unsigned long long)retr);
    snprintf(buf, len, "%s %ss in %.2f sec, %ss/sec, %d stream%s%s",
             t->params.reverse ? "sent" : "received", skip_spaces(b), secs, skip_spaces(r),
             t->nstreams, t->nstreams == 1 ? "" : "s", retr_text);
}

static void report_done(struct test *t)
{
    char text[160];
    summary_text(t, text, sizeof(text));
    report(t, "%s", text);
}

/* TEST_END: stop counting and sending, and ask for the client's results.
 * Connections the server sent on (reverse mode) close now: the client has
 * stopped counting, and the FIN tells it the data is over. Those the
 * client sent on stay open, still read, until IPERF_DONE: what it sent
 * just before TEST_END is still arriving, and closing on that would reset
 * them. */
static void on_test_end(struct test *t)
{
    t->running = false;
    t->t_end = now_of(t);
    ip3_cpu_sample(&t->cpu_end, us_clock_monotonic());
    for (int i = 0; i < t->nstreams; i++) {
        struct conn *c = t->streams[i];
        if (!c->pcb)
            continue;
        c->retransmits = c->pcb->retransmits - c->retr_base;
        if (t->params.reverse)
            c->bytes = ip3_sent_bytes(c->pcb, c->bytes);
    }
    if (t->params.reverse) {
        t->streams_closing = true;
        arm_reaper(t->srv);
    }
    t->phase = PH_RESULTS;
    us_timer_arm(t->srv->s, &t->deadline, now_of(t) + RESULTS_TIMEOUT);
    if (ip3_ctrl_send_state(&t->ctrl, IP3_EXCHANGE_RESULTS) != 0)
        test_abort(t, "cannot write to the control connection");
}

static void on_client_results(struct test *t)
{
    char *text, err[160];
    size_t len;
    int rc = ip3_rx_take_json(&t->ctrl.rx, &text, &len);
    if (rc == 0)
        return;
    struct ip3_results *theirs = malloc(sizeof(*theirs));
    struct ip3_results *ours = malloc(sizeof(*ours));
    if (rc > 0 && theirs && ours &&
        ip3_results_from_json(text, len, theirs, err, sizeof(err)) == 0) {
        fill_results(t, ours);
        char text[200];
        if (t->params.get_server_output) {
            int n = snprintf(text, sizeof(text), "ustack iperf3 server: %s: ", t->peer);
            summary_text(t, text + n, sizeof(text) - (size_t)n);
            strncat(text, "\n", sizeof(text) - strlen(text) - 1);
            ours->server_output_text = text;
        }
        char *json = ip3_results_to_json(ours, &len);
        if (!json || ip3_ctrl_send_json(&t->ctrl, json, len) != 0 ||
            ip3_ctrl_send_state(&t->ctrl, IP3_DISPLAY_RESULTS) != 0)
            test_abort(t, "cannot send the results");
        else
            t->phase = PH_DONE_WAIT;
        free(json);
    } else {
        test_fail(t, IP3_IE_RECVRESULTS, rc < 0 ? "results too long" : "bad results from client");
    }
    if (rc > 0)
        free(text);
    free(theirs);
    free(ours);
}

/* A state byte from the client. */
static void srv_on_state(struct test *t, int state)
{
    if (state == IP3_TEST_END && t->phase == PH_RUNNING) {
        on_test_end(t);
    } else if (state == IP3_IPERF_DONE && t->phase == PH_DONE_WAIT) {
        report_done(t);
        test_kill(t);
    } else if (state == IP3_CLIENT_TERMINATE) {
        test_abort(t, "the client has terminated");
    } else {
        char why[80];
        snprintf(why, sizeof(why), "unexpected message %d (%s)", state, ip3_state_name(state));
        test_abort(t, why);
    }
}

/* Consumes what the control connection holds, as the phase expects. */
static void srv_ctrl_process(struct test *t)
{
    while (!t->dead) {
        size_t before = t->ctrl.rx.len;
        enum phase ph = t->phase;
        int state;
        if (ph == PH_COOKIE)
            on_cookie(t);
        else if (ph == PH_PARAMS)
            on_params(t);
        else if (ph == PH_RESULTS)
            on_client_results(t);
        else if (ip3_rx_take_state(&t->ctrl.rx, &state))
            srv_on_state(t, state);
        if (t->ctrl.rx.len == before && t->phase == ph)
            return; /* waiting for more */
    }
}

static void srv_ctrl_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct test *t = ctx;
    (void)pcb;
    if (ev & US_TCP_EV_WRITABLE)
        ip3_ctrl_flush(&t->ctrl);
    ip3_ctrl_pull(&t->ctrl);
    srv_ctrl_process(t);
    if (t->dead)
        return;
    if (t->ctrl.eof && t->phase == PH_DONE_WAIT) {
        report_done(t); /* closed without IPERF_DONE: the results are out anyway */
        test_kill(t);
    } else if (t->ctrl.err) {
        char why[80];
        snprintf(why, sizeof(why), "control connection: %s", strerror(t->ctrl.err));
        test_abort(t, why);
    } else if (t->ctrl.eof) {
        test_abort(t, "the client closed the control connection");
    }
}

static void peer_text(struct us_tcp_pcb *pcb, char *buf, size_t len)
{
    char addr[48];
    us_addr_str(&pcb->remote, addr, sizeof(addr));
    snprintf(buf, len, "%s port %u", addr, pcb->rport);
}

static void new_test(struct server *srv, struct us_tcp_pcb *pcb)
{
    struct test *t = calloc(1, sizeof(*t));
    if (!t) {
        us_tcp_abort(pcb);
        return;
    }
    t->srv = srv;
    t->ctrl.pcb = pcb;
    t->phase = PH_COOKIE;
    peer_text(pcb, t->peer, sizeof(t->peer));
    us_timer_init(&t->deadline, deadline_fire);
    us_timer_init(&t->omit_timer, omit_fire);
    us_timer_init(&t->pace_timer, pace_fire);
    us_timer_arm(srv->s, &t->deadline, now_of(t) + SETUP_TIMEOUT);
    srv->test = t;
    pcb->nodelay = true; /* as iperf3: control messages go at once */
    pcb->event = srv_ctrl_event;
    pcb->ctx = t;
    srv_ctrl_event(t, pcb, US_TCP_EV_READABLE);
}

/* A connection while a test runs and is not accepting streams. */
static void deny(struct server *srv, struct us_tcp_pcb *pcb)
{
    int8_t denied = IP3_ACCESS_DENIED;
    us_tcp_send(pcb, &denied, 1, false);
    drain_and_close(srv, pcb);
}

static void listener_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct server *srv = ctx;
    if (!(ev & US_TCP_EV_ACCEPTABLE))
        return;
    struct us_tcp_pcb *child;
    while ((child = us_tcp_accept(pcb)) != NULL) {
        if (!srv->test)
            new_test(srv, child);
        else if (srv->test->phase == PH_STREAMS &&
                 srv->test->ncandidates < srv->test->params.parallel + EXTRA_CANDIDATES)
            add_candidate(srv->test, child);
        else
            deny(srv, child);
    }
}

/* ---- Start and stop ---- */

static struct server **find_server(struct ustack *s)
{
    struct server **pp = &registry;
    while (*pp && (*pp)->s != s)
        pp = &(*pp)->next;
    return pp;
}

static int start_locked(struct ustack *s)
{
    pthread_mutex_lock(&registry_lock);
    bool exists = *find_server(s) != NULL;
    pthread_mutex_unlock(&registry_lock);
    if (exists)
        return -EEXIST;
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->s = s;
    for (size_t i = 0; i < sizeof(srv->fill); i++)
        srv->fill[i] = (uint8_t)(i * 131 + 7);
    us_timer_init(&srv->reaper, reaper_fire);
    us_timer_init(&srv->linger_timer, linger_fire);
    srv->listener = us_tcp_new(s, listener_event, srv);
    if (!srv->listener) {
        free(srv);
        return -ENOMEM;
    }
    int rc = us_tcp_bind(srv->listener, NULL, IP3_PORT, true);
    if (rc == 0)
        rc = us_tcp_listen(srv->listener, LISTEN_BACKLOG);
    if (rc != 0) {
        us_tcp_close(srv->listener);
        free(srv);
        return rc;
    }
    pthread_mutex_lock(&registry_lock);
    srv->next = registry;
    registry = srv;
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

int svc_iperf3_start(struct ustack *s, struct us_netif *nif)
{
    (void)nif;
    us_runtime_lock(s);
    int rc = start_locked(s);
    us_runtime_unlock(s);
    return rc;
}

static void stop_locked(struct ustack *s)
{
    pthread_mutex_lock(&registry_lock);
    struct server **pp = find_server(s);
    struct server *srv = *pp;
    if (srv)
        *pp = srv->next;
    pthread_mutex_unlock(&registry_lock);
    if (!srv)
        return;
    if (srv->test)
        test_kill(srv->test);
    us_timer_cancel(s, &srv->reaper);
    srv->test = NULL;
    reaper_fire(s, &srv->reaper);
    linger_stop(srv);
    us_tcp_close(srv->listener);
    free(srv);
}

void svc_iperf3_stop(struct ustack *s)
{
    us_runtime_lock(s);
    stop_locked(s);
    us_runtime_unlock(s);
}
