/* ICMP echo ("ping") sockets like Linux's (SOCK_DGRAM, IPPROTO_ICMP): the
 * user writes an echo request header and payload; the stack sets the
 * identifier to the socket's "port" and computes the checksum. Echo replies
 * carrying that identifier are queued whole (ICMP header and payload). */
#include <errno.h>
#include <string.h>

#include "ip4/ip4.h"
#include "socket/socket_internal.h"

static void ping_echo_cb(void *ctx, struct us_pkt *p, uint32_t src, uint8_t ttl)
{
    struct us_addr from = us_addr4(src);
    us_sock_enqueue(ctx, p, &from, 0, ttl, US_P_icmp4);
}

static bool ping_id_in_use(struct ustack *s, uint16_t id)
{
    for (const struct us_icmp4_echo_listener *l = s->icmp4.echo; l; l = l->next)
        if (l->id == id)
            return true;
    return false;
}

/* Any free non-zero identifier, from a random start (Linux ping_get_port
 * walks a rover over the whole 16-bit space). */
static int ping_pick_id(struct ustack *s)
{
    uint32_t start = us_random32(s);
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t id = (uint16_t)(start + i);
        if (id != 0 && !ping_id_in_use(s, id))
            return id;
    }
    return -1;
}

static int ping_listen(struct us_sock *so, uint16_t id)
{
    if (id == 0) {
        int picked = ping_pick_id(so->s);
        if (picked < 0)
            return -EAGAIN;
        id = (uint16_t)picked;
    } else if (ping_id_in_use(so->s, id)) {
        return -EADDRINUSE;
    }
    so->ping.echo = (struct us_icmp4_echo_listener){.id = id, .fn = ping_echo_cb, .ctx = so};
    us_icmp4_echo_listen(so->s, &so->ping.echo);
    so->ping.bound = true;
    return 0;
}

static int ping_bind(struct us_sock *so, uint32_t addr, uint16_t port)
{
    if (so->ping.bound)
        return -EINVAL;
    int rc = ping_listen(so, port);
    if (rc == 0)
        so->ping.local = addr;
    return rc;
}

static int ping_connect(struct us_sock *so, uint32_t addr, uint16_t port)
{
    struct us_ip4_route r;
    int rc = us_ip4_route(so->s, addr, &r);
    if (rc < 0)
        return rc;
    if (!so->ping.bound && (rc = ping_listen(so, 0)) < 0)
        return rc;
    so->ping.remote = addr;
    so->ping.rport = port;
    so->ping.src = r.src;
    so->ping.connected = true;
    return 0;
}

static void ping_disconnect(struct us_sock *so)
{
    so->ping.connected = false;
    so->ping.remote = 0;
    so->ping.rport = 0;
    so->ping.src = 0;
}

static bool ping_connected(const struct us_sock *so)
{
    return so->ping.connected;
}

/* ping_common_sendmsg: a whole header, and only echo requests. */
static int ping_check_msg(const void *buf, size_t len)
{
    const uint8_t *msg = buf;
    if (len < ICMP4_HLEN || msg[0] != ICMP4_ECHO_REQUEST || msg[1] != 0)
        return -EINVAL;
    return 0;
}

static ssize_t ping_sendto(struct us_sock *so, const void *buf, size_t len,
                           const struct sockaddr_in *to)
{
    const uint8_t *msg = buf;
    if (!so->ping.bound) {
        int rc = ping_listen(so, 0);
        if (rc < 0)
            return rc;
    }
    uint32_t dst = to ? to->sin_addr.s_addr : so->ping.remote;
    uint16_t seq = (uint16_t)(msg[6] << 8 | msg[7]);
    int rc =
        us_icmp4_echo_send(so->s, dst, so->ping.echo.id, seq, msg + ICMP4_HLEN, len - ICMP4_HLEN);
    return rc < 0 ? rc : (ssize_t)len;
}

static void ping_name(const struct us_sock *so, struct sockaddr_in *out)
{
    out->sin_addr.s_addr = so->ping.local ? so->ping.local : so->ping.src;
    if (so->ping.bound)
        out->sin_port = htons(so->ping.echo.id);
}

static void ping_peer(const struct us_sock *so, struct sockaddr_in *out)
{
    out->sin_addr.s_addr = so->ping.remote;
    out->sin_port = htons(so->ping.rport);
}

static void ping_release(struct us_sock *so)
{
    if (so->ping.bound)
        us_icmp4_echo_unlisten(so->s, &so->ping.echo);
    so->ping.bound = false;
}

static const struct us_sock_ops ping_ops = {
    .check_msg = ping_check_msg,
    .bind = ping_bind,
    .connect = ping_connect,
    .disconnect = ping_disconnect,
    .connected = ping_connected,
    .sendto = ping_sendto,
    .name = ping_name,
    .peer = ping_peer,
    .release = ping_release,
};

int us_sock_ping_open(struct us_sock *so)
{
    so->ops = &ping_ops;
    return 0;
}
