/* HTTP/1.1 message syntax (RFC 9112) as the `ustack` tool needs it: the
 * request parser of the `http` service, the response-head parser and the
 * chunked decoder of `ustack get`, URL parsing, response-head formatting and
 * the deterministic byte pattern of /bytes/N. Pure functions on buffers, no
 * stack: unit-tested in tests/unit/test_http.c. */
#ifndef USTACK_APPS_HTTP_H
#define USTACK_APPS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Longest message head (start line, header fields and the empty line) we
 * accept; a longer one is a bad request. */
#define HTTP_MAX_HEAD 8192

enum http_parse_result {
    HTTP_BAD = -1,       /* malformed: answer 400 and close */
    HTTP_INCOMPLETE = 0, /* the head has not ended yet: wait for more */
    HTTP_OK = 1,
};

/* Header fields both parsers look at. */
struct http_fields {
    bool conn_close;      /* Connection: close */
    bool conn_keep_alive; /* Connection: keep-alive */
    bool has_length;      /* Content-Length */
    uint64_t content_length;
    bool has_te;  /* Transfer-Encoding of any kind */
    bool chunked; /* ... whose last coding is chunked */
    int hosts;    /* Host fields seen */
};

struct http_request {
    const char *method; /* into the parsed buffer, not NUL-terminated */
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor;       /* HTTP/1.minor */
    bool keep_alive; /* the connection persists after the response */
    struct http_fields f;
    size_t head_len; /* bytes of the head, leading empty lines included */
};

/* Parses a request head at the start of buf[0..len). Complete lines are
 * judged as soon as they are in, so garbage is refused before the head ends.
 * HTTP_INCOMPLETE with len >= HTTP_MAX_HEAD never happens: that is HTTP_BAD. */
enum http_parse_result http_parse_request(const char *buf, size_t len, struct http_request *req);

struct http_response {
    int minor;
    int status; /* 100..999 */
    struct http_fields f;
    size_t head_len;
};

/* Parses a response head (status line and header fields). */
enum http_parse_result http_parse_response(const char *buf, size_t len, struct http_response *r);

/* The reason phrase of a status code ("Not Found"), "Unknown" if none. */
const char *http_reason(int status);

/* Formats a response head: status line, Date, Server, Content-Type,
 * Content-Length, Connection, extra (lines each ending in CRLF, or NULL) and
 * the empty line. Returns the length, or 0 if it does not fit. */
size_t http_format_head(char *buf, size_t len, int status, const char *content_type,
                        uint64_t content_length, bool keep_alive, bool http10, const char *extra,
                        time_t now);

/* ---- Chunked transfer coding (RFC 9112 7.1) ---- */

struct http_chunked {
    int state;
    uint64_t left;     /* data bytes left in the current chunk */
    unsigned digits;   /* hex digits of the size seen */
    uint32_t line_len; /* bytes of the current size or trailer line */
};

enum http_chunk_result { HTTP_CHUNK_BAD = -1, HTTP_CHUNK_MORE = 0, HTTP_CHUNK_DONE = 1 };

void http_chunked_init(struct http_chunked *c);
/* Decodes from in[0..len): *used bytes were taken; *data and *dlen give the body
 * bytes found (inside in, possibly none). Call again with the rest until it
 * has all been used. HTTP_CHUNK_DONE once the last chunk and the trailer
 * section are complete (bytes after it are not used). */
enum http_chunk_result http_chunked_feed(struct http_chunked *c, const uint8_t *in, size_t len,
                                         size_t *used, const uint8_t **data, size_t *dlen);

/* ---- URLs of `ustack get` ---- */

struct http_url {
    uint32_t addr; /* IPv4, network order */
    uint16_t port;
    char host[32];    /* for the Host field: "10.0.0.1" or "10.0.0.1:8080" */
    const char *path; /* into the URL: "/..." ("/" when the URL has none) */
};

/* "http://A.B.C.D[:PORT][/PATH]": 0, or -1 with a reason in err. */
int http_url_parse(const char *url, struct http_url *u, char *err, size_t errlen);

/* ---- The /bytes/N body ---- */

/* Byte i (counted from 0) of a /bytes/N body is i mod 251: a prime period,
 * so a block that is lost, doubled or misplaced by any power-of-two
 * distance shows. */
#define HTTP_PATTERN_PERIOD 251

static inline uint8_t http_pattern_byte(uint64_t i)
{
    return (uint8_t)(i % HTTP_PATTERN_PERIOD);
}

/* The pattern from byte off on: a pointer into a static table, with
 * *avail (at least 64 KiB) bytes available there. */
const uint8_t *http_pattern_at(uint64_t off, size_t *avail);
/* Offset of the first byte of buf that differs from the pattern starting at
 * off, or -1. */
ssize_t http_pattern_check(const uint8_t *buf, size_t len, uint64_t off);

#endif
