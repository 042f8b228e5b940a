/* ICMPv4 messages (RFC 792). */
#ifndef US_WIRE_ICMP4_H
#define US_WIRE_ICMP4_H

#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"

#define ICMP4_HLEN 8
#define ICMP4_ECHO_REPLY 0
#define ICMP4_DEST_UNREACH 3
#define ICMP4_REDIRECT 5
#define ICMP4_ECHO_REQUEST 8
#define ICMP4_TIME_EXCEEDED 11
#define ICMP4_PARAM_PROBLEM 12

#define ICMP4_UNREACH_NET 0
#define ICMP4_UNREACH_HOST 1
#define ICMP4_UNREACH_PROTO 2
#define ICMP4_UNREACH_PORT 3
#define ICMP4_UNREACH_FRAG_NEEDED 4
#define ICMP4_EXC_TTL 0
#define ICMP4_EXC_REASM 1

struct icmp4_view {
    uint8_t type, code;
    uint16_t id, seq; /* echo: identifier and sequence (host order) */
    uint32_t rest;    /* the 4 bytes after the checksum, network order */
};

/* Checks length and the checksum over the whole message of len bytes. */
enum us_drop icmp4_parse(const uint8_t *p, size_t len, struct icmp4_view *out);
/* Writes the 8-byte header; the checksum covers it and the len-8 bytes of
 * payload that follow it in p. */
void icmp4_build(uint8_t *p, size_t len, const struct icmp4_view *v);

#endif
