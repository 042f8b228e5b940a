/* Daytime service on TCP port 13 (RFC 867): on connection, the current date
 * and time as one line of ASCII (the same text as the UDP service: UTC),
 * then the server closes. Anything the client sent is ignored. */
#include <time.h>

#include "services.h"
#include "svc_tcp.h"

static void daytime_open(struct svc_conn *c)
{
    char text[64];
    size_t n = svc_daytime_format(time(NULL), text, sizeof(text));
    us_tcp_send(c->pcb, text, n, false); /* a fresh send buffer takes it all */
    svc_conn_close(c);
}

static void daytime_event(struct svc_conn *c, unsigned events)
{
    (void)c, (void)events; /* never called: the connection is let go at once */
}

const struct svc_tcp_def svc_tcp_daytime = {
    .name = "daytime",
    .port = 13,
    .conn_size = sizeof(struct svc_conn),
    .open = daytime_open,
    .event = daytime_event,
};
