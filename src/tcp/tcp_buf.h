/* TCP byte buffers: a send ring holding everything from SND.UNA on, and a
 * receive ring holding in-order unread bytes followed by out-of-order data
 * placed at its offset, with the out-of-order ranges kept as intervals (so
 * nothing but the bytes themselves is stored, and SACK blocks come from the
 * intervals). Rings are allocated on first use and grow up to their limit:
 * an idle connection holds no buffer memory. */
#ifndef US_TCP_BUF_H
#define US_TCP_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_OOO_MAX 32

struct tcp_sndbuf {
    uint8_t *buf;
    uint32_t cap;   /* allocated */
    uint32_t limit; /* SO_SNDBUF */
    uint32_t head;  /* ring index of the byte at SND.UNA */
    uint32_t len;   /* bytes from SND.UNA: sent-unacknowledged and unsent */
};

struct tcp_range {
    uint32_t start, end; /* sequence numbers, end exclusive */
};

struct tcp_rcvbuf {
    uint8_t *buf;
    uint32_t cap;
    uint32_t limit;                    /* SO_RCVBUF */
    uint32_t head;                     /* ring index of the first unread byte */
    uint32_t unread;                   /* in-order bytes the application has not read */
    struct tcp_range ooo[TCP_OOO_MAX]; /* sorted, disjoint, beyond RCV.NXT */
    uint8_t nooo;
    uint8_t recent; /* index of the range that grew last (first SACK block) */
};

static inline uint32_t tcp_sndbuf_space(const struct tcp_sndbuf *b)
{
    return b->len < b->limit ? b->limit - b->len : 0;
}
/* Appends up to n bytes; returns how many fit. */
size_t tcp_sndbuf_append(struct tcp_sndbuf *b, const void *data, size_t n);
/* Drops n acknowledged bytes from the front. */
void tcp_sndbuf_consume(struct tcp_sndbuf *b, uint32_t n);
/* Copies n bytes starting off bytes after SND.UNA. */
void tcp_sndbuf_copy(const struct tcp_sndbuf *b, uint32_t off, uint8_t *dst, uint32_t n);
void tcp_sndbuf_free(struct tcp_sndbuf *b);

/* Bytes of window the buffer can still promise beyond RCV.NXT. */
static inline uint32_t tcp_rcvbuf_space(const struct tcp_rcvbuf *b)
{
    return b->unread < b->limit ? b->limit - b->unread : 0;
}
/* Stores n bytes at off bytes beyond RCV.NXT (off + n <= space). Returns 0,
 * or -1 when memory cannot be had. */
int tcp_rcvbuf_store(struct tcp_rcvbuf *b, uint32_t rcv_nxt, uint32_t off, const uint8_t *data,
                     uint32_t n);
/* Records [seq, seq+n) as held out of order. Returns 0, or -1 when the
 * interval table is full. */
int tcp_rcvbuf_ooo_add(struct tcp_rcvbuf *b, uint32_t rcv_nxt, uint32_t seq, uint32_t n);
/* n in-order bytes were stored at RCV.NXT: makes them readable, merges any
 * out-of-order ranges now contiguous, and returns the new RCV.NXT. */
uint32_t tcp_rcvbuf_advance(struct tcp_rcvbuf *b, uint32_t rcv_nxt, uint32_t n);
/* Reads (or peeks) up to n unread bytes. */
size_t tcp_rcvbuf_read(struct tcp_rcvbuf *b, uint8_t *dst, size_t n, bool peek);
/* Bytes held beyond RCV.NXT (the out-of-order span). */
uint32_t tcp_rcvbuf_ooo_span(const struct tcp_rcvbuf *b, uint32_t rcv_nxt);
void tcp_rcvbuf_free(struct tcp_rcvbuf *b);

#endif
