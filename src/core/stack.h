/* struct ustack: every piece of state of one stack instance. No globals. */
#ifndef US_CORE_STACK_H
#define US_CORE_STACK_H

#include "core/counters.h"
#include "core/log.h"
#include "core/netif.h"
#include "core/pkt.h"
#include "core/random.h"
#include "core/timer.h"
#include "ip4/icmp4.h"
#include "ip4/ip4_reassembly.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

struct us_socklayer;

struct ustack {
    us_time_t now;
    struct us_config cfg;
    struct us_rng rng;
    uint8_t secret[16]; /* key for RFC 6056 / RFC 6528 hashes */
    struct us_timer_heap timers;
    struct us_pkt_pool pool;
    struct us_counters cnt;
    uint8_t log_level[US_CH__COUNT];
    struct us_netif *netifs;
    uint16_t ip4_next_id;
    struct us_reasm reasm;
    struct us_icmp4 icmp4;
    struct us_udp udp;
    struct us_tcp tcp;
    bool batching;                /* between us_batch_begin and us_batch_end */
    struct us_tcp_pcb *ack_batch; /* connections owing an ACK at the batch's end */
    /* Sockets layer state, owned by src/socket (NULL until first use). */
    struct us_socklayer *sock;
    void (*sock_free)(struct us_socklayer *);
    /* Set by the runtime: lock and wake-up used by the sockets layer. */
    void *rt;
};

static inline void us_count_drop(struct ustack *s, enum us_proto proto, enum us_drop why)
{
    s->cnt.drop[proto]++;
    s->cnt.reason[why]++;
}

static inline void us_count_event(struct ustack *s, enum us_event ev)
{
    s->cnt.event[ev]++;
}

/* Drops p, counts why, and logs it at debug level. */
void us_drop(struct ustack *s, struct us_pkt *p, enum us_proto proto, enum us_drop why);

uint32_t us_random32(struct ustack *s);

#endif
