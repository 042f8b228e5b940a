/* udp_load: UDP echo request/response rate against one target.
 *
 * Keeps W requests in flight from one connected kernel UDP socket: each
 * request sits in a slot and carries (slot, sequence number); a reply that
 * matches its slot's current sequence number is counted and immediately
 * replaced by a new request in that slot. A request unanswered for the stall
 * timeout (100 ms) is presumed lost and resent under a new sequence number,
 * so lost frames (during ARP resolution, say) never shrink the window.
 * Replies are drained with recvmmsg() and replacements go out with one
 * sendmmsg(), so the generator costs few system calls per echo.
 *
 * usage: udp_load [-w INFLIGHT] [-d SECONDS] [-u WARMUP_S] [-s BYTES] [-t STALL_MS] HOST PORT
 * Defaults: 32 in flight, 5 s measured after 0.5 s warm-up, 32-byte payload,
 * 100 ms stall. Prints on stdout:
 *   udp_echo_rate <replies/s>
 *   udp_echo_replies <n>  udp_echo_resends <n>  udp_echo_stale <n>
 * Exits 1 if no reply came back during the measured time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 4096
#define BATCH 64
#define MIN_PAYLOAD 8
#define MAX_PAYLOAD 1472

struct options {
    int inflight;
    double duration_s;
    double warmup_s;
    int payload;
    int stall_ms;
    struct sockaddr_in target;
};

struct slot {
    uint32_t seq;
    uint64_t sent_ns;
};

struct load {
    int fd;
    int payload;
    uint64_t stall_ns;
    uint32_t next_seq;
    struct slot slots[MAX_INFLIGHT];
    /* Requests queued for the next sendmmsg(). */
    int n_out;
    struct mmsghdr out_msgs[MAX_INFLIGHT];
    struct iovec out_iovs[MAX_INFLIGHT];
    uint8_t out_bufs[MAX_INFLIGHT][MAX_PAYLOAD];
    /* Reply counts: all of them, and those after the warm-up. */
    unsigned long replies, stale, resends;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Queues a fresh request (new sequence number) for slot i. */
static void queue_request(struct load *l, int i, uint64_t now)
{
    uint8_t *buf = l->out_bufs[l->n_out];
    l->slots[i].seq = l->next_seq++;
    l->slots[i].sent_ns = now;
    put32(buf, (uint32_t)i);
    put32(buf + 4, l->slots[i].seq);
    l->out_iovs[l->n_out] = (struct iovec){.iov_base = buf, .iov_len = (size_t)l->payload};
    l->out_msgs[l->n_out].msg_hdr =
        (struct msghdr){.msg_iov = &l->out_iovs[l->n_out], .msg_iovlen = 1};
    l->n_out++;
}

/* Sends what is queued; a request that cannot go out now stays in its slot
 * and is resent after the stall timeout. */
static void flush_requests(struct load *l)
{
    int sent = 0;
    while (sent < l->n_out) {
        int r = sendmmsg(l->fd, l->out_msgs + sent, (unsigned int)(l->n_out - sent), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        sent += r;
    }
    l->n_out = 0;
}

static void resend_stalled(struct load *l, int inflight, uint64_t now)
{
    for (int i = 0; i < inflight; i++) {
        if (now - l->slots[i].sent_ns >= l->stall_ns) {
            queue_request(l, i, now);
            l->resends++;
        }
    }
}

/* Drains every reply waiting on the socket, queueing a replacement for each. */
static void drain_replies(struct load *l, int inflight, uint64_t now)
{
    static uint8_t bufs[BATCH][MAX_PAYLOAD];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iovs[i] = (struct iovec){.iov_base = bufs[i], .iov_len = MAX_PAYLOAD};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iovs[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(l->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN, or ECONNREFUSED from an ICMP error: the stall timer resends */
        for (int k = 0; k < n; k++) {
            if (msgs[k].msg_len < MIN_PAYLOAD) {
                l->stale++;
                continue;
            }
            uint32_t slot = get32(bufs[k]);
            uint32_t seq = get32(bufs[k] + 4);
            if (slot >= (uint32_t)inflight || l->slots[slot].seq != seq) {
                l->stale++; /* a reply to a request already resent */
                continue;
            }
            l->replies++;
            queue_request(l, (int)slot, now);
        }
        if (n < BATCH)
            return;
    }
}

static int open_socket(const struct sockaddr_in *target)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("udp_load: socket");
        return -1;
    }
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (connect(fd, (const struct sockaddr *)target, sizeof *target) < 0) {
        perror("udp_load: connect");
        close(fd);
        return -1;
    }
    return fd;
}

static void bad_value(const char *opt, const char *value, const char *expected)
{
    fprintf(stderr, "udp_load: bad %s '%s' (expected %s)\n", opt, value, expected);
    exit(2);
}

static double parse_number(const char *opt, const char *text, double min, double max,
                           const char *expected)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= min && v <= max))
        bad_value(opt, text, expected);
    return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){
        .inflight = 32, .duration_s = 5, .warmup_s = 0.5, .payload = 32, .stall_ms = 100};
    int opt;
    while ((opt = getopt(argc, argv, "w:d:u:s:t:")) != -1) {
        switch (opt) {
        case 'w':
            o->inflight = (int)parse_number("-w", optarg, 1, MAX_INFLIGHT, "1-4096 requests");
            break;
        case 'd':
            o->duration_s = parse_number("-d", optarg, 0.1, 3600, "0.1-3600 seconds");
            break;
        case 'u':
            o->warmup_s = parse_number("-u", optarg, 0, 60, "0-60 seconds");
            break;
        case 's':
            o->payload = (int)parse_number("-s", optarg, MIN_PAYLOAD, MAX_PAYLOAD, "8-1472 bytes");
            break;
        case 't':
            o->stall_ms = (int)parse_number("-t", optarg, 1, 10000, "1-10000 ms");
            break;
        default:
            fprintf(stderr, "usage: udp_load [-w INFLIGHT] [-d SECONDS] [-u WARMUP_S] "
                            "[-s BYTES] [-t STALL_MS] HOST PORT\n");
            exit(2);
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "udp_load: expected HOST and PORT\n");
        exit(2);
    }
    o->target.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[optind], &o->target.sin_addr) != 1)
        bad_value("host", argv[optind], "an IPv4 address a.b.c.d");
    o->target.sin_port =
        htons((uint16_t)parse_number("port", argv[optind + 1], 1, 65535, "1-65535"));
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    static struct load l;
    l.fd = open_socket(&o.target);
    if (l.fd < 0)
        return 1;
    l.payload = o.payload;
    l.stall_ns = (uint64_t)o.stall_ms * 1000000u;
    memset(l.out_bufs, 0xa5, sizeof l.out_bufs);

    uint64_t start = now_ns();
    uint64_t measure_from = start + (uint64_t)(o.warmup_s * 1e9);
    uint64_t end = measure_from + (uint64_t)(o.duration_s * 1e9);
    uint64_t last_scan = start;
    unsigned long replies_at_measure = 0;
    int measuring = o.warmup_s == 0;

    for (int i = 0; i < o.inflight; i++)
        queue_request(&l, i, start);
    flush_requests(&l);

    struct pollfd pfd = {.fd = l.fd, .events = POLLIN};
    for (;;) {
        int ready = poll(&pfd, 1, 10);
        uint64_t now = now_ns();
        if (!measuring && now >= measure_from) {
            measuring = 1;
            replies_at_measure = l.replies;
            measure_from = now;
        }
        if (now >= end)
            break;
        if (ready > 0)
            drain_replies(&l, o.inflight, now);
        if (now - last_scan >= 10000000u) { /* look for stalled slots every 10 ms */
            resend_stalled(&l, o.inflight, now);
            last_scan = now;
        }
        flush_requests(&l);
    }
    uint64_t stop = now_ns();
    unsigned long counted = l.replies - replies_at_measure;
    double rate = (double)counted / ((double)(stop - measure_from) / 1e9);
    printf("udp_echo_rate %.0f\n", rate);
    printf("udp_echo_replies %lu\nudp_echo_resends %lu\nudp_echo_stale %lu\n", counted, l.resends,
           l.stale);
    close(l.fd);
    return counted == 0 ? 1 : 0;
}
