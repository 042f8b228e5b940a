/* The `http` service on TCP port 80: HTTP/1.1 (RFC 9110, RFC 9112) with
 * persistent connections and pipelined requests answered in order.
 *
 *   GET /          a page with the stack's addresses, TCP connections and
 *                  counters
 *   GET /bytes/N   N bytes (0 <= N < 10^18) of the pattern "byte i is
 *                  i mod 251", streamed from a table, never held whole
 *   HEAD           the same heads without the bodies
 *
 * Anything else is 404 (unknown path), 405 (other methods) or 400 (a
 * malformed request, after which the connection closes). Every response
 * has a Content-Length.
 *
 * A request is parsed by peeking at the connection's receive buffer, so a
 * head arriving in pieces waits there and the connection state stays small;
 * it is read off only once answered. A response is queued as far as the send
 * buffer allows, and US_TCP_EV_WRITABLE continues it; the next pipelined
 * request is looked at only when the previous response is fully queued. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/netif.h"
#include "core/stack.h"
#include "core/timer.h"
#include "http.h"
#include "svc_tcp.h"

#ifndef USTACK_VERSION
#define USTACK_VERSION "0.1.0"
#endif

#define BYTES_PREFIX "/bytes/"
#define BYTES_MAX_DIGITS 18 /* N < 10^18 */
#define PAGE_MAX_CONNS 2000 /* connections listed on the page */
#define COUNTERS_MAX (64 * 1024)
/* A connection waiting for a request (or the rest of one) is closed after
 * this long: idle keep-alive connections and heads sent a byte at a time
 * do not hold state for ever. */
#define HTTP_IDLE_TIMEOUT (60 * US_SEC)

struct http_conn {
    struct svc_conn base;
    char *out; /* head and in-memory body still to queue */
    uint32_t out_len, out_off;
    uint64_t body_off, body_end; /* pattern bytes [off, end) still to queue */
    uint64_t skip;               /* request body bytes still to drop */
    bool responding;             /* a response is being queued */
    bool keep_alive;             /* the connection persists after it */
    struct us_timer idle;        /* runs while a request is awaited */
};

/* ---- A growing text buffer for the page ---- */

struct text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    for (int round = 0; round < 2 && !t->failed; round++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

/* Copies text with <, >, & escaped. */
static void text_add_escaped(struct text *t, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *esc = i == n        ? ""
                          : s[i] == '<' ? "&lt;"
                          : s[i] == '>' ? "&gt;"
                          : s[i] == '&' ? "&amp;"
                                        : NULL;
        if (!esc)
            continue;
        text_add(t, "%.*s%s", (int)(i - start), s + start, esc);
        start = i + 1;
    }
}

/* ---- The page at / ---- */

static void page_addresses(struct text *t, struct ustack *s)
{
    char a[64], m[32];
    text_add(t, "<h2>Interfaces</h2>\n<ul>\n");
    for (struct us_netif *nif = s->netifs; nif; nif = nif->next) {
        text_add(t, "<li>%s, MTU %" PRIu32, nif->name, nif->mtu);
        if (nif->type == US_LINK_ETHERNET)
            text_add(t, ", MAC %s", us_mac_str(&nif->mac, m, sizeof(m)));
        text_add(t, "<ul>\n");
        for (int i = 0; i < nif->naddrs; i++) {
            const struct us_addr *ad = &nif->addrs[i].addr;
            bool usable = ad->family == US_AF_INET && us_netif_has_addr4(nif, ad->v4);
            text_add(t, "<li>%s/%u%s</li>\n", us_addr_str(ad, a, sizeof(a)),
                     nif->addrs[i].prefix_len, usable ? "" : " (not in use)");
        }
        if (!us_addr_is_any(&nif->gw4) && nif->gw4.v4 != 0)
            text_add(t, "<li>gateway %s</li>\n", us_addr_str(&nif->gw4, a, sizeof(a)));
        text_add(t, "</ul></li>\n");
    }
    text_add(t, "</ul>\n");
}

static void page_conn_row(struct text *t, const struct us_tcp_pcb *p)
{
    char la[64], ra[64];
    us_addr_str(&p->local, la, sizeof(la));
    if (p->rport)
        us_addr_str(&p->remote, ra, sizeof(ra));
    else
        snprintf(ra, sizeof(ra), "*");
    text_add(t,
             "<tr><td>%s:%u</td><td>%s:%s%.0u</td><td>%s</td><td>%" PRIu32 "</td><td>%" PRIu32
             "</td><td>%" PRIu32 "</td><td>%.3f</td></tr>\n",
             la, p->lport, ra, p->rport ? "" : "*", p->rport, us_tcp_state_name(p->state),
             p->snd.len, p->rcv.unread, p->cwnd, (double)p->srtt / (double)US_MSEC);
}

static void page_connections(struct text *t, struct ustack *s)
{
    text_add(t, "<h2>TCP connections</h2>\n<table>\n<tr><th>local</th><th>remote</th>"
                "<th>state</th><th>send queue</th><th>receive queue</th><th>cwnd</th>"
                "<th>srtt (ms)</th></tr>\n");
    unsigned total = 0;
    for (const struct us_tcp_pcb *p = s->tcp.listeners; p; p = p->next)
        if (total++ < PAGE_MAX_CONNS)
            page_conn_row(t, p);
    for (int i = 0; i < TCP_HASH; i++)
        for (const struct us_tcp_pcb *p = s->tcp.conns[i]; p; p = p->next)
            if (total++ < PAGE_MAX_CONNS)
                page_conn_row(t, p);
    text_add(t, "</table>\n<p>%u in all.</p>\n", total);
}

static void page_counters(struct text *t, struct ustack *s)
{
    char *buf = malloc(COUNTERS_MAX);
    if (!buf) {
        t->failed = true;
        return;
    }
    size_t n = us_counters_format(s, buf, COUNTERS_MAX);
    if (n >= COUNTERS_MAX)
        n = COUNTERS_MAX - 1;
    text_add(t, "<h2>Counters</h2>\n<pre>\n");
    text_add_escaped(t, buf, n);
    text_add(t, "</pre>\n");
    free(buf);
}

static const char page_bytes_doc[] =
    "<h2>Test data</h2>\n"
    "<p><code>GET /bytes/N</code> returns N bytes (0 &lt;= N &lt; 10<sup>18</sup>), "
    "streamed: byte <i>i</i> of the body, counting from 0, is <i>i</i> mod 251. "
    "To check a download:</p>\n"
    "<pre>curl -s http://ADDRESS/bytes/1000000 | python3 -c 'import sys; "
    "d = sys.stdin.buffer.read(); p = bytes(range(251)); "
    "sys.exit(d != (p * (len(d) // 251 + 1))[:len(d)])'</pre>\n";

static char *page_build(struct ustack *s, size_t *len)
{
    struct text t = {0};
    text_add(&t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ustack</title>"
                 "</head>\n<body>\n<h1>ustack " USTACK_VERSION "</h1>\n"
                 "<p>A TCP/IP stack in user space.</p>\n");
    page_addresses(&t, s);
    page_connections(&t, s);
    text_add(&t, "%s", page_bytes_doc);
    page_counters(&t, s);
    text_add(&t, "</body></html>\n");
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}

/* ---- Responses ---- */

/* Queues a response: the head, then body_len bytes of body (or pattern_len
 * bytes of the pattern); HEAD gets the head only. */
static void respond(struct http_conn *h, int status, const char *ctype, const char *body,
                    size_t body_len, uint64_t pattern_len, bool head_only, bool keep_alive,
                    bool http10, const char *extra)
{
    char head[512];
    uint64_t length = body ? body_len : pattern_len;
    size_t hl = http_format_head(head, sizeof(head), status, ctype, length, keep_alive, http10,
                                 extra, time(NULL));
    size_t total = hl + (head_only || !body ? 0 : body_len);
    h->out = malloc(total);
    if (!h->out || hl == 0) {
        free(h->out);
        h->out = NULL;
        h->keep_alive = false; /* cannot answer: close */
        h->responding = true;
        return;
    }
    memcpy(h->out, head, hl);
    if (!head_only && body)
        memcpy(h->out + hl, body, body_len);
    h->out_len = (uint32_t)total;
    h->out_off = 0;
    h->body_off = 0;
    h->body_end = head_only || body ? 0 : pattern_len;
    h->keep_alive = keep_alive;
    h->responding = true;
}

static void respond_text(struct http_conn *h, int status, bool head_only, bool keep_alive,
                         bool http10, const char *extra)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
    respond(h, status, "text/plain; charset=utf-8", body, (size_t)n, 0, head_only, keep_alive,
            http10, extra);
}

/* N of /bytes/N: 1 to 18 digits. */
static bool parse_count(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > BYTES_MAX_DIGITS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* The path of the target, without the query: origin-form as it is,
 * absolute-form ("http://host/path") from the first '/' after the host. */
static void target_path(const struct http_request *req, const char **path, size_t *len)
{
    const char *p = req->target, *end = req->target + req->target_len;
    if (p < end && *p != '/') {
        const char *sep = memmem(p, (size_t)(end - p), "://", 3);
        p = sep ? sep + 3 : end;
        while (p < end && *p != '/')
            p++;
        if (p == end)
            p = "/", end = p + 1;
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    *path = p;
    *len = (size_t)((q ? q : end) - p);
}

static bool method_is(const struct http_request *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static void route(struct http_conn *h, const struct http_request *req)
{
    bool head_only = method_is(req, "HEAD"), http10 = req->minor == 0;
    bool keep = req->keep_alive;
    if (req->f.has_te) {
        /* A chunked request body we cannot frame: answer and close. */
        respond_text(h, 501, head_only, false, http10, NULL);
        return;
    }
    h->skip = req->f.has_length ? req->f.content_length : 0;
    if (!head_only && !method_is(req, "GET")) {
        respond_text(h, 405, false, keep, http10, "Allow: GET, HEAD\r\n");
        return;
    }
    const char *path;
    size_t len;
    target_path(req, &path, &len);
    uint64_t count;
    size_t plen = strlen(BYTES_PREFIX);
    if ((len == 1 && path[0] == '/') || (len == 11 && memcmp(path, "/index.html", 11) == 0)) {
        size_t page_len;
        char *page = page_build(h->base.svc->stack, &page_len);
        if (!page) {
            respond_text(h, 503, head_only, false, http10, NULL);
            return;
        }
        respond(h, 200, "text/html; charset=utf-8", page, page_len, 0, head_only, keep, http10,
                NULL);
        free(page);
    } else if (len > plen && memcmp(path, BYTES_PREFIX, plen) == 0 &&
               parse_count(path + plen, len - plen, &count)) {
        respond(h, 200, "application/octet-stream", NULL, 0, count, head_only, keep, http10, NULL);
    } else {
        respond_text(h, 404, head_only, keep, http10, NULL);
    }
}

/* ---- The connection ---- */

enum step { STEP_DONE, STEP_WAIT, STEP_GONE };

/* Sends what is pending, as far as the send buffer allows. MSG_MORE is
 * set while more follows at once, so a head and its body share segments. */
static enum step flush(struct http_conn *h)
{
    struct us_tcp_pcb *pcb = h->base.pcb;
    for (;;) {
        uint64_t out_left = h->out_len - h->out_off;
        uint64_t body_left = h->body_end - h->body_off;
        if (!out_left && !body_left)
            break;
        uint32_t room = us_tcp_writable(pcb);
        if (room == 0)
            return STEP_WAIT;
        const uint8_t *p;
        size_t n;
        if (out_left) {
            p = (const uint8_t *)h->out + h->out_off;
            n = out_left;
        } else {
            p = http_pattern_at(h->body_off, &n);
            if (n > body_left)
                n = (size_t)body_left;
        }
        if (n > room)
            n = room;
        bool more = n < room && n < out_left + body_left;
        ssize_t sent = us_tcp_send(pcb, p, n, more);
        if (sent <= 0) {
            svc_conn_close(&h->base);
            return STEP_GONE;
        }
        if (out_left)
            h->out_off += (uint32_t)sent;
        else
            h->body_off += (uint64_t)sent;
    }
    free(h->out);
    h->out = NULL;
    h->out_len = h->out_off = 0;
    return STEP_DONE;
}

/* Drops the body of the request just answered. */
static enum step skip_body(struct http_conn *h)
{
    uint8_t *buf = h->base.svc->scratch;
    while (h->skip) {
        size_t want = h->skip < SVC_TCP_SCRATCH ? (size_t)h->skip : SVC_TCP_SCRATCH;
        ssize_t n = us_tcp_recv(h->base.pcb, buf, want, false);
        if (n == -EAGAIN)
            return STEP_WAIT;
        if (n <= 0) {
            svc_conn_close(&h->base);
            return STEP_GONE;
        }
        h->skip -= (uint64_t)n;
    }
    return STEP_DONE;
}

/* Looks for the next request in the receive buffer and answers it. */
static enum step next_request(struct http_conn *h)
{
    struct us_tcp_pcb *pcb = h->base.pcb;
    char *buf = (char *)h->base.svc->scratch;
    uint32_t avail = us_tcp_readable(pcb);
    if (avail == 0 && !us_tcp_eof(pcb))
        return STEP_WAIT;
    ssize_t n = us_tcp_recv(pcb, buf, avail < HTTP_MAX_HEAD ? avail : HTTP_MAX_HEAD, true);
    if (n <= 0) {
        svc_conn_close(&h->base); /* the client is done */
        return STEP_GONE;
    }
    struct http_request req;
    switch (http_parse_request(buf, (size_t)n, &req)) {
    case HTTP_INCOMPLETE:
        if (!us_tcp_eof(pcb))
            return STEP_WAIT;
        svc_conn_close(&h->base); /* cut short: nothing to answer */
        return STEP_GONE;
    case HTTP_BAD:
        respond_text(h, 400, false, false, false, NULL);
        return STEP_DONE; /* the close drops the rest */
    case HTTP_OK:
        break;
    }
    us_timer_cancel(h->base.svc->stack, &h->idle);
    route(h, &req);
    us_tcp_recv(pcb, buf, req.head_len, false); /* answered: read it off */
    return STEP_DONE;
}

static void http_pump(struct svc_conn *c)
{
    struct http_conn *h = (struct http_conn *)c;
    for (;;) {
        enum step st = flush(h);
        if (st != STEP_DONE)
            return;
        if (h->responding) {
            h->responding = false;
            if (!h->keep_alive) {
                svc_conn_close(c);
                return;
            }
        }
        if ((st = skip_body(h)) != STEP_DONE || (st = next_request(h)) != STEP_DONE) {
            if (st == STEP_WAIT && !us_timer_armed(&h->idle)) {
                struct ustack *s = h->base.svc->stack;
                us_timer_arm(s, &h->idle, us_now(s) + HTTP_IDLE_TIMEOUT);
            }
            return;
        }
    }
}

static void idle_expired(struct ustack *s, struct us_timer *t)
{
    (void)s;
    svc_conn_close(&us_container_of(t, struct http_conn, idle)->base);
}

static void http_open(struct svc_conn *c)
{
    us_timer_init(&((struct http_conn *)c)->idle, idle_expired);
    c->pcb->nodelay = true; /* a response's tail need not wait for an ACK */
    http_pump(c);
}

static void http_event(struct svc_conn *c, unsigned events)
{
    (void)events;
    http_pump(c);
}

static void http_release(struct svc_conn *c)
{
    struct http_conn *h = (struct http_conn *)c;
    us_timer_cancel(c->svc->stack, &h->idle);
    free(h->out);
    h->out = NULL;
}

const struct svc_tcp_def svc_http = {
    .name = "http",
    .port = 80,
    .conn_size = sizeof(struct http_conn),
    .open = http_open,
    .event = http_event,
    .release = http_release,
};
