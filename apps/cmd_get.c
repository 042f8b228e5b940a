/* `ustack get URL`: one HTTP/1.1 GET (RFC 9110, RFC 9112) from the stack.
 * The body goes to standard output or to the file of -o; the status line
 * and header fields go to stderr with -v. A body is framed by
 * Content-Length, by the chunked coding, or by the end of the connection
 * (RFC 9112 6.3). Exit status: 0 on success, 1 on an HTTP status of 400 or
 * more or a connection error (one line on stderr), 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "http.h"
#include "tcp_client.h"
#include "ustack/socket.h"

#define GET_BUF (64 * 1024)
#define GET_IDLE_MS 200

enum { GET_OPT_OUTPUT, GET_OPT_VERBOSE, GET_OPT_WAIT };

struct get_params {
    const char *output; /* NULL: standard output */
    bool verbose;
    us_time_t connect_timeout;
};

struct get {
    struct get_params p;
    const char *url_text;
    struct http_url url;
    struct tcp_client c;
    int out_fd;
    uint64_t received; /* body bytes written */
    size_t len;        /* bytes in buf */
    char buf[GET_BUF];
};

static int get_apply(void *ctx, int id, const char *opt, const char *value, char *err,
                     size_t errlen)
{
    struct get_params *p = ctx;
    switch (id) {
    case GET_OPT_OUTPUT:
        if (*value == '\0')
            return cli_invalid(err, errlen, opt, value, "a file name");
        p->output = value;
        return 0;
    case GET_OPT_VERBOSE:
        p->verbose = true;
        return 0;
    case GET_OPT_WAIT:
        return cli_parse_seconds(opt, value, 0.001, 86400, &p->connect_timeout, err, errlen);
    }
    return -1;
}

static const struct cli_opt get_opts[] = {
    {"--output", 'o', "FILE", "write the body to FILE instead of standard output", GET_OPT_OUTPUT},
    {"--verbose", 'v', NULL, "print the response's status line and header fields to stderr",
     GET_OPT_VERBOSE},
    {"--wait", 'w', "SECS", "give up connecting after SECS seconds", GET_OPT_WAIT},
};

static const char get_details[] =
    "URL is http://ADDRESS[:PORT][/PATH] with an IPv4 ADDRESS (there is no DNS).\n"
    "Exits 0 on success, 1 when the server answers with a status of 400 or more or\n"
    "the connection fails, 2 on bad usage.\n";

static void get_fail(const struct get *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void get_fail(const struct get *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ustack: get: %s: ", g->url_text);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- The connection ---- */

static int send_request(struct get *g)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ustack/" USTACK_VERSION
                     "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                     g->url.path, g->url.host);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        get_fail(g, "the URL is too long");
        return -1;
    }
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t sent = us_send(g->c.ifc.stack, g->c.sd, req + off, (size_t)n - off,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent >= 0) {
            off += (size_t)sent;
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            tcp_client_error(&g->c, "", errno);
            return -1;
        }
        if (tcp_client_wait(&g->c, POLLOUT, -1, GET_IDLE_MS, NULL) == TCP_WAIT_STOP)
            return -1;
    }
    return 0;
}

/* Appends received bytes to buf. 1 got some, 0 end of stream, -1 error or
 * stopped (message printed). */
static int receive(struct get *g)
{
    for (;;) {
        if (g->len == sizeof(g->buf))
            return 1;
        ssize_t n = us_recv(g->c.ifc.stack, g->c.sd, g->buf + g->len, sizeof(g->buf) - g->len,
                            MSG_DONTWAIT);
        if (n > 0) {
            g->len += (size_t)n;
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            tcp_client_error(&g->c, "", errno);
            return -1;
        }
        if (tcp_client_wait(&g->c, POLLIN, -1, GET_IDLE_MS, NULL) == TCP_WAIT_STOP)
            return -1;
    }
}

static void consume(struct get *g, size_t n)
{
    memmove(g->buf, g->buf + n, g->len - n);
    g->len -= n;
}

/* Reads the response head, skipping interim (1xx) responses. */
static int read_head(struct get *g, struct http_response *r)
{
    for (;;) {
        enum http_parse_result pr = http_parse_response(g->buf, g->len, r);
        if (pr == HTTP_BAD) {
            get_fail(g, "malformed response head");
            return -1;
        }
        if (pr == HTTP_OK) {
            if (g->p.verbose)
                fwrite(g->buf, 1, r->head_len, stderr);
            if (r->status >= 200 || r->status == 101)
                return 0;
            consume(g, r->head_len); /* 100 Continue and the like */
            continue;
        }
        int rc = receive(g);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            get_fail(g, "the connection closed before a response came");
            return -1;
        }
    }
}

/* ---- The body ---- */

static int write_body(struct get *g, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(g->out_fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "ustack: get: writing %s: %s\n",
                    g->p.output ? g->p.output : "standard output", strerror(errno));
            return -1;
        }
        p += n;
        len -= (size_t)n;
        g->received += (uint64_t)n;
    }
    return 0;
}

/* Content-Length, or until the end of the connection (length NULL). */
static int body_plain(struct get *g, const uint64_t *length)
{
    for (;;) {
        size_t n = g->len;
        if (length && n > *length - g->received)
            n = (size_t)(*length - g->received);
        if (n && write_body(g, g->buf, n) != 0)
            return -1;
        g->len = 0;
        if (length && g->received == *length)
            return 0;
        int rc = receive(g);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (!length)
                return 0;
            get_fail(g, "the connection closed after %" PRIu64 " of %" PRIu64 " bytes", g->received,
                     *length);
            return -1;
        }
    }
}

static int body_chunked(struct get *g)
{
    struct http_chunked ch;
    http_chunked_init(&ch);
    for (;;) {
        size_t off = 0;
        while (off < g->len) {
            size_t used, dlen;
            const uint8_t *data;
            enum http_chunk_result cr = http_chunked_feed(&ch, (const uint8_t *)g->buf + off,
                                                          g->len - off, &used, &data, &dlen);
            if (cr == HTTP_CHUNK_BAD) {
                get_fail(g, "malformed chunked body");
                return -1;
            }
            if (dlen && write_body(g, data, dlen) != 0)
                return -1;
            off += used;
            if (cr == HTTP_CHUNK_DONE)
                return 0;
        }
        g->len = 0;
        int rc = receive(g);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            get_fail(g, "the connection closed in the middle of the chunked body");
            return -1;
        }
    }
}

static int open_output(struct get *g)
{
    if (!g->p.output) {
        g->out_fd = STDOUT_FILENO;
        return 0;
    }
    g->out_fd = open(g->p.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (g->out_fd < 0) {
        fprintf(stderr, "ustack: get: cannot open %s: %s\n", g->p.output, strerror(errno));
        return -1;
    }
    return 0;
}

/* The status line without the version: "404 Not Found". */
static void print_status_error(struct get *g)
{
    const char *line = g->buf + 9;
    size_t n = strcspn(line, "\r\n");
    get_fail(g, "HTTP status %.*s", (int)n, line);
}

static int get_body(struct get *g, const struct http_response *r)
{
    consume(g, r->head_len);
    if (open_output(g) != 0)
        return 1;
    int rc;
    if (r->status == 204 || r->status == 304)
        rc = 0;
    else if (r->f.has_te)
        rc = r->f.chunked ? body_chunked(g) : body_plain(g, NULL);
    else
        rc = body_plain(g, r->f.has_length ? &r->f.content_length : NULL);
    if (g->out_fd != STDOUT_FILENO && close(g->out_fd) != 0 && rc == 0) {
        fprintf(stderr, "ustack: get: writing %s: %s\n", g->p.output, strerror(errno));
        rc = -1;
    }
    return rc == 0 ? 0 : 1;
}

static int get_session(struct get *g)
{
    struct http_response r;
    if (send_request(g) != 0 || read_head(g, &r) != 0)
        return 1;
    if (r.status >= 400) {
        print_status_error(g);
        return 1;
    }
    return get_body(g, &r);
}

static int get_run(struct get *g, const struct cli_args *args)
{
    int status =
        tcp_client_open(&g->c, &args->iface, g->url.addr, g->url.port, g->p.connect_timeout);
    if (status == 0)
        status = get_session(g);
    tcp_client_close(&g->c);
    return status;
}

int cmd_get(int argc, char **argv)
{
    struct get *g = calloc(1, sizeof(*g));
    if (!g)
        return 1;
    const struct cli_cmd cmd = {
        .name = "get",
        .synopsis = "[OPTIONS] URL [-o FILE]",
        .summary = "Fetches URL with HTTP/1.1 GET from the stack.",
        .details = get_details,
        .opts = get_opts,
        .nopts = sizeof(get_opts) / sizeof(get_opts[0]),
        .apply = get_apply,
        .ctx = &g->p,
    };
    struct cli_args args;
    char err[CLI_ERRLEN], why[128];
    int status = cli_parse_command(&cmd, argc, argv, &args);
    if (status != CLI_GO_ON) {
        free(g);
        return status;
    }
    status = 2;
    if (args.npos != 1) {
        fprintf(stderr, "ustack: get: %s (usage: ustack get [OPTIONS] URL [-o FILE])\n",
                args.npos == 0 ? "missing URL" : "too many arguments");
    } else if (http_url_parse(args.pos[0], &g->url, why, sizeof(why)) != 0) {
        fprintf(stderr, "ustack: invalid value for URL: '%s' (%s)\n", args.pos[0], why);
    } else if (iface_validate(&args.iface, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
    } else {
        g->url_text = args.pos[0];
        status = get_run(g, &args);
    }
    free(g);
    return status;
}
