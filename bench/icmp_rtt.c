/* icmp_rtt: ICMPv4 echo round-trip time, one echo at a time.
 *
 * Sends N echo requests (RFC 792) from a raw socket, strictly one after
 * another: the next request leaves as soon as the previous reply arrives (or
 * after the timeout, when it counts as lost). The round trip is measured in
 * user space with CLOCK_MONOTONIC, from just before sendto() to just after
 * the matching reply is read, so it includes both kernels' paths and the
 * target's wake-up; the same for every target, which is what a ratio needs.
 *
 * usage: icmp_rtt [-c COUNT] [-u WARMUP] [-s BYTES] [-t TIMEOUT_MS] HOST
 * Defaults: 2000 measured echoes after 20 unmeasured ones, 56-byte payload,
 * 100 ms timeout. Prints on stdout:
 *   icmp_rtt_mean_us <us>  icmp_rtt_min_us  icmp_rtt_p50_us  icmp_rtt_p99_us
 *   icmp_rtt_max_us  icmp_rtt_replies <n>  icmp_rtt_lost <n>
 * After GIVE_UP consecutive timeouts the target is taken for dead and the
 * remaining echoes are counted as lost without being sent.
 * Exits 1 if no reply at all came back. Needs root (raw socket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 1472
#define ICMP_HLEN 8
#define GIVE_UP 20

struct options {
    int count;
    int warmup;
    int payload;
    int timeout_ms;
    struct sockaddr_in target;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Internet checksum (RFC 1071). */
static uint16_t inet_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (; len > 1; p += 2, len -= 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t build_echo(uint8_t *buf, int payload, uint16_t id, uint16_t seq)
{
    size_t len = ICMP_HLEN + (size_t)payload;
    memset(buf, 0, ICMP_HLEN);
    buf[0] = ICMP_ECHO;
    buf[4] = (uint8_t)(id >> 8);
    buf[5] = (uint8_t)id;
    buf[6] = (uint8_t)(seq >> 8);
    buf[7] = (uint8_t)seq;
    for (int i = 0; i < payload; i++)
        buf[ICMP_HLEN + i] = (uint8_t)i;
    uint16_t csum = inet_checksum(buf, len);
    buf[2] = (uint8_t)(csum >> 8);
    buf[3] = (uint8_t)csum;
    return len;
}

/* Is this raw-socket datagram (IPv4 header first) our echo reply? */
static int is_our_reply(const uint8_t *pkt, size_t len, const struct sockaddr_in *from,
                        const struct options *o, uint16_t id, uint16_t seq)
{
    if (len < 20 || from->sin_addr.s_addr != o->target.sin_addr.s_addr)
        return 0;
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    if (len < ihl + ICMP_HLEN)
        return 0;
    const uint8_t *icmp = pkt + ihl;
    return icmp[0] == ICMP_ECHOREPLY && (icmp[4] << 8 | icmp[5]) == id &&
           (icmp[6] << 8 | icmp[7]) == seq;
}

/* One echo; returns its round trip in ns, or 0 if it timed out. */
static uint64_t echo_once(int fd, const struct options *o, uint16_t id, uint16_t seq)
{
    static uint8_t out[ICMP_HLEN + MAX_PAYLOAD], in[65536];
    size_t len = build_echo(out, o->payload, id, seq);
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + (uint64_t)o->timeout_ms * 1000000u;
    if (sendto(fd, out, len, 0, (const struct sockaddr *)&o->target, sizeof o->target) < 0)
        return 0;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int wait_ms = (int)((deadline - now + 999999) / 1000000);
        if (poll(&pfd, 1, wait_ms) <= 0)
            continue;
        struct sockaddr_in from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, in, sizeof in, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        uint64_t t1 = now_ns();
        if (n > 0 && is_our_reply(in, (size_t)n, &from, o, id, seq))
            return t1 - t0 > 0 ? t1 - t0 : 1;
    }
}

static int open_socket(void)
{
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) {
        fprintf(stderr, "icmp_rtt: raw socket: %s (needs root or CAP_NET_RAW)\n", strerror(errno));
        return -1;
    }
    struct icmp_filter filter = {.data = ~(1u << ICMP_ECHOREPLY)}; /* pass echo replies only */
    setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
    return fd;
}

static int parse_int(const char *opt, const char *text, long min, long max, const char *expected)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "icmp_rtt: bad %s '%s' (expected %s)\n", opt, text, expected);
        exit(2);
    }
    return (int)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.count = 2000, .warmup = 20, .payload = 56, .timeout_ms = 100};
    int opt;
    while ((opt = getopt(argc, argv, "c:u:s:t:")) != -1) {
        if (opt == 'c')
            o->count = parse_int("-c", optarg, 1, 10000000, "1-10000000 echoes");
        else if (opt == 'u')
            o->warmup = parse_int("-u", optarg, 0, 100000, "0-100000 echoes");
        else if (opt == 's')
            o->payload = parse_int("-s", optarg, 0, MAX_PAYLOAD, "0-1472 bytes");
        else if (opt == 't')
            o->timeout_ms = parse_int("-t", optarg, 1, 60000, "1-60000 ms");
        else {
            fprintf(stderr,
                    "usage: icmp_rtt [-c COUNT] [-u WARMUP] [-s BYTES] [-t TIMEOUT_MS] HOST\n");
            exit(2);
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "icmp_rtt: expected HOST\n");
        exit(2);
    }
    o->target.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[optind], &o->target.sin_addr) != 1) {
        fprintf(stderr, "icmp_rtt: bad host '%s' (expected an IPv4 address a.b.c.d)\n",
                argv[optind]);
        exit(2);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(uint64_t *rtts, int n, int lost)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)rtts[i];
    qsort(rtts, (size_t)n, sizeof *rtts, cmp_u64);
    printf("icmp_rtt_mean_us %.1f\n", n ? sum / n / 1e3 : 0.0);
    printf("icmp_rtt_min_us %.1f\n", n ? (double)rtts[0] / 1e3 : 0.0);
    printf("icmp_rtt_p50_us %.1f\n", n ? (double)rtts[n / 2] / 1e3 : 0.0);
    printf("icmp_rtt_p99_us %.1f\n", n ? (double)rtts[(size_t)n * 99 / 100] / 1e3 : 0.0);
    printf("icmp_rtt_max_us %.1f\n", n ? (double)rtts[n - 1] / 1e3 : 0.0);
    printf("icmp_rtt_replies %d\nicmp_rtt_lost %d\n", n, lost);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    int fd = open_socket();
    if (fd < 0)
        return 1;
    uint64_t *rtts = calloc((size_t)o.count, sizeof *rtts);
    if (!rtts) {
        perror("icmp_rtt: calloc");
        return 1;
    }
    uint16_t id = (uint16_t)getpid();
    int replies = 0, lost = 0, lost_in_a_row = 0;
    for (int i = 0; i < o.warmup + o.count && lost_in_a_row < GIVE_UP; i++) {
        uint64_t rtt = echo_once(fd, &o, id, (uint16_t)i);
        lost_in_a_row = rtt == 0 ? lost_in_a_row + 1 : 0;
        if (i >= o.warmup && rtt != 0)
            rtts[replies++] = rtt;
    }
    lost = o.count - replies;
    report(rtts, replies, lost);
    free(rtts);
    close(fd);
    return replies == 0 ? 1 : 0;
}
