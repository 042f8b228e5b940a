/* Discard service (RFC 863): datagrams received on UDP port 9 are thrown
 * away, unanswered. */
#include "services.h"

static void discard_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                         const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    (void)ctx, (void)pcb, (void)src, (void)sport, (void)dst;
    us_pkt_free(p);
}

const struct svc_def svc_discard = {.name = "discard", .port = 9, .recv = discard_recv};
