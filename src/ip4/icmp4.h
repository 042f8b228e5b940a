/* ICMPv4 (RFC 792, RFC 1122 3.2.2): echo, errors with rate limiting. */
#ifndef US_IP4_ICMP4_H
#define US_IP4_ICMP4_H

#include "core/pkt.h"
#include "wire/icmp4.h"
#include "wire/ip4.h"

struct us_netif;

typedef void (*us_icmp4_echo_fn)(void *ctx, struct us_pkt *p /* data at ICMP header */,
                                 uint32_t src, uint8_t ttl);

struct us_icmp4_echo_listener {
    struct us_icmp4_echo_listener *next;
    uint16_t id;
    us_icmp4_echo_fn fn;
    void *ctx;
};

struct us_icmp4 {
    /* Token bucket limiting error generation. */
    uint64_t tokens_milli; /* tokens * 1000 */
    us_time_t last_refill;
    struct us_icmp4_echo_listener *echo;
};

void us_icmp4_init(struct ustack *s);
void us_icmp4_input(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                    const struct ip4_view *ip);
/* Sends an error about orig (data at the offending IP header, ip its parsed
 * header). Applies RFC 1122 3.2.2 rules: never about ICMP errors, broadcasts,
 * multicasts, non-first fragments, or invalid sources; rate-limited. */
void us_icmp4_error(struct ustack *s, struct us_pkt *orig, const struct ip4_view *ip, uint8_t type,
                    uint8_t code, uint32_t rest);
/* Reports an error about one of our own packets (data at its IP header)
 * to its transport as if an ICMP error had quoted it: used when ARP cannot
 * resolve the next hop (RFC 1122 2.3.2.2 / Linux: EHOSTUNREACH). */
void us_icmp4_local_error(struct ustack *s, const struct us_pkt *p, uint8_t type, uint8_t code);
/* Sends an echo request; payload_len bytes of data follow the header. */
int us_icmp4_echo_send(struct ustack *s, uint32_t dst, uint16_t id, uint16_t seq,
                       const void *payload, size_t payload_len);
void us_icmp4_echo_listen(struct ustack *s, struct us_icmp4_echo_listener *l);
void us_icmp4_echo_unlisten(struct ustack *s, struct us_icmp4_echo_listener *l);

#endif
