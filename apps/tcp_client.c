/* Connecting a ustack stream socket from a command-line client. */
#include "tcp_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "signals.h"
#include "ustack/runtime.h"
#include "ustack/socket.h"

#define CONNECT_POLL_MS 100 /* a safety net under the pollfd's POLLOUT */

int tcp_client_parse_host(const char *what, const char *text, uint32_t *addr)
{
    struct in_addr a;
    uint32_t host = 0;
    if (inet_pton(AF_INET, text, &a) == 1)
        host = ntohl(a.s_addr);
    if (host == 0 || host == 0xffffffffu || (host >> 28) == 0xe || (host >> 24) == 127) {
        fprintf(stderr, "ustack: invalid value for %s: '%s' (expected a unicast IPv4 address)\n",
                what, text);
        return 2;
    }
    *addr = a.s_addr;
    return 0;
}

void tcp_client_error(const struct tcp_client *c, const char *what, int err)
{
    fprintf(stderr, "ustack: %s%s port %u: %s\n", what, c->dst_text, ntohs(c->dst.sin_port),
            strerror(err));
}

enum tcp_wait tcp_client_wait(struct tcp_client *c, short events, int extra_fd, int timeout_ms,
                              bool *extra_ready)
{
    struct pollfd pfds[3] = {{.fd = c->sigfd, .events = POLLIN},
                             {.fd = c->pollfd, .events = events},
                             {.fd = extra_fd, .events = POLLIN}};
    int n = poll(pfds, extra_fd >= 0 ? 3 : 2, timeout_ms);
    if (extra_ready)
        *extra_ready = extra_fd >= 0 && (pfds[2].revents & (POLLIN | POLLHUP | POLLERR));
    int signo;
    while ((signo = signals_read(c->sigfd)) != 0)
        if (iface_on_signal(&c->ifc, signo))
            return TCP_WAIT_STOP;
    return n == 0 ? TCP_WAIT_TIMEOUT : TCP_WAIT_READY;
}

/* The outcome of a non-blocking connect: 0 connected, EINPROGRESS, or the
 * error that ended it. */
static int connect_state(struct tcp_client *c)
{
    struct ustack *s = c->ifc.stack;
    int err = 0;
    socklen_t len = sizeof(err);
    if (us_getsockopt(s, c->sd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    if (err)
        return err;
    struct sockaddr_in peer;
    len = sizeof(peer);
    if (us_getpeername(s, c->sd, (struct sockaddr *)&peer, &len) == 0)
        return 0;
    return errno == ENOTCONN ? EINPROGRESS : errno;
}

/* Waits for the handshake (the pollfd turns POLLOUT, or POLLERR on
 * failure); 0, or an errno (ETIMEDOUT when timeout passed, EINTR when told
 * to stop). */
static int wait_connected(struct tcp_client *c, us_time_t timeout)
{
    us_time_t deadline = timeout ? us_clock_monotonic() + timeout : US_TIME_NEVER;
    for (;;) {
        int st = connect_state(c);
        if (st != EINPROGRESS)
            return st;
        us_time_t now = us_clock_monotonic();
        if (now >= deadline)
            return ETIMEDOUT;
        us_time_t left_ms =
            deadline == US_TIME_NEVER ? CONNECT_POLL_MS : (deadline - now + US_MSEC - 1) / US_MSEC;
        int wait_ms = left_ms < CONNECT_POLL_MS ? (int)left_ms : CONNECT_POLL_MS;
        if (tcp_client_wait(c, POLLOUT, -1, wait_ms, NULL) == TCP_WAIT_STOP)
            return EINTR;
    }
}

static int open_socket(struct tcp_client *c)
{
    struct ustack *s = c->ifc.stack;
    c->sd = us_socket(s, AF_INET, SOCK_STREAM, 0);
    if (c->sd < 0 || us_set_nonblocking(s, c->sd, 1) != 0 ||
        (c->pollfd = us_socket_pollfd(s, c->sd)) < 0) {
        fprintf(stderr, "ustack: cannot open a TCP socket: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int tcp_client_open(struct tcp_client *c, const struct cli_iface *o, uint32_t addr, uint16_t port,
                    us_time_t timeout)
{
    char err[CLI_ERRLEN];
    memset(c, 0, sizeof(*c));
    c->sd = c->pollfd = c->sigfd = -1;
    c->dst = (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr};
    inet_ntop(AF_INET, &c->dst.sin_addr, c->dst_text, sizeof(c->dst_text));
    c->sigfd = signals_open();
    if (c->sigfd < 0) {
        perror("ustack: signalfd");
        return 1;
    }
    c->ifc_open = true;
    if (iface_open(&c->ifc, o, err, sizeof(err)) != 0) {
        fprintf(stderr, "ustack: %s\n", err);
        return 1;
    }
    if (iface_wait_ready(&c->ifc, c->sigfd) != IFACE_READY || open_socket(c) != 0)
        return 1;
    int rc = us_connect(c->ifc.stack, c->sd, (const struct sockaddr *)&c->dst, sizeof(c->dst));
    rc = rc == 0 ? 0 : errno == EINPROGRESS ? wait_connected(c, timeout) : errno;
    if (rc == EINTR)
        return 1;
    if (rc != 0) {
        tcp_client_error(c, "connect to ", rc);
        return 1;
    }
    return 0;
}

void tcp_client_close(struct tcp_client *c)
{
    if (c->sd >= 0) {
        /* The process ends right after: let what is still in the send
         * buffer, and our FIN, reach the peer first (up to 10 s). */
        struct linger l = {.l_onoff = 1, .l_linger = 10};
        us_set_nonblocking(c->ifc.stack, c->sd, 0);
        us_setsockopt(c->ifc.stack, c->sd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        us_close(c->ifc.stack, c->sd);
    }
    c->sd = -1;
    if (c->ifc_open)
        iface_close(&c->ifc, false);
    c->ifc_open = false;
    if (c->sigfd >= 0)
        close(c->sigfd);
    c->sigfd = -1;
}
