/* HTTP in the `ustack` tool: the request and response-head parsers, the
 * response head formatting, the chunked decoder and the URL parser of
 * `ustack get` (apps/http_*.c), the /bytes/N pattern, and the `http` and TCP
 * `echo` services (apps/svc_http.c, apps/svc_tcp*.c) run on one stack and
 * spoken to from a second one over the in-memory wire on a virtual clock.
 * apps/ is not in the library, so its sources are compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/http_chunked.c"
#include "../../apps/http_format.c"
#include "../../apps/http_parse.c"
#include "../../apps/http_pattern.c"
#include "../../apps/http_url.c"
#include "../../apps/svc_http.c"
#include "../../apps/svc_tcp.c"
#include "../../apps/svc_tcp_echo.c"
#include "ustack/link.h"

/* ---- Request parser ---- */

static enum http_parse_result parse_req(const char *text, struct http_request *req)
{
    return http_parse_request(text, strlen(text), req);
}

static void test_request_simple(void **state)
{
    (void)state;
    struct http_request req;
    const char *text = "GET /bytes/10 HTTP/1.1\r\nHost: 10.0.0.2\r\nAccept: */*\r\n\r\nextra";
    assert_int_equal(parse_req(text, &req), HTTP_OK);
    assert_int_equal(req.method_len, 3);
    assert_memory_equal(req.method, "GET", 3);
    assert_int_equal(req.target_len, 9);
    assert_memory_equal(req.target, "/bytes/10", 9);
    assert_int_equal(req.minor, 1);
    assert_true(req.keep_alive);
    assert_int_equal(req.head_len, strlen(text) - strlen("extra"));
    assert_false(req.f.has_length);
}

static void test_request_keep_alive_rules(void **state)
{
    (void)state;
    struct http_request req;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &req),
                     HTTP_OK);
    assert_false(req.keep_alive);
    assert_int_equal(
        parse_req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", &req),
        HTTP_OK);
    assert_false(req.keep_alive);
    assert_int_equal(parse_req("GET / HTTP/1.0\r\n\r\n", &req), HTTP_OK);
    assert_int_equal(req.minor, 0);
    assert_false(req.keep_alive);
    assert_int_equal(parse_req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req), HTTP_OK);
    assert_true(req.keep_alive);
    /* A later minor version is read as 1.1 (RFC 9110 2.5). */
    assert_int_equal(parse_req("GET / HTTP/1.7\r\nHost: a\r\n\r\n", &req), HTTP_OK);
    assert_true(req.keep_alive);
}

static void test_request_framing_fields(void **state)
{
    (void)state;
    struct http_request req;
    assert_int_equal(parse_req("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length:  42 \r\n\r\n", &req),
                     HTTP_OK);
    assert_true(req.f.has_length);
    assert_int_equal(req.f.content_length, 42);
    /* The same value twice, or as a list, is one length (RFC 9110 8.6). */
    assert_int_equal(
        parse_req(
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n",
            &req),
        HTTP_OK);
    assert_int_equal(req.f.content_length, 7);
    assert_int_equal(
        parse_req("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &req),
        HTTP_OK);
    assert_true(req.f.has_te);
    assert_true(req.f.chunked);
    assert_false(req.keep_alive); /* a body we cannot frame: the connection ends */
}

static void test_request_lenient_where_allowed(void **state)
{
    (void)state;
    struct http_request req;
    /* Empty lines before the request line, bare LF line ends (RFC 9112 2.2). */
    const char *text = "\r\n\r\nGET /a HTTP/1.1\nHost: a\n\n";
    assert_int_equal(parse_req(text, &req), HTTP_OK);
    assert_int_equal(req.head_len, strlen(text));
    assert_memory_equal(req.target, "/a", 2);
    /* Absolute form and asterisk form. */
    assert_int_equal(parse_req("GET http://10.0.0.2/x?y HTTP/1.1\r\nHost: a\r\n\r\n", &req),
                     HTTP_OK);
    assert_int_equal(parse_req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &req), HTTP_OK);
}

static void test_request_incomplete(void **state)
{
    (void)state;
    struct http_request req;
    assert_int_equal(parse_req("", &req), HTTP_INCOMPLETE);
    assert_int_equal(parse_req("GE", &req), HTTP_INCOMPLETE);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\n", &req), HTTP_INCOMPLETE);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nHost: a\r\n", &req), HTTP_INCOMPLETE);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nHost: a\r\n\r", &req), HTTP_INCOMPLETE);
}

static void test_request_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "GET /\r\n\r\n",                                /* no version */
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",            /* major version 2 */
        "GET / HTTP/1.10\r\nHost: a\r\n\r\n",           /* not DIGIT.DIGIT */
        "GET / http/1.1\r\nHost: a\r\n\r\n",            /* case matters */
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",           /* two spaces */
        "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",           /* trailing space */
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",            /* not a token */
        "GET x HTTP/1.1\r\nHost: a\r\n\r\n",            /* not a target form */
        "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",         /* space in target */
        "GET / HTTP/1.1\r\n\r\n",                       /* no Host in 1.1 */
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* two Hosts */
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",           /* space before colon */
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",         /* bare CR */
        "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", /* no colon */
        "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",     /* empty name */
        "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", /* control character */
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_request req;
        if (parse_req(bad[i], &req) != HTTP_BAD)
            fail_msg("accepted: %s", bad[i]);
    }
}

/* Garbage is refused as soon as it is seen, not when a head would end. */
static void test_request_bad_early(void **state)
{
    (void)state;
    struct http_request req;
    const char tls[] = "\x16\x03\x01\x02\x00\x01";
    assert_int_equal(http_parse_request(tls, sizeof(tls) - 1, &req), HTTP_BAD);
    assert_int_equal(parse_req("BAD LINE\r\n", &req), HTTP_BAD);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nBad Field\r\n", &req), HTTP_BAD);
}

/* The head may be 8192 bytes; one more is a bad request (the parser is
 * given at most that much more than the limit, as the service does). */
static void test_request_size_limit(void **state)
{
    (void)state;
    const char *start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    char *buf = malloc(HTTP_MAX_HEAD + 64);
    for (size_t total = HTTP_MAX_HEAD - 1; total <= HTTP_MAX_HEAD + 1; total++) {
        size_t pad = total - strlen(start) - 4;
        strcpy(buf, start);
        memset(buf + strlen(start), 'p', pad);
        memcpy(buf + strlen(start) + pad, "\r\n\r\n", 4);
        struct http_request req;
        size_t give = total < HTTP_MAX_HEAD ? total : HTTP_MAX_HEAD;
        enum http_parse_result r = http_parse_request(buf, give, &req);
        if (total <= HTTP_MAX_HEAD) {
            assert_int_equal(r, HTTP_OK);
            assert_int_equal(req.head_len, total);
        } else {
            assert_int_equal(r, HTTP_BAD);
        }
    }
    /* No line end at all within the limit. */
    memset(buf, 'A', HTTP_MAX_HEAD);
    struct http_request req;
    assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD, &req), HTTP_BAD);
    assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD - 1, &req), HTTP_INCOMPLETE);
    free(buf);
}

/* ---- Response heads ---- */

static void test_response_parse(void **state)
{
    (void)state;
    struct http_response r;
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
    assert_int_equal(http_parse_response(ok, strlen(ok), &r), HTTP_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.minor, 1);
    assert_true(r.f.has_length);
    assert_int_equal(r.f.content_length, 5);
    assert_int_equal(r.head_len, strlen(ok) - 5);

    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    assert_int_equal(http_parse_response(chunked, strlen(chunked), &r), HTTP_OK);
    assert_true(r.f.has_te);
    assert_true(r.f.chunked);
    const char *not_last = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
    assert_int_equal(http_parse_response(not_last, strlen(not_last), &r), HTTP_OK);
    assert_false(r.f.chunked); /* the body then runs to the end of the connection */

    const char *no_reason = "HTTP/1.0 404\r\n\r\n";
    assert_int_equal(http_parse_response(no_reason, strlen(no_reason), &r), HTTP_OK);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.minor, 0);

    assert_int_equal(http_parse_response("HTTP/1.1 200 OK\r\n", 17, &r), HTTP_INCOMPLETE);
    static const char *const bad[] = {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
                                      "HTTP/1.1 099 Low\r\n\r\n", "ICY 200 OK\r\n\r\n",
                                      "HTTP/1.1 200 OK\r\nBad Field\r\n\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (http_parse_response(bad[i], strlen(bad[i]), &r) != HTTP_BAD)
            fail_msg("accepted: %s", bad[i]);
}

static void test_format_head(void **state)
{
    (void)state;
    char buf[512];
    /* 2026-11-30 08:15:02 UTC */
    size_t n =
        http_format_head(buf, sizeof(buf), 200, "text/plain", 12345, true, false, NULL, 1796026502);
    const char *want = "HTTP/1.1 200 OK\r\n"
                       "Date: Mon, 30 Nov 2026 08:15:02 GMT\r\n"
                       "Server: ustack/" USTACK_VERSION "\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 12345\r\n"
                       "\r\n";
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);

    n = http_format_head(buf, sizeof(buf), 404, NULL, 0, false, false, "Allow: GET\r\n", 0);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 0\r\nConnection: close\r\nAllow: GET\r\n\r\n"));
    assert_null(strstr(buf, "Content-Type"));

    /* HTTP/1.0 is told when the connection stays. */
    n = http_format_head(buf, sizeof(buf), 200, NULL, 1, true, true, NULL, 0);
    assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));

    /* The head round-trips through the client's parser. */
    struct http_response r;
    n = http_format_head(buf, sizeof(buf), 200, "a/b", 10000000000ULL, true, false, NULL, 0);
    assert_int_equal(http_parse_response(buf, n, &r), HTTP_OK);
    assert_int_equal(r.head_len, n);
    assert_int_equal(r.f.content_length, 10000000000ULL);

    /* Too small a buffer: nothing. */
    assert_int_equal(http_format_head(buf, 40, 200, "text/plain", 1, true, false, NULL, 0), 0);
    assert_string_equal(http_reason(405), "Method Not Allowed");
    assert_string_equal(http_reason(799), "Unknown");
}

/* ---- Chunked bodies ---- */

/* Decodes text fed in pieces of step bytes; returns the body (malloc'd)
 * and the result of the last call. */
static enum http_chunk_result decode(const char *text, size_t len, size_t step, char **body,
                                     size_t *body_len, size_t *used_total)
{
    struct http_chunked c;
    http_chunked_init(&c);
    *body = malloc(len + 1);
    *body_len = 0;
    *used_total = 0;
    enum http_chunk_result r = HTTP_CHUNK_MORE;
    size_t off = 0;
    while (off < len && r == HTTP_CHUNK_MORE) {
        size_t avail = len - off < step ? len - off : step;
        size_t piece_off = 0;
        while (piece_off < avail && r == HTTP_CHUNK_MORE) {
            size_t used, dlen;
            const uint8_t *data;
            r = http_chunked_feed(&c, (const uint8_t *)text + off + piece_off, avail - piece_off,
                                  &used, &data, &dlen);
            if (dlen)
                memcpy(*body + *body_len, data, dlen);
            *body_len += dlen;
            piece_off += used;
            if (used == 0 && r == HTTP_CHUNK_MORE)
                fail_msg("no progress");
        }
        off += piece_off;
    }
    *used_total = off;
    return r;
}

static void test_chunked_good(void **state)
{
    (void)state;
    const char *text = "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n"
                       "0\r\nTrailer: x\r\nOther: y\r\n\r\nNEXT";
    size_t len = strlen(text);
    for (size_t step = 1; step <= len; step++) {
        char *body;
        size_t body_len, used;
        assert_int_equal(decode(text, len, step, &body, &body_len, &used), HTTP_CHUNK_DONE);
        assert_int_equal(body_len, 16);
        assert_memory_equal(body, "hello 0123456789", 16);
        assert_int_equal(used, len - 4); /* "NEXT" is not the body's */
        free(body);
    }
    /* Bare LF line ends, upper-case hex, no trailer. */
    const char *lf = "1F\n0123456789abcdef0123456789abcde\n0\n\n";
    char *body;
    size_t body_len, used;
    assert_int_equal(decode(lf, strlen(lf), 7, &body, &body_len, &used), HTTP_CHUNK_DONE);
    assert_int_equal(body_len, 31);
    free(body);
}

static void test_chunked_incomplete_and_bad(void **state)
{
    (void)state;
    char *body;
    size_t body_len, used;
    const char *cut = "5\r\nhel";
    assert_int_equal(decode(cut, strlen(cut), 100, &body, &body_len, &used), HTTP_CHUNK_MORE);
    assert_int_equal(body_len, 3);
    free(body);
    static const char *const bad[] = {
        "x\r\n",                /* not hex */
        "\r\n",                 /* no size */
        "5\r\nhelloX\r\n",      /* no CRLF after the data */
        "5\r\nhello\rX",        /* CR without LF */
        "5\rX",                 /* CR without LF after the size */
        "1000000000000000\r\n", /* 16 hex digits: too large */
        "-5\r\n",               /* a sign */
        "0\r\n\rX",             /* the final CRLF broken */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (decode(bad[i], strlen(bad[i]), 3, &body, &body_len, &used) != HTTP_CHUNK_BAD)
            fail_msg("accepted: %s", bad[i]);
        free(body);
    }
}

/* ---- URLs ---- */

static void test_url_good(void **state)
{
    (void)state;
    struct http_url u;
    char err[128];
    assert_int_equal(http_url_parse("http://10.77.0.2/bytes/10", &u, err, sizeof(err)), 0);
    assert_int_equal(u.addr, htonl(0x0a4d0002));
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/bytes/10");
    assert_string_equal(u.host, "10.77.0.2");
    assert_int_equal(http_url_parse("HTTP://10.0.0.1:8080", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_string_equal(u.host, "10.0.0.1:8080");
    assert_int_equal(http_url_parse("http://10.0.0.1:80/a?b=c", &u, err, sizeof(err)), 0);
    assert_string_equal(u.path, "/a?b=c");
    assert_string_equal(u.host, "10.0.0.1");
    assert_int_equal(http_url_parse("http://10.0.0.1#frag", &u, err, sizeof(err)), 0);
    assert_string_equal(u.path, "/");
}

static void test_url_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "https://10.0.0.1/",
        "10.0.0.1/",
        "http://",
        "http:///x",
        "http://example.com/",
        "http://10.0.0/",
        "http://10.0.0.1:0/",
        "http://10.0.0.1:65536/",
        "http://10.0.0.1:/",
        "http://10.0.0.1:8x/",
        "http://u@10.0.0.1/",
        "http://10.0.0.1/a b",
        "http://10.0.0.1/a#b",
        "http://10.0.0.1?q",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_url u;
        char err[128] = "";
        if (http_url_parse(bad[i], &u, err, sizeof(err)) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(err) > 0);
    }
}

/* ---- The /bytes/N pattern ---- */

static void test_pattern(void **state)
{
    (void)state;
    assert_int_equal(http_pattern_byte(0), 0);
    assert_int_equal(http_pattern_byte(250), 250);
    assert_int_equal(http_pattern_byte(251), 0);
    assert_int_equal(http_pattern_byte(10000000000ULL), 10000000000ULL % 251);
    static const uint64_t offs[] = {0, 1, 250, 251, 65535, 1000000007, 9999999999ULL};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        size_t avail;
        const uint8_t *p = http_pattern_at(offs[i], &avail);
        assert_true(avail >= 65536);
        for (size_t j = 0; j < avail; j += 997)
            assert_int_equal(p[j], http_pattern_byte(offs[i] + j));
        assert_int_equal(p[avail - 1], http_pattern_byte(offs[i] + avail - 1));
        assert_int_equal(http_pattern_check(p, avail, offs[i]), -1);
    }
    uint8_t buf[600];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = http_pattern_byte(1000 + i);
    assert_int_equal(http_pattern_check(buf, sizeof(buf), 1000), -1);
    assert_int_equal(http_pattern_check(buf, sizeof(buf), 1001), 0);
    buf[377] ^= 1;
    assert_int_equal(http_pattern_check(buf, sizeof(buf), 1000), 377);
}

/* ---- The services, over the in-memory wire ---- */

struct side {
    struct ustack *s;
    struct us_netif *nif;
};

struct client {
    struct us_tcp_pcb *pcb;
    const uint8_t *out;
    size_t out_len, sent;
    uint8_t *in;
    size_t in_len, in_cap;
    bool shut_when_sent; /* half-close once everything is sent */
    bool eof, failed, shut;
    bool paused; /* not reading: the receive window closes */
};

static void client_pump(struct client *c)
{
    while (c->sent < c->out_len) {
        ssize_t n = us_tcp_send(c->pcb, c->out + c->sent, c->out_len - c->sent, false);
        if (n <= 0)
            break;
        c->sent += (size_t)n;
    }
    if (c->sent == c->out_len && c->shut_when_sent && !c->shut &&
        c->pcb->state == TCPS_ESTABLISHED) {
        c->shut = true;
        us_tcp_shutdown(c->pcb, SHUT_WR);
    }
    while (!c->paused) {
        ssize_t n = us_tcp_recv(c->pcb, c->in + c->in_len, c->in_cap - c->in_len, false);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0 && c->in_cap > c->in_len)
            c->eof = true;
        else if (n < 0 && n != -EAGAIN)
            c->failed = true;
        return;
    }
}

static void client_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    (void)pcb;
    struct client *c = ctx;
    if (ev & US_TCP_EV_ERROR)
        c->failed = true;
    client_pump(c);
}

static void make_side(struct side *sd, struct us_memwire *w, int end, const char *ip)
{
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = 42 + (uint64_t)end;
    cfg.start_time = 1000 * US_SEC;
    cfg.log_level = getenv("SIM_LOG") ? (enum us_log_level)atoi(getenv("SIM_LOG")) : US_LOG_ERROR;
    sd->s = us_stack_new(&cfg);
    assert_non_null(sd->s);
    struct us_netif_config nc = {.name = "sim", .type = US_LINK_ETHERNET, .mtu = 1500};
    nc.mac.b[0] = 2;
    nc.mac.b[5] = (uint8_t)(end + 1);
    struct us_driver drv = us_memwire_driver(w, end);
    sd->nif = us_netif_add(sd->s, &nc, &drv);
    us_memwire_attach(w, end, sd->nif);
    struct us_addr a;
    us_addr_parse(ip, &a);
    assert_int_equal(us_netif_add_addr(sd->nif, &a, 24), 0);
}

struct world {
    struct us_memwire *w;
    struct side cli, srv;
    struct svc_tcp *svc;
    struct client c;
};

static void world_start(struct world *wd, const struct svc_tcp_def *def, const void *out,
                        size_t out_len, size_t in_cap, uint32_t client_rcvbuf)
{
    memset(wd, 0, sizeof(*wd));
    wd->w = us_memwire_new();
    make_side(&wd->cli, wd->w, 0, "10.0.0.1");
    make_side(&wd->srv, wd->w, 1, "10.0.0.2");
    wd->svc = calloc(1, sizeof(*wd->svc));
    assert_int_equal(svc_tcp_start(wd->svc, def, wd->srv.s), 0);
    wd->c.out = out;
    wd->c.out_len = out_len;
    wd->c.in = malloc(in_cap);
    wd->c.in_cap = in_cap;
    wd->c.pcb = us_tcp_new(wd->cli.s, client_event, &wd->c);
    if (client_rcvbuf)
        assert_int_equal(us_tcp_set_bufsizes(wd->c.pcb, 0, client_rcvbuf), 0);
    struct us_addr dst;
    us_addr_parse("10.0.0.2", &dst);
    assert_int_equal(us_tcp_connect(wd->c.pcb, &dst, def->port), 0);
}

/* Runs both stacks on the virtual clock until the client saw the end of
 * the stream (or failed), nothing is left to do, or two minutes passed. */
static void world_run(struct world *wd)
{
    us_time_t now = wd->cli.s->now, limit = now + 120 * US_SEC;
    while (now < limit && !wd->c.eof && !wd->c.failed) {
        us_memwire_deliver(wd->w, 0);
        if (wd->c.eof || wd->c.failed)
            break;
        us_time_t a = us_next_deadline(wd->cli.s), b = us_next_deadline(wd->srv.s);
        us_time_t next = a < b ? a : b;
        if (next == US_TIME_NEVER)
            break;
        now = next > now ? next : now + 1;
        us_poll(wd->cli.s, now);
        us_poll(wd->srv.s, now);
    }
}

/* The same with a link of limited rate (frames per 100 us) and a client
 * that stops reading for pause out of every 1.25 pause. */
static void world_run_paced(struct world *wd, int frames, us_time_t pause)
{
    us_time_t now = wd->cli.s->now, limit = now + 60 * US_SEC, toggle = now + pause;
    while (now < limit && !wd->c.eof && !wd->c.failed) {
        if (now >= toggle) {
            wd->c.paused = !wd->c.paused;
            toggle = now + (wd->c.paused ? pause : pause / 4);
            client_pump(&wd->c);
        }
        us_memwire_deliver(wd->w, frames);
        now += 100 * 1000;
        us_poll(wd->cli.s, now);
        us_poll(wd->srv.s, now);
    }
}

static void world_end(struct world *wd)
{
    us_tcp_abort(wd->c.pcb);
    svc_tcp_stop(wd->svc);
    us_memwire_deliver(wd->w, 0);
    us_stack_free(wd->cli.s);
    us_stack_free(wd->srv.s);
    us_memwire_free(wd->w);
    free(wd->svc);
    free(wd->c.in);
}

/* One response from in[*off..]: its status, and its body checked against
 * the pattern (or copied to body). */
static int next_response(struct world *wd, size_t *off, uint64_t *body_len, bool head_only,
                         char *body, size_t body_cap)
{
    struct http_response r;
    const char *p = (const char *)wd->c.in + *off;
    size_t avail = wd->c.in_len - *off;
    assert_int_equal(http_parse_response(p, avail, &r), HTTP_OK);
    assert_true(r.f.has_length);
    *body_len = r.f.content_length;
    size_t blen = head_only ? 0 : (size_t)r.f.content_length;
    assert_true(r.head_len + blen <= avail);
    if (body) {
        assert_true(blen < body_cap);
        memcpy(body, p + r.head_len, blen);
        body[blen] = '\0';
    } else {
        assert_int_equal(http_pattern_check((const uint8_t *)p + r.head_len, blen, 0), -1);
    }
    *off += r.head_len + blen;
    return r.status;
}

/* Pipelined requests on one connection, answered in order; the client's
 * small receive window makes the server wait for WRITABLE many times. */
static void test_http_service_pipelined(void **state)
{
    (void)state;
    const char *reqs = "GET /bytes/1000000 HTTP/1.1\r\nHost: s\r\n\r\n"
                       "HEAD /bytes/5 HTTP/1.1\r\nHost: s\r\n\r\n"
                       "POST /form HTTP/1.1\r\nHost: s\r\nContent-Length: 4\r\n\r\nabcd"
                       "GET /nope HTTP/1.1\r\nHost: s\r\n\r\n"
                       "GET /bytes/0 HTTP/1.1\r\nHost: s\r\n\r\n"
                       "GET /bytes/70000?x=1 HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n"
                       "GET /bytes/1 HTTP/1.1\r\nHost: s\r\n\r\n"; /* after close: unanswered */
    struct world wd;
    world_start(&wd, &svc_http, reqs, strlen(reqs), 4 << 20, 16384);
    world_run(&wd);
    assert_false(wd.c.failed);
    assert_true(wd.c.eof);
    size_t off = 0;
    uint64_t len;
    char body[256];
    assert_int_equal(next_response(&wd, &off, &len, false, NULL, 0), 200);
    assert_int_equal(len, 1000000);
    assert_int_equal(next_response(&wd, &off, &len, true, NULL, 0), 200);
    assert_int_equal(len, 5);
    assert_int_equal(next_response(&wd, &off, &len, false, body, sizeof(body)), 405);
    assert_int_equal(next_response(&wd, &off, &len, false, body, sizeof(body)), 404);
    assert_string_equal(body, "404 Not Found\n");
    assert_int_equal(next_response(&wd, &off, &len, false, NULL, 0), 200);
    assert_int_equal(len, 0);
    assert_int_equal(next_response(&wd, &off, &len, false, NULL, 0), 200);
    assert_int_equal(len, 70000);
    assert_int_equal(off, wd.c.in_len); /* nothing after the close */
    world_end(&wd);
}

static void test_http_service_bad_request(void **state)
{
    (void)state;
    const char *reqs = "GET /bytes/3 HTTP/1.1\r\nHost: s\r\n\r\n"
                       "\x16\x03\x01 not http at all\r\n\r\n"
                       "GET /bytes/3 HTTP/1.1\r\nHost: s\r\n\r\n";
    struct world wd;
    world_start(&wd, &svc_http, reqs, strlen(reqs), 1 << 16, 0);
    world_run(&wd);
    assert_true(wd.c.eof);
    size_t off = 0;
    uint64_t len;
    char body[256];
    assert_int_equal(next_response(&wd, &off, &len, false, NULL, 0), 200);
    assert_int_equal(next_response(&wd, &off, &len, false, body, sizeof(body)), 400);
    assert_non_null(memmem(wd.c.in, wd.c.in_len, "Connection: close\r\n", 19));
    assert_int_equal(off, wd.c.in_len);
    world_end(&wd);
}

/* A kept connection waiting for its next request, or a head that does not
 * end, is closed after a minute. */
static void test_http_service_idle_timeout(void **state)
{
    (void)state;
    static const char *const reqs[] = {"GET /bytes/1 HTTP/1.1\r\nHost: s\r\n\r\n",
                                       "GET /bytes/1 HTTP/1.1\r\nHo"};
    for (int i = 0; i < 2; i++) {
        struct world wd;
        world_start(&wd, &svc_http, reqs[i], strlen(reqs[i]), 4096, 0);
        us_time_t start = wd.cli.s->now;
        world_run(&wd);
        assert_true(wd.c.eof);
        us_time_t took = wd.cli.s->now - start;
        assert_true(took >= HTTP_IDLE_TIMEOUT && took < HTTP_IDLE_TIMEOUT + US_SEC);
        size_t off = 0;
        uint64_t len;
        if (i == 0) {
            assert_int_equal(next_response(&wd, &off, &len, false, NULL, 0), 200);
            assert_int_equal(len, 1);
        }
        assert_int_equal(off, wd.c.in_len); /* nothing but the answer, if any */
        assert_int_equal(wd.svc->nconns, 0);
        world_end(&wd);
    }
}

/* The page at / names the addresses, the listener and the counters. */
static void test_http_service_index(void **state)
{
    (void)state;
    const char *reqs = "GET / HTTP/1.0\r\n\r\n";
    struct world wd;
    world_start(&wd, &svc_http, reqs, strlen(reqs), 1 << 20, 0);
    world_run(&wd);
    assert_true(wd.c.eof);
    wd.c.in[wd.c.in_len < wd.c.in_cap ? wd.c.in_len : wd.c.in_cap - 1] = '\0';
    const char *page = (const char *)wd.c.in;
    assert_non_null(strstr(page, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(page, "Content-Type: text/html"));
    assert_non_null(strstr(page, "10.0.0.2/24"));
    assert_non_null(strstr(page, "<td>0.0.0.0:80</td><td>*:*</td><td>LISTEN</td>"));
    assert_non_null(strstr(page, "<td>10.0.0.2:80</td><td>10.0.0.1:"));
    assert_non_null(strstr(page, "tcp.rx "));
    assert_non_null(strstr(page, "mod 251"));
    world_end(&wd);
}

/* TCP echo: a megabyte comes back whole, and the half-close is answered
 * with a close once it is all sent. */
static void test_tcp_echo_service(void **state)
{
    (void)state;
    size_t len = 1 << 20;
    uint8_t *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 24);
    struct world wd;
    world_start(&wd, &svc_tcp_echo, data, len, len + 1, 0);
    wd.c.shut_when_sent = true;
    world_run(&wd);
    assert_false(wd.c.failed);
    assert_true(wd.c.eof);
    assert_int_equal(wd.c.in_len, len);
    assert_memory_equal(wd.c.in, data, len);
    assert_int_equal(wd.svc->nconns, 0);
    world_end(&wd);
    free(data);
}

/* Echo with a client that reads in bursts: the server's receive buffer
 * fills (echo stops reading while its send buffer is full) and the windows
 * go small. A regression test for two core defects: data inside an
 * advertised (rounded-up) window was dropped, and the two stacks answered
 * each other's out-of-window ACKs with ACKs for ever. */
static void test_tcp_echo_bursty_reader(void **state)
{
    (void)state;
    size_t len = 8 << 20;
    uint8_t *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 24);
    struct world wd;
    world_start(&wd, &svc_tcp_echo, data, len, len + 1, 65536);
    wd.c.shut_when_sent = true;
    world_run_paced(&wd, 30, 5 * US_MSEC);
    uint64_t acks = us_counter_get(wd.srv.s, "tcp.tx") + us_counter_get(wd.cli.s, "tcp.tx");
    fprintf(stderr, "received %zu of %zu, %llu segments sent\n", wd.c.in_len, len,
            (unsigned long long)acks);
    assert_true(wd.c.eof);
    assert_int_equal(wd.c.in_len, len);
    assert_memory_equal(wd.c.in, data, len);
    world_end(&wd);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_simple),
        cmocka_unit_test(test_request_keep_alive_rules),
        cmocka_unit_test(test_request_framing_fields),
        cmocka_unit_test(test_request_lenient_where_allowed),
        cmocka_unit_test(test_request_incomplete),
        cmocka_unit_test(test_request_bad),
        cmocka_unit_test(test_request_bad_early),
        cmocka_unit_test(test_request_size_limit),
        cmocka_unit_test(test_response_parse),
        cmocka_unit_test(test_format_head),
        cmocka_unit_test(test_chunked_good),
        cmocka_unit_test(test_chunked_incomplete_and_bad),
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_http_service_pipelined),
        cmocka_unit_test(test_http_service_bad_request),
        cmocka_unit_test(test_http_service_idle_timeout),
        cmocka_unit_test(test_http_service_index),
        cmocka_unit_test(test_tcp_echo_service),
        cmocka_unit_test(test_tcp_echo_bursty_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
