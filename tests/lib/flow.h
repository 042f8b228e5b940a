/* Flow-test harness: scripted frames in, expected frames out, at expected
 * times on a virtual clock (in the spirit of packetdrill).
 *
 * A flow is one stack with one Ethernet interface (MAC 02:00:00:00:00:02,
 * 10.0.0.2/24) whose driver appends every transmitted frame, stamped with
 * the stack clock, to a queue the test pops. The "peer" is 10.0.0.1 at
 * 02:00:00:00:00:01. Frames to inject are built here, independently of
 * src/wire, with correct checksums unless asked otherwise; frames the stack
 * sends are parsed and checked here (header and transport checksums
 * included) before the test looks at their fields.
 *
 * Every expectation is a macro so a failure names the test's own line.
 * Set FLOW_LOG=1 in the environment to see the stack's log on stderr. */
#ifndef USTACK_TESTS_FLOW_H
#define USTACK_TESTS_FLOW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ustack/ustack.h"

struct us_udp_pcb;

#define FLOW_START_TIME (1000 * US_SEC)
#define FLOW_MS(n) ((us_time_t)(n)*US_MSEC)

#define ETHT_IP4 0x0800
#define ETHT_ARP 0x0806
#define ARPOP_REQ 1
#define ARPOP_REP 2
#define PROTO_ICMP 1
#define PROTO_UDP 17

extern const uint8_t FLOW_OUR_MAC[6];   /* 02:00:00:00:00:02 */
extern const uint8_t FLOW_PEER_MAC[6];  /* 02:00:00:00:00:01 */
extern const uint8_t FLOW_OTHER_MAC[6]; /* 02:00:00:00:00:99, a third host */
extern const uint8_t FLOW_BCAST_MAC[6];
extern const uint8_t FLOW_ZERO_MAC[6];

/* a.b.c.d in network byte order. */
static inline uint32_t flow_ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    union {
        uint8_t b[4];
        uint32_t v;
    } u = {{a, b, c, d}};
    return u.v;
}
#define FLOW_OUR_IP flow_ip(10, 0, 0, 2)
#define FLOW_PEER_IP flow_ip(10, 0, 0, 1)

struct flow_opts {
    uint64_t seed;       /* 0: 1 */
    bool acd;            /* RFC 5227 probing on the interface */
    bool no_addr;        /* do not add 10.0.0.2/24 */
    uint32_t mtu;        /* 0: 1500 */
    uint32_t icmp_burst; /* 0: stack default */
    uint32_t icmp_rate;  /* 0: stack default */
    uint32_t reasm_mem;  /* 0: stack default */
    uint32_t tso_max;    /* the driver's us_driver.tso_max; 0: no TSO */
};

/* A frame the stack transmitted. */
struct flow_frame {
    struct flow_frame *next;
    us_time_t t; /* stack clock when the driver got it */
    size_t len;
    uint8_t data[];
};

struct flow {
    struct ustack *s;
    struct us_netif *nif;
    us_time_t t0;
    struct flow_frame *head, *tail;
    size_t queued;
    struct flow_frame *last; /* the frame popped last; views point into it */
    struct flow *next_live;
};

/* Datagrams and errors seen by a us_udp pcb opened with flow_udp_open. */
struct flow_udp_sink {
    int count;
    uint8_t data[70000];
    size_t len;
    struct us_addr src, dst;
    uint16_t sport;
    int errs;
    int last_err;
};

/* ---- Life cycle ---- */
struct flow *flow_new(const struct flow_opts *o); /* o NULL: defaults */
void flow_free(struct flow *f);
/* cmocka teardown freeing every flow still alive (also after a failure). */
int flow_teardown(void **state);
#define FLOW_TEST(fn) cmocka_unit_test_teardown(fn, flow_teardown)

uint64_t flow_counter(struct flow *f, const char *name);
/* Time since the flow was created. */
us_time_t flow_elapsed(const struct flow *f);

/* ---- Clock ---- */
/* Runs every timer up to now + d, one deadline at a time, so frames are
 * stamped with the time their timer fired. */
void flow_advance(struct flow *f, us_time_t d);
#define flow_advance_ms(f, ms) flow_advance((f), FLOW_MS(ms))
void flow_run_until(struct flow *f, us_time_t t);

/* ---- Building frames (all multi-byte arguments in host order except IPv4
 * addresses, which are network order as everywhere in ustack) ---- */
struct flow_ip4 {
    uint32_t src, dst;
    uint16_t id;
    bool df, mf;
    uint16_t off; /* fragment offset in bytes */
    uint8_t ttl, proto, tos;
    const uint8_t *opts; /* options, optlen a multiple of 4 */
    size_t optlen;
    bool bad_csum; /* corrupt the header checksum */
};
/* Peer -> us, ttl 64, id 0x1234, no fragmentation. */
struct flow_ip4 flow_ip4_hdr(uint8_t proto);

size_t flow_build_eth(uint8_t *out, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
                      const void *payload, size_t len);
size_t flow_build_arp(uint8_t *out, uint16_t op, const uint8_t sha[6], uint32_t spa,
                      const uint8_t tha[6], uint32_t tpa);
size_t flow_build_ip4(uint8_t *out, const struct flow_ip4 *h, const void *payload, size_t len);
/* ICMP message with the 4 "rest" bytes and data; checksum correct. */
size_t flow_build_icmp(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest_net,
                       const void *data, size_t len);
size_t flow_build_echo(uint8_t *out, uint8_t type, uint16_t id, uint16_t seq, const void *data,
                       size_t len);
enum flow_csum { FLOW_CSUM_OK, FLOW_CSUM_ZERO, FLOW_CSUM_BAD };
size_t flow_build_udp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                      const void *data, size_t len, enum flow_csum mode);
/* RFC 1071 checksum of a buffer (0 when a received header verifies). */
uint16_t flow_csum(const void *data, size_t len);
uint16_t flow_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, const void *data, size_t len);

/* ---- Injecting (input to the stack at the current time) ---- */
void flow_inject(struct flow *f, const void *frame, size_t len);
void flow_inject_eth(struct flow *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
                     const void *payload, size_t len);
/* ARP from mac sha (Ethernet source sha) to eth_dst. */
void flow_inject_arp(struct flow *f, const uint8_t eth_dst[6], uint16_t op, const uint8_t sha[6],
                     uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* The usual ARP shapes (RFC 826, RFC 5227 2.1.1 and 2.3): */
/* the peer asks, by broadcast, who has tpa; */
void flow_inject_arp_request(struct flow *f, uint32_t tpa);
/* the peer answers our request for 10.0.0.1 (unicast to us); */
void flow_inject_arp_reply(struct flow *f);
/* host sha probes for ip (sender IP 0, broadcast); */
void flow_inject_arp_probe(struct flow *f, const uint8_t sha[6], uint32_t ip);
/* host sha announces ip (sender IP = target IP = ip, broadcast). */
void flow_inject_arp_announce(struct flow *f, const uint8_t sha[6], uint32_t ip);
/* IPv4 from the peer MAC to eth_dst (NULL: our MAC). */
void flow_inject_ip4(struct flow *f, const uint8_t *eth_dst, const struct flow_ip4 *h,
                     const void *payload, size_t len);
/* Echo request 10.0.0.1 -> 10.0.0.2. */
void flow_inject_echo(struct flow *f, uint16_t id, uint16_t seq, const void *data, size_t len);
/* UDP 10.0.0.1:sport -> 10.0.0.2:dport. */
void flow_inject_udp(struct flow *f, uint16_t sport, uint16_t dport, const void *data, size_t len);
/* Injects the IP datagram `payload` (proto, id) as fragments of frag_len
 * bytes (a multiple of 8) in the order given by `order` (indexes; NULL:
 * in order). Returns the number of fragments. */
int flow_inject_fragmented(struct flow *f, uint8_t proto, uint16_t id, const void *payload,
                           size_t len, size_t frag_len, const int *order, int norder);

/* ---- Parsed views of transmitted frames (point into flow->last) ---- */
struct flow_arp {
    const uint8_t *eth_dst;
    uint16_t op;
    uint8_t sha[6], tha[6];
    uint32_t spa, tpa;
    us_time_t t;
};

struct flow_ip4_rx {
    const uint8_t *eth_dst;
    const uint8_t *hdr; /* the IP header as sent */
    uint8_t hlen, tos, ttl, proto;
    uint16_t total_len, id, off;
    bool df, mf;
    uint32_t src, dst;
    const uint8_t *payload;
    size_t plen;
    us_time_t t;
};

struct flow_icmp_rx {
    struct flow_ip4_rx ip;
    uint8_t type, code;
    uint16_t id, seq;    /* echo */
    const uint8_t *data; /* after the 8-byte header */
    size_t dlen;
};

struct flow_udp_rx {
    struct flow_ip4_rx ip;
    uint16_t sport, dport, ulen, csum;
    const uint8_t *data;
    size_t dlen;
};

/* A datagram reassembled by the harness from the fragments the stack sent. */
#define FLOW_MAX_FRAGS 64
struct flow_dgram {
    int nfrags;
    uint16_t id;
    uint8_t proto;
    uint32_t src, dst;
    uint16_t frag_plen[FLOW_MAX_FRAGS]; /* payload bytes of each fragment */
    uint16_t frag_off[FLOW_MAX_FRAGS];
    uint16_t frag_total_len[FLOW_MAX_FRAGS];
    uint8_t payload[65536];
    size_t plen;
};

/* ---- Expectations (fail the test at the caller's line) ---- */
size_t flow_pending(const struct flow *f);
#define flow_pop(f) flow_pop_at((f), __FILE__, __LINE__)
#define flow_expect_none(f) flow_expect_none_at((f), __FILE__, __LINE__)
/* Next frame is ARP with op; checks Ethernet source and the fixed fields. */
#define flow_expect_arp(f, op, out) flow_expect_arp_at((f), (op), (out), __FILE__, __LINE__)
/* Next frame is a request from us (sha our MAC, spa our IP, tha 0) for tpa,
 * sent to eth_dst. */
#define flow_expect_arp_request(f, eth_dst, tpa)                                                   \
    flow_expect_arp_request_at((f), (eth_dst), (tpa), __FILE__, __LINE__)
/* Next frame is IPv4 with a valid header checksum and this proto (-1: any). */
#define flow_expect_ip4(f, proto, out) flow_expect_ip4_at((f), (proto), (out), __FILE__, __LINE__)
/* Next frame is a whole ICMP message (valid checksum) of type/code. */
#define flow_expect_icmp(f, type, code, out)                                                       \
    flow_expect_icmp_at((f), (type), (code), (out), __FILE__, __LINE__)
/* Next frame is an echo reply to the peer mirroring id, seq and data. */
#define flow_expect_echo_reply(f, id, seq, data, len)                                              \
    flow_expect_echo_reply_at((f), (id), (seq), (data), (len), __FILE__, __LINE__)
/* Next frame is UDP (valid checksum) with these ports (sport 0: any) and
 * payload (data NULL: not compared). */
#define flow_expect_udp(f, sport, dport, data, len, out)                                           \
    flow_expect_udp_at((f), (sport), (dport), (data), (len), (out), __FILE__, __LINE__)
/* Pops the fragments of one datagram (or one unfragmented packet), checks
 * each (same id, in-order offsets, MF on all but the last, non-last payload
 * a multiple of 8, total length <= mtu) and reassembles it into out. */
#define flow_expect_dgram(f, mtu, out) flow_expect_dgram_at((f), (mtu), (out), __FILE__, __LINE__)

const struct flow_frame *flow_pop_at(struct flow *f, const char *file, int line);
void flow_expect_none_at(struct flow *f, const char *file, int line);
void flow_expect_arp_at(struct flow *f, uint16_t op, struct flow_arp *out, const char *file,
                        int line);
void flow_expect_arp_request_at(struct flow *f, const uint8_t eth_dst[6], uint32_t tpa,
                                const char *file, int line);
void flow_expect_ip4_at(struct flow *f, int proto, struct flow_ip4_rx *out, const char *file,
                        int line);
void flow_expect_icmp_at(struct flow *f, int type, int code, struct flow_icmp_rx *out,
                         const char *file, int line);
void flow_expect_echo_reply_at(struct flow *f, uint16_t id, uint16_t seq, const void *data,
                               size_t len, const char *file, int line);
void flow_expect_udp_at(struct flow *f, uint16_t sport, uint16_t dport, const void *data,
                        size_t len, struct flow_udp_rx *out, const char *file, int line);
void flow_expect_dgram_at(struct flow *f, uint32_t mtu, struct flow_dgram *out, const char *file,
                          int line);

/* ---- Helpers ---- */
/* Makes the peer's ARP entry REACHABLE: sends an echo request to the peer
 * (id 0xfeed), answers the ARP request it causes and pops the echo. */
#define flow_prime_arp(f) flow_prime_arp_at((f), __FILE__, __LINE__)
void flow_prime_arp_at(struct flow *f, const char *file, int line);
/* A us_udp pcb whose datagrams and errors land in sink; port 0: not bound.
 * Freed with the flow. */
struct us_udp_pcb *flow_udp_open(struct flow *f, struct flow_udp_sink *sink, uint16_t port);
/* Sends len bytes of data through pcb to 10.0.0.1:dport; returns its result. */
int flow_udp_send(struct flow *f, struct us_udp_pcb *pcb, uint16_t dport, const void *data,
                  size_t len);
/* Fills buf with a recognisable pattern starting at seed. */
void flow_pattern(uint8_t *buf, size_t len, unsigned seed);

#endif
