/* Echo service (RFC 862): a datagram received on UDP port 7 is sent back to
 * its source. The received buffer is the reply: its data is the payload and
 * the UDP, IP and link headers go into its headroom, so nothing is copied. */
#include "services.h"

static void echo_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                      const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    struct svc_ctx *sc = ctx;
    struct us_addr to = *src;
    (void)dst;
    if (!svc_may_reply(&to, sport)) {
        us_pkt_free(p);
        return;
    }
    p = svc_reply_pkt(sc->stack, p, p->len);
    if (p)
        us_udp_sendto(pcb, p, &to, sport);
}

const struct svc_def svc_echo = {.name = "echo", .port = 7, .recv = echo_recv};
