/* Discard service on TCP port 9 (RFC 863): everything received is read and
 * thrown away; the connection is closed when the peer closes its side. */
#include "svc_tcp.h"

static void discard_pump(struct svc_conn *c)
{
    if (svc_conn_drain(c) <= 0)
        svc_conn_close(c);
}

static void discard_event(struct svc_conn *c, unsigned events)
{
    (void)events;
    discard_pump(c);
}

const struct svc_tcp_def svc_tcp_discard = {
    .name = "discard",
    .port = 9,
    .conn_size = sizeof(struct svc_conn),
    .open = discard_pump,
    .event = discard_event,
};
