/* The classic small UDP services of `ustack serve`. They run on the stack
 * thread through the callback UDP API (src/udp/udp.h): a recv callback is
 * called with the stack lock held, owns the packet, and answers at once. */
#ifndef USTACK_APPS_SERVICES_H
#define USTACK_APPS_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "udp/udp.h"

/* State shared by every pcb of one service (one pcb per local address). */
struct svc_ctx {
    struct ustack *stack;
    uint32_t cursor; /* chargen: ring position of the next line */
};

struct svc_def {
    const char *name;
    uint16_t port;
    us_udp_recv_fn recv; /* ctx is a struct svc_ctx */
};

extern const struct svc_def svc_echo;    /* port 7, RFC 862 */
extern const struct svc_def svc_discard; /* port 9, RFC 863 */
extern const struct svc_def svc_daytime; /* port 13, RFC 867 */
extern const struct svc_def svc_chargen; /* port 19, RFC 864 */

/* Every service, in port order. */
extern const struct svc_def *const svc_all[];
extern const size_t svc_count;

/* True when a datagram from src:sport may be answered: never to a
 * non-unicast source, to port 0, or to the port of one of these services,
 * so that two of them cannot be set ping-ponging (CERT CA-1996-01). */
bool svc_may_reply(const struct us_addr *src, uint16_t sport);

/* A buffer for a reply of len bytes, taking over the received p: p itself
 * when it has room for the headers in front and len bytes of data, else a
 * new buffer holding a copy of p's first bytes (p is freed). NULL when no
 * buffer is available. */
struct us_pkt *svc_reply_pkt(struct ustack *s, struct us_pkt *p, size_t len);

/* Daytime text for t: "Monday, November 30, 2026 08:15:02-UTC\r\n".
 * Returns the length (without NUL). */
size_t svc_daytime_format(time_t t, char *buf, size_t len);

/* Fills buf with chargen lines starting at ring position *cursor and
 * advances the cursor by the number of lines begun. */
void svc_chargen_fill(uint8_t *buf, size_t len, uint32_t *cursor);
#define SVC_CHARGEN_DGRAM 512

#endif
