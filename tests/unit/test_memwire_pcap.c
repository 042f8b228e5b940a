/* Link drivers: the in-memory wire (queue, take, deliver), the pcap writer,
 * and, when the test runs as root, the TAP/TUN driver inside a private
 * network namespace (unshare), with a packet socket as the kernel's side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/stack.h"
#include "ustack/link.h"
#include "ustack/ustack.h"

#define TEST_ETHERTYPE 0x88b5 /* IEEE 802 local experimental */
#define MAX_SEEN 64

/* ---- Fixture: two stacks, a netif each, joined by a memwire ---- */

struct seen {
    int netif; /* 0: stack a's netif, 1: stack b's */
    int dir;   /* 0 in, 1 out */
    size_t len;
    uint8_t tag; /* byte 14: first after an Ethernet header */
    uint8_t b20; /* byte 20: first after an IPv4 header */
    bool intact; /* every byte as fill_frame() wrote it */
};

struct fixture {
    struct ustack *s[2];
    struct us_netif *nif[2];
    struct us_memwire *w;
    struct us_driver drv[2];
    struct seen seen[MAX_SEEN];
    int nseen;
    int echo_tag; /* netif 1 answers frames with this tag (-1: never) */
};

struct capture_ctx {
    struct fixture *fx;
    int netif;
};
static struct capture_ctx capture_ctx[2];

static const struct us_mac mac_a = {{0x02, 0, 0, 0, 0, 0x0a}};
static const struct us_mac mac_b = {{0x02, 0, 0, 0, 0, 0x0b}};
static const struct us_mac mac_nobody = {{0x02, 0, 0, 0, 0, 0x99}};

/* An Ethernet frame to nobody, with an experimental EtherType, so the
 * receiving stack drops it without answering. Byte 14 is the tag; the rest
 * of the payload is a pattern derived from it. */
static void fill_frame(uint8_t *f, size_t len, uint8_t tag)
{
    memcpy(f, mac_nobody.b, 6);
    memcpy(f + 6, mac_a.b, 6);
    f[12] = TEST_ETHERTYPE >> 8;
    f[13] = TEST_ETHERTYPE & 0xff;
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)(tag + (i - 14) * 7);
}

static struct us_pkt *make_frame(struct ustack *s, size_t len, uint8_t tag)
{
    struct us_pkt *p = us_pkt_alloc(s, len);
    assert_non_null(p);
    assert_int_equal(us_pkt_len(p), len);
    fill_frame(us_pkt_data(p), len, tag);
    return p;
}

static void check_frame(const uint8_t *f, size_t len, size_t want_len, uint8_t tag)
{
    uint8_t want[4096];
    assert_true(want_len <= sizeof want);
    assert_int_equal(len, want_len);
    fill_frame(want, want_len, tag);
    assert_memory_equal(f, want, want_len);
}

static bool frame_is_pattern(const uint8_t *f, size_t len)
{
    static uint8_t want[US_PKT_MAX];
    if (len <= 14 || len > sizeof want)
        return false;
    fill_frame(want, len, f[14]);
    return memcmp(f, want, len) == 0;
}

static void record_capture(void *ctx, int dir, us_time_t t, const uint8_t *frame, size_t len)
{
    struct capture_ctx *c = ctx;
    struct fixture *fx = c->fx;
    (void)t;
    assert_true(fx->nseen < MAX_SEEN);
    struct seen *e = &fx->seen[fx->nseen++];
    e->netif = c->netif;
    e->dir = dir;
    e->len = len;
    e->tag = len > 14 ? frame[14] : 0;
    e->b20 = len > 20 ? frame[20] : 0;
    e->intact = frame_is_pattern(frame, len);
    /* A peer that answers while the wire is delivering: its reply must be
     * carried by the same us_memwire_deliver() call. */
    if (c->netif == 1 && dir == 0 && e->tag == fx->echo_tag) {
        struct us_pkt *reply = make_frame(fx->s[1], 60, (uint8_t)(e->tag + 1));
        fx->drv[1].transmit(fx->drv[1].ctx, reply);
    }
}

static struct ustack *new_stack(uint64_t seed)
{
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = seed;
    cfg.log_level = US_LOG_ERROR;
    struct ustack *s = us_stack_new(&cfg);
    assert_non_null(s);
    return s;
}

static struct us_netif *new_netif(struct ustack *s, const char *name, const struct us_mac *mac,
                                  const struct us_driver *drv)
{
    struct us_netif_config nc = {.name = name, .type = US_LINK_ETHERNET, .mac = *mac};
    struct us_netif *nif = us_netif_add(s, &nc, drv);
    assert_non_null(nif);
    return nif;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->echo_tag = -1;
    fx->w = us_memwire_new();
    assert_non_null(fx->w);
    for (int i = 0; i < 2; i++) {
        fx->s[i] = new_stack(100 + (uint64_t)i);
        fx->drv[i] = us_memwire_driver(fx->w, i);
        assert_non_null(fx->drv[i].transmit);
        fx->nif[i] = new_netif(fx->s[i], i ? "b0" : "a0", i ? &mac_b : &mac_a, &fx->drv[i]);
        us_memwire_attach(fx->w, i, fx->nif[i]);
        capture_ctx[i] = (struct capture_ctx){fx, i};
        us_netif_set_capture(fx->nif[i], record_capture, &capture_ctx[i]);
    }
    *state = fx;
    return 0;
}

/* The wire goes first: it holds buffers of both stacks. Every buffer must
 * be back in its pool by then. */
static int teardown(void **state)
{
    struct fixture *fx = *state;
    us_memwire_free(fx->w);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx->s[i]->pool.live, 0);
        us_stack_free(fx->s[i]);
    }
    free(fx);
    return 0;
}

static void send_raw(struct fixture *fx, int end, size_t len, uint8_t tag)
{
    fx->drv[end].transmit(fx->drv[end].ctx, make_frame(fx->s[end], len, tag));
}

/* ---- memwire ---- */

static void test_memwire_take_is_fifo_per_end(void **state)
{
    struct fixture *fx = *state;
    assert_null(us_memwire_take(fx->w, 0));
    assert_int_equal(us_memwire_pending(fx->w, 0), 0);

    send_raw(fx, 0, 60, 1);
    send_raw(fx, 0, 1514, 2);
    send_raw(fx, 1, 100, 3);
    send_raw(fx, 0, 3000, 4); /* large buffer class */
    assert_int_equal(us_memwire_pending(fx->w, 0), 3);
    assert_int_equal(us_memwire_pending(fx->w, 1), 1);

    const size_t lens[] = {60, 1514, 3000};
    for (int i = 0; i < 3; i++) {
        struct us_pkt *p = us_memwire_take(fx->w, 0);
        assert_non_null(p);
        check_frame(us_pkt_data(p), us_pkt_len(p), lens[i], i == 2 ? 4 : (uint8_t)(i + 1));
        us_pkt_free(p);
        assert_int_equal(us_memwire_pending(fx->w, 0), 2 - i);
    }
    assert_null(us_memwire_take(fx->w, 0));
    assert_int_equal(us_memwire_pending(fx->w, 1), 1);

    struct us_pkt *p = us_memwire_take(fx->w, 1);
    assert_non_null(p);
    check_frame(us_pkt_data(p), us_pkt_len(p), 100, 3);
    us_pkt_free(p);

    /* Taking is not delivering: no netif saw anything come in. */
    assert_int_equal(fx->nseen, 0);
    /* Out-of-range ends are refused, not wrapped. */
    assert_null(us_memwire_take(fx->w, 2));
    assert_int_equal(us_memwire_pending(fx->w, -1), 0);
    assert_null(us_memwire_driver(fx->w, 2).transmit);
}

static void test_memwire_deliver_alternates_ends(void **state)
{
    struct fixture *fx = *state;
    send_raw(fx, 0, 60, 10);
    send_raw(fx, 0, 61, 11);
    send_raw(fx, 0, 62, 12);
    send_raw(fx, 1, 70, 20);
    send_raw(fx, 1, 71, 21);

    assert_int_equal(us_memwire_deliver(fx->w, 0), 5);
    assert_int_equal(us_memwire_pending(fx->w, 0), 0);
    assert_int_equal(us_memwire_pending(fx->w, 1), 0);

    /* One from each end in turn, then the rest of the longer queue. */
    const struct {
        int netif;
        size_t len;
        uint8_t tag;
    } want[] = {{1, 60, 10}, {0, 70, 20}, {1, 61, 11}, {0, 71, 21}, {1, 62, 12}};
    assert_int_equal(fx->nseen, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fx->seen[i].dir, 0);
        assert_int_equal(fx->seen[i].netif, want[i].netif);
        assert_int_equal(fx->seen[i].len, want[i].len);
        assert_int_equal(fx->seen[i].tag, want[i].tag);
        assert_true(fx->seen[i].intact);
    }
    assert_int_equal(us_memwire_deliver(fx->w, 0), 0);
}

static void test_memwire_deliver_respects_max(void **state)
{
    struct fixture *fx = *state;
    for (uint8_t i = 0; i < 4; i++)
        send_raw(fx, 0, 60, i);

    assert_int_equal(us_memwire_deliver(fx->w, 1), 1);
    assert_int_equal(us_memwire_pending(fx->w, 0), 3);
    assert_int_equal(us_memwire_deliver(fx->w, 2), 2);
    assert_int_equal(us_memwire_pending(fx->w, 0), 1);
    assert_int_equal(fx->nseen, 3);
    assert_int_equal(fx->seen[2].tag, 2);
    assert_int_equal(us_memwire_deliver(fx->w, -1), 1); /* negative: no limit */
    assert_int_equal(fx->nseen, 4);
}

static void test_memwire_deliver_carries_replies(void **state)
{
    struct fixture *fx = *state;
    fx->echo_tag = 0x40;
    send_raw(fx, 0, 60, 0x40);

    /* The request reaches b, b answers from inside the delivery, and the
     * answer reaches a in the same call. */
    assert_int_equal(us_memwire_deliver(fx->w, 0), 2);
    assert_int_equal(fx->nseen, 2);
    assert_int_equal(fx->seen[0].netif, 1);
    assert_int_equal(fx->seen[0].tag, 0x40);
    assert_int_equal(fx->seen[1].netif, 0);
    assert_int_equal(fx->seen[1].tag, 0x41);
    assert_int_equal(us_memwire_pending(fx->w, 1), 0);

    /* With a limit, the reply waits on b's queue. */
    send_raw(fx, 0, 60, 0x40);
    assert_int_equal(us_memwire_deliver(fx->w, 1), 1);
    assert_int_equal(us_memwire_pending(fx->w, 1), 1);
    assert_int_equal(us_memwire_deliver(fx->w, 1), 1);
    assert_int_equal(fx->nseen, 4);
}

static void test_memwire_copies_into_receiver_pool(void **state)
{
    struct fixture *fx = *state;
    send_raw(fx, 0, 1000, 5);
    uint64_t live_a = fx->s[0]->pool.live;
    assert_int_equal(live_a, 1);
    assert_int_equal(us_memwire_deliver(fx->w, 0), 1);
    /* The sender's buffer went home; the receiver dropped its own copy. */
    assert_int_equal(fx->s[0]->pool.live, 0);
    assert_int_equal(fx->s[1]->pool.live, 0);
}

static void test_memwire_unattached_end_drops(void **state)
{
    struct fixture *fx = *state;
    us_memwire_attach(fx->w, 1, NULL);
    send_raw(fx, 0, 60, 1);
    send_raw(fx, 0, 60, 2);
    assert_int_equal(us_memwire_deliver(fx->w, 0), 0);
    assert_int_equal(us_memwire_pending(fx->w, 0), 0);
    assert_int_equal(fx->nseen, 0);
    assert_int_equal(fx->s[0]->pool.live, 0);

    us_memwire_attach(fx->w, 1, fx->nif[1]);
    send_raw(fx, 0, 60, 3);
    assert_int_equal(us_memwire_deliver(fx->w, 0), 1);
    assert_int_equal(fx->nseen, 1);
    assert_int_equal(fx->seen[0].tag, 3);
}

/* us_memwire_free() releases whatever is still on the wire, small and large
 * buffers of both stacks (the teardown checks the pools). */
static void test_memwire_free_releases_queued(void **state)
{
    struct fixture *fx = *state;
    send_raw(fx, 0, 60, 1);
    send_raw(fx, 1, 2000, 2);
    send_raw(fx, 1, 9000, 3);
    assert_int_equal(fx->s[1]->pool.live, 2);
}

/* ---- pcap ---- */

static char *temp_path(const char *name)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/us-pcap-test-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    return path;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    *len = fread(buf, 1, sizeof buf, f);
    assert_true(feof(f));
    fclose(f);
    return buf;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* host order, as written */
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void check_global_header(const uint8_t *b, uint32_t linktype)
{
    assert_int_equal(rd32(b), 0xa1b2c3d4u);
    assert_int_equal(rd16(b + 4), 2);
    assert_int_equal(rd16(b + 6), 4);
    assert_int_equal(rd32(b + 8), 0);  /* thiszone */
    assert_int_equal(rd32(b + 12), 0); /* sigfigs */
    assert_int_equal(rd32(b + 16), 262144);
    assert_int_equal(rd32(b + 20), linktype);
}

static void tshark_reads(const char *path)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0)
        return; /* optional */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tshark -r '%s' >/dev/null 2>&1", path);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
}

static time_t wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static void test_pcap_records_frames_with_wall_clock(void **state)
{
    struct fixture *fx = *state;
    char err[256] = "";
    char *path = temp_path("eth.pcap");
    struct us_pcap *pc = us_pcap_open(path, US_LINK_ETHERNET, err, sizeof err);
    assert_non_null(pc);
    us_pcap_attach(pc, fx->nif[1]);

    /* The clock the writer reads: time() is the coarse clock, which can
     * still show the previous second when CLOCK_REALTIME has moved on. */
    time_t before = wall_seconds();
    const size_t lens[] = {60, 1514, 3000};
    uint8_t frame[3000];
    for (int i = 0; i < 3; i++) {
        fill_frame(frame, lens[i], (uint8_t)(0x30 + i));
        us_netif_input_bytes(fx->nif[1], frame, lens[i]);
    }
    /* And one that arrives over the wire. */
    send_raw(fx, 0, 80, 0x33);
    assert_int_equal(us_memwire_deliver(fx->w, 0), 1);
    time_t after = wall_seconds();
    us_netif_set_capture(fx->nif[1], NULL, NULL);
    us_pcap_close(pc);

    size_t len;
    const uint8_t *b = read_file(path, &len);
    check_global_header(b, 1);
    size_t off = 24;
    const size_t all_lens[] = {60, 1514, 3000, 80};
    for (int i = 0; i < 4; i++) {
        assert_true(off + 16 <= len);
        uint32_t sec = rd32(b + off), usec = rd32(b + off + 4);
        assert_in_range(sec, (uint32_t)before, (uint32_t)after);
        assert_true(usec < 1000000);
        assert_int_equal(rd32(b + off + 8), all_lens[i]);  /* incl_len */
        assert_int_equal(rd32(b + off + 12), all_lens[i]); /* orig_len */
        off += 16;
        assert_true(off + all_lens[i] <= len);
        check_frame(b + off, all_lens[i], all_lens[i], (uint8_t)(0x30 + i));
        off += all_lens[i];
    }
    assert_int_equal(off, len);
    tshark_reads(path);
    unlink(path);
    free(path);
}

/* us_pcap_set_max_frames: the first N frames are recorded, whole, and the
 * rest are not; the file is complete before it is closed. */
static void test_pcap_stops_after_max_frames(void **state)
{
    struct fixture *fx = *state;
    char err[256] = "";
    char *path = temp_path("limit.pcap");
    struct us_pcap *pc = us_pcap_open(path, US_LINK_ETHERNET, err, sizeof err);
    assert_non_null(pc);
    us_pcap_set_max_frames(pc, 2);
    us_pcap_attach(pc, fx->nif[1]);
    uint8_t frame[100];
    for (int i = 0; i < 5; i++) {
        fill_frame(frame, sizeof frame, (uint8_t)(0x40 + i));
        us_netif_input_bytes(fx->nif[1], frame, sizeof frame);
    }
    size_t len;
    const uint8_t *b = read_file(path, &len); /* flushed at the limit */
    assert_int_equal(len, 24 + 2 * (16 + sizeof frame));
    for (int i = 0; i < 2; i++) {
        const uint8_t *rec = b + 24 + (size_t)i * (16 + sizeof frame);
        assert_int_equal(rd32(rec + 8), sizeof frame);
        check_frame(rec + 16, sizeof frame, sizeof frame, (uint8_t)(0x40 + i));
    }
    us_netif_set_capture(fx->nif[1], NULL, NULL);
    us_pcap_close(pc);
    b = read_file(path, &len);
    assert_int_equal(len, 24 + 2 * (16 + sizeof frame));
    tshark_reads(path);
    unlink(path);
    free(path);
}

static void test_pcap_raw_ip_linktype(void **state)
{
    (void)state;
    char err[256] = "";
    char *path = temp_path("ip.pcap");
    struct us_pcap *pc = us_pcap_open(path, US_LINK_IP, err, sizeof err);
    assert_non_null(pc);
    us_pcap_close(pc);
    size_t len;
    const uint8_t *b = read_file(path, &len);
    assert_int_equal(len, 24);
    check_global_header(b, 101);
    unlink(path);
    free(path);
}

static void test_pcap_open_error_names_path(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = "/nonexistent-us-dir/x.pcap";
    assert_null(us_pcap_open(path, US_LINK_ETHERNET, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOENT)));
    assert_null(strchr(err, '\n'));
}

/* ---- TAP / TUN, in a network namespace of our own ---- */

static bool enter_private_netns(void)
{
    static int done = -1;
    if (done < 0)
        done = geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0 &&
               unshare(CLONE_NEWNET) == 0;
    return done == 1;
}

/* A packet socket on ifname: the kernel's end of the TAP/TUN. */
static int kernel_side(const char *ifname)
{
    int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x0003 /* ETH_P_ALL */));
    assert_true(ps >= 0);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_protocol = htons(0x0003),
                              .sll_ifindex = (int)if_nametoindex(ifname)};
    assert_true(sll.sll_ifindex > 0);
    assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof sll), 0);
    return ps;
}

static void set_mtu(const char *ifname, int mtu)
{
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_mtu = mtu;
    assert_int_equal(ioctl(sock, SIOCSIFMTU, &ifr), 0);
    close(sock);
}

static bool iface_up(const char *ifname)
{
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    assert_int_equal(ioctl(sock, SIOCGIFFLAGS, &ifr), 0);
    close(sock);
    return ifr.ifr_flags & IFF_UP;
}

/* Waits for a frame from us (not the kernel's own) whose byte `at` is tag. */
static ssize_t kernel_recv(int ps, uint8_t *buf, size_t cap, size_t at, uint8_t tag)
{
    for (int tries = 0; tries < 200; tries++) {
        struct pollfd pfd = {.fd = ps, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        struct sockaddr_ll from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(ps, buf, cap, 0, (struct sockaddr *)&from, &fl);
        assert_true(n >= 0);
        if (from.sll_pkttype != PACKET_OUTGOING && (size_t)n > at && buf[at] == tag)
            return n;
    }
    return -1;
}

/* Reads from the TAP into the stack until a frame with tag shows up. */
static bool stack_recv(struct fixture *fx, struct us_tuntap *t, uint8_t tag, size_t len)
{
    for (int tries = 0; tries < 200; tries++) {
        struct pollfd pfd = {.fd = us_tuntap_fd(t), .events = POLLIN};
        poll(&pfd, 1, 20);
        int before = fx->nseen;
        int got = us_tuntap_receive(t, fx->nif[0]);
        assert_in_range(got, 0, 64);
        for (int i = before; i < fx->nseen; i++)
            if (fx->seen[i].dir == 0 && fx->seen[i].tag == tag && fx->seen[i].len == len)
                return fx->seen[i].intact;
        fx->nseen = before; /* kernel chatter (IPv6 ND, MLD): forget it */
    }
    return false;
}

static void test_tuntap_errors_and_tap_round_trip(void **state)
{
    struct fixture *fx = *state;
    if (!enter_private_netns())
        skip();
    char err[256] = "";
    assert_null(us_tuntap_open("a-name-too-long-for-linux", US_LINK_ETHERNET, err, sizeof err));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "longer than 15"));

    struct us_tuntap *t = us_tuntap_open("ustap0", US_LINK_ETHERNET, err, sizeof err);
    assert_non_null(t);
    int fd = us_tuntap_fd(t);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(iface_up("ustap0"));

    /* Second opener: busy. Same name as TUN: wrong mode. */
    assert_null(us_tuntap_open("ustap0", US_LINK_ETHERNET, err, sizeof err));
    assert_int_equal(errno, EBUSY);
    assert_non_null(strstr(err, "busy"));
    assert_null(us_tuntap_open("ustap0", US_LINK_IP, err, sizeof err));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "is a TAP device, not TUN"));
    /* A name taken by a device of another driver. */
    assert_null(us_tuntap_open("lo", US_LINK_ETHERNET, err, sizeof err));
    assert_non_null(strstr(err, "not a TUN/TAP device"));

    /* Kernel -> stack, a small frame and one past the small buffer class. */
    set_mtu("ustap0", 9000);
    int ps = kernel_side("ustap0");
    uint8_t frame[6000];
    fill_frame(frame, 60, 0x51);
    assert_int_equal(send(ps, frame, 60, 0), 60);
    assert_true(stack_recv(fx, t, 0x51, 60));
    fill_frame(frame, 6000, 0x52);
    assert_int_equal(send(ps, frame, 6000, 0), 6000);
    assert_true(stack_recv(fx, t, 0x52, 6000));
    assert_int_equal(us_tuntap_receive(t, fx->nif[0]) >= 0, 1);

    /* Stack -> kernel through the driver, small and large. */
    struct us_driver d = us_tuntap_driver(t);
    uint8_t got[9100];
    d.transmit(d.ctx, make_frame(fx->s[0], 1514, 0x61));
    ssize_t n = kernel_recv(ps, got, sizeof got, 14, 0x61);
    assert_int_equal(n, 1514);
    check_frame(got, (size_t)n, 1514, 0x61);
    struct us_pkt *big = us_pkt_alloc(fx->s[0], 9000);
    assert_non_null(big);
    fill_frame(us_pkt_data(big), 9000, 0x62);
    d.transmit(d.ctx, big);
    n = kernel_recv(ps, got, sizeof got, 14, 0x62);
    assert_int_equal(n, 9000);
    assert_int_equal(got[9000 - 1], (uint8_t)(0x62 + (9000 - 1 - 14) * 7));

    close(ps);
    us_tuntap_close(t);
    /* Not persistent: it went away with its descriptor. */
    assert_int_equal(if_nametoindex("ustap0"), 0);
}

static void test_tun_round_trip(void **state)
{
    struct fixture *fx = *state;
    if (!enter_private_netns())
        skip();
    char err[256] = "";
    struct us_tuntap *t = us_tuntap_open("ustun0", US_LINK_IP, err, sizeof err);
    assert_non_null(t);
    assert_string_equal(us_tuntap_driver(t).name, "tun");
    assert_null(us_tuntap_open("ustun0", US_LINK_ETHERNET, err, sizeof err));
    assert_non_null(strstr(err, "is a TUN device, not TAP"));

    /* A bare IPv4 header (protocol 253, experimental) and a tag after it:
     * TUN frames carry no link header. The kernel parses the version
     * nibble; the packet socket sees the packet before IP drops it. */
    uint8_t ip[40] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 253, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
    ip[20] = 0x71;
    int ps = kernel_side("ustun0");
    struct us_pkt *p = us_pkt_alloc(fx->s[0], sizeof ip);
    assert_non_null(p);
    memcpy(us_pkt_data(p), ip, sizeof ip);
    struct us_driver d = us_tuntap_driver(t);
    d.transmit(d.ctx, p);
    uint8_t got[100];
    ssize_t n = kernel_recv(ps, got, sizeof got, 20, 0x71);
    assert_int_equal(n, sizeof ip);
    assert_memory_equal(got, ip, sizeof ip);

    /* Kernel -> stack, on an IP netif (a TUN carries no Ethernet header). */
    struct us_netif_config nc = {.name = "tun0", .type = US_LINK_IP};
    struct us_netif *nif = us_netif_add(fx->s[0], &nc, &d);
    assert_non_null(nif);
    us_netif_set_capture(nif, record_capture, &capture_ctx[0]);
    ip[20] = 0x72;
    assert_int_equal(send(ps, ip, sizeof ip, 0), sizeof ip);
    bool seen = false;
    for (int tries = 0; tries < 200 && !seen; tries++) {
        struct pollfd pfd = {.fd = us_tuntap_fd(t), .events = POLLIN};
        poll(&pfd, 1, 20);
        fx->nseen = 0;
        us_tuntap_receive(t, nif);
        for (int i = 0; i < fx->nseen; i++)
            seen |= fx->seen[i].len == sizeof ip && fx->seen[i].b20 == 0x72;
    }
    assert_true(seen);
    us_netif_set_capture(nif, NULL, NULL);

    close(ps);
    us_tuntap_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memwire_take_is_fifo_per_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memwire_deliver_alternates_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memwire_deliver_respects_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memwire_deliver_carries_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memwire_copies_into_receiver_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memwire_unattached_end_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memwire_free_releases_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcap_records_frames_with_wall_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcap_stops_after_max_frames, setup, teardown),
        cmocka_unit_test(test_pcap_raw_ip_linktype),
        cmocka_unit_test(test_pcap_open_error_names_path),
        cmocka_unit_test_setup_teardown(test_tuntap_errors_and_tap_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tun_round_trip, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char *dir = temp_path("");
    rmdir(dir);
    free(dir);
    return failed;
}
