/* Two stacks over the in-memory wire, on a virtual clock: a TCP transfer
 * through an echo server arrives intact and both sides close cleanly,
 * on a clean link and on a faulty one, for many seeds. A failing seed is
 * printed so that it replays exactly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/stack.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "ustack/link.h"

struct side {
    struct ustack *s;
    struct us_netif *nif;
};

struct echo_server {
    struct us_tcp_pcb *listener, *conn;
    uint8_t buf[65536];
    uint32_t pending, pending_off; /* received but not yet sent back */
    bool peer_closed, closed;
};

struct client {
    struct us_tcp_pcb *pcb;
    const uint8_t *data;
    uint32_t len, sent, received;
    uint8_t *got;
    bool connected, eof, failed, shut;
    int err;
};

static void server_pump(struct echo_server *e)
{
    struct us_tcp_pcb *c = e->conn;
    for (;;) {
        if (e->pending) {
            ssize_t n = us_tcp_send(c, e->buf + e->pending_off, e->pending, false);
            if (n <= 0)
                return;
            e->pending -= (uint32_t)n;
            e->pending_off += (uint32_t)n;
            continue;
        }
        ssize_t n = us_tcp_recv(c, e->buf, sizeof(e->buf), false);
        if (n > 0) {
            e->pending = (uint32_t)n;
            e->pending_off = 0;
            continue;
        }
        if (n == 0 && !e->closed) {
            e->closed = true;
            us_tcp_close(c);
            e->conn = NULL;
        }
        return;
    }
}

static void server_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct echo_server *e = ctx;
    if (pcb == e->listener && (ev & US_TCP_EV_ACCEPTABLE)) {
        struct us_tcp_pcb *c = us_tcp_accept(pcb);
        if (c) {
            e->conn = c;
            c->event = server_event;
            c->ctx = e;
        }
    }
    if (e->conn && pcb == e->conn)
        server_pump(e);
}

static void client_pump(struct client *c)
{
    while (c->sent < c->len) {
        ssize_t n = us_tcp_send(c->pcb, c->data + c->sent, c->len - c->sent, false);
        if (n <= 0)
            break;
        c->sent += (uint32_t)n;
    }
    if (c->sent == c->len && !c->shut && c->connected) {
        c->shut = true;
        us_tcp_shutdown(c->pcb, SHUT_WR);
    }
    for (;;) {
        ssize_t n = us_tcp_recv(c->pcb, c->got + c->received, c->len - c->received + 1, false);
        if (n > 0) {
            c->received += (uint32_t)n;
            continue;
        }
        if (n == 0)
            c->eof = true;
        else if (n != -EAGAIN) {
            c->failed = true;
            c->err = (int)-n;
        }
        break;
    }
}

static void client_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct client *c = ctx;
    if (ev & US_TCP_EV_CONNECTED)
        c->connected = true;
    if (ev & US_TCP_EV_ERROR) {
        c->failed = true;
        c->err = pcb->err;
    }
    if (!c->failed)
        client_pump(c);
}

static void make_side(struct side *sd, struct us_memwire *w, int end, uint64_t seed, const char *ip)
{
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = seed;
    cfg.start_time = 1000 * US_SEC;
    cfg.log_level = getenv("SIM_LOG") ? (enum us_log_level)atoi(getenv("SIM_LOG")) : US_LOG_ERROR;
    sd->s = us_stack_new(&cfg);
    struct us_netif_config nc = {.name = "sim", .type = US_LINK_ETHERNET, .mtu = 1500};
    nc.mac.b[0] = 2;
    nc.mac.b[5] = (uint8_t)(end + 1);
    struct us_driver drv = us_memwire_driver(w, end);
    sd->nif = us_netif_add(sd->s, &nc, &drv);
    us_memwire_attach(w, end, sd->nif);
    struct us_addr a;
    us_addr_parse(ip, &a);
    us_netif_add_addr(sd->nif, &a, 24);
}

static void ignore_udp(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                       const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    (void)ctx, (void)pcb, (void)src, (void)sport, (void)dst;
    us_pkt_free(p);
}

/* One datagram each way: each side learns the other's MAC. */
static void prime_arp(struct side *a, struct side *b, struct us_memwire *w)
{
    struct side *sides[2] = {a, b};
    const char *peers[2] = {"10.0.0.2", "10.0.0.1"};
    for (int i = 0; i < 2; i++) {
        struct us_udp_pcb *pcb = us_udp_new(sides[i]->s, ignore_udp, NULL, NULL);
        struct us_addr dst;
        us_addr_parse(peers[i], &dst);
        struct us_pkt *p = us_pkt_alloc(sides[i]->s, 1);
        p->data[0] = 0;
        assert_int_equal(us_udp_sendto(pcb, p, &dst, 9), 0);
        us_memwire_deliver(w, 0);
        us_udp_free(pcb);
    }
}

/* Runs the wire and both clocks until quiet or a deadline. */
static void run(struct side *a, struct side *b, struct us_memwire *w, struct client *c,
                us_time_t limit)
{
    us_time_t now = a->s->now;
    while (now < limit) {
        us_memwire_deliver(w, 0);
        if (c->eof && c->received == c->len)
            break;
        if (c->failed)
            break;
        us_time_t na = us_next_deadline(a->s), nb = us_next_deadline(b->s);
        us_time_t next = na < nb ? na : nb;
        if (next == US_TIME_NEVER)
            break;
        now = next > now ? next : now + 1;
        us_poll(a->s, now);
        us_poll(b->s, now);
    }
}

/* Returns 0 when the transfer succeeded. */
static int transfer(uint64_t seed, const char *impair, uint32_t len)
{
    struct us_memwire *w = us_memwire_new();
    struct side a, b;
    make_side(&a, w, 0, seed, "10.0.0.1");
    make_side(&b, w, 1, seed * 7 + 1, "10.0.0.2");
    /* Resolve ARP both ways first: a connection whose first SYN finds no
     * neighbour fails at once with EHOSTUNREACH (as on Linux), and this
     * test is about TCP, not ARP, under loss. */
    prime_arp(&a, &b, w);
    if (impair) {
        char err[128], spec[128];
        snprintf(spec, sizeof(spec), "%s,seed=%llu", impair, (unsigned long long)seed);
        assert_int_equal(us_netif_set_impair(a.nif, spec, err, sizeof(err)), 0);
    }
    struct echo_server e;
    memset(&e, 0, sizeof(e));
    e.listener = us_tcp_new(b.s, server_event, &e);
    assert_int_equal(us_tcp_bind(e.listener, NULL, 7, false), 0);
    assert_int_equal(us_tcp_listen(e.listener, 16), 0);

    uint8_t *data = malloc(len), *got = malloc(len + 1);
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 24);
    struct client c = {.data = data, .len = len, .got = got};
    struct us_addr dst;
    us_addr_parse("10.0.0.2", &dst);
    for (int attempt = 1;; attempt++) {
        c.pcb = us_tcp_new(a.s, client_event, &c);
        assert_int_equal(us_tcp_connect(c.pcb, &dst, 7), 0);
        /* Virtual time is free: with 30% loss both ways, timeouts back off
         * to the 120 s maximum, so a transfer may take hours of it. */
        run(&a, &b, w, &c, a.s->now + 24 * 3600 * US_SEC);
        /* A connect gives up after 7 SYNs (ETIMEDOUT), or when ARP fails
         * to refresh the neighbour (EHOSTUNREACH), as Linux's does; at 30%
         * loss both ways about one seed in a thousand gets there. That is
         * the stack working, so the client tries again, as an application
         * would; a connection lost once established still fails the test. */
        if (c.connected || !c.failed || (c.err != ETIMEDOUT && c.err != EHOSTUNREACH) ||
            attempt == 3)
            break;
        us_tcp_close(c.pcb);
        c.failed = false;
        c.err = 0;
    }

    int rc = 0;
    if (c.failed || !c.eof || c.received != len || memcmp(data, got, len) != 0) {
        fprintf(stderr, "seed %llu (%s): failed=%d err=%d eof=%d sent=%u received=%u of %u\n",
                (unsigned long long)seed, impair ? impair : "clean", c.failed, c.err, c.eof, c.sent,
                c.received, len);
        rc = -1;
    }
    us_tcp_close(c.pcb);
    /* Let both sides finish closing (TIME-WAIT included). */
    run(&a, &b, w, &c, a.s->now + 200 * US_SEC);
    us_tcp_close(e.listener);
    us_memwire_free(w);
    us_stack_free(a.s);
    us_stack_free(b.s);
    free(data);
    free(got);
    return rc;
}

static void test_clean_link(void **state)
{
    (void)state;
    assert_int_equal(transfer(1, NULL, 1 << 20), 0);
}

static void test_small_transfer(void **state)
{
    (void)state;
    assert_int_equal(transfer(2, NULL, 1), 0);
    assert_int_equal(transfer(3, NULL, 0), 0);
}

static void test_lossy_links(void **state)
{
    (void)state;
    if (getenv("SIM_ONE_SEED")) { /* replay one case: SIM_ONE_SEED=7 SIM_ONE_SPEC=loss=30% */
        assert_int_equal(
            transfer((uint64_t)atoll(getenv("SIM_ONE_SEED")), getenv("SIM_ONE_SPEC"), 100000), 0);
        return;
    }
    const char *specs[] = {"loss=5%",     "loss=30%",
                           "reorder=10%", "dup=10%",
                           "corrupt=5%",  "loss=10%,dup=5%,reorder=5%,corrupt=1%,delay=5ms"};
    int seeds = getenv("SIM_SEEDS") ? atoi(getenv("SIM_SEEDS")) : 100;
    int failures = 0;
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        for (int seed = 1; seed <= seeds; seed++)
            failures += transfer((uint64_t)seed, specs[i], 100000) != 0;
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_link),
        cmocka_unit_test(test_small_transfer),
        cmocka_unit_test(test_lossy_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
