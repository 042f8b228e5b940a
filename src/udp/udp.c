/* UDP (RFC 768, RFC 1122 4.1): demultiplexing, Port Unreachable for closed
 * ports, checksums, and ephemeral ports per RFC 6056. */
#include "udp/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack.h"
#include "ip4/icmp4.h"
#include "ip4/ip4.h"
#include "wire/udp.h"

static uint32_t port_hash(uint16_t port)
{
    return port & (US_UDP_HASH - 1);
}

static void log_udp(struct ustack *s, const char *dir, const struct us_addr *src, uint16_t sport,
                    const struct us_addr *dst, uint16_t dport, size_t len)
{
    if (!us_log_enabled(s, US_CH_UDP, US_LOG_DEBUG))
        return;
    char a[48], b[48];
    us_addr_str(src, a, sizeof(a));
    us_addr_str(dst, b, sizeof(b));
    us_log_emit(s, US_CH_UDP, US_LOG_DEBUG, "UDP %s %s:%u > %s:%u len %zu", dir, a, sport, b, dport,
                len);
}

struct us_udp_pcb *us_udp_new(struct ustack *s, us_udp_recv_fn recv, us_udp_err_fn err, void *ctx)
{
    struct us_udp_pcb *pcb = calloc(1, sizeof(*pcb));
    if (!pcb)
        return NULL;
    pcb->stack = s;
    pcb->recv = recv;
    pcb->err = err;
    pcb->ctx = ctx;
    pcb->local.family = US_AF_INET;
    pcb->remote.family = US_AF_INET;
    return pcb;
}

static void unhash(struct us_udp_pcb *pcb)
{
    struct us_udp_pcb **pp = &pcb->stack->udp.hash[port_hash(pcb->lport)];
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == pcb) {
            *pp = pcb->next;
            return;
        }
    }
}

void us_udp_free(struct us_udp_pcb *pcb)
{
    if (!pcb)
        return;
    if (pcb->bound)
        unhash(pcb);
    free(pcb);
}

static bool port_in_use(struct ustack *s, uint16_t port)
{
    for (struct us_udp_pcb *p = s->udp.hash[port_hash(port)]; p; p = p->next)
        if (p->lport == port)
            return true;
    return false;
}

/* Two bindings clash when the port matches and either address is a
 * wildcard or both are equal. */
static bool binding_clash(struct ustack *s, const struct us_addr *addr, uint16_t port)
{
    for (struct us_udp_pcb *p = s->udp.hash[port_hash(port)]; p; p = p->next) {
        if (p->lport != port)
            continue;
        if (us_addr_is_any(&p->local) || us_addr_is_any(addr) || us_addr_eq(&p->local, addr))
            return true;
    }
    return false;
}

/* RFC 6056 section 3.3.3, algorithm 3: a keyed hash of the connection
 * identifiers picks where the search starts; a counter moves it on. */
uint16_t us_ephemeral_port(struct ustack *s, const struct us_addr *local,
                           const struct us_addr *remote, uint16_t rport,
                           bool (*in_use)(struct ustack *, uint16_t))
{
    uint8_t id[36] = {0};
    memcpy(id, local->family == US_AF_INET6 ? local->v6 : (const uint8_t *)&local->v4, 16);
    memcpy(id + 16, remote->family == US_AF_INET6 ? remote->v6 : (const uint8_t *)&remote->v4, 16);
    memcpy(id + 32, &rport, 2);
    uint32_t offset = (uint32_t)us_siphash(s->secret, id, sizeof(id));
    uint32_t num = US_EPHEMERAL_MAX - US_EPHEMERAL_MIN + 1;
    for (uint32_t tries = 0; tries < num; tries++) {
        uint16_t port = (uint16_t)(US_EPHEMERAL_MIN + (offset + s->udp.next_ephemeral) % num);
        s->udp.next_ephemeral++;
        if (!in_use(s, port))
            return port;
    }
    return 0;
}

int us_udp_bind(struct us_udp_pcb *pcb, const struct us_addr *addr, uint16_t port)
{
    struct ustack *s = pcb->stack;
    if (pcb->bound)
        return -EINVAL;
    struct us_addr local = addr ? *addr : us_addr4(0);
    int err = us_bind_addr_check(s, &local);
    if (err)
        return err;
    if (port == 0) {
        port = us_ephemeral_port(s, &local, &pcb->remote, pcb->rport, port_in_use);
        if (port == 0)
            return -EADDRINUSE;
    } else if (binding_clash(s, &local, port)) {
        return -EADDRINUSE;
    }
    pcb->local = local;
    pcb->lport = port;
    pcb->bound = true;
    struct us_udp_pcb **head = &s->udp.hash[port_hash(port)];
    pcb->next = *head;
    *head = pcb;
    return 0;
}

int us_udp_connect(struct us_udp_pcb *pcb, const struct us_addr *addr, uint16_t port)
{
    if (addr->family != US_AF_INET)
        return -EAFNOSUPPORT;
    if (port == 0)
        return -EINVAL;
    struct us_ip4_route rt;
    int err = us_ip4_route(pcb->stack, addr->v4, &rt);
    if (err < 0)
        return err;
    pcb->remote = *addr;
    pcb->rport = port;
    if (!pcb->bound) {
        err = us_udp_bind(pcb, NULL, 0);
        if (err < 0) {
            pcb->rport = 0;
            return err;
        }
    }
    return 0;
}

void us_udp_disconnect(struct us_udp_pcb *pcb)
{
    pcb->remote = us_addr4(0);
    pcb->rport = 0;
}

int us_udp_sendto(struct us_udp_pcb *pcb, struct us_pkt *p, const struct us_addr *dst,
                  uint16_t dport)
{
    struct ustack *s = pcb->stack;
    int err = 0;
    if (!dst) {
        if (!pcb->rport)
            err = -EDESTADDRREQ;
        dst = &pcb->remote;
        dport = pcb->rport;
    }
    if (!err && dst->family != US_AF_INET)
        err = -EAFNOSUPPORT;
    if (!err && p->len > US_UDP_MAX_PAYLOAD)
        err = -EMSGSIZE;
    if (!err && !pcb->bound)
        err = us_udp_bind(pcb, NULL, 0);
    struct us_addr src = pcb->local;
    if (!err && us_addr_is_any(&src)) {
        struct us_ip4_route rt = {0};
        err = us_ip4_route(s, dst->v4, &rt);
        src = us_addr4(rt.src);
    }
    if (err) {
        us_pkt_free(p);
        return err;
    }
    size_t payload = p->len;
    udp_build(us_pkt_push(p, UDP_HLEN), pcb->lport, dport, payload, &src, dst);
    s->cnt.tx[US_P_udp]++;
    log_udp(s, "tx", &src, pcb->lport, dst, dport, payload);
    return us_ip4_output(s, p, src.v4, dst->v4, IP_PROTO_UDP, US_IP4_DEFAULT_TTL, 0, false);
}

/* The most specific match: connected 4-tuple over bound address over
 * wildcard (RFC 1122 4.1.3.4 leaves the policy to the host; this is BSD's). */
static struct us_udp_pcb *lookup(struct ustack *s, const struct us_addr *src, uint16_t sport,
                                 const struct us_addr *dst, uint16_t dport)
{
    struct us_udp_pcb *best = NULL;
    int best_score = -1;
    for (struct us_udp_pcb *p = s->udp.hash[port_hash(dport)]; p; p = p->next) {
        if (p->lport != dport)
            continue;
        int score = 0;
        if (!us_addr_is_any(&p->local)) {
            if (!us_addr_eq(&p->local, dst))
                continue;
            score += 1;
        }
        if (p->rport) {
            if (p->rport != sport || !us_addr_eq(&p->remote, src))
                continue;
            score += 2;
        }
        if (score > best_score) {
            best = p;
            best_score = score;
        }
    }
    return best;
}

void us_udp_input(struct ustack *s, struct us_netif *nif, struct us_pkt *p,
                  const struct ip4_view *ip)
{
    (void)nif;
    struct us_addr src = us_addr4(ip->src), dst = us_addr4(ip->dst);
    struct udp_view u;
    enum us_drop why =
        udp_parse_csum(p->data + ip->hlen, p->len - ip->hlen, &src, &dst, !p->csum_ok, &u);
    if (why != US_DROP_none) {
        us_drop(s, p, US_P_udp, why);
        return;
    }
    s->cnt.rx[US_P_udp]++;
    log_udp(s, "rx", &src, u.sport, &dst, u.dport, u.len - UDP_HLEN);
    struct us_udp_pcb *pcb = lookup(s, &src, u.sport, &dst, u.dport);
    if (!pcb) {
        /* RFC 1122 4.1.3.1: Port Unreachable (not for broadcasts; icmp4
         * applies that and the other 3.2.2 rules). */
        us_icmp4_error(s, p, ip, ICMP4_DEST_UNREACH, ICMP4_UNREACH_PORT, 0);
        us_drop(s, p, US_P_udp, US_DROP_udp_no_port);
        return;
    }
    us_pkt_pull(p, ip->hlen + UDP_HLEN);
    p->len = u.len - UDP_HLEN;
    pcb->recv(pcb->ctx, pcb, p, &src, u.sport, &dst);
}

void us_udp_icmp_error(struct ustack *s, const struct ip4_view *inner, const uint8_t *udp_hdr,
                       int err)
{
    uint16_t sport = (uint16_t)(udp_hdr[0] << 8 | udp_hdr[1]);
    uint16_t dport = (uint16_t)(udp_hdr[2] << 8 | udp_hdr[3]);
    struct us_addr local = us_addr4(inner->src), remote = us_addr4(inner->dst);
    /* As Linux without IP_RECVERR: only connected sockets hear of errors. */
    for (struct us_udp_pcb *p = s->udp.hash[port_hash(sport)]; p; p = p->next) {
        if (p->lport != sport || p->rport != dport || !us_addr_eq(&p->remote, &remote))
            continue;
        if (!us_addr_is_any(&p->local) && !us_addr_eq(&p->local, &local))
            continue;
        if (p->err)
            p->err(p->ctx, p, err);
        return;
    }
}

void us_udp_destroy(struct ustack *s)
{
    /* PCBs belong to their owners (sockets, services); just forget them. */
    memset(s->udp.hash, 0, sizeof(s->udp.hash));
}
