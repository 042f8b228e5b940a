/* UDP sockets (SOCK_DGRAM, IPPROTO_UDP) on the core's UDP pcbs. */
#include <errno.h>
#include <string.h>

#include "socket/socket_internal.h"

static void udp_recv_cb(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                        const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    (void)pcb;
    (void)dst;
    us_sock_enqueue(ctx, p, src, sport, -1, US_P_udp);
}

/* Without IP_RECVERR Linux reports only hard ICMP errors, and only on a
 * connected socket (__udp4_lib_err); unreachable nets and hosts, time
 * exceeded and fragmentation needed are soft. */
static void udp_err_cb(void *ctx, struct us_udp_pcb *pcb, int err)
{
    if (pcb->rport == 0)
        return;
    if (err == ENETUNREACH || err == EHOSTUNREACH || err == EMSGSIZE)
        return;
    us_sock_set_error(ctx, err);
}

static int udp_bind(struct us_sock *so, uint32_t addr, uint16_t port)
{
    struct us_addr a = us_addr4(addr);
    return us_udp_bind(so->pcb, &a, port);
}

static int udp_connect(struct us_sock *so, uint32_t addr, uint16_t port)
{
    struct us_addr a = us_addr4(addr);
    return us_udp_connect(so->pcb, &a, port);
}

static void udp_disconnect(struct us_sock *so)
{
    us_udp_disconnect(so->pcb);
}

static bool udp_connected(const struct us_sock *so)
{
    return so->pcb->rport != 0;
}

static ssize_t udp_sendto(struct us_sock *so, const void *buf, size_t len,
                          const struct sockaddr_in *to)
{
    if (to && to->sin_port == 0)
        return -EINVAL; /* udp_sendmsg */
    if (!so->pcb->bound) {
        struct us_addr any = us_addr4(0);
        int rc = us_udp_bind(so->pcb, &any, 0);
        if (rc < 0)
            return rc == -EADDRINUSE ? -EAGAIN : rc; /* autobind failed */
    }
    struct us_pkt *p = us_pkt_alloc(so->s, len);
    if (!p)
        return -ENOBUFS;
    if (len)
        memcpy(p->data, buf, len);
    struct us_addr dst = us_addr4(to ? to->sin_addr.s_addr : 0);
    int rc = us_udp_sendto(so->pcb, p, to ? &dst : NULL, to ? ntohs(to->sin_port) : 0);
    return rc < 0 ? rc : (ssize_t)len;
}

static void udp_name(const struct us_sock *so, struct sockaddr_in *out)
{
    const struct us_udp_pcb *pcb = so->pcb;
    if (pcb->local.family == US_AF_INET)
        out->sin_addr.s_addr = pcb->local.v4;
    if (pcb->bound)
        out->sin_port = htons(pcb->lport);
}

static void udp_peer(const struct us_sock *so, struct sockaddr_in *out)
{
    out->sin_addr.s_addr = so->pcb->remote.v4;
    out->sin_port = htons(so->pcb->rport);
}

static void udp_release(struct us_sock *so)
{
    us_udp_free(so->pcb);
    so->pcb = NULL;
}

static const struct us_sock_ops udp_ops = {
    .bind = udp_bind,
    .connect = udp_connect,
    .disconnect = udp_disconnect,
    .connected = udp_connected,
    .sendto = udp_sendto,
    .name = udp_name,
    .peer = udp_peer,
    .release = udp_release,
};

int us_sock_udp_open(struct us_sock *so)
{
    so->pcb = us_udp_new(so->s, udp_recv_cb, udp_err_cb, so);
    if (!so->pcb)
        return -ENOBUFS;
    so->ops = &udp_ops;
    return 0;
}
