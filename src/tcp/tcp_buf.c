#include "tcp/tcp_buf.h"

#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_seq.h"

#define RING_MIN 4096u

/* Copies n bytes out of / into a ring at index idx. */
static void ring_read(const uint8_t *ring, uint32_t cap, uint32_t idx, uint8_t *dst, uint32_t n)
{
    uint32_t first = cap - idx < n ? cap - idx : n;
    memcpy(dst, ring + idx, first);
    memcpy(dst + first, ring, n - first);
}

static void ring_write(uint8_t *ring, uint32_t cap, uint32_t idx, const uint8_t *src, uint32_t n)
{
    uint32_t first = cap - idx < n ? cap - idx : n;
    memcpy(ring + idx, src, first);
    memcpy(ring, src + first, n - first);
}

/* Grows a ring to hold at least need bytes (up to limit), keeping used bytes
 * from *head in order at the start of the new allocation. */
static int ring_grow(uint8_t **buf, uint32_t *cap, uint32_t *head, uint32_t used, uint32_t need,
                     uint32_t limit)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap : RING_MIN;
    while (ncap < need)
        ncap *= 2;
    if (ncap > limit)
        ncap = limit > need ? limit : need;
    uint8_t *nbuf = malloc(ncap);
    if (!nbuf)
        return -1;
    if (used)
        ring_read(*buf, *cap, *head, nbuf, used);
    free(*buf);
    *buf = nbuf;
    *cap = ncap;
    *head = 0;
    return 0;
}

size_t tcp_sndbuf_append(struct tcp_sndbuf *b, const void *data, size_t n)
{
    uint32_t take = tcp_sndbuf_space(b);
    if (take > n)
        take = (uint32_t)n;
    if (!take)
        return 0;
    if (ring_grow(&b->buf, &b->cap, &b->head, b->len, b->len + take, b->limit) < 0)
        return 0;
    ring_write(b->buf, b->cap, (b->head + b->len) % b->cap, data, take);
    b->len += take;
    return take;
}

/* An empty ring of the smallest size is given back, so a connection that
 * went idle after a little traffic holds no buffer memory; a ring that grew
 * stays (freeing it each time it empties costs a malloc per segment). */
#define RING_KEEP_IDLE RING_MIN

void tcp_sndbuf_consume(struct tcp_sndbuf *b, uint32_t n)
{
    if (n > b->len)
        n = b->len;
    b->len -= n;
    b->head = b->len && b->cap ? (b->head + n) % b->cap : 0;
    if (b->len == 0 && b->cap <= RING_KEEP_IDLE)
        tcp_sndbuf_free(b);
}

void tcp_sndbuf_copy(const struct tcp_sndbuf *b, uint32_t off, uint8_t *dst, uint32_t n)
{
    ring_read(b->buf, b->cap, (b->head + off) % b->cap, dst, n);
}

void tcp_sndbuf_free(struct tcp_sndbuf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->cap = b->len = b->head = 0;
}

uint32_t tcp_rcvbuf_ooo_span(const struct tcp_rcvbuf *b, uint32_t rcv_nxt)
{
    return b->nooo ? b->ooo[b->nooo - 1].end - rcv_nxt : 0;
}

int tcp_rcvbuf_store(struct tcp_rcvbuf *b, uint32_t rcv_nxt, uint32_t off, const uint8_t *data,
                     uint32_t n)
{
    uint32_t need = b->unread + off + n;
    if (need > b->cap) {
        /* Keep everything held, unread and out of order, in its place. */
        uint32_t used = b->unread + tcp_rcvbuf_ooo_span(b, rcv_nxt);
        if (ring_grow(&b->buf, &b->cap, &b->head, used, need, b->limit) < 0)
            return -1;
    }
    ring_write(b->buf, b->cap, (b->head + b->unread + off) % b->cap, data, n);
    return 0;
}

int tcp_rcvbuf_ooo_add(struct tcp_rcvbuf *b, uint32_t rcv_nxt, uint32_t seq, uint32_t n)
{
    (void)rcv_nxt;
    uint32_t start = seq, end = seq + n;
    int i = 0;
    while (i < b->nooo && seq_lt(b->ooo[i].end, start))
        i++;
    /* Merge with every range that touches or overlaps [start, end). */
    int j = i;
    while (j < b->nooo && seq_le(b->ooo[j].start, end)) {
        start = seq_min(start, b->ooo[j].start);
        end = seq_max(end, b->ooo[j].end);
        j++;
    }
    if (j == i && b->nooo == TCP_OOO_MAX)
        return -1;
    /* Replace ranges i..j-1 by one. */
    int removed = j - i;
    if (removed == 0) {
        memmove(&b->ooo[i + 1], &b->ooo[i], (size_t)(b->nooo - i) * sizeof(b->ooo[0]));
        b->nooo++;
    } else if (removed > 1) {
        memmove(&b->ooo[i + 1], &b->ooo[j], (size_t)(b->nooo - j) * sizeof(b->ooo[0]));
        b->nooo = (uint8_t)(b->nooo - (removed - 1));
    }
    b->ooo[i].start = start;
    b->ooo[i].end = end;
    b->recent = (uint8_t)i;
    return 0;
}

uint32_t tcp_rcvbuf_advance(struct tcp_rcvbuf *b, uint32_t rcv_nxt, uint32_t n)
{
    b->unread += n;
    rcv_nxt += n;
    while (b->nooo && seq_le(b->ooo[0].start, rcv_nxt)) {
        if (seq_gt(b->ooo[0].end, rcv_nxt)) {
            b->unread += b->ooo[0].end - rcv_nxt;
            rcv_nxt = b->ooo[0].end;
        }
        memmove(&b->ooo[0], &b->ooo[1], (size_t)(b->nooo - 1) * sizeof(b->ooo[0]));
        b->nooo--;
        b->recent = 0;
    }
    return rcv_nxt;
}

size_t tcp_rcvbuf_read(struct tcp_rcvbuf *b, uint8_t *dst, size_t n, bool peek)
{
    uint32_t take = b->unread < n ? b->unread : (uint32_t)n;
    if (!take)
        return 0;
    ring_read(b->buf, b->cap, b->head, dst, take);
    if (!peek) {
        b->unread -= take;
        b->head = (b->head + take) % b->cap;
        if (b->unread == 0 && b->nooo == 0 && b->cap <= RING_KEEP_IDLE) {
            free(b->buf);
            b->buf = NULL;
            b->cap = b->head = 0;
        }
    }
    return take;
}

void tcp_rcvbuf_free(struct tcp_rcvbuf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->cap = b->head = b->unread = 0;
    b->nooo = 0;
}
