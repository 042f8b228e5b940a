/* The iperf3 control protocol: parameters and results as JSON, message
 * framing, cookies, and a control connection on a TCP pcb. */
#include "iperf3_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tcp/tcp.h"

/* ---- Names ---- */

const char *ip3_strerror(int i_errno)
{
    switch (i_errno) {
    case IP3_IE_UNIMP:
        return "an option you are trying to set is not implemented yet";
    case IP3_IE_RECVPARAMS:
        return "unable to receive parameters from client";
    case IP3_IE_RECVRESULTS:
        return "unable to receive results";
    case IP3_IE_CLIENTTERM:
        return "the client has terminated";
    case IP3_IE_SERVERTERM:
        return "the server has terminated";
    case IP3_IE_ACCESSDENIED:
        return "the server is busy running a test. try again later";
    case IP3_IE_STREAMID:
        return "stream has an invalid id";
    }
    return "server error";
}

const char *ip3_state_name(int state)
{
    switch (state) {
    case IP3_TEST_START:
        return "TEST_START";
    case IP3_TEST_RUNNING:
        return "TEST_RUNNING";
    case IP3_TEST_END:
        return "TEST_END";
    case IP3_PARAM_EXCHANGE:
        return "PARAM_EXCHANGE";
    case IP3_CREATE_STREAMS:
        return "CREATE_STREAMS";
    case IP3_SERVER_TERMINATE:
        return "SERVER_TERMINATE";
    case IP3_CLIENT_TERMINATE:
        return "CLIENT_TERMINATE";
    case IP3_EXCHANGE_RESULTS:
        return "EXCHANGE_RESULTS";
    case IP3_DISPLAY_RESULTS:
        return "DISPLAY_RESULTS";
    case IP3_IPERF_START:
        return "IPERF_START";
    case IP3_IPERF_DONE:
        return "IPERF_DONE";
    case IP3_ACCESS_DENIED:
        return "ACCESS_DENIED";
    case IP3_SERVER_ERROR:
        return "SERVER_ERROR";
    }
    return "unknown";
}

/* ---- Parameters ---- */

void ip3_params_default(struct ip3_params *p)
{
    memset(p, 0, sizeof(*p));
    p->tcp = true;
    p->time = IP3_DEFAULT_TIME;
    p->parallel = 1;
    p->len = IP3_DEFAULT_BLKSIZE;
    p->pacing_timer = 1000;
    snprintf(p->client_version, sizeof(p->client_version), "%s", IP3_VERSION);
}

static char *finish_json(struct jm_writer *w, size_t *len)
{
    size_t n;
    const char *text = jm_finish(w, &n);
    char *copy = text ? strdup(text) : NULL;
    jm_writer_free(w);
    if (copy && len)
        *len = n;
    return copy;
}

static void member_uint(struct jm_writer *w, const char *key, uint64_t v)
{
    jm_key(w, key);
    jm_uint(w, v);
}

/* The members iperf 3.12's client sends, in its order; optional ones
 * only when set. */
char *ip3_params_to_json(const struct ip3_params *p, size_t *len)
{
    struct jm_writer w;
    jm_writer_init(&w);
    jm_object_begin(&w);
    jm_key(&w, "tcp");
    jm_bool(&w, true);
    member_uint(&w, "omit", (uint64_t)p->omit);
    member_uint(&w, "time", (uint64_t)p->time);
    member_uint(&w, "num", p->num);
    member_uint(&w, "blockcount", p->blockcount);
    if (p->mss)
        member_uint(&w, "MSS", p->mss);
    if (p->nodelay) {
        jm_key(&w, "nodelay");
        jm_bool(&w, true);
    }
    member_uint(&w, "parallel", (uint64_t)p->parallel);
    if (p->reverse) {
        jm_key(&w, "reverse");
        jm_bool(&w, true);
    }
    if (p->window)
        member_uint(&w, "window", p->window);
    member_uint(&w, "len", p->len);
    if (p->bandwidth)
        member_uint(&w, "bandwidth", p->bandwidth);
    if (p->pacing_timer)
        member_uint(&w, "pacing_timer", (uint64_t)p->pacing_timer);
    jm_key(&w, "client_version");
    jm_string(&w, p->client_version);
    jm_object_end(&w);
    return finish_json(&w, len);
}

/* An optional numeric member in [min, max]: 0 (absent or fine), or -1. */
static int get_uint(const struct jm_value *o, const char *key, double min, double max,
                    uint64_t *out, char *err, size_t errlen)
{
    const struct jm_value *v = jm_get(o, key);
    if (!v)
        return 0;
    if (v->type != JM_NUMBER || !(v->number >= min && v->number <= max)) {
        snprintf(err, errlen, "bad parameter \"%s\" (expected a number, %.0f..%.0f)", key, min,
                 max);
        return -1;
    }
    *out = (uint64_t)v->number;
    return 0;
}

struct uint_field {
    const char *key;
    double min, max;
    int which;
};

enum { F_OMIT, F_TIME, F_NUM, F_BLOCKCOUNT, F_PARALLEL, F_LEN, F_MSS, F_WINDOW, F_BW, F_PACING };

static const struct uint_field uint_fields[] = {
    {"omit", 0, 600, F_OMIT},
    {"time", 0, IP3_MAX_TIME, F_TIME},
    {"num", 0, 1e18, F_NUM},
    {"blockcount", 0, 1e18, F_BLOCKCOUNT},
    {"parallel", 1, IP3_MAX_STREAMS, F_PARALLEL},
    {"len", 1, IP3_MAX_BLKSIZE, F_LEN},
    {"MSS", 0, 65535, F_MSS},
    {"window", 0, 1 << 30, F_WINDOW},
    {"bandwidth", 0, 1e15, F_BW},
    {"pacing_timer", 0, 1e9, F_PACING},
};

static void set_field(struct ip3_params *p, int which, uint64_t v)
{
    switch (which) {
    case F_OMIT:
        p->omit = (int)v;
        break;
    case F_TIME:
        p->time = (int)v;
        break;
    case F_NUM:
        p->num = v;
        break;
    case F_BLOCKCOUNT:
        p->blockcount = v;
        break;
    case F_PARALLEL:
        p->parallel = (int)v;
        break;
    case F_LEN:
        p->len = (uint32_t)v;
        break;
    case F_MSS:
        p->mss = (uint32_t)v;
        break;
    case F_WINDOW:
        p->window = v;
        break;
    case F_BW:
        p->bandwidth = v;
        break;
    case F_PACING:
        p->pacing_timer = (int)v;
        break;
    }
}

static int read_params(const struct jm_value *o, struct ip3_params *p, int *i_errno, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < sizeof(uint_fields) / sizeof(uint_fields[0]); i++) {
        const struct uint_field *f = &uint_fields[i];
        uint64_t v = 0;
        if (!jm_get(o, f->key))
            continue;
        if (get_uint(o, f->key, f->min, f->max, &v, err, errlen) != 0)
            return -1;
        set_field(p, f->which, v);
    }
    /* iperf3 looks at the presence of "udp" and "sctp", not their value. */
    p->udp = jm_get(o, "udp") != NULL;
    p->sctp = jm_get(o, "sctp") != NULL;
    p->tcp = !p->udp && !p->sctp;
    p->reverse = jm_get_flag(o, "reverse");
    p->bidirectional = jm_get_flag(o, "bidirectional");
    p->nodelay = jm_get_flag(o, "nodelay");
    p->get_server_output = jm_get_flag(o, "get_server_output");
    const struct jm_value *ver = jm_get(o, "client_version");
    if (ver && ver->type == JM_STRING)
        snprintf(p->client_version, sizeof(p->client_version), "%s", ver->string);
    if (!p->tcp || p->bidirectional) {
        *i_errno = IP3_IE_UNIMP;
        snprintf(err, errlen, "%s tests are not supported (TCP only, one direction)",
                 p->udp    ? "UDP"
                 : p->sctp ? "SCTP"
                           : "bidirectional");
        return -1;
    }
    return 0;
}

int ip3_params_from_json(const char *text, size_t len, struct ip3_params *p, int *i_errno,
                         char *err, size_t errlen)
{
    ip3_params_default(p);
    p->client_version[0] = '\0';
    *i_errno = IP3_IE_RECVPARAMS;
    struct jm_doc doc;
    if (jm_parse(&doc, text, len) != 0 || jm_root(&doc)->type != JM_OBJECT) {
        snprintf(err, errlen, "parameters are not a JSON object");
        jm_free(&doc);
        return -1;
    }
    int rc = read_params(jm_root(&doc), p, i_errno, err, errlen);
    jm_free(&doc);
    return rc;
}

/* ---- Results ---- */

static void write_stream(struct jm_writer *w, const struct ip3_stream_result *s)
{
    jm_object_begin(w);
    jm_key(w, "id");
    jm_int(w, s->id);
    member_uint(w, "bytes", s->bytes);
    jm_key(w, "retransmits");
    jm_int(w, s->retransmits);
    jm_key(w, "jitter");
    jm_number(w, s->jitter);
    jm_key(w, "errors");
    jm_int(w, s->errors);
    jm_key(w, "packets");
    jm_int(w, s->packets);
    jm_key(w, "start_time");
    jm_number(w, s->start_time);
    jm_key(w, "end_time");
    jm_number(w, s->end_time);
    jm_object_end(w);
}

char *ip3_results_to_json(const struct ip3_results *r, size_t *len)
{
    struct jm_writer w;
    jm_writer_init(&w);
    jm_object_begin(&w);
    jm_key(&w, "cpu_util_total");
    jm_number(&w, r->cpu_total);
    jm_key(&w, "cpu_util_user");
    jm_number(&w, r->cpu_user);
    jm_key(&w, "cpu_util_system");
    jm_number(&w, r->cpu_system);
    jm_key(&w, "sender_has_retransmits");
    jm_int(&w, r->sender_has_retransmits);
    if (r->congestion_used[0]) {
        jm_key(&w, "congestion_used");
        jm_string(&w, r->congestion_used);
    }
    if (r->server_output_text) {
        jm_key(&w, "server_output_text");
        jm_string(&w, r->server_output_text);
    }
    jm_key(&w, "streams");
    jm_array_begin(&w);
    for (int i = 0; i < r->nstreams; i++)
        write_stream(&w, &r->streams[i]);
    jm_array_end(&w);
    jm_object_end(&w);
    return finish_json(&w, len);
}

/* Counters arrive as doubles; -1 may come as 2^64-1 from a server that
 * keeps it unsigned (iperf 3.12 does). */
static int64_t count_or_unknown(double v)
{
    if (!(v >= 0) || v >= 9.2e18)
        return -1;
    return (int64_t)v;
}

static int read_stream(const struct jm_value *js, struct ip3_stream_result *s)
{
    double id, bytes, retr, jitter, errors, packets;
    if (!jm_get_number(js, "id", &id) || !jm_get_number(js, "bytes", &bytes) ||
        !jm_get_number(js, "retransmits", &retr) || !jm_get_number(js, "jitter", &jitter) ||
        !jm_get_number(js, "errors", &errors) || !jm_get_number(js, "packets", &packets))
        return -1;
    if (!(id >= -2147483648.0 && id <= 2147483647.0))
        return -1;
    memset(s, 0, sizeof(*s));
    s->id = (int)id;
    s->bytes = bytes > 0 && bytes < 1.8e19 ? (uint64_t)bytes : 0;
    s->retransmits = count_or_unknown(retr);
    s->jitter = jitter;
    s->errors = count_or_unknown(errors);
    s->packets = count_or_unknown(packets);
    jm_get_number(js, "start_time", &s->start_time); /* absent before iperf 3.2 */
    jm_get_number(js, "end_time", &s->end_time);
    return 0;
}

static int read_results(const struct jm_value *o, struct ip3_results *r, char *err, size_t errlen)
{
    double has;
    if (!jm_get_number(o, "cpu_util_total", &r->cpu_total) ||
        !jm_get_number(o, "cpu_util_user", &r->cpu_user) ||
        !jm_get_number(o, "cpu_util_system", &r->cpu_system) ||
        !jm_get_number(o, "sender_has_retransmits", &has)) {
        snprintf(err, errlen, "results lack the cpu_util or sender_has_retransmits fields");
        return -1;
    }
    r->sender_has_retransmits = has == 1 ? 1 : has == 0 ? 0 : -1;
    const struct jm_value *cc = jm_get(o, "congestion_used");
    if (cc && cc->type == JM_STRING)
        snprintf(r->congestion_used, sizeof(r->congestion_used), "%s", cc->string);
    const struct jm_value *streams = jm_get(o, "streams");
    if (!streams || streams->type != JM_ARRAY || streams->count > IP3_MAX_STREAMS) {
        snprintf(err, errlen, "results lack a streams array of at most %d", IP3_MAX_STREAMS);
        return -1;
    }
    for (const struct jm_value *js = streams->child; js; js = js->next) {
        if (read_stream(js, &r->streams[r->nstreams]) != 0) {
            snprintf(err, errlen, "stream %d of the results is incomplete", r->nstreams + 1);
            return -1;
        }
        r->nstreams++;
    }
    return 0;
}

int ip3_results_from_json(const char *text, size_t len, struct ip3_results *r, char *err,
                          size_t errlen)
{
    memset(r, 0, sizeof(*r));
    struct jm_doc doc;
    if (jm_parse(&doc, text, len) != 0 || jm_root(&doc)->type != JM_OBJECT) {
        snprintf(err, errlen, "results are not a JSON object");
        jm_free(&doc);
        return -1;
    }
    int rc = read_results(jm_root(&doc), r, err, errlen);
    jm_free(&doc);
    return rc;
}

const struct ip3_stream_result *ip3_results_find(const struct ip3_results *r, int id)
{
    for (int i = 0; i < r->nstreams; i++)
        if (r->streams[i].id == id)
            return &r->streams[i];
    return NULL;
}

#define STREAM_BUF_TOTAL (16u << 20)
#define STREAM_BUF_MIN (128u << 10)
#define STREAM_BUF_MAX (2u << 20)

uint32_t ip3_stream_bufsize(int parallel)
{
    uint32_t each = STREAM_BUF_TOTAL / (uint32_t)(parallel > 0 ? parallel : 1);
    return each < STREAM_BUF_MIN ? STREAM_BUF_MIN : each > STREAM_BUF_MAX ? STREAM_BUF_MAX : each;
}

uint64_t ip3_sent_bytes(const struct us_tcp_pcb *pcb, uint64_t handed)
{
    uint32_t queued = pcb->snd.limit - us_tcp_writable(pcb); /* from SND.UNA on */
    uint32_t flight = pcb->snd_max - pcb->snd_una;
    uint32_t unsent = queued > flight ? queued - flight : 0;
    return handed > unsent ? handed - unsent : 0;
}

int ip3_stream_id(int n)
{
    return n == 0 ? 1 : n + 2;
}

/* ---- Cookies ---- */

static const char cookie_chars[] = "abcdefghijklmnopqrstuvwxyz234567";

void ip3_make_cookie(char cookie[IP3_COOKIE_SIZE], const uint8_t random[IP3_COOKIE_SIZE - 1])
{
    for (int i = 0; i < IP3_COOKIE_SIZE - 1; i++)
        cookie[i] = cookie_chars[random[i] % (sizeof(cookie_chars) - 1)];
    cookie[IP3_COOKIE_SIZE - 1] = '\0';
}

bool ip3_cookie_valid(const char c[IP3_COOKIE_SIZE])
{
    for (int i = 0; i < IP3_COOKIE_SIZE - 1; i++)
        if (c[i] == '\0' || !strchr(cookie_chars, c[i]))
            return false;
    return c[IP3_COOKIE_SIZE - 1] == '\0';
}

/* ---- Framing ---- */

void ip3_put_len(uint8_t hdr[4], uint32_t len)
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
}

#define IP3_RX_MAX (IP3_JSON_MAX + 64) /* one message, its header and a few states */

int ip3_rx_append(struct ip3_rx *rx, const void *data, size_t n)
{
    if (n > IP3_RX_MAX - rx->len)
        return -1;
    if (rx->len + n > rx->cap) {
        size_t cap = rx->cap ? rx->cap : 512;
        while (cap < rx->len + n)
            cap *= 2;
        if (cap > IP3_RX_MAX)
            cap = IP3_RX_MAX;
        uint8_t *b = realloc(rx->buf, cap);
        if (!b)
            return -1;
        rx->buf = b;
        rx->cap = cap;
    }
    memcpy(rx->buf + rx->len, data, n);
    rx->len += n;
    return 0;
}

static void rx_consume(struct ip3_rx *rx, size_t n)
{
    memmove(rx->buf, rx->buf + n, rx->len - n);
    rx->len -= n;
}

int ip3_rx_take(struct ip3_rx *rx, void *out, size_t n)
{
    if (rx->len < n)
        return 0;
    memcpy(out, rx->buf, n);
    rx_consume(rx, n);
    return 1;
}

int ip3_rx_take_state(struct ip3_rx *rx, int *state)
{
    int8_t b;
    if (!ip3_rx_take(rx, &b, 1))
        return 0;
    *state = b;
    return 1;
}

int ip3_rx_take_json(struct ip3_rx *rx, char **text, size_t *len)
{
    if (rx->len < 4)
        return 0;
    const uint8_t *h = rx->buf;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n > IP3_JSON_MAX)
        return -1;
    if (rx->len < 4 + (size_t)n)
        return 0;
    char *t = malloc((size_t)n + 1);
    if (!t)
        return -1;
    memcpy(t, rx->buf + 4, n);
    t[n] = '\0';
    rx_consume(rx, 4 + (size_t)n);
    *text = t;
    *len = n;
    return 1;
}

void ip3_rx_free(struct ip3_rx *rx)
{
    free(rx->buf);
    memset(rx, 0, sizeof(*rx));
}

/* ---- Control connection ---- */

int ip3_ctrl_pull(struct ip3_ctrl *c)
{
    uint8_t buf[4096];
    while (!c->err) {
        ssize_t n = us_tcp_recv(c->pcb, buf, sizeof(buf), false);
        if (n == -EAGAIN)
            return 0;
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        if (n < 0)
            c->err = (int)-n;
        else if (ip3_rx_append(&c->rx, buf, (size_t)n) != 0)
            c->err = EMSGSIZE;
    }
    return -1;
}

int ip3_ctrl_flush(struct ip3_ctrl *c)
{
    while (c->out_len && !c->err) {
        ssize_t n = us_tcp_send(c->pcb, c->out, c->out_len, false);
        if (n == 0)
            return 0;
        if (n < 0) {
            c->err = (int)-n;
            break;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    return c->err ? -1 : 0;
}

static int queue_out(struct ip3_ctrl *c, const uint8_t *data, size_t len)
{
    if (c->out_len + len > 2 * IP3_RX_MAX) {
        c->err = ENOBUFS;
        return -1;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_len + len;
        uint8_t *b = realloc(c->out, cap);
        if (!b) {
            c->err = ENOMEM;
            return -1;
        }
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

int ip3_ctrl_send(struct ip3_ctrl *c, const void *data, size_t len)
{
    if (c->err)
        return -1;
    if (queue_out(c, data, len) != 0)
        return -1;
    return ip3_ctrl_flush(c);
}

int ip3_ctrl_send_state(struct ip3_ctrl *c, int state)
{
    int8_t b = (int8_t)state;
    return ip3_ctrl_send(c, &b, 1);
}

int ip3_ctrl_send_json(struct ip3_ctrl *c, const char *json, size_t len)
{
    uint8_t hdr[4];
    ip3_put_len(hdr, (uint32_t)len);
    if (c->err || queue_out(c, hdr, 4) != 0)
        return -1;
    return ip3_ctrl_send(c, json, len);
}

void ip3_ctrl_free(struct ip3_ctrl *c)
{
    ip3_rx_free(&c->rx);
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
}

/* ---- Numbers ---- */

static void format_unit(char *buf, size_t len, double v, double base, const char *const *labels)
{
    int conv = 0;
    while (v >= base && conv < 4) {
        v /= base;
        conv++;
    }
    /* Four places: #.##, ##.#, ### or #### (iperf3's unit_snprintf). */
    const char *fmt = v < 9.995 ? "%4.2f %s" : v < 99.95 ? "%4.1f %s" : "%4.0f %s";
    snprintf(buf, len, fmt, v, labels[conv]);
}

void ip3_format_bytes(char *buf, size_t len, double bytes)
{
    static const char *const labels[] = {"Byte", "KByte", "MByte", "GByte", "TByte"};
    format_unit(buf, len, bytes, 1024.0, labels);
}

void ip3_format_bits(char *buf, size_t len, double bytes_per_sec)
{
    static const char *const labels[] = {"bit", "Kbit", "Mbit", "Gbit", "Tbit"};
    format_unit(buf, len, bytes_per_sec * 8, 1000.0, labels);
}

static us_time_t timeval_ns(const struct timeval *tv)
{
    return (us_time_t)tv->tv_sec * US_SEC + (us_time_t)tv->tv_usec * 1000;
}

void ip3_cpu_sample(struct ip3_cpu *c, us_time_t wall_now)
{
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    getrusage(RUSAGE_SELF, &ru);
    c->wall = wall_now;
    c->user = timeval_ns(&ru.ru_utime);
    c->system = timeval_ns(&ru.ru_stime);
}

void ip3_cpu_util(const struct ip3_cpu *a, const struct ip3_cpu *b, double *total, double *user,
                  double *system)
{
    double wall = b->wall > a->wall ? (double)(b->wall - a->wall) : 0;
    double u = b->user > a->user ? (double)(b->user - a->user) : 0;
    double s = b->system > a->system ? (double)(b->system - a->system) : 0;
    *user = wall > 0 ? u * 100 / wall : 0;
    *system = wall > 0 ? s * 100 / wall : 0;
    *total = *user + *system;
}
