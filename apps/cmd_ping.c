/* `ustack ping`: ICMP echo from the stack through a Linux-style ping socket
 * (SOCK_DGRAM, IPPROTO_ICMP): we write the 8-byte echo header and the
 * payload, the stack fills in the identifier and the checksum, and replies
 * come back with their ICMP header. Output follows iputils ping(8). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cli.h"
#include "commands.h"
#include "iface.h"
#include "ping_report.h"
#include "ping_ttl.h"
#include "signals.h"
#include "ustack/runtime.h"
#include "ustack/socket.h"
#include "wire/icmp4.h"

#define PING_MAX_SIZE 65507 /* 65535 - 20 (IPv4) - 8 (ICMP) */
#define PING_STAMP_LEN 8    /* send time (ns) at the head of the payload */
#define PING_BUF (ICMP4_HLEN + PING_MAX_SIZE)

enum { PING_OPT_COUNT, PING_OPT_SIZE, PING_OPT_INTERVAL, PING_OPT_TIMEOUT };

struct ping_params {
    unsigned long count, size;
    us_time_t interval, timeout;
};

struct ping {
    struct ping_params p;
    struct iface ifc;
    struct ping_ttl *ttl;
    int sd, pollfd, sigfd;
    struct sockaddr_in dst;
    char dst_text[64];
    struct ping_stats st;
    uint8_t seen[65536 / 8]; /* replies seen, by sequence number */
    uint8_t txbuf[PING_BUF], rxbuf[PING_BUF + 1];
};

static int ping_apply(void *ctx, int id, const char *opt, const char *value, char *err,
                      size_t errlen)
{
    struct ping_params *p = ctx;
    switch (id) {
    case PING_OPT_COUNT:
        return cli_parse_uint(opt, value, 1, 1000000000, &p->count, err, errlen);
    case PING_OPT_SIZE:
        return cli_parse_uint(opt, value, 0, PING_MAX_SIZE, &p->size, err, errlen);
    case PING_OPT_INTERVAL:
        return cli_parse_seconds(opt, value, 0.001, 3600, &p->interval, err, errlen);
    case PING_OPT_TIMEOUT:
        return cli_parse_seconds(opt, value, 0, 3600, &p->timeout, err, errlen);
    }
    return -1;
}

static const struct cli_opt ping_opts[] = {
    {"--count", 'c', "COUNT", "send COUNT echo requests, 1..1000000000 (default 4)",
     PING_OPT_COUNT},
    {"--size", 's', "SIZE", "bytes of data per request, 0..65507 (default 56)", PING_OPT_SIZE},
    {"--interval", 'i', "INTERVAL", "seconds between requests, 0.001..3600 (default 1)",
     PING_OPT_INTERVAL},
    {"--timeout", 'W', "TIMEOUT", "seconds to wait for replies after the last request (default 2)",
     PING_OPT_TIMEOUT},
};

static const char ping_details[] =
    "Exits 0 when any reply came, 1 when none did, 2 on bad usage.\n";

/* ---- Sending ---- */

static void bit_set(uint8_t *bits, uint16_t i, bool on)
{
    if (on)
        bits[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

static bool bit_get(const uint8_t *bits, uint16_t i)
{
    return bits[i / 8] & (1u << (i % 8));
}

/* Payload: the send time, then byte i holds i & 0xff (as iputils). */
static void fill_payload(uint8_t *payload, size_t size, us_time_t now)
{
    size_t i = 0;
    if (size >= PING_STAMP_LEN) {
        memcpy(payload, &now, PING_STAMP_LEN);
        i = PING_STAMP_LEN;
    }
    for (; i < size; i++)
        payload[i] = (uint8_t)i;
}

static void send_request(struct ping *pg)
{
    uint16_t seq = (uint16_t)(pg->st.transmitted + 1);
    uint8_t *h = pg->txbuf;
    memset(h, 0, ICMP4_HLEN);
    h[0] = ICMP4_ECHO_REQUEST;
    h[6] = (uint8_t)(seq >> 8); /* identifier and checksum: the stack's */
    h[7] = (uint8_t)seq;
    fill_payload(h + ICMP4_HLEN, pg->p.size, us_clock_monotonic());
    bit_set(pg->seen, seq, false);
    pg->st.transmitted++;
    if (us_sendto(pg->ifc.stack, pg->sd, h, ICMP4_HLEN + pg->p.size, 0,
                  (const struct sockaddr *)&pg->dst, sizeof(pg->dst)) < 0)
        fprintf(stderr, "ustack: ping: sendto %s: %s\n", pg->dst_text, strerror(errno));
}

/* ---- Receiving ---- */

/* First payload byte that differs from the pattern, or -1. */
static long bad_byte(const uint8_t *payload, size_t len)
{
    for (size_t i = PING_STAMP_LEN; i < len; i++)
        if (payload[i] != (uint8_t)i)
            return (long)i;
    return -1;
}

static void print_reply(struct ping *pg, const struct sockaddr_in *from, size_t len, uint16_t seq,
                        long long rtt_us, bool dup)
{
    char from_text[INET_ADDRSTRLEN], ttl_text[16] = "", time_text[32] = "";
    inet_ntop(AF_INET, &from->sin_addr, from_text, sizeof(from_text));
    iface_lock(&pg->ifc);
    int ttl = ping_ttl_lookup(pg->ttl, seq);
    iface_unlock(&pg->ifc);
    if (ttl >= 0)
        snprintf(ttl_text, sizeof(ttl_text), " ttl=%d", ttl);
    if (rtt_us >= 0) {
        time_text[0] = ' ';
        ping_format_rtt(rtt_us, time_text + 1, sizeof(time_text) - 1);
    }
    printf("%zu bytes from %s: icmp_seq=%u%s%s%s\n", len, from_text, seq, ttl_text, time_text,
           dup ? " (DUP!)" : "");
    const uint8_t *payload = pg->rxbuf + ICMP4_HLEN;
    long bad = bad_byte(payload, len - ICMP4_HLEN);
    if (bad >= 0)
        printf("wrong data byte #%ld should be 0x%lx but was 0x%x\n", bad,
               (unsigned long)bad & 0xff, payload[bad]);
}

/* True when seq is one we sent (the sequence wraps after 65535). */
static bool seq_sent(const struct ping *pg, uint16_t seq)
{
    return pg->st.transmitted >= 65535 || (seq >= 1 && seq <= pg->st.transmitted);
}

static void handle_reply(struct ping *pg, size_t len, const struct sockaddr_in *from)
{
    const uint8_t *h = pg->rxbuf;
    if (len < ICMP4_HLEN || h[0] != ICMP4_ECHO_REPLY)
        return;
    uint16_t seq = (uint16_t)(h[6] << 8 | h[7]);
    if (!seq_sent(pg, seq))
        return;
    long long rtt_us = -1;
    if (pg->st.timing && len >= ICMP4_HLEN + PING_STAMP_LEN) {
        us_time_t sent, now = us_clock_monotonic();
        memcpy(&sent, h + ICMP4_HLEN, PING_STAMP_LEN);
        rtt_us = sent <= now ? (long long)((now - sent) / 1000) : 0;
        ping_stats_add_rtt(&pg->st, rtt_us);
    }
    bool dup = bit_get(pg->seen, seq);
    if (dup) {
        pg->st.duplicates++;
    } else {
        bit_set(pg->seen, seq, true);
        pg->st.received++;
    }
    print_reply(pg, from, len, seq, rtt_us, dup);
}

static void drain_socket(struct ping *pg)
{
    for (;;) {
        struct sockaddr_in from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = us_recvfrom(pg->ifc.stack, pg->sd, pg->rxbuf, sizeof(pg->rxbuf), 0,
                                (struct sockaddr *)&from, &fromlen);
        if (n >= 0) {
            handle_reply(pg, (size_t)n, &from);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            pg->st.errors++;
            fprintf(stderr, "ustack: ping: %s: %s\n", pg->dst_text, strerror(errno));
        }
        return;
    }
}

/* ---- The loop ---- */

/* Waits until deadline for a reply or a signal; false when told to stop. */
static bool wait_events(struct ping *pg, us_time_t deadline)
{
    us_time_t now = us_clock_monotonic();
    us_time_t left = deadline > now ? deadline - now : 0;
    struct timespec ts = {.tv_sec = (time_t)(left / US_SEC), .tv_nsec = (long)(left % US_SEC)};
    struct pollfd pfds[2] = {{.fd = pg->pollfd, .events = POLLIN},
                             {.fd = pg->sigfd, .events = POLLIN}};
    ppoll(pfds, 2, &ts, NULL);
    drain_socket(pg);
    int signo;
    while ((signo = signals_read(pg->sigfd)) != 0)
        if (iface_on_signal(&pg->ifc, signo))
            return false;
    return true;
}

/* Sends count requests, interval apart, then waits up to timeout for the
 * missing replies. Returns the elapsed time. */
static us_time_t ping_loop(struct ping *pg)
{
    us_time_t start = us_clock_monotonic(), next_send = start, end = US_TIME_NEVER;
    for (;;) {
        us_time_t now = us_clock_monotonic();
        if (pg->st.transmitted < pg->p.count && now >= next_send) {
            send_request(pg);
            next_send += pg->p.interval;
            if (pg->st.transmitted == pg->p.count)
                end = now + pg->p.timeout;
            continue; /* a reply may already be in: look before sleeping */
        }
        bool all_sent = pg->st.transmitted == pg->p.count;
        if (all_sent && (pg->st.received >= pg->p.count || now >= end))
            break;
        if (!wait_events(pg, all_sent ? end : next_send))
            break;
    }
    return us_clock_monotonic() - start;
}

static int open_socket(struct ping *pg)
{
    struct ustack *s = pg->ifc.stack;
    pg->sd = us_socket(s, AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (pg->sd < 0 || us_set_nonblocking(s, pg->sd, 1) != 0 ||
        (pg->pollfd = us_socket_pollfd(s, pg->sd)) < 0) {
        fprintf(stderr, "ustack: ping: cannot open a ping socket: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int ping_session(struct ping *pg)
{
    if (open_socket(pg) != 0)
        return 1;
    iface_lock(&pg->ifc);
    pg->ttl = ping_ttl_attach(pg->ifc.nif, pg->ifc.link, pg->dst.sin_addr.s_addr);
    iface_unlock(&pg->ifc);
    if (!pg->ttl) {
        fprintf(stderr, "ustack: ping: out of memory\n");
        return 1;
    }
    ping_stats_init(&pg->st, pg->p.size >= PING_STAMP_LEN);
    printf("PING %s (%s) %lu(%lu) bytes of data.\n", pg->dst_text, pg->dst_text, pg->p.size,
           pg->p.size + ICMP4_HLEN + 20);
    us_time_t elapsed = ping_loop(pg);
    ping_print_summary(stdout, pg->dst_text, &pg->st, elapsed);
    return pg->st.received > 0 ? 0 : 1;
}

static void ping_close(struct ping *pg)
{
    if (pg->ttl) {
        iface_lock(&pg->ifc);
        ping_ttl_detach(pg->ttl);
        iface_unlock(&pg->ifc);
    }
    if (pg->sd >= 0)
        us_close(pg->ifc.stack, pg->sd);
    iface_close(&pg->ifc, false);
}

static int ping_run(struct ping *pg, const struct cli_args *args)
{
    char err[CLI_ERRLEN];
    setvbuf(stdout, NULL, _IOLBF, 0);
    pg->sd = -1;
    pg->sigfd = signals_open();
    if (pg->sigfd < 0) {
        perror("ustack: signalfd");
        return 1;
    }
    int status = 1;
    if (iface_open(&pg->ifc, &args->iface, err, sizeof(err)) != 0)
        fprintf(stderr, "ustack: %s\n", err);
    else if (iface_wait_ready(&pg->ifc, pg->sigfd) == IFACE_READY)
        status = ping_session(pg);
    ping_close(pg);
    close(pg->sigfd);
    return status;
}

/* DEST: one IPv4 unicast address. 0 or 2 (usage error, printed). */
static int parse_dest(struct ping *pg, const struct cli_args *args)
{
    struct us_addr a;
    if (args->npos == 0) {
        fprintf(stderr, "ustack: ping: missing destination (usage: ustack ping [OPTIONS] DEST)\n");
        return 2;
    }
    if (args->npos > 1) {
        fprintf(stderr, "ustack: ping: unexpected argument '%s'\n", args->pos[1]);
        return 2;
    }
    uint32_t host = 0;
    if (us_addr_parse(args->pos[0], &a) == 0 && a.family == US_AF_INET)
        host = ntohl(a.v4);
    if (host == 0 || host == 0xffffffffu || (host >> 28) == 0xe) {
        fprintf(stderr, "ustack: invalid value for DEST: '%s' (expected a unicast IPv4 address)\n",
                args->pos[0]);
        return 2;
    }
    pg->dst = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = a.v4};
    inet_ntop(AF_INET, &pg->dst.sin_addr, pg->dst_text, sizeof(pg->dst_text));
    return 0;
}

int cmd_ping(int argc, char **argv)
{
    struct ping *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return 1;
    pg->p =
        (struct ping_params){.count = 4, .size = 56, .interval = 1 * US_SEC, .timeout = 2 * US_SEC};
    const struct cli_cmd cmd = {
        .name = "ping",
        .synopsis = "[OPTIONS] DEST [-c COUNT] [-s SIZE] [-i INTERVAL] [-W TIMEOUT]",
        .summary = "Sends ICMP echo requests to DEST from the stack and reports the replies.",
        .details = ping_details,
        .opts = ping_opts,
        .nopts = sizeof(ping_opts) / sizeof(ping_opts[0]),
        .apply = ping_apply,
        .ctx = &pg->p,
    };
    struct cli_args args;
    char err[CLI_ERRLEN];
    int status = cli_parse_command(&cmd, argc, argv, &args);
    if (status != CLI_GO_ON) {
        free(pg);
        return status;
    }
    if ((status = parse_dest(pg, &args)) == 0) {
        if (iface_validate(&args.iface, err, sizeof(err)) != 0) {
            fprintf(stderr, "ustack: %s\n", err);
            status = 2;
        } else {
            status = ping_run(pg, &args);
        }
    }
    free(pg);
    return status;
}
