/* TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018). */
#ifndef US_WIRE_TCP_H
#define US_WIRE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"
#include "ustack/addr.h"

#define TCP_HLEN 20
#define TCP_CSUM_FIELD 16 /* the checksum's offset in the header */
#define TCP_MAX_OPTLEN 40

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_WS 3
#define TCP_OPT_SACK_PERM 4
#define TCP_OPT_SACK 5
#define TCP_OPT_TS 8

#define TCP_MAX_WS 14 /* RFC 7323 2.3 */
#define TCP_MAX_SACK 4

struct tcp_sack_block {
    uint32_t left, right;
};

struct tcp_opts {
    bool mss_ok, ws_ok, sack_ok, ts_ok;
    uint16_t mss;
    uint8_t ws;
    uint32_t tsval, tsecr;
    uint8_t nsack;
    struct tcp_sack_block sack[TCP_MAX_SACK];
};

struct tcp_view {
    uint16_t sport, dport; /* host order */
    uint32_t seq, ack;
    uint8_t hlen;
    uint8_t flags;
    uint16_t win; /* unscaled, as on the wire */
    uint16_t urg;
    struct tcp_opts opt;
    const uint8_t *payload;
    uint32_t plen;
};

/* Checks lengths, the checksum (with the pseudo-header) and the options. */
enum us_drop tcp_parse(const uint8_t *p, size_t len, const struct us_addr *src,
                       const struct us_addr *dst, struct tcp_view *out);
/* The same, skipping the checksum when verify_csum is false (the link
 * vouched for it: us_pkt.csum_ok). */
enum us_drop tcp_parse_csum(const uint8_t *p, size_t len, const struct us_addr *src,
                            const struct us_addr *dst, bool verify_csum, struct tcp_view *out);
/* Parses options only (len bytes at p); US_DROP_none or tcp_bad_option. */
enum us_drop tcp_parse_opts(const uint8_t *p, size_t len, struct tcp_opts *out);
/* Writes options padded to a multiple of 4 (at most 40 bytes); returns the
 * length. Order and NOP padding follow what Linux sends. */
size_t tcp_build_opts(uint8_t *p, const struct tcp_opts *o, bool syn);
/* Writes the header (hlen = 20 + optlen, options already at p + 20) and the
 * checksum over header and plen payload bytes that follow it. */
void tcp_build(uint8_t *p, const struct tcp_view *v, size_t optlen, const struct us_addr *src,
               const struct us_addr *dst);
/* The same with the checksum partial (the pseudo-header sum only, for the
 * link to complete: see us_pkt_csum_mark_partial); returns the segment's
 * length. */
uint32_t tcp_build_csum_partial(uint8_t *p, const struct tcp_view *v, size_t optlen,
                                const struct us_addr *src, const struct us_addr *dst);

#endif
