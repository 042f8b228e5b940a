/* Character generator on TCP port 19 (RFC 864): once connected, the server
 * sends the rotating 72-character lines without end, as fast as the client
 * takes them, and throws away anything received. It stops when the
 * connection goes (the client's close makes its kernel answer further data
 * with a reset). A half-close by the client does not stop it: like inetd's
 * chargen, only writing failing does. */
#include <pthread.h>

#include "services.h"
#include "svc_tcp.h"

/* Ten periods of the stream: at least 63 KiB readable from any offset. */
#define CHARGEN_TABLE (10 * SVC_CHARGEN_PERIOD)

static uint8_t table[CHARGEN_TABLE];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_fill(void)
{
    uint32_t cursor = 0;
    /* Whole lines only (the table is a multiple of 74 bytes), from '!'. */
    svc_chargen_fill(table, CHARGEN_TABLE, &cursor);
}

const uint8_t *svc_chargen_stream_at(uint64_t off, size_t *avail)
{
    pthread_once(&table_once, table_fill);
    size_t start = (size_t)(off % SVC_CHARGEN_PERIOD);
    *avail = CHARGEN_TABLE - start;
    return table + start;
}

struct chargen_conn {
    struct svc_conn base;
    uint32_t off; /* position in the stream's period */
};

static void chargen_pump(struct svc_conn *c)
{
    struct chargen_conn *cc = (struct chargen_conn *)c;
    if (svc_conn_drain(c) < 0) {
        svc_conn_close(c);
        return;
    }
    for (;;) {
        uint32_t room = us_tcp_writable(c->pcb);
        if (room == 0)
            return; /* wait for WRITABLE */
        size_t avail;
        const uint8_t *p = svc_chargen_stream_at(cc->off, &avail);
        ssize_t n = us_tcp_send(c->pcb, p, room < avail ? room : avail, false);
        if (n <= 0) {
            svc_conn_close(c);
            return;
        }
        cc->off = (uint32_t)((cc->off + (uint64_t)n) % SVC_CHARGEN_PERIOD);
    }
}

static void chargen_event(struct svc_conn *c, unsigned events)
{
    (void)events;
    chargen_pump(c);
}

const struct svc_tcp_def svc_tcp_chargen = {
    .name = "chargen",
    .port = 19,
    .conn_size = sizeof(struct chargen_conn),
    .open = chargen_pump,
    .event = chargen_event,
};
