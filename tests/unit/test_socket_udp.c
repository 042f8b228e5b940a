/* Sockets layer: UDP and ping sockets between two stacks joined by the
 * in-memory wire, on a virtual clock (no runtime), plus a few cases with a
 * runtime thread for blocking receives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/stack.h"
#include "runtime/runtime_internal.h"
#include "socket/socket_internal.h"
#include "ustack/link.h"
#include "ustack/runtime.h"
#include "ustack/socket.h"
#include "ustack/ustack.h"

#define IP_A "10.0.0.1"
#define IP_B "10.0.0.2"

struct fixture {
    struct ustack *s[2];
    struct us_netif *nif[2];
    struct us_memwire *w;
    us_time_t now;
};

static const struct us_mac mac_a = {{0x02, 0, 0, 0, 0, 0x0a}};
static const struct us_mac mac_b = {{0x02, 0, 0, 0, 0, 0x0b}};

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
                                  struct us_memwire *w, int end, const char *ip)
{
    struct us_netif_config nc = {.name = name, .type = US_LINK_ETHERNET, .mac = *mac, .acd = false};
    struct us_driver drv = us_memwire_driver(w, end);
    struct us_netif *nif = us_netif_add(s, &nc, &drv);
    assert_non_null(nif);
    us_memwire_attach(w, end, nif);
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
        fx->s[i] = new_stack(7 + (uint64_t)i);
        fx->nif[i] =
            new_netif(fx->s[i], i ? "b0" : "a0", i ? &mac_b : &mac_a, fx->w, i, i ? IP_B : IP_A);
    }
    *state = fx;
    return 0;
}

/* Sockets left open are released by us_stack_free; LeakSanitizer checks. */
static int teardown(void **state)
{
    struct fixture *fx = *state;
    us_memwire_free(fx->w);
    for (int i = 0; i < 2; i++)
        us_stack_free(fx->s[i]);
    free(fx);
    return 0;
}

/* Moves every frame across the wire (ARP included) and runs both stacks'
 * timers one millisecond later. */
static void settle(struct fixture *fx)
{
    us_memwire_deliver(fx->w, 0);
    fx->now += US_MSEC;
    for (int i = 0; i < 2; i++)
        us_poll(fx->s[i], fx->now);
    us_memwire_deliver(fx->w, 0);
}

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

#define SA(p) ((struct sockaddr *)(p))

static int udp_socket(struct ustack *s)
{
    int sd = us_socket(s, AF_INET, SOCK_DGRAM, 0);
    assert_true(sd >= 0);
    return sd;
}

static int bound_udp(struct ustack *s, const char *ip, uint16_t port)
{
    int sd = udp_socket(s);
    struct sockaddr_in sin = sin4(ip, port);
    assert_int_equal(us_bind(s, sd, SA(&sin), sizeof sin), 0);
    return sd;
}

static void expect_errno(long rc, int err)
{
    assert_int_equal(rc, -1);
    assert_int_equal(errno, err);
}

static uint16_t local_port(struct ustack *s, int sd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    assert_int_equal(us_getsockname(s, sd, SA(&sin), &len), 0);
    assert_int_equal(len, sizeof sin);
    assert_int_equal(sin.sin_family, AF_INET);
    return ntohs(sin.sin_port);
}

static short pollfd_revents(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};
    int n = poll(&pfd, 1, 0);
    assert_true(n >= 0);
    return n == 1 ? pfd.revents : 0;
}

static bool pollfd_readable(int fd)
{
    return pollfd_revents(fd) & POLLIN;
}

/* Sends one datagram from socket a of stack A to b on stack B and reads it,
 * so that A has B's link address before a test sends a burst. */
static void exchange_one(struct fixture *fx, int a, int b, const struct sockaddr_in *to)
{
    assert_int_equal(us_sendto(fx->s[0], a, "arp", 3, 0, SA(to), sizeof *to), 3);
    settle(fx);
    char buf[8];
    assert_int_equal(us_recv(fx->s[1], b, buf, sizeof buf, 0), 3);
    assert_memory_equal(buf, "arp", 3);
}

/* ---- UDP ---- */

static void test_udp_round_trip(void **state)
{
    struct fixture *fx = *state;
    int b = bound_udp(fx->s[1], IP_B, 7000);
    int a = udp_socket(fx->s[0]);
    assert_int_equal(local_port(fx->s[0], a), 0); /* unbound */

    struct sockaddr_in to = sin4(IP_B, 7000);
    assert_int_equal(us_sendto(fx->s[0], a, "hello", 5, 0, SA(&to), sizeof to), 5);
    settle(fx);

    char buf[64];
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    ssize_t n = us_recvfrom(fx->s[1], b, buf, sizeof buf, 0, SA(&from), &fromlen);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(fromlen, sizeof from);
    assert_int_equal(from.sin_family, AF_INET);
    assert_int_equal(from.sin_addr.s_addr, sin4(IP_A, 0).sin_addr.s_addr);
    uint16_t aport = local_port(fx->s[0], a);
    assert_int_equal(ntohs(from.sin_port), aport);
    assert_int_equal(us_counter_get(fx->s[1], "udp.rx"), 1);

    /* And back to the address recvfrom reported. */
    assert_int_equal(us_sendto(fx->s[1], b, "world!", 6, 0, SA(&from), fromlen), 6);
    settle(fx);
    fromlen = sizeof from;
    n = us_recvfrom(fx->s[0], a, buf, sizeof buf, 0, SA(&from), &fromlen);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "world!", 6);
    assert_int_equal(from.sin_addr.s_addr, to.sin_addr.s_addr);
    assert_int_equal(ntohs(from.sin_port), 7000);

    /* Both queues are empty now. */
    expect_errno(us_recv(fx->s[0], a, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    expect_errno(us_recv(fx->s[1], b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    assert_int_equal(us_close(fx->s[0], a), 0);
    assert_int_equal(us_close(fx->s[1], b), 0);
    expect_errno(us_close(fx->s[1], b), EBADF);
}

static void test_udp_datagrams_keep_boundaries_and_order(void **state)
{
    struct fixture *fx = *state;
    int b = bound_udp(fx->s[1], "0.0.0.0", 7001);
    int a = udp_socket(fx->s[0]);
    struct sockaddr_in to = sin4(IP_B, 7001);
    for (int i = 1; i <= 5; i++) {
        char msg[8];
        memset(msg, 'a' + i, sizeof msg);
        assert_int_equal(us_sendto(fx->s[0], a, msg, (size_t)i, 0, SA(&to), sizeof to), i);
    }
    settle(fx);
    for (int i = 1; i <= 5; i++) {
        char buf[16] = {0};
        assert_int_equal(us_recv(fx->s[1], b, buf, sizeof buf, 0), i);
        for (int k = 0; k < i; k++)
            assert_int_equal(buf[k], 'a' + i);
    }
    expect_errno(us_recv(fx->s[1], b, NULL, 0, 0), EAGAIN);
}

static void test_udp_largest_datagram_crosses_fragmented(void **state)
{
    struct fixture *fx = *state;
    int b = bound_udp(fx->s[1], IP_B, 7002);
    int a = udp_socket(fx->s[0]);
    struct sockaddr_in to = sin4(IP_B, 7002);
    size_t max = 65507;
    uint8_t *big = malloc(max + 1), *got = malloc(max + 1);
    assert_non_null(big);
    assert_non_null(got);
    for (size_t i = 0; i < max + 1; i++)
        big[i] = (uint8_t)(i * 31 + 7);

    expect_errno(us_sendto(fx->s[0], a, big, max + 1, 0, SA(&to), sizeof to), EMSGSIZE);
    /* Resolve the peer first: its 45 fragments would not all wait for ARP. */
    exchange_one(fx, a, b, &to);
    assert_int_equal(us_sendto(fx->s[0], a, big, max, 0, SA(&to), sizeof to), (ssize_t)max);
    settle(fx);
    assert_int_equal(us_recv(fx->s[1], b, got, max + 1, 0), (ssize_t)max);
    assert_memory_equal(got, big, max);
    free(big);
    free(got);
}

static void test_udp_bind_errors(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a1 = bound_udp(s, IP_A, 5353);
    int a2 = udp_socket(s);
    struct sockaddr_in sin = sin4(IP_A, 5353);
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin), EADDRINUSE);
    sin = sin4("0.0.0.0", 5353);
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin), EADDRINUSE);

    /* Not ours: the peer's address and one nobody has. */
    sin = sin4(IP_B, 5000);
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin), EADDRNOTAVAIL);
    sin = sin4("192.0.2.1", 5000);
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin), EADDRNOTAVAIL);

    /* Bad length, bad family, and binding twice. */
    sin = sin4(IP_A, 5000);
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin - 1), EINVAL);
    sin.sin_family = AF_INET6;
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin), EAFNOSUPPORT);
    sin.sin_family = AF_INET;
    assert_int_equal(us_bind(s, a2, SA(&sin), sizeof sin), 0);
    assert_int_equal(local_port(s, a2), 5000);
    sin.sin_port = htons(5001);
    expect_errno(us_bind(s, a2, SA(&sin), sizeof sin), EINVAL);

    /* The port is free again once its socket is closed. */
    assert_int_equal(us_close(s, a1), 0);
    int a3 = bound_udp(s, IP_A, 5353);
    assert_int_equal(local_port(s, a3), 5353);
    expect_errno(us_bind(s, 999, SA(&sin), sizeof sin), EBADF);
}

static void test_udp_recv_empty_would_block(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[1];
    int b = bound_udp(s, IP_B, 7003);
    char buf[8];
    expect_errno(us_recv(s, b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    /* Blocking, but there is no runtime to deliver anything: EAGAIN rather
     * than a deadlock. */
    expect_errno(us_recv(s, b, buf, sizeof buf, 0), EAGAIN);
    assert_int_equal(us_set_nonblocking(s, b, 1), 0);
    expect_errno(us_recvfrom(s, b, buf, sizeof buf, 0, NULL, NULL), EAGAIN);
    int nb = us_socket(s, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    assert_true(nb >= 0);
    expect_errno(us_recv(s, nb, buf, sizeof buf, 0), EAGAIN);
    expect_errno(us_set_nonblocking(s, 4242, 1), EBADF);
}

static void test_udp_send_errors(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a = udp_socket(s);
    static char big[65508];
    struct sockaddr_in to = sin4(IP_B, 9);

    expect_errno(us_send(s, a, "x", 1, 0), EDESTADDRREQ);
    expect_errno(us_sendto(s, a, big, sizeof big, 0, SA(&to), sizeof to), EMSGSIZE);
    expect_errno(us_sendto(s, a, "x", 1, 0, SA(&to), sizeof to - 1), EINVAL);
    struct sockaddr_in zero_port = sin4(IP_B, 0);
    expect_errno(us_sendto(s, a, "x", 1, 0, SA(&zero_port), sizeof zero_port), EINVAL);
    struct sockaddr_in six = to;
    six.sin_family = AF_INET6;
    expect_errno(us_sendto(s, a, "x", 1, 0, SA(&six), sizeof six), EAFNOSUPPORT);
    expect_errno(us_sendto(s, 77, "x", 1, 0, SA(&to), sizeof to), EBADF);
    assert_int_equal(us_counter_get(s, "udp.tx"), 0); /* nothing left the stack */

    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    expect_errno(us_getpeername(s, a, SA(&peer), &len), ENOTCONN);
}

static void test_udp_broadcast_needs_so_broadcast(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int b = bound_udp(fx->s[1], "0.0.0.0", 6000);
    int a = udp_socket(s);
    struct sockaddr_in bcast = sin4("10.0.0.255", 6000);
    struct sockaddr_in limited = sin4("255.255.255.255", 6000);
    expect_errno(us_sendto(s, a, "b", 1, 0, SA(&bcast), sizeof bcast), EACCES);
    expect_errno(us_sendto(s, a, "b", 1, 0, SA(&limited), sizeof limited), EACCES);
    expect_errno(us_connect(s, a, SA(&bcast), sizeof bcast), EACCES);

    int on = 1;
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_BROADCAST, &on, sizeof on), 0);
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_BROADCAST, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(us_sendto(s, a, "b", 1, 0, SA(&bcast), sizeof bcast), 1);
    settle(fx);
    char c = 0;
    assert_int_equal(us_recv(fx->s[1], b, &c, 1, 0), 1);
    assert_int_equal(c, 'b');
}

static void test_udp_truncation_peek_and_msg_trunc(void **state)
{
    struct fixture *fx = *state;
    int b = bound_udp(fx->s[1], IP_B, 7004);
    int a = udp_socket(fx->s[0]);
    struct sockaddr_in to = sin4(IP_B, 7004);
    char msg[100];
    for (int i = 0; i < 100; i++)
        msg[i] = (char)i;
    for (int i = 0; i < 3; i++)
        assert_int_equal(us_sendto(fx->s[0], a, msg, sizeof msg, 0, SA(&to), sizeof to), 100);
    settle(fx);

    char buf[100];
    /* MSG_PEEK leaves the datagram queued. */
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(us_recv(fx->s[1], b, buf, 10, MSG_PEEK), 10);
    assert_memory_equal(buf, msg, 10);
    assert_int_equal(us_recv(fx->s[1], b, buf, 20, MSG_PEEK | MSG_TRUNC), 100);

    /* A short buffer takes the head and the rest of that datagram is lost. */
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(us_recv(fx->s[1], b, buf, 10, 0), 10);
    assert_memory_equal(buf, msg, 10);
    assert_int_equal((unsigned char)buf[10], 0xff);

    /* MSG_TRUNC reports the real length while copying what fits. */
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(us_recv(fx->s[1], b, buf, 4, MSG_TRUNC), 100);
    assert_memory_equal(buf, msg, 4);
    assert_int_equal((unsigned char)buf[4], 0xff);

    /* The third datagram arrives whole, from its start. */
    assert_int_equal(us_recv(fx->s[1], b, buf, sizeof buf, 0), 100);
    assert_memory_equal(buf, msg, 100);
    expect_errno(us_recv(fx->s[1], b, buf, sizeof buf, 0), EAGAIN);
}

static void test_udp_pollfd_tracks_queue(void **state)
{
    struct fixture *fx = *state;
    int b = bound_udp(fx->s[1], IP_B, 7005);
    int a = udp_socket(fx->s[0]);
    int fd = us_socket_pollfd(fx->s[1], b);
    assert_true(fd >= 0);
    assert_int_equal(us_socket_pollfd(fx->s[1], b), fd); /* one per socket */
    assert_false(pollfd_readable(fd));

    struct sockaddr_in to = sin4(IP_B, 7005);
    assert_int_equal(us_sendto(fx->s[0], a, "1", 1, 0, SA(&to), sizeof to), 1);
    assert_int_equal(us_sendto(fx->s[0], a, "2", 1, 0, SA(&to), sizeof to), 1);
    assert_false(pollfd_readable(fd)); /* still on the wire */
    settle(fx);
    assert_true(pollfd_readable(fd));

    char c;
    assert_int_equal(us_recv(fx->s[1], b, &c, 1, MSG_PEEK), 1);
    assert_true(pollfd_readable(fd));
    assert_int_equal(us_recv(fx->s[1], b, &c, 1, 0), 1);
    assert_int_equal(c, '1');
    assert_true(pollfd_readable(fd)); /* one more queued */
    assert_int_equal(us_recv(fx->s[1], b, &c, 1, 0), 1);
    assert_int_equal(c, '2');
    assert_false(pollfd_readable(fd));

    /* A socket that already holds data starts readable. */
    assert_int_equal(us_sendto(fx->s[0], a, "3", 1, 0, SA(&to), sizeof to), 1);
    settle(fx);
    int b2 = bound_udp(fx->s[1], IP_B, 7006);
    struct sockaddr_in to2 = sin4(IP_B, 7006);
    assert_int_equal(us_sendto(fx->s[0], a, "4", 1, 0, SA(&to2), sizeof to2), 1);
    settle(fx);
    int fd2 = us_socket_pollfd(fx->s[1], b2);
    assert_true(fd2 >= 0 && fd2 != fd);
    assert_true(pollfd_readable(fd2));
    expect_errno(us_socket_pollfd(fx->s[1], 555), EBADF);
}

static void test_udp_connected_gets_port_unreachable(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a = udp_socket(s);
    struct sockaddr_in to = sin4(IP_B, 9); /* nobody listens on B */
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    assert_int_equal(us_getpeername(s, a, SA(&peer), &len), 0);
    assert_int_equal(peer.sin_addr.s_addr, to.sin_addr.s_addr);
    assert_int_equal(ntohs(peer.sin_port), 9);
    int fd = us_socket_pollfd(s, a);
    assert_true(fd >= 0);

    assert_int_equal(us_send(s, a, "knock", 5, 0), 5);
    assert_int_equal(pollfd_revents(fd), POLLOUT);
    settle(fx);
    assert_int_equal(us_counter_get(fx->s[1], "drop.udp_no_port"), 1);
    /* As datagram_poll(): an error pending is POLLERR, not POLLIN. */
    assert_int_equal(pollfd_revents(fd) & (POLLIN | POLLOUT | POLLERR), POLLOUT | POLLERR);
    char buf[8];
    expect_errno(us_recv(s, a, buf, sizeof buf, 0), ECONNREFUSED);
    assert_int_equal(pollfd_revents(fd) & (POLLIN | POLLOUT | POLLERR), POLLOUT);
    expect_errno(us_recv(s, a, buf, sizeof buf, 0), EAGAIN); /* reported once */

    /* Again; this time SO_ERROR reads and clears it, and the next send
     * succeeds. */
    assert_int_equal(us_send(s, a, "knock", 5, 0), 5);
    fx->now += US_SEC; /* let the peer's ICMP rate limiter refill */
    us_poll(fx->s[1], fx->now);
    settle(fx);
    assert_true(pollfd_revents(fd) & POLLERR); /* raised again after a clear */
    int err = 0;
    len = sizeof err;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(len, sizeof err);
    assert_int_equal(err, ECONNREFUSED);
    assert_false(pollfd_revents(fd) & POLLERR);
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, 0);

    /* A third: the pending error fails the next send. */
    assert_int_equal(us_send(s, a, "knock", 5, 0), 5);
    fx->now += US_SEC;
    us_poll(fx->s[1], fx->now);
    settle(fx);
    assert_true(pollfd_revents(fd) & POLLERR);
    expect_errno(us_send(s, a, "knock", 5, 0), ECONNREFUSED);
    assert_false(pollfd_revents(fd) & POLLERR);
    assert_int_equal(us_send(s, a, "knock", 5, 0), 5);
}

/* An error and a datagram pending together: POLLIN|POLLERR; the error is
 * read first, then the datagram; then shutdown() as Linux's for UDP. */
static void test_udp_pollfd_error_data_and_shutdown(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a = bound_udp(s, IP_A, 7300);
    int fd = us_socket_pollfd(s, a);
    assert_true(fd >= 0);
    /* Not connected: ENOTCONN, yet the direction is shut all the same. */
    int u = udp_socket(s);
    expect_errno(us_shutdown(s, u, SHUT_WR), ENOTCONN);
    struct sockaddr_in nowhere = sin4(IP_B, 9);
    expect_errno(us_sendto(s, u, "x", 1, 0, SA(&nowhere), sizeof nowhere), EPIPE);
    int b = bound_udp(fx->s[1], IP_B, 7301);
    struct sockaddr_in to = sin4(IP_B, 7301), back = sin4(IP_A, 7300);
    assert_int_equal(us_connect(s, a, SA(&to), sizeof to), 0);
    assert_int_equal(us_sendto(fx->s[1], b, "data", 4, 0, SA(&back), sizeof back), 4);
    settle(fx);
    assert_int_equal(us_close(fx->s[1], b), 0);
    assert_int_equal(us_send(s, a, "knock", 5, 0), 5); /* port unreachable */
    settle(fx);
    const short mask = POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP;
    assert_int_equal(pollfd_revents(fd) & mask, POLLIN | POLLOUT | POLLERR);
    char buf[8];
    expect_errno(us_recv(s, a, buf, sizeof buf, 0), ECONNREFUSED);
    assert_int_equal(pollfd_revents(fd) & mask, POLLIN | POLLOUT);
    assert_int_equal(us_recv(s, a, buf, sizeof buf, 0), 4);
    assert_int_equal(pollfd_revents(fd) & mask, POLLOUT);

    assert_int_equal(us_shutdown(s, a, SHUT_WR), 0);
    expect_errno(us_send(s, a, "x", 1, 0), EPIPE);
    assert_int_equal(pollfd_revents(fd) & mask, POLLOUT); /* no bit for SHUT_WR alone */
    expect_errno(us_shutdown(s, a, 7), EINVAL);
    assert_int_equal(us_shutdown(s, a, SHUT_RD), 0);
    assert_int_equal(pollfd_revents(fd) & mask, POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
    expect_errno(us_recv(s, a, buf, sizeof buf, MSG_DONTWAIT), EAGAIN); /* as Linux */
}

static void test_udp_unconnected_ignores_port_unreachable(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a = udp_socket(s);
    struct sockaddr_in to = sin4(IP_B, 9);
    assert_int_equal(us_sendto(s, a, "knock", 5, 0, SA(&to), sizeof to), 5);
    settle(fx);
    assert_int_equal(us_counter_get(fx->s[1], "drop.udp_no_port"), 1);
    char buf[8];
    expect_errno(us_recv(s, a, buf, sizeof buf, 0), EAGAIN);
    int err = -1;
    socklen_t len = sizeof err;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, 0);
}

static void test_udp_connect_filters_and_disconnects(void **state)
{
    struct fixture *fx = *state;
    int b1 = bound_udp(fx->s[1], IP_B, 7101);
    int b2 = bound_udp(fx->s[1], IP_B, 7102);
    int a = bound_udp(fx->s[0], IP_A, 7100);
    struct sockaddr_in peer1 = sin4(IP_B, 7101);
    assert_int_equal(us_connect(fx->s[0], a, SA(&peer1), sizeof peer1), 0);
    assert_int_equal(us_send(fx->s[0], a, "c", 1, 0), 1);
    settle(fx);
    char c = 0;
    assert_int_equal(us_recv(fx->s[1], b1, &c, 1, 0), 1);
    assert_int_equal(c, 'c');

    /* A connected socket only hears its peer. */
    struct sockaddr_in to_a = sin4(IP_A, 7100);
    assert_int_equal(us_sendto(fx->s[1], b2, "x", 1, 0, SA(&to_a), sizeof to_a), 1);
    assert_int_equal(us_sendto(fx->s[1], b1, "y", 1, 0, SA(&to_a), sizeof to_a), 1);
    settle(fx);
    assert_int_equal(us_recv(fx->s[0], a, &c, 1, 0), 1);
    assert_int_equal(c, 'y');
    expect_errno(us_recv(fx->s[0], a, &c, 1, 0), EAGAIN);

    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    assert_int_equal(us_connect(fx->s[0], a, &unspec, sizeof unspec), 0);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    expect_errno(us_getpeername(fx->s[0], a, SA(&peer), &len), ENOTCONN);
    expect_errno(us_send(fx->s[0], a, "c", 1, 0), EDESTADDRREQ);
}

static void test_udp_ephemeral_port_range(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    struct sockaddr_in to = sin4(IP_B, 9999);
    uint16_t ports[8];
    for (int i = 0; i < 8; i++) {
        int a = udp_socket(s);
        if (i % 2) {
            assert_int_equal(us_sendto(s, a, "p", 1, 0, SA(&to), sizeof to), 1);
        } else {
            struct sockaddr_in any = sin4("0.0.0.0", 0);
            assert_int_equal(us_bind(s, a, SA(&any), sizeof any), 0);
        }
        ports[i] = local_port(s, a);
        assert_in_range(ports[i], 32768, 60999);
        for (int k = 0; k < i; k++)
            assert_int_not_equal(ports[k], ports[i]);
    }
}

static void test_udp_rcvbuf_bounds_queue(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[1];
    int b = bound_udp(s, IP_B, 7007);
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(us_getsockopt(s, b, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
    assert_int_equal(v, 212992);
    v = 1; /* Linux raises it to the minimum */
    assert_int_equal(us_setsockopt(s, b, SOL_SOCKET, SO_RCVBUF, &v, sizeof v), 0);
    assert_int_equal(us_getsockopt(s, b, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
    assert_int_equal(v, 2304);
    v = 1 << 30; /* and caps it at twice rmem_max */
    assert_int_equal(us_setsockopt(s, b, SOL_SOCKET, SO_RCVBUF, &v, sizeof v), 0);
    assert_int_equal(us_getsockopt(s, b, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
    assert_int_equal(v, 2 * 212992);
    v = 4000; /* 8000 bytes: a few small datagrams */
    assert_int_equal(us_setsockopt(s, b, SOL_SOCKET, SO_RCVBUF, &v, sizeof v), 0);

    int a = udp_socket(fx->s[0]);
    struct sockaddr_in to = sin4(IP_B, 7007);
    exchange_one(fx, a, b, &to); /* ARP resolved: the burst goes out at once */
    for (int i = 0; i < 20; i++)
        assert_int_equal(us_sendto(fx->s[0], a, &i, sizeof i, 0, SA(&to), sizeof to),
                         (ssize_t)sizeof i);
    settle(fx);
    uint64_t dropped = us_counter_get(s, "drop.udp_rcvbuf_full");
    int got = 0, x;
    while (us_recv(s, b, &x, sizeof x, 0) == (ssize_t)sizeof x) {
        assert_int_equal(x, got); /* the first ones are kept, in order */
        got++;
    }
    assert_int_equal(errno, EAGAIN);
    assert_true(got >= 2 && got < 20);
    assert_int_equal(dropped, (uint64_t)(20 - got));
    assert_int_equal(us_counter_get(s, "udp.rx"), 21);

    /* Draining makes room again. */
    assert_int_equal(us_sendto(fx->s[0], a, &got, sizeof got, 0, SA(&to), sizeof to),
                     (ssize_t)sizeof got);
    settle(fx);
    assert_int_equal(us_recv(s, b, &x, sizeof x, 0), (ssize_t)sizeof x);
    assert_int_equal(x, got);
}

static void test_socket_creation_errors(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    expect_errno(us_socket(s, AF_INET6, SOCK_DGRAM, 0), EAFNOSUPPORT);
    expect_errno(us_socket(s, AF_UNIX, SOCK_DGRAM, 0), EAFNOSUPPORT);
    expect_errno(us_socket(s, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    expect_errno(us_socket(s, AF_INET, SOCK_RAW, IPPROTO_ICMP), ESOCKTNOSUPPORT);
    expect_errno(us_socket(s, AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
    expect_errno(us_socket(s, AF_INET, SOCK_DGRAM | 0x100000, 0), EINVAL);
    expect_errno(us_socket(s, AF_INET, 99, 0), EINVAL);

    /* Descriptors are the lowest free small integers. */
    int a = udp_socket(s), b = udp_socket(s), c = udp_socket(s);
    assert_int_equal(b, a + 1);
    assert_int_equal(c, a + 2);
    assert_int_equal(us_close(s, b), 0);
    assert_int_equal(udp_socket(s), b);
}

static void test_socket_options(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int a = udp_socket(s);
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_TYPE, &v, &len), 0);
    assert_int_equal(v, SOCK_DGRAM);
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
    assert_int_equal(v, 212992);
    v = 1;
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
    assert_int_equal(v, 4608);
    v = 1;
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v), 0);
    v = 0;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    assert_int_equal(v, 1);

    struct timeval tv = {.tv_sec = 2, .tv_usec = 500000}, got = {0, 0};
    assert_int_equal(us_setsockopt(s, a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    len = sizeof got;
    assert_int_equal(us_getsockopt(s, a, SOL_SOCKET, SO_RCVTIMEO, &got, &len), 0);
    assert_int_equal(len, sizeof got);
    assert_int_equal(got.tv_sec, 2);
    assert_int_equal(got.tv_usec, 500000);
    tv.tv_usec = 1000000;
    expect_errno(us_setsockopt(s, a, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), EDOM);
    expect_errno(us_setsockopt(s, a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv - 1), EINVAL);

    expect_errno(us_setsockopt(s, a, SOL_SOCKET, SO_RCVBUF, &v, 2), EINVAL);
    expect_errno(us_setsockopt(s, a, SOL_SOCKET, SO_TYPE, &v, sizeof v), ENOPROTOOPT);
    expect_errno(us_setsockopt(s, a, SOL_SOCKET, 12345, &v, sizeof v), ENOPROTOOPT);
    len = sizeof v;
    expect_errno(us_getsockopt(s, a, IPPROTO_TCP, 1, &v, &len), ENOPROTOOPT);
    expect_errno(us_getsockopt(s, 321, SOL_SOCKET, SO_TYPE, &v, &len), EBADF);
}

/* ---- Ping sockets ---- */

static uint16_t csum16(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t echo_request(uint8_t *msg, uint16_t id, uint16_t seq, const char *payload)
{
    size_t plen = strlen(payload);
    msg[0] = 8; /* echo request */
    msg[1] = 0;
    msg[2] = msg[3] = 0; /* the stack computes the checksum */
    msg[4] = (uint8_t)(id >> 8);
    msg[5] = (uint8_t)id;
    msg[6] = (uint8_t)(seq >> 8);
    msg[7] = (uint8_t)seq;
    memcpy(msg + 8, payload, plen);
    return 8 + plen;
}

static int ping_socket(struct ustack *s)
{
    int sd = us_socket(s, AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    assert_true(sd >= 0);
    return sd;
}

static void test_ping_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int p = ping_socket(s);
    int fd = us_socket_pollfd(s, p);
    assert_true(fd >= 0);
    uint8_t msg[64], reply[64];
    size_t len = echo_request(msg, 0xbeef, 7, "ustack ping payload");
    struct sockaddr_in to = sin4(IP_B, 0);
    assert_int_equal(us_sendto(s, p, msg, len, 0, SA(&to), sizeof to), (ssize_t)len);
    uint16_t id = local_port(s, p); /* the identifier the stack picked */
    assert_int_not_equal(id, 0);
    settle(fx);
    assert_int_equal(us_counter_get(fx->s[1], "icmp4.rx"), 1);
    assert_true(pollfd_readable(fd));

    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    memset(reply, 0, sizeof reply);
    ssize_t n = us_recvfrom(s, p, reply, sizeof reply, 0, SA(&from), &fromlen);
    assert_int_equal(n, (ssize_t)len);
    assert_int_equal(reply[0], 0); /* echo reply */
    assert_int_equal(reply[1], 0);
    assert_int_equal(reply[4] << 8 | reply[5], id); /* ours, not 0xbeef */
    assert_int_equal(reply[6] << 8 | reply[7], 7);
    assert_memory_equal(reply + 8, msg + 8, len - 8);
    assert_int_equal(csum16(reply, (size_t)n), 0);
    assert_int_equal(from.sin_addr.s_addr, to.sin_addr.s_addr);
    assert_false(pollfd_readable(fd));
    expect_errno(us_recv(s, p, reply, sizeof reply, 0), EAGAIN);
}

/* recvmsg(): the TTL of an echo reply with IP_RECVTTL (as Linux's ping
 * sockets give it), MSG_CTRUNC without room for it; scattered buffers and
 * MSG_TRUNC on UDP. */
static void test_recvmsg_ttl_iov_and_flags(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int p = ping_socket(s);
    int on = 1, v = 0;
    socklen_t vlen = sizeof v;
    assert_int_equal(us_setsockopt(s, p, IPPROTO_IP, IP_RECVTTL, &on, sizeof on), 0);
    assert_int_equal(us_getsockopt(s, p, IPPROTO_IP, IP_RECVTTL, &v, &vlen), 0);
    assert_int_equal(v, 1);
    expect_errno(us_setsockopt(s, p, IPPROTO_IP, IP_TOS + 1000, &on, sizeof on), ENOPROTOOPT);
    uint8_t msg[64], reply[64];
    struct sockaddr_in to = sin4(IP_B, 0);
    for (int round = 0; round < 2; round++) {
        size_t len = echo_request(msg, 1, (uint16_t)round, "ttl?");
        assert_int_equal(us_sendto(s, p, msg, len, 0, SA(&to), sizeof to), (ssize_t)len);
        settle(fx);
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct sockaddr_in from;
        struct iovec iov = {.iov_base = reply, .iov_len = sizeof reply};
        struct msghdr mh = {.msg_name = &from,
                            .msg_namelen = sizeof from,
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = round ? 4 : sizeof ctl.buf};
        assert_int_equal(us_recvmsg(s, p, &mh, 0), (ssize_t)len);
        assert_int_equal(mh.msg_namelen, sizeof from);
        assert_int_equal(from.sin_addr.s_addr, to.sin_addr.s_addr);
        if (round == 0) {
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            assert_non_null(c);
            assert_int_equal(c->cmsg_level, IPPROTO_IP);
            assert_int_equal(c->cmsg_type, IP_TTL);
            int ttl;
            memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
            assert_int_equal(ttl, 64);
            assert_int_equal(mh.msg_flags, 0);
        } else {
            assert_int_equal(mh.msg_controllen, 0);
            assert_int_equal(mh.msg_flags, MSG_CTRUNC);
        }
    }

    int a = udp_socket(s), b = bound_udp(fx->s[1], IP_B, 7400);
    struct sockaddr_in dst = sin4(IP_B, 7400);
    assert_int_equal(us_sendto(s, a, "0123456789", 10, 0, SA(&dst), sizeof dst), 10);
    assert_int_equal(us_sendto(s, a, "abcdef", 6, 0, SA(&dst), sizeof dst), 6);
    settle(fx);
    char x[4], y[4];
    struct iovec iov2[2] = {{.iov_base = x, .iov_len = sizeof x},
                            {.iov_base = y, .iov_len = sizeof y}};
    struct msghdr mh = {.msg_iov = iov2, .msg_iovlen = 2};
    assert_int_equal(us_recvmsg(fx->s[1], b, &mh, 0), 8);
    assert_memory_equal(x, "0123", 4);
    assert_memory_equal(y, "4567", 4);
    assert_int_equal(mh.msg_flags, MSG_TRUNC);
    assert_int_equal(us_recvmsg(fx->s[1], b, &mh, 0), 6);
    assert_int_equal(mh.msg_flags, 0);
    assert_memory_equal(y, "ef", 2);
    expect_errno(us_recvmsg(fx->s[1], b, NULL, 0), EFAULT);
    expect_errno(us_recvmsg(fx->s[1], 999, &mh, 0), EBADF);
}

static void test_ping_bound_identifier_and_errors(void **state)
{
    struct fixture *fx = *state;
    struct ustack *s = fx->s[0];
    int p = ping_socket(s);
    struct sockaddr_in local = sin4(IP_A, 4242);
    assert_int_equal(us_bind(s, p, SA(&local), sizeof local), 0);
    assert_int_equal(local_port(s, p), 4242);
    int q = ping_socket(s);
    expect_errno(us_bind(s, q, SA(&local), sizeof local), EADDRINUSE);

    uint8_t msg[64], reply[64];
    struct sockaddr_in to = sin4(IP_B, 0);
    /* Only echo requests, and at least a header. */
    size_t len = echo_request(msg, 1, 1, "x");
    msg[0] = 13; /* timestamp */
    expect_errno(us_sendto(s, p, msg, len, 0, SA(&to), sizeof to), EINVAL);
    msg[0] = 8;
    expect_errno(us_sendto(s, p, msg, 7, 0, SA(&to), sizeof to), EINVAL);
    expect_errno(us_send(s, p, msg, 3, 0), EINVAL); /* the message is checked first */
    expect_errno(us_send(s, p, msg, len, 0), EDESTADDRREQ);

    /* Connected: send() goes to the peer, replies keep our identifier. */
    assert_int_equal(us_connect(s, p, SA(&to), sizeof to), 0);
    len = echo_request(msg, 1, 99, "connected");
    assert_int_equal(us_send(s, p, msg, len, 0), (ssize_t)len);
    settle(fx);
    assert_int_equal(us_recv(s, p, reply, 4, 0), 4); /* truncated like UDP */
    expect_errno(us_recv(s, p, reply, sizeof reply, 0), EAGAIN);
    assert_int_equal(us_send(s, p, msg, len, 0), (ssize_t)len);
    settle(fx);
    assert_int_equal(us_recv(s, p, reply, sizeof reply, 0), (ssize_t)len);
    assert_int_equal(reply[4] << 8 | reply[5], 4242);
    assert_int_equal(reply[6] << 8 | reply[7], 99);
    /* The other ping socket, never bound, heard nothing. */
    expect_errno(us_recv(s, q, reply, sizeof reply, 0), EAGAIN);

    /* Closing frees the identifier. */
    assert_int_equal(us_close(s, p), 0);
    assert_int_equal(us_bind(s, q, SA(&local), sizeof local), 0);
}

/* ---- With a runtime thread: blocking receives ---- */

struct blocked_recv {
    struct ustack *s;
    int sd;
    ssize_t rc;
    int err;
    char buf[16];
};

static void *recv_thread(void *arg)
{
    struct blocked_recv *br = arg;
    br->rc = us_recv(br->s, br->sd, br->buf, sizeof br->buf, 0);
    br->err = errno;
    return NULL;
}

/* Waits until a thread is blocked on sd (reads the socket under the lock). */
static void wait_blocked(struct ustack *s, int sd)
{
    for (int i = 0; i < 5000; i++) {
        us_runtime_lock(s);
        struct us_sock *so = s->sock->tab[sd];
        int refs = so ? so->refs : 0;
        us_runtime_unlock(s);
        if (refs > 0)
            return;
        usleep(1000);
    }
    fail_msg("receiver never blocked");
}

static void test_runtime_blocking_recv_wakes_on_data(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sb = fx->s[1];
    struct us_runtime *rt = us_runtime_new(sb);
    assert_non_null(rt);
    assert_int_equal(us_runtime_start(rt), 0);
    int b = bound_udp(sb, IP_B, 7200);
    /* A generous timeout so that a lost wake-up fails instead of hanging. */
    struct timeval tv = {.tv_sec = 10};
    assert_int_equal(us_setsockopt(sb, b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct blocked_recv br = {.s = sb, .sd = b};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recv_thread, &br), 0);
    wait_blocked(sb, b);

    int a = udp_socket(fx->s[0]);
    struct sockaddr_in to = sin4(IP_B, 7200);
    assert_int_equal(us_sendto(fx->s[0], a, "wake", 4, 0, SA(&to), sizeof to), 4);
    us_runtime_lock(sb); /* the wire feeds stack B: under its lock */
    us_memwire_deliver(fx->w, 0);
    us_runtime_unlock(sb);
    pthread_join(t, NULL);
    assert_int_equal(br.rc, 4);
    assert_memory_equal(br.buf, "wake", 4);
    us_runtime_free(rt);
    assert_null(sb->rt);
}

static void test_runtime_recv_timeout_and_close(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sb = fx->s[1];
    struct us_runtime *rt = us_runtime_new(sb);
    assert_non_null(rt);
    assert_int_equal(us_runtime_start(rt), 0);
    int b = bound_udp(sb, IP_B, 7201);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
    assert_int_equal(us_setsockopt(sb, b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    char buf[4];
    us_time_t t0 = us_clock_monotonic();
    expect_errno(us_recv(sb, b, buf, sizeof buf, 0), EAGAIN);
    assert_true(us_clock_monotonic() - t0 >= 50 * US_MSEC);

    /* Closing the socket releases a receiver blocked without a timeout. */
    tv.tv_usec = 0;
    assert_int_equal(us_setsockopt(sb, b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct blocked_recv br = {.s = sb, .sd = b};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recv_thread, &br), 0);
    wait_blocked(sb, b);
    assert_int_equal(us_close(sb, b), 0);
    pthread_join(t, NULL);
    assert_int_equal(br.rc, -1);
    assert_int_equal(br.err, EBADF);
    us_runtime_free(rt);
}

struct fd_probe {
    struct ustack *s;
    int rfd;
    int calls;
    bool lock_held;
    char byte;
};

static void on_pipe_readable(void *ctx)
{
    struct fd_probe *fp = ctx;
    /* The runtime holds the stack lock while it calls us. */
    fp->lock_held = pthread_mutex_trylock(us_runtime_mutex(fp->s)) == EBUSY;
    if (read(fp->rfd, &fp->byte, 1) == 1)
        fp->calls++;
}

static int probe_calls(struct fd_probe *fp)
{
    us_runtime_lock(fp->s);
    int calls = fp->calls;
    us_runtime_unlock(fp->s);
    return calls;
}

static void test_runtime_calls_readable_fd_under_lock(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct us_runtime *rt = us_runtime_new(sa);
    assert_non_null(rt);
    assert_null(us_runtime_new(sa)); /* one runtime per stack */
    struct fd_probe fp = {.s = sa, .rfd = fds[0]};
    assert_int_equal(us_runtime_add_fd(rt, fds[0], on_pipe_readable, &fp), 0);
    assert_int_equal(us_runtime_start(rt), 0);
    assert_int_equal(write(fds[1], "z", 1), 1);
    for (int i = 0; i < 5000 && probe_calls(&fp) < 1; i++)
        usleep(1000);
    assert_int_equal(probe_calls(&fp), 1);
    assert_true(fp.lock_held);
    assert_int_equal(fp.byte, 'z');
    us_runtime_free(rt);
    close(fds[0]);
    close(fds[1]);
}

static uint64_t arp_requests(struct ustack *s)
{
    us_runtime_lock(s);
    uint64_t n = s->cnt.event[US_EV_arp_request_out];
    us_runtime_unlock(s);
    return n;
}

/* A send from an application thread arms the ARP timer; the runtime thread,
 * asleep with no deadline, must be woken to retransmit on time. */
static void test_runtime_runs_timers_armed_by_a_send(void **state)
{
    struct fixture *fx = *state;
    struct ustack *sa = fx->s[0];
    int a = udp_socket(sa);
    struct us_runtime *rt = us_runtime_new(sa);
    assert_non_null(rt);
    assert_int_equal(us_runtime_start(rt), 0);
    usleep(20000); /* let the thread settle into its sleep */
    struct sockaddr_in nobody = sin4("10.0.0.77", 9);
    assert_int_equal(us_sendto(sa, a, "?", 1, 0, SA(&nobody), sizeof nobody), 1);
    assert_int_equal(arp_requests(sa), 1);
    /* The retransmission is due one second later. */
    for (int i = 0; i < 5000 && arp_requests(sa) < 2; i++)
        usleep(1000);
    assert_true(arp_requests(sa) >= 2);
    us_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_udp_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_datagrams_keep_boundaries_and_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_udp_largest_datagram_crosses_fragmented, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_udp_bind_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_recv_empty_would_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_send_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_broadcast_needs_so_broadcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_truncation_peek_and_msg_trunc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_pollfd_tracks_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_connected_gets_port_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_pollfd_error_data_and_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_unconnected_ignores_port_unreachable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_udp_connect_filters_and_disconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_ephemeral_port_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_rcvbuf_bounds_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_creation_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_bound_identifier_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recvmsg_ttl_iov_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_blocking_recv_wakes_on_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_recv_timeout_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_calls_readable_fd_under_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_runs_timers_armed_by_a_send, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
