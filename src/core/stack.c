#include "core/stack.h"

#include <stdlib.h>
#include <string.h>

#include "ip4/ip4.h"

void us_config_defaults(struct us_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->random_seed = 1;
    cfg->log_level = US_LOG_WARN;
    cfg->icmp_rate_per_sec = 1000;
    cfg->icmp_burst = 50;
    cfg->reasm_mem_limit = US_REASM_DEFAULT_MEM;
}

struct ustack *us_stack_new(const struct us_config *cfg)
{
    struct ustack *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (cfg)
        s->cfg = *cfg;
    else
        us_config_defaults(&s->cfg);
    if (!s->cfg.icmp_rate_per_sec)
        s->cfg.icmp_rate_per_sec = 1000;
    if (!s->cfg.icmp_burst)
        s->cfg.icmp_burst = 50;
    if (!s->cfg.reasm_mem_limit)
        s->cfg.reasm_mem_limit = US_REASM_DEFAULT_MEM;
    s->now = s->cfg.start_time;
    us_rng_seed(&s->rng, s->cfg.random_seed);
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = us_rng_next(&s->rng);
        memcpy(s->secret + i, &r, 8);
    }
    us_log_set_level(s, -1, s->cfg.log_level);
    s->ip4_next_id = (uint16_t)us_random32(s);
    s->udp.next_ephemeral = us_random32(s);
    s->tcp.next_ephemeral = us_random32(s);
    us_icmp4_init(s);
    return s;
}

void us_stack_free(struct ustack *s)
{
    if (!s)
        return;
    if (s->sock && s->sock_free)
        s->sock_free(s->sock);
    us_tcp_destroy(s);
    us_udp_destroy(s);
    us_ip4_reasm_destroy(s);
    struct us_netif *nif = s->netifs;
    while (nif) {
        struct us_netif *next = nif->next;
        us_netif_destroy(nif);
        nif = next;
    }
    us_timer_heap_destroy(&s->timers);
    us_pkt_pool_destroy(&s->pool);
    free(s);
}

us_time_t us_poll(struct ustack *s, us_time_t now)
{
    if (now > s->now)
        s->now = now;
    us_timer_run(s, s->now);
    return us_timer_next(&s->timers);
}

us_time_t us_now(const struct ustack *s)
{
    return s->now;
}

void us_set_now(struct ustack *s, us_time_t now)
{
    if (now > s->now)
        s->now = now;
}

us_time_t us_next_deadline(const struct ustack *s)
{
    return us_timer_next(&s->timers);
}

void us_batch_begin(struct ustack *s)
{
    s->batching = true;
}

void us_batch_end(struct ustack *s)
{
    s->batching = false;
    tcp_flush_batched_acks(s);
}

uint32_t us_random32(struct ustack *s)
{
    return (uint32_t)(us_rng_next(&s->rng) >> 32);
}

void us_drop(struct ustack *s, struct us_pkt *p, enum us_proto proto, enum us_drop why)
{
    us_count_drop(s, proto, why);
    US_DEBUG(s, US_CH_CORE, "drop %s (%u bytes)", us_drop_names[why], p ? p->len : 0);
    us_pkt_free(p);
}
