/* The TCP services of `ustack serve` (echo, discard, daytime, chargen, http).
 * They run on the stack thread through the callback TCP API (src/tcp/tcp.h):
 * one listener per service, and for each connection a small state block
 * whose event handler moves bytes between the connection's buffers and a
 * per-service scratch buffer. Nothing here blocks or waits: a handler does
 * what the buffers allow and returns; the next event continues. */
#ifndef USTACK_APPS_SVC_TCP_H
#define USTACK_APPS_SVC_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp.h"

#define SVC_TCP_SCRATCH (64 * 1024)
#define SVC_TCP_BACKLOG 4096

struct svc_tcp;

/* Every service's connection state begins with this. */
struct svc_conn {
    struct svc_conn *prev, *next; /* the service's live connections */
    struct svc_tcp *svc;
    struct us_tcp_pcb *pcb;
};

struct svc_tcp_def {
    const char *name;
    uint16_t port;
    size_t conn_size; /* bytes of the state block, at least sizeof(struct svc_conn) */
    /* A connection was accepted (data may already be waiting). */
    void (*open)(struct svc_conn *c);
    /* READABLE and WRITABLE events; the connection going away (CLOSED) is
     * handled by svc_tcp.c, which then calls release. */
    void (*event)(struct svc_conn *c, unsigned events);
    /* Frees what the state block points to (NULL: nothing). */
    void (*release)(struct svc_conn *c);
};

/* A running TCP service. */
struct svc_tcp {
    const struct svc_tcp_def *def;
    struct ustack *stack;
    struct us_tcp_pcb *listener;
    struct svc_conn *conns;
    uint32_t nconns;
    uint8_t scratch[SVC_TCP_SCRATCH]; /* only used on the stack thread */
};

extern const struct svc_tcp_def svc_tcp_echo;    /* port 7, RFC 862 */
extern const struct svc_tcp_def svc_tcp_discard; /* port 9, RFC 863 */
extern const struct svc_tcp_def svc_tcp_daytime; /* port 13, RFC 867 */
extern const struct svc_tcp_def svc_tcp_chargen; /* port 19, RFC 864 */
extern const struct svc_tcp_def svc_http;        /* port 80 */

/* Listens on the service's port on every address (under the stack lock).
 * 0 or -errno. */
int svc_tcp_start(struct svc_tcp *sv, const struct svc_tcp_def *def, struct ustack *s);
/* Closes the listener and resets the live connections (under the lock). */
void svc_tcp_stop(struct svc_tcp *sv);

/* Lets go of a connection: unread input is dropped (so that the close is
 * an orderly FIN after whatever was queued, not a reset), the pcb goes
 * back to the stack and c is freed. Safe inside an event handler; never
 * touch c afterwards. */
void svc_conn_close(struct svc_conn *c);

/* Reads and drops everything readable. Returns 0 at end of stream, 1 when
 * more may come, or -errno. */
int svc_conn_drain(struct svc_conn *c);

/* The chargen stream (RFC 864) seen from byte off on: a pointer into a
 * table holding one full period, with *avail bytes available there. The
 * stream is lines of 72 characters, each starting one further along the 95
 * printing characters than the one before, ended by CR LF: it repeats every
 * 95 lines. */
#define SVC_CHARGEN_PERIOD (95 * 74)
const uint8_t *svc_chargen_stream_at(uint64_t off, size_t *avail);

#endif
