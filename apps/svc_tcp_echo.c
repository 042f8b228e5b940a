/* Echo service on TCP port 7 (RFC 862): every byte received is sent back.
 *
 * Bytes are read only as far as the send buffer has room for them, so what
 * is read is always sent at once and a connection holds no buffer of its
 * own: when the peer does not read its echo, our send buffer fills, we stop
 * reading, our receive window closes, and the peer's sending stops (back-
 * pressure end to end). US_TCP_EV_WRITABLE resumes. At the end of the
 * peer's stream everything read has been queued, so the close that follows
 * sends it all before our FIN. */
#include <errno.h>

#include "svc_tcp.h"

static void echo_pump(struct svc_conn *c)
{
    uint8_t *buf = c->svc->scratch;
    for (;;) {
        uint32_t room = us_tcp_writable(c->pcb);
        if (room == 0)
            return; /* wait for WRITABLE */
        ssize_t n =
            us_tcp_recv(c->pcb, buf, room < SVC_TCP_SCRATCH ? room : SVC_TCP_SCRATCH, false);
        if (n == -EAGAIN)
            return; /* wait for READABLE */
        if (n <= 0) {
            svc_conn_close(c); /* end of stream (or an error): flush and FIN */
            return;
        }
        ssize_t sent = us_tcp_send(c->pcb, buf, (size_t)n, false);
        if (sent != n) {
            /* Room was there a moment ago: only a dying connection says no. */
            svc_conn_close(c);
            return;
        }
    }
}

static void echo_event(struct svc_conn *c, unsigned events)
{
    (void)events;
    echo_pump(c);
}

const struct svc_tcp_def svc_tcp_echo = {
    .name = "echo",
    .port = 7,
    .conn_size = sizeof(struct svc_conn),
    .open = echo_pump,
    .event = echo_event,
};
