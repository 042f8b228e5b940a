/* tcp_hold: opens many idle TCP connections from kernel sockets and holds
 * them, to measure what a server spends per idle connection.
 *
 * Non-blocking connect()s, at most PENDING of them in progress at a time (so
 * a burst never overruns the server's listen backlog), until N are
 * established. A connect that fails (refused, timed out) is retried with a
 * new socket, up to N failures in all. Then it holds every connection,
 * watching for any the server resets or closes, until SIGINT or SIGTERM,
 * and then closes them all (FIN, or RST with -r).
 *
 * usage: tcp_hold [-n N] [-p PENDING] [-t TIMEOUT_S] [-r] HOST PORT
 *        defaults: N 10000, PENDING 128, TIMEOUT_S 60 (to establish all N)
 * stdout: tcp_hold_established N, tcp_hold_failed F, tcp_hold_open_seconds S,
 *         then "ready" once all are established (or the timeout expired);
 *         when stopped: tcp_hold_lost L (connections the server closed or
 *         reset while held), then "done".
 * Exit status: 0 if all N were established and none was lost, 1 otherwise,
 * 2 on bad usage. Raises RLIMIT_NOFILE itself (needs root beyond the hard
 * limit).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256

enum conn_state { CONN_FREE, CONN_CONNECTING, CONN_ESTABLISHED, CONN_LOST };

struct hold {
    struct sockaddr_in dst;
    int n, pending_max, timeout_s;
    bool reset_on_close;
    int epfd;
    int *fds;               /* per slot: the socket, or -1 */
    enum conn_state *state; /* per slot */
    int next_slot;          /* slots below it have been started once */
    int connecting, established, failed, lost;
    int *retry; /* slots whose connect failed, to start again */
    int nretry;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_int(const char *text, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int raise_nofile(int n)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)n + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur >= want)
        return 0;
    if (rl.rlim_max < want)
        rl.rlim_max = want;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("tcp_hold: setrlimit(RLIMIT_NOFILE)");
        return -1;
    }
    return 0;
}

/* Starts a non-blocking connect in slot i. */
static int start_connect(struct hold *h, int i)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("tcp_hold: socket");
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&h->dst, sizeof h->dst) != 0 && errno != EINPROGRESS) {
        perror("tcp_hold: connect");
        close(fd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i};
    if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("tcp_hold: epoll_ctl");
        close(fd);
        return -1;
    }
    h->fds[i] = fd;
    h->state[i] = CONN_CONNECTING;
    h->connecting++;
    return 0;
}

/* Keeps up to pending_max connects in progress: retries first. */
static int fill_pending(struct hold *h)
{
    while (h->connecting < h->pending_max) {
        int slot;
        if (h->nretry > 0)
            slot = h->retry[--h->nretry];
        else if (h->next_slot < h->n)
            slot = h->next_slot++;
        else
            return 0;
        if (start_connect(h, slot) != 0)
            return -1;
    }
    return 0;
}

static void drop_slot(struct hold *h, int i)
{
    epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->fds[i], NULL);
    close(h->fds[i]);
    h->fds[i] = -1;
}

/* A connect finished: established, or failed (then retried later). */
static void on_connect_done(struct hold *h, int i)
{
    int err = 0;
    socklen_t len = sizeof err;
    h->connecting--;
    getsockopt(h->fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) {
        /* Held: only a close or reset by the server is of interest now. */
        struct epoll_event ev = {.events = EPOLLRDHUP, .data.u32 = (uint32_t)i};
        epoll_ctl(h->epfd, EPOLL_CTL_MOD, h->fds[i], &ev);
        h->state[i] = CONN_ESTABLISHED;
        h->established++;
        return;
    }
    if (h->failed == 0)
        fprintf(stderr, "tcp_hold: first failed connect: %s\n", strerror(err));
    h->failed++;
    drop_slot(h, i);
    h->state[i] = CONN_FREE;
    h->retry[h->nretry++] = i;
}

static void on_event(struct hold *h, const struct epoll_event *ev)
{
    int i = (int)ev->data.u32;
    if (h->state[i] == CONN_CONNECTING) {
        on_connect_done(h, i);
    } else if (h->state[i] == CONN_ESTABLISHED) {
        h->state[i] = CONN_LOST;
        h->established--;
        h->lost++;
        drop_slot(h, i);
    }
}

/* Polls once for up to timeout_ms; -1 on a fatal error. */
static int poll_events(struct hold *h, int timeout_ms)
{
    struct epoll_event evs[EVENTS_PER_WAIT];
    int k = epoll_wait(h->epfd, evs, EVENTS_PER_WAIT, timeout_ms);
    if (k < 0)
        return errno == EINTR ? 0 : -1;
    for (int j = 0; j < k; j++)
        on_event(h, &evs[j]);
    return 0;
}

static void open_all(struct hold *h)
{
    double start = now_s(), deadline = start + h->timeout_s;
    while (!stop_requested && h->established < h->n && h->failed <= h->n && now_s() < deadline) {
        if (fill_pending(h) != 0 || poll_events(h, 100) != 0)
            break;
    }
    printf("tcp_hold_established %d\n", h->established);
    printf("tcp_hold_failed %d\n", h->failed);
    printf("tcp_hold_open_seconds %.3f\n", now_s() - start);
    printf("ready\n");
    fflush(stdout);
}

/* Holds until a signal, counting lost connections. */
static void hold_all(struct hold *h)
{
    while (!stop_requested && poll_events(h, 1000) == 0)
        ;
}

static void close_all(struct hold *h)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < h->n; i++) {
        if (h->fds[i] < 0)
            continue;
        if (h->reset_on_close)
            setsockopt(h->fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(h->fds[i]);
        h->fds[i] = -1;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: tcp_hold [-n N] [-p PENDING] [-t TIMEOUT_S] [-r] HOST PORT\n");
    return 2;
}

static int parse_args(struct hold *h, int argc, char **argv)
{
    int opt, port;
    while ((opt = getopt(argc, argv, "n:p:t:r")) != -1) {
        switch (opt) {
        case 'n':
            if (parse_int(optarg, 1, 1000000, &h->n) != 0)
                return fprintf(stderr, "tcp_hold: bad -n '%s' (1..1000000)\n", optarg), -1;
            break;
        case 'p':
            if (parse_int(optarg, 1, 100000, &h->pending_max) != 0)
                return fprintf(stderr, "tcp_hold: bad -p '%s' (1..100000)\n", optarg), -1;
            break;
        case 't':
            if (parse_int(optarg, 1, 86400, &h->timeout_s) != 0)
                return fprintf(stderr, "tcp_hold: bad -t '%s' (seconds)\n", optarg), -1;
            break;
        case 'r':
            h->reset_on_close = true;
            break;
        default:
            return -1;
        }
    }
    if (argc - optind != 2)
        return -1;
    h->dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[optind], &h->dst.sin_addr) != 1)
        return fprintf(stderr, "tcp_hold: bad host '%s' (IPv4)\n", argv[optind]), -1;
    if (parse_int(argv[optind + 1], 1, 65535, &port) != 0)
        return fprintf(stderr, "tcp_hold: bad port '%s'\n", argv[optind + 1]), -1;
    h->dst.sin_port = htons((uint16_t)port);
    return 0;
}

int main(int argc, char **argv)
{
    struct hold h = {.n = 10000, .pending_max = 128, .timeout_s = 60};
    if (parse_args(&h, argc, argv) != 0)
        return usage();
    install_signals();
    if (raise_nofile(h.n) != 0)
        return 1;
    h.fds = malloc(sizeof(int) * (size_t)h.n);
    h.state = calloc((size_t)h.n, sizeof(enum conn_state));
    h.retry = malloc(sizeof(int) * (size_t)h.n);
    h.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!h.fds || !h.state || !h.retry || h.epfd < 0) {
        perror("tcp_hold");
        return 1;
    }
    for (int i = 0; i < h.n; i++)
        h.fds[i] = -1;
    open_all(&h);
    int all = h.established == h.n;
    hold_all(&h);
    printf("tcp_hold_lost %d\n", h.lost);
    printf("done\n");
    fflush(stdout);
    close_all(&h);
    return all && h.lost == 0 ? 0 : 1;
}
