/* libFuzzer target: Ethernet frames into an Ethernet (TAP) interface.
 * fuzz_tun.c includes this file with FUZZ_LINK_IP defined to get the same
 * harness for IPv4 packets into an IP (TUN) interface.
 *
 * One stack lives across all inputs, as it would on a real link, so state
 * left by one input (ARP entries and queues, fragments waiting for
 * reassembly, rate-limit tokens) meets the next. The interface is
 * 10.0.0.2/24 with gateway 10.0.0.1 and no ACD (TAP: MAC 02:00:00:00:00:02).
 * So that inputs reach past the demultiplexers: a UDP echo service on port 7
 * sends datagrams back (the transmit path, fragmentation of large replies), a
 * UDP pcb bound to port 5000 and connected to 10.0.0.1:9 hears ICMP errors,
 * and an echo-reply listener takes ICMP echo replies with identifier 42.
 *
 * Input: a sequence of records, each
 *     [1 byte: flags and clock advance][2 bytes: frame length, big endian][frame]
 * Clock byte: bit 7 set asks the harness to fill in correct IPv4 header, UDP
 * and ICMP checksums before the frame goes in, so mutated headers get past
 * the checksum checks and reach the logic behind them. The low 7 bits t
 * advance the clock by t * 100 ms for t < 100, else by (t - 99) * 10 s (up
 * to 280 s, past the reassembly timeout and ARP ageing); us_poll then runs
 * the timers that fell due. A length that runs past the end of the input
 * takes what remains. Several records let a datagram arrive in fragments,
 * with time passing between them. See fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"
#include "core/stack.h"
#include "link/vnet_hdr.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "ustack/ustack.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ip4.h"

#if defined(FUZZ_LINK_IP)
#define FUZZ_NAME "fuzz_tun"
#elif defined(FUZZ_VNET)
#define FUZZ_NAME "fuzz_vnet"
#else
#define FUZZ_NAME "fuzz_tap"
#endif

#define FUZZ_SEED 0x5eed
#define FUZZ_FIX_CSUM 0x80
#define ECHO_PORT 7
#define CONNECTED_PORT 5000
#define PEER_PORT 9
#define PING_ID 42
/* Buffers the stack may legitimately hold at once: reassembly (4 MiB of
 * buffers of at least 2 KiB) and ARP queues (64 entries x 8), with margin.
 * More means a leak or an unbounded queue. */
#define LIVE_PKTS_MAX 8192

static struct ustack *stack;
static struct us_netif *netif;
static us_time_t now;
static uint8_t frame_copy[US_PKT_MAX];

static void drop_transmit(void *ctx, struct us_pkt *pkt)
{
    (void)ctx;
    us_pkt_free(pkt);
}

/* Discards log lines; logging stays at trace so every format string runs. */
static void quiet_log(void *ctx, enum us_log_level level, enum us_log_chan chan, const char *line)
{
    (void)ctx;
    (void)level;
    (void)chan;
    (void)line;
}

/* Reads every captured frame so the capture path is exercised too. */
static void touch_capture(void *ctx, int dir, us_time_t t, const uint8_t *frame, size_t len)
{
    (void)dir;
    (void)t;
    volatile uint8_t *sink = ctx;
    for (size_t i = 0; i < len; i++)
        *sink ^= frame[i];
}

static void echo_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                      const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    (void)ctx;
    (void)dst;
    us_udp_sendto(pcb, p, src, sport);
}

static void sink_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                      const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    (void)ctx;
    (void)pcb;
    (void)src;
    (void)sport;
    (void)dst;
    us_pkt_free(p);
}

static void sink_err(void *ctx, struct us_udp_pcb *pcb, int err)
{
    (void)ctx;
    (void)pcb;
    (void)err;
}

static void sink_echo_reply(void *ctx, struct us_pkt *p, uint32_t src, uint8_t ttl)
{
    (void)ctx;
    (void)src;
    (void)ttl;
    us_pkt_free(p);
}

/* TCP: an echo server on port 7 (accepting everything, echoing what it
 * reads, closing at end of stream) and one connection opening towards the
 * peer, so that segments reach LISTEN, SYN-SENT and the synchronized
 * states alike. */
static void tcp_echo_event(void *ctx, struct us_tcp_pcb *pcb, unsigned events)
{
    (void)ctx;
    if (events & US_TCP_EV_ACCEPTABLE) {
        struct us_tcp_pcb *c;
        while ((c = us_tcp_accept(pcb))) {
            c->event = tcp_echo_event;
            tcp_echo_event(NULL, c, US_TCP_EV_READABLE);
        }
        return;
    }
    if (events & US_TCP_EV_CLOSED) {
        us_tcp_close(pcb);
        return;
    }
    uint8_t buf[2048];
    ssize_t n;
    while ((n = us_tcp_recv(pcb, buf, sizeof(buf), false)) > 0)
        us_tcp_send(pcb, buf, (size_t)n, false);
    if (n == 0)
        us_tcp_close(pcb);
}

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, FUZZ_NAME ": setup failed: %s\n", what);
        abort();
    }
}

static void setup(void)
{
    static volatile uint8_t capture_sink;
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = FUZZ_SEED;
    cfg.start_time = 1000 * US_SEC;
    cfg.log_fn = quiet_log;
    cfg.log_level = US_LOG_TRACE;
    stack = us_stack_new(&cfg);
    must(stack != NULL, "us_stack_new");
    now = cfg.start_time;

    struct us_netif_config ncfg = {.mtu = 1500, .acd = false};
#ifdef FUZZ_LINK_IP
    ncfg.name = "tun0";
    ncfg.type = US_LINK_IP;
#else
    ncfg.name = "tap0";
    ncfg.type = US_LINK_ETHERNET;
    ncfg.mac = (struct us_mac){{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
#endif
    const struct us_driver drv = {.name = "fuzz", .transmit = drop_transmit, .ctx = NULL};
    netif = us_netif_add(stack, &ncfg, &drv);
    must(netif != NULL, "us_netif_add");
    us_netif_set_capture(netif, touch_capture, (void *)&capture_sink);

    struct us_addr addr, gw;
    must(us_addr_parse("10.0.0.2", &addr) == 0 && us_addr_parse("10.0.0.1", &gw) == 0,
         "us_addr_parse");
    must(us_netif_add_addr(netif, &addr, 24) == 0, "us_netif_add_addr");
    must(us_netif_set_gateway(netif, &gw) == 0, "us_netif_set_gateway");
    must(us_netif_ready(netif), "us_netif_ready");

    struct us_udp_pcb *echo = us_udp_new(stack, echo_recv, NULL, NULL);
    must(echo != NULL, "us_udp_new");
    must(us_udp_bind(echo, NULL, ECHO_PORT) == 0, "us_udp_bind");

    struct us_udp_pcb *conn = us_udp_new(stack, sink_recv, sink_err, NULL);
    must(conn != NULL, "us_udp_new");
    must(us_udp_bind(conn, NULL, CONNECTED_PORT) == 0, "us_udp_bind");
    must(us_udp_connect(conn, &gw, PEER_PORT) == 0, "us_udp_connect");

    static struct us_icmp4_echo_listener ping = {.id = PING_ID, .fn = sink_echo_reply};
    us_icmp4_echo_listen(stack, &ping);

    struct us_tcp_pcb *listener = us_tcp_new(stack, tcp_echo_event, NULL);
    must(listener != NULL, "us_tcp_new");
    must(us_tcp_bind(listener, NULL, ECHO_PORT, false) == 0, "us_tcp_bind");
    must(us_tcp_listen(listener, 4) == 0, "us_tcp_listen");
    struct us_tcp_pcb *active = us_tcp_new(stack, tcp_echo_event, NULL);
    must(active != NULL && us_tcp_connect(active, &gw, 80) == 0, "us_tcp_connect");
}

static us_time_t clock_advance(uint8_t ticks)
{
    if (ticks < 100)
        return ticks * 100 * US_MSEC;
    return (us_time_t)(ticks - 99) * 10 * US_SEC;
}

static void put_csum(uint8_t *field, uint16_t c)
{
    memcpy(field, &c, 2);
}

/* Fills in the transport checksum of an unfragmented UDP or ICMP packet
 * (payload of plen bytes at l4), as far as its lengths allow. */
static void fix_l4_csum(uint8_t *ip, uint8_t *l4, size_t plen)
{
    struct us_addr src = {.family = US_AF_INET}, dst = {.family = US_AF_INET};
    memcpy(&src.v4, ip + 12, 4);
    memcpy(&dst.v4, ip + 16, 4);
    if (ip[9] == IP_PROTO_UDP && plen >= 8) {
        size_t ulen = (size_t)(l4[4] << 8 | l4[5]);
        if (ulen < 8 || ulen > plen)
            return;
        put_csum(l4 + 6, 0);
        uint16_t c = us_csum_fold(
            us_csum_add(us_csum_pseudo(&src, &dst, IP_PROTO_UDP, (uint32_t)ulen), l4, ulen));
        put_csum(l4 + 6, c ? c : 0xffff);
    } else if (ip[9] == IP_PROTO_TCP && plen >= 20) {
        put_csum(l4 + 16, 0);
        put_csum(l4 + 16, us_csum_fold(us_csum_add(
                              us_csum_pseudo(&src, &dst, IP_PROTO_TCP, (uint32_t)plen), l4, plen)));
    } else if (ip[9] == IP_PROTO_ICMP && plen >= 4) {
        put_csum(l4 + 2, 0);
        put_csum(l4 + 2, us_csum(l4, plen));
    }
}

/* Makes the IPv4 header checksum (and, for a whole datagram, the UDP or ICMP
 * one) correct, leaving every other byte as the fuzzer wrote it. */
static void fix_checksums(uint8_t *f, size_t len)
{
    size_t off = 0;
#ifndef FUZZ_LINK_IP
    if (len < ETH_HLEN || f[12] != (ETH_TYPE_IP4 >> 8) || f[13] != (ETH_TYPE_IP4 & 0xff))
        return;
    off = ETH_HLEN;
#endif
    uint8_t *ip = f + off;
    size_t avail = len - off;
    if (avail < IP4_HLEN || ip[0] >> 4 != 4)
        return;
    size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
    if (hlen < IP4_HLEN || hlen > avail)
        return;
    put_csum(ip + 10, 0);
    put_csum(ip + 10, us_csum(ip, hlen));
    size_t total = (size_t)(ip[2] << 8 | ip[3]);
    bool fragment = (ip[6] & 0x3f) != 0 || ip[7] != 0; /* MF or an offset */
    if (total < hlen || total > avail || fragment)
        return;
    fix_l4_csum(ip, ip + hlen, total - hlen);
}

#ifdef FUZZ_VNET
/* fuzz_vnet: each frame comes behind the virtio-net header a TAP with
 * offloads puts first (link/vnet_hdr.h), judged as the driver does. */
static void feed(const uint8_t *frame, size_t len, bool fix)
{
    struct virtio_net_hdr h;
    if (len < sizeof h)
        return;
    memcpy(&h, frame, sizeof h);
    frame += sizeof h;
    len -= sizeof h;
    struct us_pkt *p = us_pkt_alloc(stack, len);
    if (!p)
        return;
    memcpy(p->data, frame, len);
    if (fix)
        fix_checksums(p->data, len);
    if (us_vnet_hdr_rx(&h, p) != US_DROP_none) {
        us_pkt_free(p);
        return;
    }
    us_netif_input(netif, p);
}
#else
static void feed(const uint8_t *frame, size_t len, bool fix)
{
    if (!fix) {
        us_netif_input_bytes(netif, frame, len);
        return;
    }
    memcpy(frame_copy, frame, len);
    fix_checksums(frame_copy, len);
    us_netif_input_bytes(netif, frame_copy, len);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!stack)
        setup();
    size_t at = 0;
    while (at < size) {
        uint8_t clock = data[at++];
        now += clock_advance(clock & 0x7f);
        us_poll(stack, now);
        if (at >= size)
            break;
        size_t len = data[at++];
        if (at < size)
            len = len << 8 | data[at++];
        if (len > size - at)
            len = size - at;
        feed(data + at, len, clock & FUZZ_FIX_CSUM);
        at += len;
    }
    us_poll(stack, now);
    if (stack->pool.live > LIVE_PKTS_MAX) {
        fprintf(stderr, FUZZ_NAME ": %llu packet buffers live (limit %u)\n",
                (unsigned long long)stack->pool.live, LIVE_PKTS_MAX);
        abort();
    }
    return 0;
}
