/* TCP sockets: two stacks joined by the in-memory wire on a virtual clock
 * (no runtime: non-blocking calls, and blocking ones that must not wait),
 * checking errno values, the poll bits of the pollable descriptor and the
 * options against Linux (the states and calls here were run on Linux 6.18
 * in a network namespace with small probe programs; where ours differs, a
 * comment says so); then blocking calls with a runtime thread against the
 * Linux kernel over a TAP in a private network namespace (skipped unless
 * root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ustack/link.h"
#include "ustack/runtime.h"
#include "ustack/socket.h"
#include "ustack/ustack.h"

#define IP_A "10.0.0.1"
#define IP_B "10.0.0.2"
#define SA(p) ((struct sockaddr *)(p))
#define BITS (POLLIN | POLLOUT | POLLHUP | POLLERR | POLLRDHUP)
#define DEAD (POLLIN | POLLOUT | POLLHUP | POLLRDHUP) /* a connection that is over */

struct fixture {
    struct ustack *s[2];
    struct us_netif *nif[2];
    struct us_memwire *w;
    us_time_t now;
};

static const struct us_mac mac_a = {{0x02, 0, 0, 0, 0, 0x0a}};
static const struct us_mac mac_b = {{0x02, 0, 0, 0, 0, 0x0b}};

static struct ustack *new_stack(uint64_t seed, us_time_t start)
{
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = seed;
    cfg.start_time = start;
    cfg.log_level = US_LOG_ERROR;
    struct ustack *s = us_stack_new(&cfg);
    assert_non_null(s);
    return s;
}

static struct us_netif *new_netif(struct ustack *s, const char *name, const struct us_mac *mac,
                                  struct us_driver *drv, const char *ip)
{
    struct us_netif_config nc = {.name = name, .type = US_LINK_ETHERNET, .mac = *mac, .acd = false};
    struct us_netif *nif = us_netif_add(s, &nc, drv);
    assert_non_null(nif);
    struct us_addr a;
    assert_int_equal(us_addr_parse(ip, &a), 0);
    assert_int_equal(us_netif_add_addr(nif, &a, 24), 0);
    assert_true(us_netif_ready(nif));
    return nif;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->w = us_memwire_new();
    assert_non_null(fx->w);
    for (int i = 0; i < 2; i++) {
        fx->s[i] = new_stack(11 + (uint64_t)i, 0);
        struct us_driver drv = us_memwire_driver(fx->w, i);
        fx->nif[i] =
            new_netif(fx->s[i], i ? "b0" : "a0", i ? &mac_b : &mac_a, &drv, i ? IP_B : IP_A);
        us_memwire_attach(fx->w, i, fx->nif[i]);
    }
    *state = fx;
    return 0;
}

/* Sockets left open are released by us_stack_free, their connections
 * dropped without a word. LeakSanitizer checks. */
static int teardown(void **state)
{
    struct fixture *fx = *state;
    us_memwire_free(fx->w);
    for (int i = 0; i < 2; i++)
        us_stack_free(fx->s[i]);
    free(fx);
    return 0;
}

/* Moves every frame and runs both stacks' timers, one millisecond at a
 * time, for ms milliseconds. */
static void run(struct fixture *fx, int ms)
{
    for (int i = 0; i < ms; i++) {
        us_memwire_deliver(fx->w, 0);
        fx->now += US_MSEC;
        for (int k = 0; k < 2; k++)
            us_poll(fx->s[k], fx->now);
    }
    us_memwire_deliver(fx->w, 0);
}

static void settle(struct fixture *fx)
{
    run(fx, 1);
}

/* Jumps from deadline to deadline (frames delivered between) for span. */
static void advance(struct fixture *fx, us_time_t span)
{
    us_time_t end = fx->now + span;
    while (fx->now < end) {
        us_memwire_deliver(fx->w, 0);
        us_time_t next = end;
        for (int k = 0; k < 2; k++) {
            us_time_t d = us_poll(fx->s[k], fx->now);
            if (d < next)
                next = d;
        }
        fx->now = next > fx->now ? next : fx->now + US_MSEC;
    }
    for (int k = 0; k < 2; k++)
        us_poll(fx->s[k], fx->now);
    us_memwire_deliver(fx->w, 0);
}

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

static void expect_errno(long rc, int err)
{
    assert_int_equal(rc, -1);
    assert_int_equal(errno, err);
}

static int tcp_socket(struct ustack *s)
{
    int sd = us_socket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(sd >= 0);
    return sd;
}

static int listener(struct ustack *s, const char *ip, uint16_t port, int backlog)
{
    int sd = tcp_socket(s);
    int one = 1;
    assert_int_equal(us_setsockopt(s, sd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_in sin = sin4(ip, port);
    assert_int_equal(us_bind(s, sd, SA(&sin), sizeof sin), 0);
    assert_int_equal(us_listen(s, sd, backlog), 0);
    return sd;
}

/* The poll bits of a pollable descriptor now. */
static short ready(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};
    int n = poll(&pfd, 1, 0);
    assert_true(n >= 0);
    return n ? (short)(pfd.revents & BITS) : 0;
}

static int pollfd(struct ustack *s, int sd)
{
    int fd = us_socket_pollfd(s, sd);
    assert_true(fd >= 0);
    return fd;
}

static int sock_error(struct ustack *s, int sd)
{
    int err = -1;
    socklen_t len = sizeof err;
    assert_int_equal(us_getsockopt(s, sd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(len, sizeof err);
    return err;
}

static int get_int(struct ustack *s, int sd, int level, int name)
{
    int v = -12345;
    socklen_t len = sizeof v;
    assert_int_equal(us_getsockopt(s, sd, level, name, &v, &len), 0);
    assert_int_equal(len, sizeof v);
    return v;
}

static int set_int(struct ustack *s, int sd, int level, int name, int v)
{
    return us_setsockopt(s, sd, level, name, &v, sizeof v);
}

/* A connection from a client on stack A to a listener on stack B. */
struct conn {
    int lis;                 /* on B */
    int cli;                 /* on A */
    int srv;                 /* on B, accepted */
    struct sockaddr_in peer; /* what accept said */
};

static struct conn connect_pair(struct fixture *fx, uint16_t port)
{
    struct conn c = {.lis = listener(fx->s[1], IP_B, port, 8), .cli = tcp_socket(fx->s[0])};
    struct sockaddr_in to = sin4(IP_B, port);
    expect_errno(us_connect(fx->s[0], c.cli, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    socklen_t len = sizeof c.peer;
    c.srv = us_accept4(fx->s[1], c.lis, SA(&c.peer), &len, SOCK_NONBLOCK);
    assert_true(c.srv >= 0);
    assert_int_equal(len, sizeof c.peer);
    return c;
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/* Moves n bytes from (sa, a) to (sb, b) with non-blocking calls, checking
 * every byte. */
static void transfer(struct fixture *fx, struct ustack *sa, int a, struct ustack *sb, int b,
                     size_t n)
{
    static uint8_t buf[65536];
    size_t sent = 0, got = 0;
    for (int rounds = 0; got < n && rounds < 100000; rounds++) {
        while (sent < n) {
            size_t k = n - sent < sizeof buf ? n - sent : sizeof buf;
            for (size_t i = 0; i < k; i++)
                buf[i] = pattern(sent + i);
            ssize_t r = us_send(sa, a, buf, k, 0);
            if (r < 0) {
                assert_int_equal(errno, EAGAIN);
                break;
            }
            sent += (size_t)r;
        }
        settle(fx);
        for (;;) {
            ssize_t r = us_recv(sb, b, buf, sizeof buf, 0);
            if (r < 0) {
                assert_int_equal(errno, EAGAIN);
                break;
            }
            assert_true(r > 0);
            for (ssize_t i = 0; i < r; i++)
                assert_int_equal(buf[i], pattern(got + (size_t)i));
            got += (size_t)r;
        }
    }
    assert_int_equal(got, n);
}

/* ---- Connections ---- */

static void test_tcp_round_trip_and_names(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8000);

    struct sockaddr_in me, peer;
    socklen_t len = sizeof me;
    assert_int_equal(us_getsockname(sa, c.cli, SA(&me), &len), 0);
    assert_int_equal(len, sizeof me);
    assert_int_equal(me.sin_family, AF_INET);
    assert_int_equal(me.sin_addr.s_addr, sin4(IP_A, 0).sin_addr.s_addr);
    assert_int_not_equal(me.sin_port, 0);
    assert_int_equal(c.peer.sin_addr.s_addr, me.sin_addr.s_addr); /* accept's address */
    assert_int_equal(c.peer.sin_port, me.sin_port);
    len = sizeof peer;
    assert_int_equal(us_getpeername(sa, c.cli, SA(&peer), &len), 0);
    assert_int_equal(peer.sin_addr.s_addr, sin4(IP_B, 0).sin_addr.s_addr);
    assert_int_equal(ntohs(peer.sin_port), 8000);
    assert_int_equal(us_getsockname(sb, c.srv, SA(&peer), &len), 0);
    assert_int_equal(ntohs(peer.sin_port), 8000);
    assert_int_equal(us_getpeername(sb, c.srv, SA(&peer), &len), 0);
    assert_int_equal(peer.sin_port, me.sin_port);
    /* A short buffer gets what fits and the full length. */
    len = 2;
    memset(&peer, 0, sizeof peer);
    assert_int_equal(us_getpeername(sb, c.srv, SA(&peer), &len), 0);
    assert_int_equal(len, sizeof peer);
    assert_int_equal(peer.sin_port, 0);

    assert_int_equal(us_send(sa, c.cli, "hello", 5, 0), 5);
    settle(fx);
    char buf[16] = "";
    struct sockaddr_in from = {0};
    socklen_t fromlen = sizeof from;
    assert_int_equal(us_recvfrom(sb, c.srv, buf, sizeof buf, 0, SA(&from), &fromlen), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(fromlen, 0); /* a stream has no per-read source */
    assert_int_equal(us_send(sb, c.srv, "world!", 6, 0), 6);
    settle(fx);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 6);
    assert_memory_equal(buf, "world!", 6);

    transfer(fx, sa, c.cli, sb, c.srv, 300000);
    transfer(fx, sb, c.srv, sa, c.cli, 300000);
    assert_int_equal(us_counter_get(sa, "tcp.retransmit"), 0);
}

static void test_tcp_nonblocking_connect(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    int lis = listener(sb, IP_B, 8001, 8);
    int lfd = pollfd(sb, lis);
    assert_int_equal(ready(lfd), 0);
    int a = tcp_socket(sa);
    int fd = pollfd(sa, a);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP); /* never connected */
    struct sockaddr_in to = sin4(IP_B, 8001);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EINPROGRESS);
    assert_int_equal(ready(fd), 0);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EALREADY);
    char buf[4];
    expect_errno(us_send(sa, a, "x", 1, 0), EAGAIN);
    expect_errno(us_recv(sa, a, buf, sizeof buf, 0), EAGAIN);
    struct sockaddr_in name;
    socklen_t len = sizeof name;
    expect_errno(us_getpeername(sa, a, SA(&name), &len), ENOTCONN);
    assert_int_equal(us_getsockname(sa, a, SA(&name), &len), 0);
    assert_int_not_equal(name.sin_port, 0);
    expect_errno(us_listen(sa, a, 1), EINVAL);
    assert_int_equal(sock_error(sa, a), 0);

    settle(fx);
    assert_int_equal(ready(lfd), POLLIN);
    assert_int_equal(ready(fd), POLLOUT);
    assert_int_equal(sock_error(sa, a), 0);
    assert_int_equal(us_connect(sa, a, SA(&to), sizeof to), 0); /* once, as Linux */
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EISCONN);
    struct sockaddr_in mine = sin4(IP_A, 0);
    expect_errno(us_bind(sa, a, SA(&mine), sizeof mine), EINVAL);
    expect_errno(us_listen(sa, a, 1), EINVAL);

    int srv = us_accept(sb, lis, NULL, NULL);
    assert_true(srv >= 0);
    assert_int_equal(ready(lfd), 0);
    expect_errno(us_accept(sb, lis, NULL, NULL), EAGAIN);
    expect_errno(us_connect(sb, srv, SA(&to), sizeof to), EISCONN);
    expect_errno(us_connect(sb, lis, SA(&to), sizeof to), EISCONN);
    /* Data sent before the accept waits in the new socket. */
    assert_int_equal(us_send(sa, a, "early", 5, 0), 5);
    settle(fx);
    assert_int_equal(ready(pollfd(sb, srv)), POLLIN | POLLOUT);
    assert_int_equal(us_recv(sb, srv, buf, sizeof buf, 0), 4);
}

static void test_tcp_connect_refused_and_reuse(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    int a = tcp_socket(sa);
    int fd = pollfd(sa, a);
    struct sockaddr_in closed = sin4(IP_B, 9);
    expect_errno(us_connect(sa, a, SA(&closed), sizeof closed), EINPROGRESS);
    settle(fx);
    assert_int_equal(us_counter_get(fx->s[1], "tcp.reset_sent"), 1);
    assert_int_equal(ready(fd), DEAD | POLLERR);
    assert_int_equal(sock_error(sa, a), ECONNREFUSED);
    assert_int_equal(ready(fd), DEAD);
    assert_int_equal(sock_error(sa, a), 0);
    char buf[4];
    assert_int_equal(us_recv(sa, a, buf, sizeof buf, 0), 0);
    expect_errno(us_send(sa, a, "x", 1, 0), EPIPE);
    struct sockaddr_in name;
    socklen_t len = sizeof name;
    expect_errno(us_getpeername(sa, a, SA(&name), &len), ENOTCONN);
    /* The failure, already read, is ECONNABORTED; the socket starts over
     * (its pollable descriptor too, under the same number). */
    expect_errno(us_connect(sa, a, SA(&closed), sizeof closed), ECONNABORTED);
    assert_int_equal(us_socket_pollfd(sa, a), fd);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP);
    expect_errno(us_recv(sa, a, buf, sizeof buf, 0), ENOTCONN);
    expect_errno(us_connect(sa, a, SA(&closed), sizeof closed), EINPROGRESS);
    assert_int_equal(ready(fd), 0);
    settle(fx);
    assert_int_equal(ready(fd), DEAD | POLLERR);
    /* Not read yet: the next connect reports it and starts over. */
    expect_errno(us_connect(sa, a, SA(&closed), sizeof closed), ECONNREFUSED);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP);
    /* And the socket still works. */
    int lis = listener(fx->s[1], IP_B, 8002, 8);
    struct sockaddr_in open = sin4(IP_B, 8002);
    expect_errno(us_connect(sa, a, SA(&open), sizeof open), EINPROGRESS);
    settle(fx);
    assert_int_equal(ready(fd), POLLOUT);
    int srv = us_accept(fx->s[1], lis, NULL, NULL);
    assert_true(srv >= 0);
    assert_int_equal(us_send(sa, a, "ok", 2, 0), 2);
    settle(fx);
    assert_int_equal(us_recv(fx->s[1], srv, buf, sizeof buf, 0), 2);
}

static void test_tcp_connect_errors(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    int a = tcp_socket(sa);
    struct sockaddr_in far = sin4("192.168.77.1", 80); /* no route, no gateway */
    expect_errno(us_connect(sa, a, SA(&far), sizeof far), ENETUNREACH);
    struct sockaddr_in bcast = sin4("10.0.0.255", 80), mcast = sin4("224.0.0.9", 80);
    expect_errno(us_connect(sa, a, SA(&bcast), sizeof bcast), ENETUNREACH);
    expect_errno(us_connect(sa, a, SA(&mcast), sizeof mcast), ENETUNREACH);
    struct sockaddr_in to = sin4(IP_B, 80);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to - 1), EINVAL);
    expect_errno(us_connect(sa, a, NULL, 0), EINVAL);
    to.sin_family = AF_INET6;
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EAFNOSUPPORT);
    expect_errno(us_connect(sa, 999, SA(&to), sizeof to), EBADF);
    /* Still fresh after all that. */
    assert_int_equal(ready(pollfd(sa, a)), POLLOUT | POLLHUP);
}

/* No answer at all, not even to ARP: once ARP gives up on the next hop
 * (3 requests, 1 s apart) connect fails with EHOSTUNREACH, as Linux says
 * "No route to host" for an on-link host that is gone. (A peer that
 * answers ARP but never the SYN gives ETIMEDOUT after 127 s: see
 * tests/flow/test_tcp_handshake.c.) */
static void test_tcp_connect_times_out(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    char err[128];
    assert_int_equal(us_netif_set_impair(fx->nif[1], "loss=100%", err, sizeof err), 0);
    int a = tcp_socket(sa);
    int fd = pollfd(sa, a);
    struct sockaddr_in to = sin4(IP_B, 8003);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EINPROGRESS);
    advance(fx, 2 * US_SEC);
    assert_int_equal(ready(fd), 0);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EALREADY);
    advance(fx, 2 * US_SEC);
    assert_int_equal(ready(fd), DEAD | POLLERR);
    assert_int_equal(sock_error(sa, a), EHOSTUNREACH);
    assert_true(us_counter_get(sa, "drop.arp_unresolved") >= 1); /* the SYN and its retries */

    /* shutdown() while connecting gives up the attempt (Linux
     * inet_shutdown: tcp_disconnect, ECONNRESET pending). Linux polls
     * OUT|HUP|ERR then; ours shows OUT|HUP (see socket.h). */
    int b = tcp_socket(sa);
    int bfd = pollfd(sa, b);
    expect_errno(us_connect(sa, b, SA(&to), sizeof to), EINPROGRESS);
    assert_int_equal(us_shutdown(sa, b, SHUT_WR), 0);
    assert_int_equal(ready(bfd), POLLOUT | POLLHUP);
    assert_int_equal(sock_error(sa, b), ECONNRESET);
    char buf[4];
    expect_errno(us_recv(sa, b, buf, sizeof buf, 0), ENOTCONN);
}

static void test_tcp_fresh_socket(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    int a = tcp_socket(sa);
    int fd = pollfd(sa, a);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP);
    char buf[4];
    expect_errno(us_recv(sa, a, buf, sizeof buf, 0), ENOTCONN);
    expect_errno(us_send(sa, a, "x", 1, 0), EPIPE);
    expect_errno(us_shutdown(sa, a, SHUT_WR), ENOTCONN);
    expect_errno(us_accept(sa, a, NULL, NULL), EINVAL);
    struct sockaddr_in name;
    socklen_t len = sizeof name;
    expect_errno(us_getpeername(sa, a, SA(&name), &len), ENOTCONN);
    assert_int_equal(us_getsockname(sa, a, SA(&name), &len), 0);
    assert_int_equal(name.sin_addr.s_addr, 0);
    assert_int_equal(name.sin_port, 0);
    assert_int_equal(get_int(sa, a, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    assert_int_equal(get_int(sa, a, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
    assert_int_equal(get_int(sa, a, SOL_SOCKET, SO_DOMAIN), AF_INET);
    assert_int_equal(get_int(sa, a, SOL_SOCKET, SO_ACCEPTCONN), 0);

    struct sockaddr_in any = sin4("0.0.0.0", 0);
    assert_int_equal(us_bind(sa, a, SA(&any), sizeof any), 0);
    assert_int_equal(us_getsockname(sa, a, SA(&name), &len), 0);
    assert_int_not_equal(name.sin_port, 0);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP); /* bound is still closed */
    expect_errno(us_bind(sa, a, SA(&any), sizeof any), EINVAL);

    /* Listening: readable only with a connection to accept. */
    assert_int_equal(us_listen(sa, a, 5), 0);
    assert_int_equal(us_listen(sa, a, 100), 0); /* again: a new backlog */
    assert_int_equal(ready(fd), 0);
    assert_int_equal(get_int(sa, a, SOL_SOCKET, SO_ACCEPTCONN), 1);
    struct sockaddr_in to = sin4(IP_B, 80);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EISCONN);
    expect_errno(us_send(sa, a, "x", 1, 0), EPIPE);
    expect_errno(us_recv(sa, a, buf, sizeof buf, 0), ENOTCONN);
    expect_errno(us_accept(sa, a, NULL, NULL), EAGAIN);
    expect_errno(us_accept4(sa, a, NULL, NULL, 0x1), EINVAL);
    expect_errno(us_getpeername(sa, a, SA(&name), &len), ENOTCONN);
    assert_int_equal(us_shutdown(sa, a, SHUT_WR), 0); /* no effect on a listener */
    assert_int_equal(ready(fd), 0);
    /* SHUT_RD stops listening, as Linux's inet_shutdown. */
    assert_int_equal(us_shutdown(sa, a, SHUT_RD), 0);
    expect_errno(us_accept(sa, a, NULL, NULL), EINVAL);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP);

    /* Types and calls that are not for this kind of socket. */
    expect_errno(us_socket(sa, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    int t = us_socket(sa, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(t >= 0);
    int u = us_socket(sa, AF_INET, SOCK_DGRAM, 0);
    expect_errno(us_listen(sa, u, 1), EOPNOTSUPP);
    expect_errno(us_accept(sa, u, NULL, NULL), EOPNOTSUPP);
    expect_errno(us_listen(sa, 777, 1), EBADF);
    expect_errno(us_accept(sa, 777, NULL, NULL), EBADF);
    expect_errno(us_shutdown(sa, 777, SHUT_RD), EBADF);
    expect_errno(us_shutdown(sa, t, 3), EINVAL);
}

static void test_tcp_listen_backlog(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    int lis = listener(sb, IP_B, 8004, 0); /* Linux: room for one */
    int lfd = pollfd(sb, lis);
    int c1 = tcp_socket(sa), c2 = tcp_socket(sa);
    struct sockaddr_in to = sin4(IP_B, 8004);
    expect_errno(us_connect(sa, c1, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    expect_errno(us_connect(sa, c2, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    assert_int_equal(ready(lfd), POLLIN);
    assert_int_equal(us_counter_get(sb, "drop.tcp_accept_queue_full"), 1);
    assert_true(us_accept(sb, lis, NULL, NULL) >= 0);
    expect_errno(us_accept(sb, lis, NULL, NULL), EAGAIN);
    assert_int_equal(ready(lfd), 0);
    int neg = listener(sb, IP_B, 8005, -1); /* negative: somaxconn */
    assert_true(neg >= 0);
}

static void test_tcp_bind_errors_and_reuse(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sb = fx->s[1];
    int lis = listener(sb, IP_B, 8010, 4);
    (void)lis;
    int x = tcp_socket(sb);
    struct sockaddr_in same = sin4(IP_B, 8010), any = sin4("0.0.0.0", 8010);
    expect_errno(us_bind(sb, x, SA(&same), sizeof same), EADDRINUSE);
    expect_errno(us_bind(sb, x, SA(&any), sizeof any), EADDRINUSE);
    assert_int_equal(set_int(sb, x, SOL_SOCKET, SO_REUSEADDR, 1), 0);
    expect_errno(us_bind(sb, x, SA(&same), sizeof same), EADDRINUSE); /* a listener holds it */
    struct sockaddr_in other = sin4("10.9.9.9", 8010);
    expect_errno(us_bind(sb, x, SA(&other), sizeof other), EADDRNOTAVAIL);
    expect_errno(us_bind(sb, x, SA(&same), sizeof same - 1), EINVAL);
    same.sin_family = AF_INET6;
    expect_errno(us_bind(sb, x, SA(&same), sizeof same), EAFNOSUPPORT);

    /* The server closes first: its side waits in TIME-WAIT, which blocks
     * a new bind of the port unless SO_REUSEADDR. */
    struct conn c = connect_pair(fx, 8011);
    assert_int_equal(us_close(sb, c.srv), 0);
    assert_int_equal(us_close(sb, c.lis), 0);
    run(fx, 50);
    assert_int_equal(us_close(fx->s[0], c.cli), 0);
    run(fx, 50);
    int y = tcp_socket(sb);
    struct sockaddr_in port = sin4(IP_B, 8011);
    expect_errno(us_bind(sb, y, SA(&port), sizeof port), EADDRINUSE);
    assert_int_equal(set_int(sb, y, SOL_SOCKET, SO_REUSEADDR, 1), 0);
    assert_int_equal(us_bind(sb, y, SA(&port), sizeof port), 0);
    assert_int_equal(us_listen(sb, y, 4), 0);
}

static void test_tcp_send_buffer_fills_and_drains(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8020);
    assert_int_equal(set_int(sa, c.cli, SOL_SOCKET, SO_SNDBUF, 8192), 0);
    assert_int_equal(get_int(sa, c.cli, SOL_SOCKET, SO_SNDBUF), 16384);
    int fd = pollfd(sa, c.cli);
    assert_int_equal(ready(fd), POLLOUT);
    static uint8_t buf[65536];
    ssize_t n = us_send(sa, c.cli, buf, sizeof buf, 0);
    assert_int_equal(n, 16384); /* what fits */
    expect_errno(us_send(sa, c.cli, buf, sizeof buf, 0), EAGAIN);
    expect_errno(us_send(sa, c.cli, buf, 1, MSG_DONTWAIT), EAGAIN);
    assert_int_equal(ready(fd), 0); /* full: not writable */
    /* The peer's ACKs free the buffer (the last one delayed 40 ms). */
    run(fx, 100);
    assert_int_equal(ready(fd), POLLOUT);
    size_t got = 0;
    while (got < 16384) {
        ssize_t r = us_recv(sb, c.srv, buf, sizeof buf, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    /* A blocking send without a runtime takes what fits and returns. */
    assert_int_equal(us_set_nonblocking(sa, c.cli, 0), 0);
    assert_int_equal(us_send(sa, c.cli, buf, sizeof buf, 0), 16384);
    assert_int_equal(ready(fd), 0);
}

static void test_tcp_readable_and_peer_fin(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8030);
    int fd = pollfd(sa, c.cli), sfd = pollfd(sb, c.srv);
    assert_int_equal(ready(fd), POLLOUT);
    assert_int_equal(us_send(sb, c.srv, "abc", 3, 0), 3);
    settle(fx);
    assert_int_equal(ready(fd), POLLIN | POLLOUT);
    char buf[8] = "";
    assert_int_equal(us_recv(sa, c.cli, buf, 2, MSG_PEEK), 2);
    assert_memory_equal(buf, "ab", 2);
    assert_int_equal(ready(fd), POLLIN | POLLOUT);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(ready(fd), POLLOUT);
    expect_errno(us_recv(sa, c.cli, buf, sizeof buf, 0), EAGAIN);

    assert_int_equal(us_shutdown(sb, c.srv, SHUT_WR), 0);
    assert_int_equal(ready(sfd), POLLOUT);
    expect_errno(us_send(sb, c.srv, "x", 1, 0), EPIPE);
    settle(fx);
    assert_int_equal(ready(fd), POLLIN | POLLOUT | POLLRDHUP);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
    assert_int_equal(us_send(sa, c.cli, "late", 4, 0), 4); /* CLOSE-WAIT still sends */
    settle(fx);
    assert_int_equal(us_recv(sb, c.srv, buf, sizeof buf, 0), 4);
    assert_int_equal(us_shutdown(sa, c.cli, SHUT_WR), 0);
    assert_int_equal(ready(fd), DEAD);
    expect_errno(us_send(sa, c.cli, "x", 1, 0), EPIPE);
    run(fx, 50);
    assert_int_equal(ready(sfd), DEAD);
    assert_int_equal(us_recv(sb, c.srv, buf, sizeof buf, 0), 0);
    assert_int_equal(ready(fd), DEAD); /* LAST-ACK done: closed */
    expect_errno(us_shutdown(sa, c.cli, SHUT_RDWR), ENOTCONN);
}

static void test_tcp_shutdown_read(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8031);
    int fd = pollfd(sa, c.cli);
    assert_int_equal(us_shutdown(sa, c.cli, SHUT_RD), 0);
    assert_int_equal(ready(fd), POLLIN | POLLOUT | POLLRDHUP);
    char buf[8];
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
    /* Data arriving afterwards is still read first, as Linux's. */
    assert_int_equal(us_send(sb, c.srv, "zz", 2, 0), 2);
    settle(fx);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 2);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
    assert_int_equal(us_send(sa, c.cli, "w", 1, 0), 1);
    assert_int_equal(us_shutdown(sa, c.cli, SHUT_RDWR), 0);
    assert_int_equal(ready(fd), DEAD);
}

static void test_tcp_reset_on_unread_close(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    for (int round = 0; round < 2; round++) {
        struct conn c = connect_pair(fx, (uint16_t)(8040 + round));
        int fd = pollfd(sa, c.cli);
        assert_int_equal(us_send(sa, c.cli, "abc", 3, 0), 3);
        settle(fx);
        uint64_t rst = us_counter_get(sb, "tcp.reset_sent");
        assert_int_equal(us_close(sb, c.srv), 0); /* unread data: RST */
        assert_int_equal(us_counter_get(sb, "tcp.reset_sent"), rst + 1);
        settle(fx);
        assert_int_equal(ready(fd), DEAD | POLLERR);
        char buf[8];
        if (round == 0) {
            /* send sees the reset once, then EPIPE. */
            expect_errno(us_send(sa, c.cli, "x", 1, MSG_NOSIGNAL), ECONNRESET);
            assert_int_equal(ready(fd), DEAD);
            expect_errno(us_send(sa, c.cli, "x", 1, 0), EPIPE);
            assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
        } else {
            /* recv sees it once, then the end. */
            expect_errno(us_recv(sa, c.cli, buf, sizeof buf, 0), ECONNRESET);
            assert_int_equal(ready(fd), DEAD);
            assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
            expect_errno(us_send(sa, c.cli, "x", 1, 0), EPIPE);
        }
        assert_int_equal(sock_error(sa, c.cli), 0);
        struct sockaddr_in name;
        socklen_t len = sizeof name;
        expect_errno(us_getpeername(sa, c.cli, SA(&name), &len), ENOTCONN);
        /* Linux: still connecting as far as the socket knows (one connect
         * call, non-blocking), so the ended connection is ECONNABORTED. */
        expect_errno(us_connect(sa, c.cli, SA(&c.peer), sizeof c.peer), ECONNABORTED);
    }
}

static void test_tcp_linger_zero_resets(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8050);
    int sfd = pollfd(sb, c.srv);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(us_setsockopt(sa, c.cli, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(us_close(sa, c.cli), 0);
    settle(fx);
    assert_int_equal(us_counter_get(sb, "tcp.reset_rcvd"), 1);
    assert_int_equal(ready(sfd), DEAD | POLLERR);
    char buf[4];
    expect_errno(us_recv(sb, c.srv, buf, sizeof buf, 0), ECONNRESET);
    /* An accepted socket is connected for good: EISCONN even now. */
    struct sockaddr_in to = sin4(IP_A, 1);
    expect_errno(us_connect(sb, c.srv, SA(&to), sizeof to), EISCONN);

    /* A plain close is a FIN: the peer reads the end. */
    struct conn d = connect_pair(fx, 8051);
    assert_int_equal(us_close(sa, d.cli), 0);
    settle(fx);
    assert_int_equal(us_recv(sb, d.srv, buf, sizeof buf, 0), 0);
    assert_int_equal(us_counter_get(sb, "tcp.reset_rcvd"), 1);
    /* SO_LINGER with a time on a blocking socket but no runtime: close
     * cannot wait and returns at once, gracefully. */
    struct conn e = connect_pair(fx, 8052);
    lg.l_linger = 5;
    assert_int_equal(us_setsockopt(sa, e.cli, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(us_set_nonblocking(sa, e.cli, 0), 0);
    assert_int_equal(us_close(sa, e.cli), 0);
    settle(fx);
    assert_int_equal(us_recv(sb, e.srv, buf, sizeof buf, 0), 0);
}

/* Linux keeps a connection that is reset after the handshake but before
 * accept() in the accept queue (tcp_reset on the child): accept() returns
 * it, recv() gives the data that came before the reset, then ECONNRESET
 * once, then the end. Closing a listener with such a connection queued
 * sends nothing for it. */
static void test_tcp_reset_before_accept(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    int lis = listener(sb, IP_B, 8055, 8);
    int lfd = pollfd(sb, lis);
    int cli = tcp_socket(sa);
    struct sockaddr_in to = sin4(IP_B, 8055);
    expect_errno(us_connect(sa, cli, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    assert_int_equal(us_send(sa, cli, "hi", 2, 0), 2);
    settle(fx);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(us_setsockopt(sa, cli, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(us_close(sa, cli), 0);
    settle(fx);
    assert_int_equal(us_counter_get(sb, "tcp.reset_rcvd"), 1);
    assert_int_equal(ready(lfd), POLLIN);

    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int srv = us_accept(sb, lis, SA(&peer), &len);
    assert_true(srv >= 0);
    assert_int_equal(peer.sin_addr.s_addr, sin4(IP_A, 0).sin_addr.s_addr);
    assert_int_equal(ready(lfd), 0);
    int sfd = pollfd(sb, srv);
    assert_int_equal(ready(sfd), DEAD | POLLERR);
    char buf[8];
    assert_int_equal(us_recv(sb, srv, buf, sizeof buf, MSG_DONTWAIT), 2);
    assert_memory_equal(buf, "hi", 2);
    expect_errno(us_recv(sb, srv, buf, sizeof buf, MSG_DONTWAIT), ECONNRESET);
    assert_int_equal(us_recv(sb, srv, buf, sizeof buf, MSG_DONTWAIT), 0);
    assert_int_equal(us_close(sb, srv), 0);

    /* Reset again, but the listener closes with it still queued. */
    cli = tcp_socket(sa);
    expect_errno(us_connect(sa, cli, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    assert_int_equal(us_setsockopt(sa, cli, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(us_close(sa, cli), 0);
    settle(fx);
    assert_int_equal(us_counter_get(sb, "tcp.reset_rcvd"), 2);
    uint64_t rst = us_counter_get(sb, "tcp.reset_sent");
    assert_int_equal(us_close(sb, lis), 0);
    assert_int_equal(us_counter_get(sb, "tcp.reset_sent"), rst);
}

static void test_tcp_disconnect_with_af_unspec(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8060);
    int fd = pollfd(sa, c.cli);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    assert_int_equal(us_connect(sa, c.cli, &unspec, sizeof unspec), 0);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP);
    settle(fx);
    char buf[4];
    expect_errno(us_recv(sb, c.srv, buf, sizeof buf, 0), ECONNRESET);
    struct sockaddr_in to = sin4(IP_B, 8060);
    expect_errno(us_connect(sa, c.cli, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    assert_int_equal(ready(fd), POLLOUT);
    assert_true(us_accept(sb, c.lis, NULL, NULL) >= 0);
}

static void test_tcp_message_flags(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8070);
    char buf[32] = "";
    assert_int_equal(us_send(sb, c.srv, "0123456789", 10, 0), 10);
    settle(fx);
    assert_int_equal(us_recv(sa, c.cli, buf, 4, MSG_PEEK), 4);
    assert_int_equal(us_recv(sa, c.cli, buf, 4, MSG_DONTWAIT), 4);
    assert_memory_equal(buf, "0123", 4);
    /* MSG_WAITALL cannot wait on a non-blocking socket: what is there. */
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, MSG_WAITALL), 6);
    assert_memory_equal(buf, "456789", 6);
    /* Nor on a blocking one without a runtime. */
    assert_int_equal(us_set_nonblocking(sa, c.cli, 0), 0);
    assert_int_equal(us_send(sb, c.srv, "xyz", 3, 0), 3);
    run(fx, 50); /* Nagle holds it until the delayed ACK of the first */
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, MSG_WAITALL), 3);
    expect_errno(us_recv(sa, c.cli, buf, sizeof buf, 0), EAGAIN);
    expect_errno(us_recv(sa, c.cli, buf, sizeof buf, MSG_OOB), EINVAL);
    expect_errno(us_send(sa, c.cli, "!", 1, MSG_OOB), EOPNOTSUPP);
    assert_int_equal(us_recv(sa, c.cli, buf, 0, 0), 0);
    assert_int_equal(us_send(sa, c.cli, buf, 0, 0), 0);
    expect_errno(us_recv(sa, c.cli, NULL, 4, 0), EFAULT);
    expect_errno(us_send(sa, c.cli, NULL, 4, 0), EFAULT);

    /* recvmsg fills the buffers in turn. */
    assert_int_equal(us_send(sb, c.srv, "scatter", 7, 0), 7);
    run(fx, 50);
    char p1[3], p2[8];
    struct iovec iov[2] = {{.iov_base = p1, .iov_len = sizeof p1},
                           {.iov_base = p2, .iov_len = sizeof p2}};
    struct sockaddr_in from;
    struct msghdr mh = {
        .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = iov, .msg_iovlen = 2};
    assert_int_equal(us_recvmsg(sa, c.cli, &mh, 0), 7);
    assert_memory_equal(p1, "sca", 3);
    assert_memory_equal(p2, "tter", 4);
    assert_int_equal(mh.msg_namelen, 0);

    /* MSG_MORE holds a short segment until a send without it. */
    assert_int_equal(us_send(sa, c.cli, "ab", 2, MSG_MORE), 2);
    assert_int_equal(us_memwire_pending(fx->w, 0), 0);
    assert_int_equal(us_send(sa, c.cli, "c", 1, MSG_NOSIGNAL), 1);
    assert_int_equal(us_memwire_pending(fx->w, 0), 1);
    settle(fx);
    assert_int_equal(us_recv(sb, c.srv, buf, sizeof buf, 0), 3);
    assert_memory_equal(buf, "abc", 3);
}

static void test_tcp_socket_options(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a = tcp_socket(s);
    /* Buffer sizes are doubled, floored and capped as Linux's. */
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_SNDBUF, 1), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_SNDBUF), 4608);
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_RCVBUF, 1), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_RCVBUF), 2304);
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_SNDBUF, 100000), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_SNDBUF), 200000);
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_RCVBUF, 100000), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_RCVBUF), 200000);
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_RCVBUF, -5), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_RCVBUF), 425984); /* rmem_max * 2 */
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_REUSEADDR, 7), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_KEEPALIVE), 0);
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_KEEPALIVE, 5), 0);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(get_int(s, a, SOL_SOCKET, SO_ERROR), 0);
    expect_errno(set_int(s, a, SOL_SOCKET, SO_ERROR, 1), ENOPROTOOPT);

    struct linger lg = {0, 0};
    socklen_t len = sizeof lg;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_LINGER, &lg, &len), 0);
    assert_int_equal(len, sizeof lg);
    assert_int_equal(lg.l_onoff, 0);
    lg = (struct linger){.l_onoff = 5, .l_linger = 7};
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    memset(&lg, 0, sizeof lg);
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_LINGER, &lg, &len), 0);
    assert_int_equal(lg.l_onoff, 1);
    assert_int_equal(lg.l_linger, 7);
    expect_errno(us_setsockopt(s, a, SOL_SOCKET, SO_LINGER, &lg, 4), EINVAL);

    struct timeval tv = {.tv_sec = 3, .tv_usec = 250000}, got;
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    len = sizeof got;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_SNDTIMEO, &got, &len), 0);
    assert_int_equal(got.tv_sec, 3);
    assert_int_equal(got.tv_usec, 250000);
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_RCVTIMEO, &got, &len), 0);
    assert_int_equal(got.tv_sec, 3);

    /* TCP level, with Linux's ranges. */
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_NODELAY), 0);
    assert_int_equal(set_int(s, a, IPPROTO_TCP, TCP_NODELAY, 9), 0);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_MAXSEG), 536);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_MAXSEG, 87), EINVAL);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_MAXSEG, 32768), EINVAL);
    assert_int_equal(set_int(s, a, IPPROTO_TCP, TCP_MAXSEG, 88), 0);
    assert_int_equal(set_int(s, a, IPPROTO_TCP, TCP_MAXSEG, 1000), 0);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_MAXSEG), 1000);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_KEEPINTVL), 75);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_KEEPCNT), 9);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_KEEPIDLE, 0), EINVAL);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_KEEPIDLE, 32768), EINVAL);
    assert_int_equal(set_int(s, a, IPPROTO_TCP, TCP_KEEPIDLE, 32767), 0);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_KEEPIDLE), 32767);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_KEEPINTVL, 0), EINVAL);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_KEEPINTVL, 32768), EINVAL);
    assert_int_equal(set_int(s, a, IPPROTO_TCP, TCP_KEEPINTVL, 10), 0);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_KEEPINTVL), 10);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_KEEPCNT, 0), EINVAL);
    expect_errno(set_int(s, a, IPPROTO_TCP, TCP_KEEPCNT, 128), EINVAL);
    assert_int_equal(set_int(s, a, IPPROTO_TCP, TCP_KEEPCNT, 127), 0);
    assert_int_equal(get_int(s, a, IPPROTO_TCP, TCP_KEEPCNT), 127);
    int v = 1;
    expect_errno(us_setsockopt(s, a, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
    expect_errno(us_setsockopt(s, a, IPPROTO_TCP, TCP_NODELAY, NULL, sizeof v), EFAULT);
    expect_errno(set_int(s, a, IPPROTO_TCP, 999, 1), ENOPROTOOPT);
    len = sizeof v;
    expect_errno(us_getsockopt(s, a, IPPROTO_TCP, 999, &v, &len), ENOPROTOOPT);
    expect_errno(us_getsockopt(s, a, IPPROTO_IP + 77, 1, &v, &len), ENOPROTOOPT);
    /* A short buffer gets what fits. */
    char one = 0;
    len = 1;
    assert_int_equal(us_getsockopt(s, a, IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(one, 1);
}

/* TCP_MAXSEG limits the segments of the connection; once connected it
 * reports the size in use (less the timestamp option), as Linux. */
static void test_tcp_maxseg_and_inheritance(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    int lis = listener(sb, IP_B, 8080, 4);
    struct timeval tv = {.tv_sec = 4};
    struct linger lg = {.l_onoff = 1, .l_linger = 3};
    assert_int_equal(set_int(sb, lis, SOL_SOCKET, SO_RCVBUF, 100000), 0);
    assert_int_equal(set_int(sb, lis, SOL_SOCKET, SO_SNDBUF, 50000), 0);
    assert_int_equal(set_int(sb, lis, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    assert_int_equal(us_setsockopt(sb, lis, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(us_setsockopt(sb, lis, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(set_int(sb, lis, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(set_int(sb, lis, IPPROTO_TCP, TCP_KEEPIDLE, 30), 0);
    assert_int_equal(set_int(sb, lis, IPPROTO_TCP, TCP_KEEPCNT, 4), 0);
    int a = tcp_socket(sa);
    assert_int_equal(set_int(sa, a, IPPROTO_TCP, TCP_MAXSEG, 1000), 0);
    struct sockaddr_in to = sin4(IP_B, 8080);
    expect_errno(us_connect(sa, a, SA(&to), sizeof to), EINPROGRESS);
    settle(fx);
    assert_int_equal(get_int(sa, a, IPPROTO_TCP, TCP_MAXSEG), 1000 - 12);
    int srv = us_accept(sb, lis, NULL, NULL);
    assert_true(srv >= 0);
    assert_int_equal(get_int(sb, srv, IPPROTO_TCP, TCP_MAXSEG), 1000 - 12); /* the peer's MSS */
    assert_int_equal(get_int(sb, srv, SOL_SOCKET, SO_RCVBUF), 200000);
    assert_int_equal(get_int(sb, srv, SOL_SOCKET, SO_SNDBUF), 100000);
    assert_int_equal(get_int(sb, srv, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(get_int(sb, srv, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(get_int(sb, srv, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    assert_int_equal(get_int(sb, srv, IPPROTO_TCP, TCP_KEEPCNT), 4);
    struct linger glg;
    struct timeval gtv;
    socklen_t len = sizeof glg;
    assert_int_equal(us_getsockopt(sb, srv, SOL_SOCKET, SO_LINGER, &glg, &len), 0);
    assert_int_equal(glg.l_linger, 3);
    len = sizeof gtv;
    assert_int_equal(us_getsockopt(sb, srv, SOL_SOCKET, SO_RCVTIMEO, &gtv, &len), 0);
    assert_int_equal(gtv.tv_sec, 4);
    assert_int_equal(get_int(sb, srv, SOL_SOCKET, SO_ACCEPTCONN), 0);
    /* Accepted sockets are blocking unless asked (accept4). */
    expect_errno(us_recv(sb, srv, &gtv, 1, MSG_DONTWAIT), EAGAIN);
}

/* Keep-alive probes go unanswered: the connection times out. */
static void test_tcp_keepalive_times_out(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    struct conn c = connect_pair(fx, 8090);
    run(fx, 50);
    int fd = pollfd(sa, c.cli);
    assert_int_equal(set_int(sa, c.cli, IPPROTO_TCP, TCP_KEEPIDLE, 2), 0);
    assert_int_equal(set_int(sa, c.cli, IPPROTO_TCP, TCP_KEEPINTVL, 1), 0);
    assert_int_equal(set_int(sa, c.cli, IPPROTO_TCP, TCP_KEEPCNT, 3), 0);
    assert_int_equal(set_int(sa, c.cli, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    /* While the peer answers, the connection lives on. */
    advance(fx, 4 * US_SEC);
    assert_true(us_counter_get(sa, "tcp.keepalive_probe") >= 1);
    assert_int_equal(ready(fd), POLLOUT);
    char err[128];
    assert_int_equal(us_netif_set_impair(fx->nif[1], "loss=100%", err, sizeof err), 0);
    advance(fx, 10 * US_SEC);
    assert_int_equal(ready(fd), DEAD | POLLERR);
    char buf[4];
    expect_errno(us_recv(sa, c.cli, buf, sizeof buf, 0), ETIMEDOUT);
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 0);
}

static void test_tcp_blocking_calls_without_runtime(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    int lis = us_socket(sb, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = sin4(IP_B, 8100);
    assert_int_equal(us_bind(sb, lis, SA(&at), sizeof at), 0);
    assert_int_equal(us_listen(sb, lis, 4), 0);
    expect_errno(us_accept(sb, lis, NULL, NULL), EAGAIN);
    int a = us_socket(sa, AF_INET, SOCK_STREAM, 0);
    expect_errno(us_connect(sa, a, SA(&at), sizeof at), EINPROGRESS);
    char buf[4];
    expect_errno(us_recv(sa, a, buf, sizeof buf, 0), EAGAIN);
    expect_errno(us_send(sa, a, "x", 1, 0), EAGAIN);
    settle(fx);
    assert_int_equal(us_connect(sa, a, SA(&at), sizeof at), 0);
    int srv = us_accept(sb, lis, NULL, NULL);
    assert_true(srv >= 0);
    expect_errno(us_recv(sb, srv, buf, sizeof buf, 0), EAGAIN);
}

/* ---- The pollable descriptor from other threads ---- */

struct poller {
    int fd;
    short events;
    short revents;
    int n;
};

static void *poll_thread(void *arg)
{
    struct poller *p = arg;
    struct pollfd pfd = {.fd = p->fd, .events = p->events};
    p->n = poll(&pfd, 1, 10000);
    p->revents = pfd.revents;
    return NULL;
}

/* A thread asleep in poll() wakes for each kind of change: data (a byte
 * written), send space (SO_SNDBUF raised), the peer's FIN (shutdown) and
 * a reset (close). */
static void test_tcp_pollfd_wakes_pollers(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8110);
    int fd = pollfd(sa, c.cli);
    struct {
        short events;
        short expect;
    } steps[] = {{POLLIN, POLLIN}, {POLLOUT, POLLOUT}, {POLLRDHUP, POLLRDHUP}, {0, POLLERR}};
    static uint8_t buf[65536];
    assert_int_equal(set_int(sa, c.cli, SOL_SOCKET, SO_SNDBUF, 4096), 0);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].events == POLLOUT) {
            assert_true(us_send(sa, c.cli, buf, sizeof buf, 0) > 0);
            assert_false(ready(fd) & POLLOUT);
        }
        struct poller p = {.fd = fd, .events = steps[i].events};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, poll_thread, &p), 0);
        usleep(20000); /* asleep in poll by now (if not, it returns at once anyway) */
        switch (i) {
        case 0:
            assert_int_equal(us_send(sb, c.srv, "wake", 4, 0), 4);
            break;
        case 2:
            assert_int_equal(us_shutdown(sb, c.srv, SHUT_WR), 0);
            break;
        case 3:
            assert_int_equal(us_send(sa, c.cli, "unread", 6, 0), 6);
            settle(fx);
            assert_int_equal(us_close(sb, c.srv), 0);
            break;
        }
        run(fx, 50);
        pthread_join(t, NULL);
        assert_int_equal(p.n, 1);
        assert_true(p.revents & steps[i].expect);
        if (i == 0)
            assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 4);
        if (i == 1) {
            size_t got = 0;
            while (us_recv(sb, c.srv, buf, sizeof buf, 0) > 0)
                got++;
            assert_true(got > 0);
        }
    }
}

/* epoll, level- and edge-triggered, sees the same bits. */
static void test_tcp_pollfd_with_epoll(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0], *sb = fx->s[1];
    struct conn c = connect_pair(fx, 8120);
    int fd = pollfd(sa, c.cli);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
    struct epoll_event out;
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 0);
    assert_int_equal(us_send(sb, c.srv, "a", 1, 0), 1);
    settle(fx);
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 1);
    assert_true(out.events & EPOLLIN);
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 0); /* edge: reported once */
    char buf[4];
    assert_int_equal(us_recv(sa, c.cli, buf, sizeof buf, 0), 1);
    assert_int_equal(us_send(sb, c.srv, "b", 1, 0), 1);
    run(fx, 50);
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 1); /* a new edge */
    assert_int_equal(us_shutdown(sb, c.srv, SHUT_WR), 0);
    settle(fx);
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 1);
    assert_true(out.events & EPOLLRDHUP);
    close(ep);
}

/* ---- Blocking calls with a runtime, the Linux kernel as the peer ---- */

#define TAP_NAME "ustcp0"
#define KERNEL_IP "10.88.0.1"
#define STACK_IP "10.88.0.2"

struct kfixture {
    struct ustack *s;
    struct us_netif *nif;
    struct us_tuntap *tap;
    struct us_runtime *rt;
};

static bool enter_private_netns(void)
{
    static int done = -1;
    if (done < 0)
        done = geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0 &&
               unshare(CLONE_NEWNET) == 0;
    return done == 1;
}

static void set_kernel_addr(const char *ifname, const char *ip)
{
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    struct sockaddr_in *a = (struct sockaddr_in *)&ifr.ifr_addr;
    *a = sin4(ip, 0);
    assert_int_equal(ioctl(sock, SIOCSIFADDR, &ifr), 0);
    *a = sin4("255.255.255.0", 0);
    assert_int_equal(ioctl(sock, SIOCSIFNETMASK, &ifr), 0);
    close(sock);
}

static void on_tap_readable(void *ctx)
{
    struct kfixture *kf = ctx;
    us_tuntap_receive(kf->tap, kf->nif);
}

static int ksetup(void **state)
{
    if (!enter_private_netns()) {
        *state = NULL;
        return 0;
    }
    struct kfixture *kf = calloc(1, sizeof *kf);
    assert_non_null(kf);
    char err[256];
    kf->tap = us_tuntap_open(TAP_NAME, US_LINK_ETHERNET, err, sizeof err);
    assert_non_null(kf->tap);
    set_kernel_addr(TAP_NAME, KERNEL_IP);
    kf->s = new_stack(99, us_clock_monotonic());
    struct us_driver drv = us_tuntap_driver(kf->tap);
    kf->nif = new_netif(kf->s, TAP_NAME, &mac_a, &drv, STACK_IP);
    kf->rt = us_runtime_new(kf->s);
    assert_non_null(kf->rt);
    assert_int_equal(us_runtime_add_fd(kf->rt, us_tuntap_fd(kf->tap), on_tap_readable, kf), 0);
    assert_int_equal(us_runtime_start(kf->rt), 0);
    *state = kf;
    return 0;
}

static int kteardown(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        return 0;
    us_runtime_free(kf->rt);
    us_stack_free(kf->s);
    us_tuntap_close(kf->tap);
    free(kf);
    return 0;
}

static int kernel_listener(uint16_t port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in at = sin4(KERNEL_IP, port);
    assert_int_equal(bind(l, SA(&at), sizeof at), 0);
    assert_int_equal(listen(l, 8), 0);
    return l;
}

static void set_timeo(struct ustack *s, int sd, int name, long usec)
{
    struct timeval tv = {.tv_sec = usec / 1000000, .tv_usec = usec % 1000000};
    assert_int_equal(us_setsockopt(s, sd, SOL_SOCKET, name, &tv, sizeof tv), 0);
}

#define BULK (4u << 20)

struct kdrain {
    int fd;
    uint8_t *buf;
    size_t got;
};

/* The kernel's side writes BULK bytes. */
static void *kernel_write(void *arg)
{
    struct kdrain *d = arg;
    size_t off = 0;
    while (off < BULK) {
        ssize_t n = send(d->fd, d->buf + off, BULK - off, 0);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    d->got = off;
    return NULL;
}

/* The kernel's side reads everything until the end of the stream. */
static void *kernel_drain(void *arg)
{
    struct kdrain *d = arg;
    for (;;) {
        ssize_t n = recv(d->fd, d->buf + d->got, BULK - d->got, 0);
        if (n <= 0)
            break;
        d->got += (size_t)n;
        if (d->got == BULK)
            break;
    }
    return NULL;
}

/* Blocking connect, a blocking send of 4 MiB taken whole, and a blocking
 * MSG_WAITALL receive of 4 MiB from the kernel. */
static void test_kernel_blocking_bulk_both_ways(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        skip();
    struct ustack *s = kf->s;
    int l = kernel_listener(7001);
    int a = us_socket(s, AF_INET, SOCK_STREAM, 0);
    set_timeo(s, a, SO_SNDTIMEO, 20000000);
    set_timeo(s, a, SO_RCVTIMEO, 20000000);
    struct sockaddr_in to = sin4(KERNEL_IP, 7001);
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    expect_errno(us_connect(s, a, SA(&to), sizeof to), EISCONN);
    int k = accept(l, NULL, NULL);
    assert_true(k >= 0);
    uint8_t *big = malloc(BULK), *back = calloc(1, BULK);
    assert_non_null(big);
    assert_non_null(back);
    for (size_t i = 0; i < BULK; i++)
        big[i] = pattern(i);

    struct kdrain d = {.fd = k, .buf = back};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kernel_drain, &d), 0);
    assert_int_equal(us_send(s, a, big, BULK, 0), (ssize_t)BULK);
    pthread_join(t, NULL);
    assert_int_equal(d.got, BULK);
    assert_memory_equal(back, big, BULK);

    /* The other way: the kernel writes from a thread, we wait for all. */
    memset(back, 0, BULK);
    struct kdrain w = {.fd = k, .buf = big};
    pthread_t tw;
    assert_int_equal(pthread_create(&tw, NULL, kernel_write, &w), 0);
    assert_int_equal(us_recv(s, a, back, BULK, MSG_WAITALL), (ssize_t)BULK);
    pthread_join(tw, NULL);
    assert_memory_equal(back, big, BULK);

    /* The kernel closes: the end of the stream, then EPIPE. */
    close(k);
    char c;
    assert_int_equal(us_recv(s, a, &c, 1, 0), 0);
    assert_int_equal(us_close(s, a), 0);
    close(l);
    free(big);
    free(back);
}

struct kaccept {
    struct ustack *s;
    int lis;
    int sd;
    int err;
    char buf[16];
    ssize_t n;
};

static void *stack_accept_and_read(void *arg)
{
    struct kaccept *ka = arg;
    ka->sd = us_accept(ka->s, ka->lis, NULL, NULL);
    ka->err = errno;
    if (ka->sd >= 0)
        ka->n = us_recv(ka->s, ka->sd, ka->buf, sizeof ka->buf, MSG_WAITALL);
    return NULL;
}

/* Blocking accept and read wake when the kernel connects and writes. */
static void test_kernel_blocking_accept(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        skip();
    struct ustack *s = kf->s;
    int lis = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = sin4(STACK_IP, 7002);
    assert_int_equal(us_bind(s, lis, SA(&at), sizeof at), 0);
    assert_int_equal(us_listen(s, lis, 4), 0);
    struct kaccept ka = {.s = s, .lis = lis};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stack_accept_and_read, &ka), 0);
    usleep(50000);
    int k = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(k, SA(&at), sizeof at), 0);
    assert_int_equal(send(k, "0123456789abcdef", 16, 0), 16);
    pthread_join(t, NULL);
    assert_true(ka.sd >= 0);
    assert_int_equal(ka.n, 16);
    assert_memory_equal(ka.buf, "0123456789abcdef", 16);
    close(k);
    assert_int_equal(us_recv(s, ka.sd, ka.buf, 1, 0), 0); /* waits for the FIN */
    assert_int_equal(us_close(s, ka.sd), 0);
    assert_int_equal(us_close(s, lis), 0);
}

/* A blocking connect to a closed port gets the kernel's RST; the socket
 * starts over (a fresh one, as Linux after a failed blocking connect). */
static void test_kernel_blocking_connect_refused(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        skip();
    struct ustack *s = kf->s;
    int a = us_socket(s, AF_INET, SOCK_STREAM, 0);
    int fd = pollfd(s, a);
    struct sockaddr_in to = sin4(KERNEL_IP, 7003);
    expect_errno(us_connect(s, a, SA(&to), sizeof to), ECONNREFUSED);
    assert_int_equal(sock_error(s, a), 0);
    assert_int_equal(ready(fd), POLLOUT | POLLHUP);
    expect_errno(us_connect(s, a, SA(&to), sizeof to), ECONNREFUSED);
    int l = kernel_listener(7003);
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    assert_int_equal(ready(fd), POLLOUT);
    close(l);
}

/* SO_RCVTIMEO and SO_SNDTIMEO: EAGAIN after the time, as Linux; a connect
 * that times out says EINPROGRESS and keeps trying (then EALREADY). */
static void test_kernel_timeouts(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        skip();
    struct ustack *s = kf->s;
    int l = kernel_listener(7004);
    int a = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = sin4(KERNEL_IP, 7004);
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    int k = accept(l, NULL, NULL);
    assert_true(k >= 0);
    set_timeo(s, a, SO_RCVTIMEO, 100000);
    char buf[8];
    us_time_t t0 = us_clock_monotonic();
    expect_errno(us_recv(s, a, buf, sizeof buf, 0), EAGAIN);
    assert_true(us_clock_monotonic() - t0 >= 100 * US_MSEC);
    /* MSG_WAITALL with part of it there: the part, after the time. */
    assert_int_equal(send(k, "abc", 3, 0), 3);
    assert_int_equal(us_recv(s, a, buf, sizeof buf, MSG_WAITALL), 3);

    /* The kernel does not read: a blocking send fills both buffers and
     * returns what it took when SO_SNDTIMEO runs out. */
    int small = 4096;
    assert_int_equal(setsockopt(k, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    assert_int_equal(set_int(s, a, SOL_SOCKET, SO_SNDBUF, 32768), 0);
    set_timeo(s, a, SO_SNDTIMEO, 200000);
    static uint8_t lots[1 << 20];
    t0 = us_clock_monotonic();
    ssize_t n = us_send(s, a, lots, sizeof lots, 0);
    assert_true(n > 0 && n < (ssize_t)sizeof lots);
    assert_true(us_clock_monotonic() - t0 >= 200 * US_MSEC);
    t0 = us_clock_monotonic();
    n = us_send(s, a, lots, sizeof lots, 0); /* little or nothing fits now */
    assert_true(n == -1 ? errno == EAGAIN : n < (ssize_t)sizeof lots / 4);
    assert_true(us_clock_monotonic() - t0 >= 200 * US_MSEC);
    close(k);
    close(l);

    /* Nobody answers ARP for this address: the SYN never leaves. */
    int b = us_socket(s, AF_INET, SOCK_STREAM, 0);
    set_timeo(s, b, SO_SNDTIMEO, 100000);
    struct sockaddr_in nobody = sin4("10.88.0.77", 80);
    t0 = us_clock_monotonic();
    expect_errno(us_connect(s, b, SA(&nobody), sizeof nobody), EINPROGRESS);
    assert_true(us_clock_monotonic() - t0 >= 100 * US_MSEC);
    expect_errno(us_connect(s, b, SA(&nobody), sizeof nobody), EALREADY);
}

struct kblocked {
    struct ustack *s;
    int sd;
    int what; /* 0 recv, 1 accept */
    long rc;
    int err;
};

static void *blocked_call(void *arg)
{
    struct kblocked *kb = arg;
    char c;
    kb->rc = kb->what ? us_accept(kb->s, kb->sd, NULL, NULL) : us_recv(kb->s, kb->sd, &c, 1, 0);
    kb->err = errno;
    return NULL;
}

/* Closing a socket releases the threads blocked on it with EBADF. */
static void test_kernel_close_releases_blocked_calls(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        skip();
    struct ustack *s = kf->s;
    int l = kernel_listener(7005);
    int a = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = sin4(KERNEL_IP, 7005);
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    int lis = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = sin4(STACK_IP, 7006);
    assert_int_equal(us_bind(s, lis, SA(&at), sizeof at), 0);
    assert_int_equal(us_listen(s, lis, 4), 0);
    struct kblocked r = {.s = s, .sd = a, .what = 0}, ac = {.s = s, .sd = lis, .what = 1};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, blocked_call, &r), 0);
    assert_int_equal(pthread_create(&t2, NULL, blocked_call, &ac), 0);
    usleep(100000);
    assert_int_equal(us_close(s, a), 0);
    assert_int_equal(us_close(s, lis), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err, EBADF);
    assert_int_equal(ac.rc, -1);
    assert_int_equal(ac.err, EBADF);
    close(l);
}

/* SO_LINGER with a time: close waits for the FIN's ACK (the kernel sends
 * it at once) and the kernel reads the end of the stream. */
static void test_kernel_linger_close(void **state)
{
    struct kfixture *kf = *state;
    if (!kf)
        skip();
    struct ustack *s = kf->s;
    int l = kernel_listener(7007);
    int a = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = sin4(KERNEL_IP, 7007);
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    int k = accept(l, NULL, NULL);
    assert_true(k >= 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 5};
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(us_send(s, a, "bye", 3, 0), 3);
    us_time_t t0 = us_clock_monotonic();
    assert_int_equal(us_close(s, a), 0);
    assert_true(us_clock_monotonic() - t0 < 2 * US_SEC);
    char buf[8];
    assert_int_equal(recv(k, buf, sizeof buf, MSG_WAITALL), 3);
    assert_int_equal(recv(k, buf, sizeof buf, 0), 0);
    close(k);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp_round_trip_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_nonblocking_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_connect_refused_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_connect_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_connect_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_fresh_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_listen_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_bind_errors_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_send_buffer_fills_and_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_readable_and_peer_fin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_shutdown_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_reset_on_unread_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_linger_zero_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_reset_before_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_disconnect_with_af_unspec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_message_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_socket_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_maxseg_and_inheritance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_keepalive_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_blocking_calls_without_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_pollfd_wakes_pollers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_pollfd_with_epoll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_blocking_bulk_both_ways, ksetup, kteardown),
        cmocka_unit_test_setup_teardown(test_kernel_blocking_accept, ksetup, kteardown),
        cmocka_unit_test_setup_teardown(test_kernel_blocking_connect_refused, ksetup, kteardown),
        cmocka_unit_test_setup_teardown(test_kernel_timeouts, ksetup, kteardown),
        cmocka_unit_test_setup_teardown(test_kernel_close_releases_blocked_calls, ksetup,
                                        kteardown),
        cmocka_unit_test_setup_teardown(test_kernel_linger_close, ksetup, kteardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
