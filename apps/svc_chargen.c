/* Character generator service (RFC 864), UDP port 19.
 *
 * RFC 864 says a UDP server answers each datagram with one datagram of 0 to
 * 512 characters, and suggests the "popular pattern": lines of 72 printing
 * ASCII characters, each line starting one character further along the
 * ring of the 95 printing characters (' ' .. '~'), ended by CR LF. Its sample
 * starts at '!'. We answer every datagram with exactly 512 bytes: six full
 * lines (6 * 74 = 444 bytes) and a seventh cut to 66 characters plus CR LF.
 * The ring position carries over from one datagram to the next, so the
 * replies read as the classic rotating pattern. */
#include "services.h"

#define CHARGEN_RING 95 /* printing ASCII characters, ' ' .. '~' */
#define CHARGEN_LINE 72

/* Ring position 0 is '!' as in RFC 864's sample; ' ' comes last. */
static uint8_t ring_char(uint32_t pos)
{
    return (uint8_t)(' ' + (pos + 1) % CHARGEN_RING);
}

void svc_chargen_fill(uint8_t *buf, size_t len, uint32_t *cursor)
{
    size_t off = 0;
    while (off < len) {
        size_t room = len - off;
        size_t chars = room >= CHARGEN_LINE + 2 ? CHARGEN_LINE : room >= 2 ? room - 2 : room;
        for (size_t i = 0; i < chars; i++)
            buf[off + i] = ring_char(*cursor + (uint32_t)i);
        off += chars;
        if (room >= 2) {
            buf[off++] = '\r';
            buf[off++] = '\n';
        }
        *cursor = (*cursor + 1) % CHARGEN_RING;
    }
}

static void chargen_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                         const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    struct svc_ctx *sc = ctx;
    struct us_addr to = *src;
    (void)dst;
    if (!svc_may_reply(&to, sport)) {
        us_pkt_free(p);
        return;
    }
    p = svc_reply_pkt(sc->stack, p, SVC_CHARGEN_DGRAM);
    if (!p)
        return;
    svc_chargen_fill(p->data, SVC_CHARGEN_DGRAM, &sc->cursor);
    us_udp_sendto(pcb, p, &to, sport);
}

const struct svc_def svc_chargen = {.name = "chargen", .port = 19, .recv = chargen_recv};
