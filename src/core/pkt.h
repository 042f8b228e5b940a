/* Packet buffers: one type for the whole path, with headroom so each layer
 * prepends its header without copying. Two size classes (a frame up to the
 * usual MTU, or up to 64 KiB) come from per-stack free lists, so the hot path
 * does not call malloc. */
#ifndef US_CORE_PKT_H
#define US_CORE_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ustack/ustack.h"

#define US_PKT_SMALL 2048u /* data room of the small class */

struct us_pkt {
    struct us_pkt *next; /* queue linkage, owned by whoever queues it */
    struct ustack *stack;
    struct us_netif *nif; /* receiving interface on input */
    uint8_t *data;        /* first valid byte */
    uint32_t len;         /* valid bytes from data */
    uint32_t cap;         /* bytes in buf */
    us_time_t due;        /* for delay queues */
    uint8_t link_bcast;   /* received as link broadcast/multicast */
    uint8_t csum_ok;      /* TCP/UDP checksum vouched for by the link (vnet_hdr.h) */
    uint8_t csum_field;   /* with csum_l4: the checksum's offset in the L4 header */
    uint16_t gso_size;    /* TCP payload per wire segment of a TSO frame; 0: plain */
    uint32_t csum_l4;     /* partial checksum: L4 header at buf + csum_l4; 0: complete */
    uint32_t cb[2];       /* scratch for the layer that holds the buffer */
    uint8_t buf[];
};

struct us_pkt_pool {
    struct us_pkt *free_small, *free_large;
    uint32_t n_small, n_large;
    uint64_t live; /* buffers out of the pool */
};

/* Partial checksums (as a NIC's checksum offload leaves them, Linux's
 * CHECKSUM_PARTIAL): the L4 checksum field holds only the pseudo-header
 * sum, which the link completes, so a TSO frame's 64 KiB are summed by
 * nobody in software. Whoever passes the bytes on as they are (a capture,
 * the quote in an ICMP error) completes the sum first. */
static inline void us_pkt_csum_mark_partial(struct us_pkt *p, const uint8_t *l4, uint8_t field)
{
    p->csum_l4 = (uint32_t)(l4 - p->buf);
    p->csum_field = field;
}
/* Sums from the L4 header to the end of the packet into the checksum field
 * (a UDP zero sent as all ones, RFC 768); nothing if already complete. */
void us_pkt_csum_complete(struct us_pkt *p);

static inline uint8_t *us_pkt_push(struct us_pkt *p, size_t n)
{
    p->data -= n;
    p->len += (uint32_t)n;
    return p->data;
}

static inline void us_pkt_pull(struct us_pkt *p, size_t n)
{
    p->data += n;
    p->len -= (uint32_t)n;
}

static inline size_t us_pkt_headroom(const struct us_pkt *p)
{
    return (size_t)(p->data - p->buf);
}

static inline size_t us_pkt_tailroom(const struct us_pkt *p)
{
    return p->cap - us_pkt_headroom(p) - p->len;
}

/* Allocates a buffer with US_PKT_HEADROOM headroom and len bytes of data
 * room; p->len is set to len. NULL when len exceeds US_PKT_MAX. */
struct us_pkt *us_pkt_alloc(struct ustack *s, size_t len);
struct us_pkt *us_pkt_clone(const struct us_pkt *p);
void us_pkt_pool_destroy(struct us_pkt_pool *pool);

/* Singly linked FIFO of packets. */
struct us_pktq {
    struct us_pkt *head, *tail;
    uint32_t count;
    uint32_t bytes;
};

void us_pktq_push(struct us_pktq *q, struct us_pkt *p);
struct us_pkt *us_pktq_pop(struct us_pktq *q);
void us_pktq_purge(struct us_pktq *q);

#endif
