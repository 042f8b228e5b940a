/* udp_echo_server: the kernel's UDP echo (RFC 862), as a benchmark baseline.
 *
 * A recvmmsg()/sendmmsg() loop on one ordinary kernel UDP socket: every
 * datagram received is sent back to where it came from, in batches of up to
 * BATCH datagrams per system call.
 *
 * usage: udp_echo_server [-a ADDR] [-p PORT]     (defaults 0.0.0.0 and 7)
 * Prints "ready" on stdout once bound; exits on SIGINT or SIGTERM and then
 * prints its counters on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DATAGRAM 65536

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
    sa.sa_handler = on_signal; /* no SA_RESTART: recvmmsg() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int parse_port(const char *text, unsigned short *port)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || v < 1 || v > 65535)
        return -1;
    *port = (unsigned short)v;
    return 0;
}

static int open_socket(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("udp_echo_server: socket");
        return -1;
    }
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
        perror("udp_echo_server: bind");
        close(fd);
        return -1;
    }
    return fd;
}

struct batch {
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct sockaddr_in peers[BATCH];
    char bufs[BATCH][MAX_DATAGRAM];
};

static void batch_reset(struct batch *b)
{
    for (int i = 0; i < BATCH; i++) {
        b->iovs[i] = (struct iovec){.iov_base = b->bufs[i], .iov_len = MAX_DATAGRAM};
        b->msgs[i].msg_hdr = (struct msghdr){.msg_name = &b->peers[i],
                                             .msg_namelen = sizeof b->peers[i],
                                             .msg_iov = &b->iovs[i],
                                             .msg_iovlen = 1};
    }
}

/* Echoes n received datagrams; returns how many went out. */
static int echo_back(int fd, struct batch *b, int n)
{
    for (int i = 0; i < n; i++)
        b->iovs[i].iov_len = b->msgs[i].msg_len;
    int sent = 0;
    while (sent < n) {
        int r = sendmmsg(fd, b->msgs + sent, (unsigned int)(n - sent), 0);
        if (r < 0) {
            if (errno == EINTR && !stop_requested)
                continue;
            break; /* ENOBUFS and the like: the client resends */
        }
        sent += r;
    }
    return sent;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(7)};
    int opt;
    while ((opt = getopt(argc, argv, "a:p:")) != -1) {
        unsigned short port;
        if (opt == 'a' && inet_pton(AF_INET, optarg, &addr.sin_addr) != 1) {
            fprintf(stderr, "udp_echo_server: bad address '%s' (expected a.b.c.d)\n", optarg);
            return 2;
        } else if (opt == 'p' && parse_port(optarg, &port) < 0) {
            fprintf(stderr, "udp_echo_server: bad port '%s' (expected 1-65535)\n", optarg);
            return 2;
        } else if (opt == 'p') {
            addr.sin_port = htons(port);
        } else if (opt != 'a') {
            fprintf(stderr, "usage: udp_echo_server [-a ADDR] [-p PORT]\n");
            return 2;
        }
    }
    int fd = open_socket(&addr);
    if (fd < 0)
        return 1;
    static struct batch b;
    install_signals();
    printf("ready\n");
    fflush(stdout);

    unsigned long received = 0, echoed = 0;
    while (!stop_requested) {
        batch_reset(&b);
        int n = recvmmsg(fd, b.msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("udp_echo_server: recvmmsg");
            return 1;
        }
        received += (unsigned long)n;
        echoed += (unsigned long)echo_back(fd, &b, n);
    }
    fprintf(stderr, "udp_echo_server: received %lu echoed %lu\n", received, echoed);
    close(fd);
    return 0;
}
