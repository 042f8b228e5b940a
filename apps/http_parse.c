/* HTTP/1.1 message heads (RFC 9112 sections 2 to 6): the request line, the
 * status line and the header fields that decide framing and persistence.
 * Strict where leniency lets requests be smuggled: no whitespace before a
 * field's colon, no obs-fold, no bare CR, one Content-Length value, no
 * Content-Length together with Transfer-Encoding. */
#include <string.h>
#include <strings.h>

#include "http.h"

#define CONTENT_LENGTH_MAX (1ULL << 62)

/* tchar of RFC 9110 5.6.2. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool all_tchars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)p[i]))
            return false;
    return n > 0;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One line of the head: [start, start+len) without its CRLF (or bare LF,
 * which RFC 9112 2.2 lets a recipient accept). */
struct line {
    const char *start;
    size_t len;
};

enum line_result { LINE_BAD = -1, LINE_NONE = 0, LINE_OK = 1 };

/* Finds the line starting at *pos; advances *pos past its end. */
static enum line_result next_line(const char *buf, size_t len, size_t *pos, struct line *out)
{
    const char *start = buf + *pos;
    const char *lf = memchr(start, '\n', len - *pos);
    if (!lf)
        return LINE_NONE;
    size_t n = (size_t)(lf - start);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    if (memchr(start, '\r', n)) /* a bare CR (RFC 9112 2.2) */
        return LINE_BAD;
    out->start = start;
    out->len = n;
    *pos = (size_t)(lf - buf) + 1;
    return LINE_OK;
}

/* ---- Field values ---- */

static bool value_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Calls fn on each comma-separated element of a list value, trimmed. */
static bool each_element(const char *p, size_t n, bool (*fn)(void *ctx, const char *e, size_t len),
                         void *ctx)
{
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && p[i] != ',')
            i++;
        size_t end = i;
        while (start < end && is_ows(p[start]))
            start++;
        while (end > start && is_ows(p[end - 1]))
            end--;
        if (end > start && !fn(ctx, p + start, end - start))
            return false;
        i++;
    }
    return true;
}

static bool token_is(const char *e, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(e, word, len) == 0;
}

static bool on_connection(void *ctx, const char *e, size_t len)
{
    struct http_fields *f = ctx;
    if (token_is(e, len, "close"))
        f->conn_close = true;
    else if (token_is(e, len, "keep-alive"))
        f->conn_keep_alive = true;
    return true;
}

/* RFC 9110 8.6: 1*DIGIT; a list of identical values may be taken as one. */
static bool on_content_length(void *ctx, const char *e, size_t len)
{
    struct http_fields *f = ctx;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (e[i] < '0' || e[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(e[i] - '0');
        if (v > CONTENT_LENGTH_MAX)
            return false;
    }
    if (f->has_length && f->content_length != v)
        return false;
    f->has_length = true;
    f->content_length = v;
    return true;
}

static bool on_transfer_coding(void *ctx, const char *e, size_t len)
{
    struct http_fields *f = ctx;
    size_t name_len = 0;
    while (name_len < len && e[name_len] != ';' && !is_ows(e[name_len]))
        name_len++;
    f->chunked = token_is(e, name_len, "chunked"); /* the last coding counts */
    return true;
}

/* One "name: value" line (RFC 9112 5). */
static bool parse_field(const struct line *ln, struct http_fields *f)
{
    if (ln->len == 0 || is_ows(ln->start[0])) /* obs-fold: rejected (RFC 9112 5.2) */
        return false;
    const char *colon = memchr(ln->start, ':', ln->len);
    if (!colon)
        return false;
    size_t name_len = (size_t)(colon - ln->start);
    if (!all_tchars(ln->start, name_len)) /* also refuses "Name :" (RFC 9112 5.1) */
        return false;
    const char *v = colon + 1;
    size_t vlen = ln->len - name_len - 1;
    while (vlen && is_ows(*v))
        v++, vlen--;
    while (vlen && is_ows(v[vlen - 1]))
        vlen--;
    if (!value_ok(v, vlen))
        return false;
    const char *name = ln->start;
    if (token_is(name, name_len, "Connection"))
        return each_element(v, vlen, on_connection, f);
    if (token_is(name, name_len, "Content-Length"))
        return vlen > 0 && each_element(v, vlen, on_content_length, f);
    if (token_is(name, name_len, "Transfer-Encoding")) {
        f->has_te = true;
        return each_element(v, vlen, on_transfer_coding, f);
    }
    if (token_is(name, name_len, "Host"))
        f->hosts++;
    return true;
}

/* "HTTP/1.x" (RFC 9112 2.3); only major version 1 is spoken. */
static bool parse_version(const char *p, size_t n, int *minor)
{
    if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
        return false;
    *minor = p[7] - '0';
    return true;
}

/* Reads field lines from *pos until the empty line. */
static enum http_parse_result parse_fields(const char *buf, size_t len, size_t *pos,
                                           struct http_fields *f)
{
    for (;;) {
        struct line ln = {0};
        enum line_result lr = next_line(buf, len, pos, &ln);
        if (lr == LINE_BAD)
            return HTTP_BAD;
        if (lr == LINE_NONE)
            return len >= HTTP_MAX_HEAD ? HTTP_BAD : HTTP_INCOMPLETE;
        if (*pos > HTTP_MAX_HEAD)
            return HTTP_BAD;
        if (ln.len == 0)
            return HTTP_OK;
        if (!parse_field(&ln, f))
            return HTTP_BAD;
    }
}

/* ---- Requests ---- */

/* RFC 9112 3.2: origin-form, absolute-form, authority-form (CONNECT) or
 * asterisk-form; any visible ASCII. */
static bool target_ok(const char *t, size_t n, bool connect)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return false;
    if (n == 0)
        return false;
    if (t[0] == '/' || connect || (n == 1 && t[0] == '*'))
        return true;
    const char *sep = memmem(t, n, "://", 3);
    return sep && all_tchars(t, (size_t)(sep - t));
}

/* method SP request-target SP HTTP-version (RFC 9112 3). */
static bool parse_request_line(const struct line *ln, struct http_request *req)
{
    const char *sp1 = memchr(ln->start, ' ', ln->len);
    if (!sp1)
        return false;
    const char *rest = sp1 + 1;
    size_t rest_len = ln->len - (size_t)(rest - ln->start);
    const char *sp2 = memchr(rest, ' ', rest_len);
    if (!sp2)
        return false;
    req->method = ln->start;
    req->method_len = (size_t)(sp1 - ln->start);
    req->target = rest;
    req->target_len = (size_t)(sp2 - rest);
    const char *version = sp2 + 1;
    size_t version_len = ln->len - (size_t)(version - ln->start);
    bool connect = token_is(req->method, req->method_len, "CONNECT");
    return all_tchars(req->method, req->method_len) &&
           target_ok(req->target, req->target_len, connect) &&
           parse_version(version, version_len, &req->minor);
}

enum http_parse_result http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t pos = 0;
    struct line ln = {0};
    enum line_result lr;
    /* RFC 9112 2.2: empty lines before the request line are ignored. */
    while ((lr = next_line(buf, len, &pos, &ln)) == LINE_OK && ln.len == 0)
        if (pos > HTTP_MAX_HEAD)
            return HTTP_BAD;
    if (lr == LINE_BAD)
        return HTTP_BAD;
    if (lr == LINE_NONE) {
        /* A request line that cannot start with a method is refused now. */
        size_t start = pos, n = len - pos;
        if (n && !is_tchar((unsigned char)buf[start]) && buf[start] != '\r')
            return HTTP_BAD;
        return len >= HTTP_MAX_HEAD ? HTTP_BAD : HTTP_INCOMPLETE;
    }
    if (pos > HTTP_MAX_HEAD || !parse_request_line(&ln, req))
        return HTTP_BAD;
    enum http_parse_result r = parse_fields(buf, len, &pos, &req->f);
    if (r != HTTP_OK)
        return r;
    req->head_len = pos;
    /* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one before. */
    if (req->f.hosts > 1 || (req->minor >= 1 && req->f.hosts == 0))
        return HTTP_BAD;
    /* RFC 9112 6.1: both framings at once is how requests get smuggled. */
    if (req->f.has_te && req->f.has_length)
        return HTTP_BAD;
    req->keep_alive =
        !req->f.conn_close && (req->minor >= 1 || req->f.conn_keep_alive) && !req->f.has_te;
    return HTTP_OK;
}

/* ---- Responses ---- */

/* HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 4); a missing SP
 * after the code is tolerated. */
static bool parse_status_line(const struct line *ln, struct http_response *r)
{
    const char *p = ln->start;
    if (ln->len < 12 || !parse_version(p, 8, &r->minor) || p[8] != ' ')
        return false;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        status = status * 10 + (p[i] - '0');
    }
    if (status < 100 || (ln->len > 12 && p[12] != ' '))
        return false;
    r->status = status;
    return value_ok(p + 12, ln->len - 12);
}

enum http_parse_result http_parse_response(const char *buf, size_t len, struct http_response *r)
{
    memset(r, 0, sizeof(*r));
    size_t pos = 0;
    struct line ln = {0};
    enum line_result lr = next_line(buf, len, &pos, &ln);
    if (lr == LINE_BAD)
        return HTTP_BAD;
    if (lr == LINE_NONE)
        return len >= HTTP_MAX_HEAD ? HTTP_BAD : HTTP_INCOMPLETE;
    if (pos > HTTP_MAX_HEAD || !parse_status_line(&ln, r))
        return HTTP_BAD;
    enum http_parse_result res = parse_fields(buf, len, &pos, &r->f);
    if (res != HTTP_OK)
        return res;
    r->head_len = pos;
    return HTTP_OK;
}
