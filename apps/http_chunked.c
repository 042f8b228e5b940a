/* The chunked transfer coding (RFC 9112 7.1), decoded as a byte-at-a-time
 * state machine so that a body may arrive in pieces of any size:
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * Chunk extensions and trailer fields are skipped (RFC 9112 7.1.1, 7.1.2);
 * a bare LF is accepted where CRLF belongs (RFC 9112 2.2). */
#include "http.h"

#define CHUNK_SIZE_DIGITS 15 /* at most 2^60 - 1 bytes per chunk */
#define CHUNK_LINE_MAX 4096  /* size line with extensions, or trailer line */

enum {
    ST_SIZE,    /* hex digits of chunk-size */
    ST_EXT,     /* after the size: extensions up to LF */
    ST_SIZE_LF, /* CR seen after the size */
    ST_DATA,    /* chunk-data */
    ST_DATA_CR, /* CRLF after chunk-data */
    ST_DATA_LF,
    ST_TRAILER, /* start of a trailer line, or the final empty line */
    ST_TRAILER_LINE,
    ST_END_LF,
    ST_DONE,
};

void http_chunked_init(struct http_chunked *c)
{
    *c = (struct http_chunked){.state = ST_SIZE};
}

static int hex_value(uint8_t b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

/* The size line ended: data follows, or the trailer section. */
static void size_line_done(struct http_chunked *c)
{
    c->state = c->left ? ST_DATA : ST_TRAILER;
    c->line_len = 0;
}

/* Advances over one byte outside chunk-data; false when it is malformed. */
static bool step(struct http_chunked *c, uint8_t b)
{
    int h;
    switch (c->state) {
    case ST_SIZE:
        if ((h = hex_value(b)) >= 0) {
            if (++c->digits > CHUNK_SIZE_DIGITS)
                return false;
            c->left = c->left << 4 | (uint64_t)h;
            return true;
        }
        if (c->digits == 0)
            return false;
        if (b == '\r')
            c->state = ST_SIZE_LF;
        else if (b == '\n')
            size_line_done(c);
        else if (b == ';' || b == ' ' || b == '\t')
            c->state = ST_EXT;
        else
            return false;
        return true;
    case ST_EXT:
        if (++c->line_len > CHUNK_LINE_MAX)
            return false;
        if (b == '\n')
            size_line_done(c);
        return true;
    case ST_SIZE_LF:
        if (b != '\n')
            return false;
        size_line_done(c);
        return true;
    case ST_DATA_CR:
        if (b == '\r') {
            c->state = ST_DATA_LF;
            return true;
        }
        __attribute__((fallthrough)); /* a bare LF */
    case ST_DATA_LF:
        if (b != '\n')
            return false;
        c->state = ST_SIZE;
        c->digits = 0;
        c->left = 0;
        return true;
    case ST_TRAILER:
        c->line_len = 0;
        if (b == '\r')
            c->state = ST_END_LF;
        else if (b == '\n')
            c->state = ST_DONE;
        else
            c->state = ST_TRAILER_LINE;
        return true;
    case ST_TRAILER_LINE:
        if (++c->line_len > CHUNK_LINE_MAX)
            return false;
        if (b == '\n')
            c->state = ST_TRAILER;
        return true;
    case ST_END_LF:
        if (b != '\n')
            return false;
        c->state = ST_DONE;
        return true;
    }
    return false;
}

enum http_chunk_result http_chunked_feed(struct http_chunked *c, const uint8_t *in, size_t len,
                                         size_t *used, const uint8_t **data, size_t *dlen)
{
    size_t i = 0;
    *data = NULL;
    *dlen = 0;
    while (i < len && c->state != ST_DONE) {
        if (c->state == ST_DATA) {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            *data = in + i;
            *dlen = n;
            c->left -= n;
            if (c->left == 0)
                c->state = ST_DATA_CR;
            i += n;
            break; /* one run of data per call */
        }
        if (!step(c, in[i])) {
            *used = i;
            return HTTP_CHUNK_BAD;
        }
        i++;
    }
    *used = i;
    return c->state == ST_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE;
}
