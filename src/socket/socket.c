/* Berkeley-like sockets on top of the core: the descriptor table, the
 * receive queue shared by every datagram socket, blocking, readiness for the
 * pollable descriptor (socket_pollfd.c), socket options, and the argument
 * checks Linux makes before a call reaches the protocol (socket_udp.c,
 * socket_ping.c, socket_tcp.c).
 *
 * Thread safety: every call takes the stack lock (us_runtime_lock) and holds
 * it while it touches the socket or the core; a blocking call releases it
 * while waiting on the socket's condition variable. Do not call these from a
 * core callback (the lock is already held there). */
#include "ustack/socket.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "socket/socket_internal.h"
#include "tcp/tcp.h"

#define SOCK_TABLE_MIN 16
#define SOCK_TABLE_MAX 65536 /* beyond: EMFILE */

/* ---- Readiness, queue, errors ---- */

/* A blocking datagram receive returns: data, an error, or the end after
 * shutdown(SHUT_RD). */
static bool sock_readable(const struct us_sock *so)
{
    return so->rxq.head != NULL || so->so_error != 0 || so->shut_rd;
}

/* datagram_poll(): always writable (sends complete at once); readable with
 * a datagram queued; an error pending is POLLERR alone. */
static unsigned dgram_mask(const struct us_sock *so)
{
    unsigned m = POLLOUT;
    if (so->rxq.head)
        m |= POLLIN;
    if (so->shut_rd)
        m |= POLLIN | POLLRDHUP;
    if (so->shut_rd && so->shut_wr)
        m |= POLLHUP;
    if (so->so_error)
        m |= POLLERR;
    return m;
}

static unsigned sock_mask(const struct us_sock *so)
{
    return so->type == SOCK_STREAM ? us_sock_tcp_mask(so) : dgram_mask(so);
}

static void sock_update_ready(struct us_sock *so)
{
    if (so->pf.app >= 0)
        us_pollfd_show(&so->pf, sock_mask(so));
}

void us_sock_wake(struct us_sock *so)
{
    sock_update_ready(so);
    if (so->refs)
        us_runtime_broadcast(&so->cv);
}

static uint32_t pkt_truesize(const struct us_pkt *p)
{
    return (uint32_t)sizeof(*p) + p->cap;
}

/* Gives p room for the metadata in front of its data, copying if needed. */
static struct us_pkt *make_room_for_meta(struct us_sock *so, struct us_pkt *p)
{
    if (us_pkt_headroom(p) >= sizeof(struct us_sock_meta))
        return p;
    struct us_pkt *c = us_pkt_alloc(so->s, p->len);
    if (c)
        memcpy(c->data, p->data, p->len);
    us_pkt_free(p);
    return c;
}

void us_sock_enqueue(struct us_sock *so, struct us_pkt *p, const struct us_addr *src,
                     uint16_t sport, int ttl, enum us_proto proto)
{
    /* Like Linux (__udp_enqueue_schedule_skb), admit while the queue holds
     * no more than rcvbuf, so one datagram always fits an empty queue. */
    if (so->rx_bytes > so->rcvbuf) {
        us_pkt_free(p);
        us_count_drop(so->s, proto, US_DROP_udp_rcvbuf_full);
        return;
    }
    p = make_room_for_meta(so, p);
    if (!p) {
        us_count_drop(so->s, proto, US_DROP_no_buffer);
        return;
    }
    struct us_sock_meta meta = {.src = *src, .sport = sport, .ttl = (int16_t)ttl};
    memcpy(us_pkt_push(p, sizeof(meta)), &meta, sizeof(meta));
    so->rx_bytes += pkt_truesize(p);
    us_pktq_push(&so->rxq, p);
    if (so->rxq.count == 1)
        us_sock_wake(so);
}

void us_sock_set_error(struct us_sock *so, int err)
{
    so->so_error = err;
    us_sock_wake(so);
}

/* Reads and clears the pending error (Linux sock_error). */
static int sock_take_error(struct us_sock *so)
{
    if (so->type == SOCK_STREAM)
        return us_sock_tcp_take_error(so);
    int err = so->so_error;
    if (err) {
        so->so_error = 0;
        sock_update_ready(so);
    }
    return err;
}

static void sock_purge(struct us_sock *so)
{
    us_pktq_purge(&so->rxq);
    so->rx_bytes = 0;
}

/* ---- Addresses ---- */

bool us_sock_is_bcast4(struct ustack *s, uint32_t a)
{
    if (a == htonl(INADDR_BROADCAST))
        return true;
    for (struct us_netif *nif = s->netifs; nif; nif = nif->next)
        if (us_netif_is_bcast4(nif, a))
            return true;
    return false;
}

bool us_sock_addr_bindable(struct ustack *s, uint32_t a)
{
    if (a == htonl(INADDR_ANY) || IN_MULTICAST(ntohl(a)) || us_sock_is_bcast4(s, a))
        return true;
    for (struct us_netif *nif = s->netifs; nif; nif = nif->next)
        if (us_netif_find_addr4(nif, a))
            return true;
    return false;
}

int us_sock_parse_sin(const struct sockaddr *addr, socklen_t len, struct sockaddr_in *out)
{
    if (len < (socklen_t)sizeof(*out))
        return -EINVAL;
    if (!addr)
        return -EFAULT;
    memcpy(out, addr, sizeof(*out));
    return 0;
}

/* Copies sin into a user buffer of *len bytes (truncating like Linux) and
 * sets *len to the full size. */
int us_sock_copy_sin_out(const struct sockaddr_in *sin, struct sockaddr *addr, socklen_t *len)
{
    if (!addr || !len)
        return -EFAULT;
    size_t n = *len < (socklen_t)sizeof(*sin) ? (size_t)*len : sizeof(*sin);
    memcpy(addr, sin, n);
    *len = sizeof(*sin);
    return 0;
}

/* ---- Descriptor table ---- */

static void sock_destroy(struct us_sock *so)
{
    pthread_cond_destroy(&so->cv);
    free(so);
}

/* Detaches the socket from the core and releases its resources; the struct
 * itself stays until no thread waits on it. */
static void sock_teardown(struct us_sock *so)
{
    so->ops->release(so);
    sock_purge(so);
    us_pollfd_close(&so->pf);
    so->closed = true;
}

/* The stack goes away: its links may be gone already, so TCP connections
 * are dropped without a word. */
static void layer_free(struct us_socklayer *L)
{
    for (int i = 0; i < L->cap; i++) {
        struct us_sock *so = L->tab[i];
        if (!so)
            continue;
        if (so->type == SOCK_STREAM)
            us_sock_tcp_forget(so);
        sock_teardown(so);
        if (so->refs == 0)
            sock_destroy(so);
        else
            us_runtime_broadcast(&so->cv);
    }
    free(L->tab);
    free(L);
}

static struct us_socklayer *layer_get(struct ustack *s)
{
    if (s->sock)
        return s->sock;
    struct us_socklayer *L = calloc(1, sizeof(*L));
    if (!L)
        return NULL;
    L->s = s;
    s->sock = L;
    s->sock_free = layer_free;
    return L;
}

/* Lowest free descriptor, growing the table; -1 when full. */
static int layer_slot(struct us_socklayer *L)
{
    for (int i = 0; i < L->cap; i++)
        if (!L->tab[i])
            return i;
    if (L->cap >= SOCK_TABLE_MAX)
        return -1;
    int cap = L->cap ? L->cap * 2 : SOCK_TABLE_MIN;
    struct us_sock **tab = realloc(L->tab, (size_t)cap * sizeof(*tab));
    if (!tab)
        return -1;
    memset(tab + L->cap, 0, (size_t)(cap - L->cap) * sizeof(*tab));
    int slot = L->cap;
    L->tab = tab;
    L->cap = cap;
    return slot;
}

static struct us_sock *sock_get(struct ustack *s, int sd)
{
    struct us_socklayer *L = s->sock;
    if (!L || sd < 0 || sd >= L->cap)
        return NULL;
    return L->tab[sd];
}

static int set_errno(int rc)
{
    if (rc >= 0)
        return rc;
    errno = -rc;
    return -1;
}

static ssize_t set_errno_ssize(ssize_t rc)
{
    if (rc >= 0)
        return rc;
    errno = (int)-rc;
    return -1;
}

/* ---- socket() ---- */

/* Linux inet_create: a type we have no protocol for is ESOCKTNOSUPPORT, a
 * protocol the type does not carry is EPROTONOSUPPORT. */
static int check_type(int type, int *protocol)
{
    switch (type) {
    case SOCK_DGRAM:
        if (*protocol == 0)
            *protocol = IPPROTO_UDP;
        if (*protocol != IPPROTO_UDP && *protocol != IPPROTO_ICMP)
            return -EPROTONOSUPPORT;
        return 0;
    case SOCK_STREAM:
        if (*protocol == 0)
            *protocol = IPPROTO_TCP;
        return *protocol == IPPROTO_TCP ? 0 : -EPROTONOSUPPORT;
    case SOCK_RAW:
    case SOCK_SEQPACKET:
    case SOCK_RDM:
    case SOCK_DCCP:
    case SOCK_PACKET:
        return -ESOCKTNOSUPPORT;
    default:
        return -EINVAL;
    }
}

static struct us_sock *sock_alloc(struct ustack *s, int type, int protocol, bool nonblock)
{
    struct us_sock *so = calloc(1, sizeof(*so));
    if (!so)
        return NULL;
    *so = (struct us_sock){.s = s,
                           .type = type,
                           .protocol = protocol,
                           .nonblock = nonblock,
                           .rcvbuf = US_SOCK_RCVBUF_DEFAULT,
                           .sndbuf = US_SOCK_SNDBUF_DEFAULT,
                           .rcvtimeo = US_TIME_NEVER,
                           .sndtimeo = US_TIME_NEVER,
                           .pf = {.app = -1, .own = -1}};
    if (us_runtime_cond_init(&so->cv)) {
        free(so);
        return NULL;
    }
    return so;
}

static int sock_open(struct us_sock *so)
{
    switch (so->protocol) {
    case IPPROTO_ICMP:
        return us_sock_ping_open(so);
    case IPPROTO_TCP:
        return us_sock_tcp_open(so);
    default:
        return us_sock_udp_open(so);
    }
}

static int sock_create(struct ustack *s, int type, int protocol, bool nonblock)
{
    struct us_socklayer *L = layer_get(s);
    if (!L)
        return -ENOMEM;
    int sd = layer_slot(L);
    if (sd < 0)
        return -EMFILE;
    struct us_sock *so = sock_alloc(s, type, protocol, nonblock);
    if (!so)
        return -ENOMEM;
    int rc = sock_open(so);
    if (rc < 0) {
        sock_destroy(so);
        return rc;
    }
    L->tab[sd] = so;
    return sd;
}

int us_socket(struct ustack *s, int domain, int type, int protocol)
{
    int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain != AF_INET)
        return set_errno(-EAFNOSUPPORT);
    int rc = check_type(type, &protocol);
    if (rc < 0)
        return set_errno(rc);
    us_runtime_lock(s);
    rc = sock_create(s, type, protocol, flags & SOCK_NONBLOCK);
    us_runtime_unlock(s);
    return set_errno(rc);
}

int us_close(struct ustack *s, int sd)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    if (so) {
        s->sock->tab[sd] = NULL; /* the number is free; the socket lives on while lingering */
        if (so->type == SOCK_STREAM)
            us_sock_tcp_linger(so);
        sock_teardown(so);
        if (so->refs == 0)
            sock_destroy(so);
        else
            us_runtime_broadcast(&so->cv); /* the last waiter frees it */
    }
    us_runtime_unlock(s);
    return set_errno(so ? 0 : -EBADF);
}

/* ---- bind, connect, names ---- */

static int sock_bind(struct us_sock *so, const struct sockaddr *addr, socklen_t len)
{
    struct sockaddr_in sin;
    int rc = us_sock_parse_sin(addr, len, &sin);
    if (rc < 0)
        return rc;
    /* Linux accepts AF_UNSPEC only together with INADDR_ANY. */
    if (sin.sin_family != AF_INET &&
        !(sin.sin_family == AF_UNSPEC && sin.sin_addr.s_addr == htonl(INADDR_ANY)))
        return -EAFNOSUPPORT;
    if (!us_sock_addr_bindable(so->s, sin.sin_addr.s_addr))
        return -EADDRNOTAVAIL;
    return so->ops->bind(so, sin.sin_addr.s_addr, ntohs(sin.sin_port));
}

int us_bind(struct ustack *s, int sd, const struct sockaddr *addr, socklen_t len)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = so ? sock_bind(so, addr, len) : -EBADF;
    us_runtime_unlock(s);
    return set_errno(rc);
}

static int sock_connect(struct us_sock *so, const struct sockaddr *addr, socklen_t len)
{
    if (so->type == SOCK_STREAM)
        return us_sock_tcp_connect(so, addr, len);
    if (!addr || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    if (addr->sa_family == AF_UNSPEC) {
        so->ops->disconnect(so);
        return 0;
    }
    struct sockaddr_in sin;
    int rc = us_sock_parse_sin(addr, len, &sin);
    if (rc < 0)
        return rc;
    if (sin.sin_family != AF_INET)
        return -EAFNOSUPPORT;
    if (us_sock_is_bcast4(so->s, sin.sin_addr.s_addr) && !so->broadcast)
        return -EACCES;
    rc = so->ops->connect(so, sin.sin_addr.s_addr, ntohs(sin.sin_port));
    us_runtime_kick_if_earlier(so->s);
    return rc;
}

int us_connect(struct ustack *s, int sd, const struct sockaddr *addr, socklen_t len)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = so ? sock_connect(so, addr, len) : -EBADF;
    us_runtime_unlock(s);
    return set_errno(rc);
}

int us_getsockname(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (so)
        so->ops->name(so, &sin);
    us_runtime_unlock(s);
    return set_errno(so ? us_sock_copy_sin_out(&sin, addr, len) : -EBADF);
}

int us_getpeername(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int rc = -EBADF;
    if (so) {
        rc = so->ops->connected(so) ? 0 : -ENOTCONN;
        if (rc == 0)
            so->ops->peer(so, &sin);
    }
    us_runtime_unlock(s);
    return set_errno(rc == 0 ? us_sock_copy_sin_out(&sin, addr, len) : rc);
}

/* ---- send ---- */

static ssize_t sock_sendto(struct us_sock *so, const void *buf, size_t len, int flags,
                           const struct sockaddr *to, socklen_t tolen)
{
    if (flags & MSG_OOB)
        return -EOPNOTSUPP;
    size_t max = so->protocol == IPPROTO_UDP ? US_UDP_MAX_PAYLOAD : US_PING_MAX_MSG;
    if (len > max)
        return -EMSGSIZE;
    if (len && !buf)
        return -EFAULT;
    if (so->ops->check_msg) {
        int rc = so->ops->check_msg(buf, len);
        if (rc < 0)
            return rc;
    }
    struct sockaddr_in sin, *dst = NULL;
    if (to) {
        int rc = us_sock_parse_sin(to, tolen, &sin);
        if (rc < 0)
            return rc;
        /* UDP takes AF_UNSPEC as AF_INET (udp_sendmsg); ping sockets do not. */
        bool unspec_ok = so->protocol == IPPROTO_UDP;
        if (sin.sin_family != AF_INET && !(unspec_ok && sin.sin_family == AF_UNSPEC))
            return -EAFNOSUPPORT;
        if (us_sock_is_bcast4(so->s, sin.sin_addr.s_addr) && !so->broadcast)
            return -EACCES;
        dst = &sin;
    } else if (!so->ops->connected(so)) {
        return -EDESTADDRREQ;
    }
    /* A pending error fails the send and is cleared (Linux sock_error). */
    int err = sock_take_error(so);
    if (err)
        return -err;
    if (so->shut_wr)
        return -EPIPE;
    return so->ops->sendto(so, buf, len, dst);
}

ssize_t us_sendto(struct ustack *s, int sd, const void *buf, size_t len, int flags,
                  const struct sockaddr *to, socklen_t tolen)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    ssize_t rc = -EBADF;
    if (so && so->type == SOCK_STREAM)
        rc = us_sock_tcp_send(so, buf, len, flags); /* tcp_sendmsg ignores the address */
    else if (so)
        rc = sock_sendto(so, buf, len, flags, to, tolen);
    if (so)
        us_runtime_kick_if_earlier(s); /* e.g. an ARP timer armed for this send */
    us_runtime_unlock(s);
    return set_errno_ssize(rc);
}

ssize_t us_send(struct ustack *s, int sd, const void *buf, size_t len, int flags)
{
    return us_sendto(s, sd, buf, len, flags, NULL, 0);
}

/* ---- receive ---- */

static us_time_t deadline_after(us_time_t timeout)
{
    if (timeout == US_TIME_NEVER)
        return US_TIME_NEVER;
    return us_clock_monotonic() + timeout;
}

int us_sock_wait(struct us_sock *so, us_time_t timeout, us_time_t *deadline)
{
    if (!us_runtime_can_wait(so->s) || timeout == 0)
        return -EAGAIN;
    if (*deadline == 0)
        *deadline = deadline_after(timeout);
    so->refs++;
    int rc = us_runtime_wait(so->s, &so->cv, *deadline);
    so->refs--;
    if (so->closed) {
        if (so->refs == 0)
            sock_destroy(so);
        return -EBADF;
    }
    return rc == ETIMEDOUT ? -EAGAIN : 0;
}

/* Waits until a datagram, an error or the end (SHUT_RD) is there. 0, or
 * -EAGAIN (non-blocking, timeout, or no runtime to wait for), or -EBADF
 * when closed meanwhile (then so may have been freed). */
static int sock_wait_readable(struct us_sock *so, int flags)
{
    us_time_t deadline = 0;
    while (!sock_readable(so)) {
        if (so->nonblock || (flags & MSG_DONTWAIT))
            return -EAGAIN;
        int rc = us_sock_wait(so, so->rcvtimeo, &deadline);
        if (rc == -EBADF || (rc < 0 && !sock_readable(so)))
            return rc;
    }
    return 0;
}

static void fill_from(const struct us_sock_meta *meta, struct sockaddr_in *sin)
{
    *sin = (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons(meta->sport), .sin_addr.s_addr = meta->src.v4};
}

static size_t iov_total(const struct msghdr *msg)
{
    size_t total = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        total += msg->msg_iov[i].iov_len;
    return total;
}

static int copy_to_iov(const struct msghdr *msg, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < msg->msg_iovlen && len; i++) {
        size_t n = msg->msg_iov[i].iov_len < len ? msg->msg_iov[i].iov_len : len;
        if (n && !msg->msg_iov[i].iov_base)
            return -EFAULT;
        memcpy(msg->msg_iov[i].iov_base, src, n);
        src += n;
        len -= n;
    }
    return 0;
}

/* IP_RECVTTL: the TTL as an IP_TTL control message (ip_cmsg_recv_ttl). */
static void put_ttl(struct msghdr *msg, int ttl)
{
    if (!msg->msg_control || msg->msg_controllen < CMSG_SPACE(sizeof(int))) {
        msg->msg_flags |= MSG_CTRUNC;
        msg->msg_controllen = 0;
        return;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_TTL;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &ttl, sizeof(ttl));
    msg->msg_controllen = CMSG_SPACE(sizeof(int));
}

/* Copies the head datagram out. Like Linux, a datagram longer than the
 * buffer is truncated (MSG_TRUNC in msg_flags) and the rest is lost
 * (unless MSG_PEEK); the MSG_TRUNC flag returns its real length. */
static ssize_t sock_dequeue(struct us_sock *so, struct msghdr *msg, int flags)
{
    struct us_pkt *p = so->rxq.head;
    struct us_sock_meta meta;
    memcpy(&meta, p->data, sizeof(meta));
    size_t dlen = p->len - sizeof(meta), room = iov_total(msg);
    size_t n = dlen < room ? dlen : room;
    int rc = copy_to_iov(msg, p->data + sizeof(meta), n);
    if (rc == 0 && msg->msg_name) {
        struct sockaddr_in sin;
        fill_from(&meta, &sin);
        rc = us_sock_copy_sin_out(&sin, msg->msg_name, &msg->msg_namelen);
    }
    if (rc < 0)
        return rc;
    msg->msg_flags = n < dlen ? MSG_TRUNC : 0;
    if (so->recvttl && meta.ttl >= 0)
        put_ttl(msg, meta.ttl);
    else
        msg->msg_controllen = 0;
    if (!(flags & MSG_PEEK)) {
        us_pktq_pop(&so->rxq);
        so->rx_bytes -= pkt_truesize(p);
        us_pkt_free(p);
        sock_update_ready(so);
    }
    return (flags & MSG_TRUNC) ? (ssize_t)dlen : (ssize_t)n;
}

static ssize_t sock_recvmsg(struct us_sock *so, struct msghdr *msg, int flags)
{
    int rc = sock_wait_readable(so, flags); /* Linux ignores MSG_OOB here */
    if (rc < 0)
        return rc;
    /* A pending error is reported before queued data (Linux __skb_recv_udp). */
    int err = sock_take_error(so);
    if (err)
        return -err;
    if (!so->rxq.head) /* shut down for reading: the end, unless asked not to wait */
        return so->nonblock || (flags & MSG_DONTWAIT) ? -EAGAIN : 0;
    return sock_dequeue(so, msg, flags);
}

/* A stream fills the buffers in turn as one read would: the first waits
 * as asked, the others take what is there (all, with MSG_WAITALL). */
static ssize_t tcp_recvmsg(struct us_sock *so, struct msghdr *msg, int flags)
{
    ssize_t total = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++) {
        const struct iovec *v = &msg->msg_iov[i];
        if (v->iov_len == 0)
            continue;
        ssize_t n = us_sock_tcp_recv(so, v->iov_base, v->iov_len, flags);
        if (n < 0 && total == 0)
            return n;
        if (n <= 0)
            break;
        total += n;
        if ((size_t)n < v->iov_len || (flags & MSG_PEEK))
            break;
        if (!(flags & MSG_WAITALL))
            flags |= MSG_DONTWAIT;
    }
    msg->msg_namelen = 0; /* a stream has no per-read source */
    msg->msg_controllen = 0;
    msg->msg_flags = 0;
    return total;
}

static ssize_t sock_recv_any(struct us_sock *so, struct msghdr *msg, int flags)
{
    if (msg->msg_name && (int)msg->msg_namelen < 0)
        return -EINVAL;
    return so->type == SOCK_STREAM ? tcp_recvmsg(so, msg, flags) : sock_recvmsg(so, msg, flags);
}

ssize_t us_recvmsg(struct ustack *s, int sd, struct msghdr *msg, int flags)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    ssize_t rc = so ? (msg ? sock_recv_any(so, msg, flags) : -EFAULT) : -EBADF;
    us_runtime_unlock(s);
    return set_errno_ssize(rc);
}

ssize_t us_recvfrom(struct ustack *s, int sd, void *buf, size_t len, int flags,
                    struct sockaddr *from, socklen_t *fromlen)
{
    if (from && !fromlen)
        return set_errno_ssize(-EFAULT);
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {
        .msg_name = from, .msg_namelen = from ? *fromlen : 0, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t rc = us_recvmsg(s, sd, &msg, flags);
    if (rc >= 0 && from)
        *fromlen = msg.msg_namelen;
    return rc;
}

ssize_t us_recv(struct ustack *s, int sd, void *buf, size_t len, int flags)
{
    return us_recvfrom(s, sd, buf, len, flags, NULL, NULL);
}

/* ---- options ---- */

int us_sock_get_int(const void *val, socklen_t len, int *out)
{
    if (len < (socklen_t)sizeof(int))
        return -EINVAL;
    if (!val)
        return -EFAULT;
    memcpy(out, val, sizeof(int));
    return 0;
}

/* Linux sock_set_timeout: {0,0} waits forever, negative times out at once. */
static int get_timeo_opt(const void *val, socklen_t len, us_time_t *out)
{
    struct timeval tv;
    if (len < (socklen_t)sizeof(tv))
        return -EINVAL;
    if (!val)
        return -EFAULT;
    memcpy(&tv, val, sizeof(tv));
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return -EDOM;
    if (tv.tv_sec < 0)
        *out = 0;
    else if (tv.tv_sec == 0 && tv.tv_usec == 0)
        *out = US_TIME_NEVER;
    else
        *out = (us_time_t)tv.tv_sec * US_SEC + (us_time_t)tv.tv_usec * 1000;
    return 0;
}

static int get_linger_opt(const void *val, socklen_t len, struct linger *out)
{
    if (len < (socklen_t)sizeof(*out))
        return -EINVAL;
    if (!val)
        return -EFAULT;
    memcpy(out, val, sizeof(*out));
    out->l_onoff = out->l_onoff != 0;
    return 0;
}

/* Linux doubles the requested size (for bookkeeping overhead), capped by
 * the *_max sysctl and floored at the minimum. */
static uint32_t buf_size(int val, uint32_t min)
{
    uint32_t v = (uint32_t)val < US_SOCK_BUF_MAX ? (uint32_t)val : US_SOCK_BUF_MAX;
    return v * 2 > min ? v * 2 : min;
}

static int sock_setopt_int(struct us_sock *so, int name, int v)
{
    switch (name) {
    case SO_RCVBUF:
        so->rcvbuf = buf_size(v, US_SOCK_MIN_RCVBUF);
        return 0;
    case SO_SNDBUF:
        so->sndbuf = buf_size(v, US_SOCK_MIN_SNDBUF);
        return 0;
    case SO_REUSEADDR:
        so->reuseaddr = v != 0;
        return 0;
    case SO_BROADCAST:
        so->broadcast = v != 0;
        return 0;
    case SO_KEEPALIVE:
        so->keepalive = v != 0;
        return 0;
    default:
        return -ENOPROTOOPT; /* SO_ERROR, SO_TYPE, SO_PROTOCOL, SO_DOMAIN: read-only */
    }
}

static int sock_setopt_socket(struct us_sock *so, int name, const void *val, socklen_t len)
{
    if (name == SO_RCVTIMEO)
        return get_timeo_opt(val, len, &so->rcvtimeo);
    if (name == SO_SNDTIMEO)
        return get_timeo_opt(val, len, &so->sndtimeo);
    if (name == SO_LINGER)
        return get_linger_opt(val, len, &so->linger);
    int v;
    int rc = us_sock_get_int(val, len, &v);
    return rc < 0 ? rc : sock_setopt_int(so, name, v);
}

/* IPPROTO_IP: IP_RECVTTL only. */
static int sock_setopt_ip(struct us_sock *so, int name, const void *val, socklen_t len)
{
    if (name != IP_RECVTTL)
        return -ENOPROTOOPT;
    int v;
    int rc = us_sock_get_int(val, len, &v);
    if (rc == 0)
        so->recvttl = v != 0;
    return rc;
}

static int sock_setopt(struct us_sock *so, int level, int name, const void *val, socklen_t len)
{
    bool tcp = so->type == SOCK_STREAM;
    if (level == IPPROTO_TCP && tcp)
        return us_sock_tcp_setopt(so, name, val, len);
    if (level == IPPROTO_IP)
        return sock_setopt_ip(so, name, val, len);
    if (level != SOL_SOCKET)
        return -ENOPROTOOPT;
    int rc = sock_setopt_socket(so, name, val, len);
    if (rc == 0 && tcp)
        us_sock_tcp_apply(so, name);
    return rc;
}

int us_setsockopt(struct ustack *s, int sd, int level, int name, const void *val, socklen_t len)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = so ? sock_setopt(so, level, name, val, len) : -EBADF;
    us_runtime_unlock(s);
    return set_errno(rc);
}

static struct timeval timeo_tv(us_time_t t)
{
    if (t == US_TIME_NEVER)
        return (struct timeval){0, 0};
    return (struct timeval){.tv_sec = (time_t)(t / US_SEC),
                            .tv_usec = (suseconds_t)((t % US_SEC) / 1000)};
}

union optval {
    int i;
    struct timeval tv;
    struct linger lg;
};

/* Fills *v for a SOL_SOCKET option; returns its size or -errno. */
static int sock_getopt_socket(struct us_sock *so, int name, union optval *v)
{
    switch (name) {
    case SO_RCVTIMEO:
        v->tv = timeo_tv(so->rcvtimeo);
        return sizeof(v->tv);
    case SO_SNDTIMEO:
        v->tv = timeo_tv(so->sndtimeo);
        return sizeof(v->tv);
    case SO_LINGER:
        v->lg = so->linger;
        return sizeof(v->lg);
    case SO_RCVBUF:
        v->i = (int)so->rcvbuf;
        break;
    case SO_SNDBUF:
        v->i = (int)so->sndbuf;
        break;
    case SO_REUSEADDR:
        v->i = so->reuseaddr;
        break;
    case SO_BROADCAST:
        v->i = so->broadcast;
        break;
    case SO_KEEPALIVE:
        v->i = so->keepalive;
        break;
    case SO_ERROR:
        v->i = sock_take_error(so);
        break;
    case SO_TYPE:
        v->i = so->type;
        break;
    case SO_PROTOCOL:
        v->i = so->protocol;
        break;
    case SO_DOMAIN:
        v->i = AF_INET;
        break;
    case SO_ACCEPTCONN:
        v->i = so->type == SOCK_STREAM && so->tcp.pcb->state == TCPS_LISTEN;
        break;
    default:
        return -ENOPROTOOPT;
    }
    return sizeof(v->i);
}

static int sock_getopt(struct us_sock *so, int level, int name, void *val, socklen_t *len)
{
    if (!len)
        return -EFAULT;
    if ((int)*len < 0)
        return -EINVAL;
    union optval v;
    int size;
    if (level == IPPROTO_TCP && so->type == SOCK_STREAM) {
        size = us_sock_tcp_getopt(so, name, &v.i);
        size = size < 0 ? size : (int)sizeof(v.i);
    } else if (level == SOL_SOCKET) {
        size = sock_getopt_socket(so, name, &v);
    } else if (level == IPPROTO_IP && name == IP_RECVTTL) {
        v.i = so->recvttl;
        size = sizeof(v.i);
    } else {
        size = -ENOPROTOOPT;
    }
    if (size < 0)
        return size;
    size_t n = *len < (socklen_t)size ? *len : (size_t)size; /* Linux copies what fits */
    if (n && !val)
        return -EFAULT;
    memcpy(val, &v, n);
    *len = (socklen_t)n;
    return 0;
}

int us_getsockopt(struct ustack *s, int sd, int level, int name, void *val, socklen_t *len)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = so ? sock_getopt(so, level, name, val, len) : -EBADF;
    us_runtime_unlock(s);
    return set_errno(rc);
}

int us_set_nonblocking(struct ustack *s, int sd, int on)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    if (so)
        so->nonblock = on != 0;
    us_runtime_unlock(s);
    return set_errno(so ? 0 : -EBADF);
}

/* ---- listen, accept, shutdown ---- */

int us_listen(struct ustack *s, int sd, int backlog)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = -EBADF;
    if (so)
        rc = so->type == SOCK_STREAM ? us_sock_tcp_listen(so, backlog) : -EOPNOTSUPP;
    us_runtime_unlock(s);
    return set_errno(rc);
}

/* A new descriptor for a connection taken from listener l. */
static int sock_accepted(struct us_sock *l, struct us_tcp_pcb *child, int flags)
{
    struct us_socklayer *L = l->s->sock;
    int sd = layer_slot(L);
    struct us_sock *so =
        sd < 0 ? NULL : sock_alloc(l->s, SOCK_STREAM, IPPROTO_TCP, flags & SOCK_NONBLOCK);
    if (!so) {
        us_tcp_abort(child); /* the peer learns at once */
        return sd < 0 ? -EMFILE : -ENOMEM;
    }
    us_sock_tcp_adopt(so, l, child);
    L->tab[sd] = so;
    return sd;
}

static int sock_accept(struct us_sock *l, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (l->type != SOCK_STREAM)
        return -EOPNOTSUPP;
    if (addr && (!len || (int)*len < 0))
        return len ? -EINVAL : -EFAULT;
    int err = 0;
    struct us_tcp_pcb *child = us_sock_tcp_accept_pcb(l, &err);
    if (!child)
        return err;
    int sd = sock_accepted(l, child, flags);
    if (sd >= 0 && addr) {
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = child->remote.v4,
                                  .sin_port = htons(child->rport)};
        us_sock_copy_sin_out(&sin, addr, len);
    }
    return sd;
}

int us_accept4(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len, int flags)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = so ? sock_accept(so, addr, len, flags) : -EBADF;
    us_runtime_unlock(s);
    return set_errno(rc);
}

int us_accept(struct ustack *s, int sd, struct sockaddr *addr, socklen_t *len)
{
    return us_accept4(s, sd, addr, len, 0);
}

/* inet_shutdown() on a datagram socket: the directions are shut even when
 * it is not connected, which is then ENOTCONN all the same. */
static int dgram_shutdown(struct us_sock *so, int how)
{
    so->shut_rd |= how != SHUT_WR;
    so->shut_wr |= how != SHUT_RD;
    us_sock_wake(so);
    return so->ops->connected(so) ? 0 : -ENOTCONN;
}

int us_shutdown(struct ustack *s, int sd, int how)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = -EBADF;
    if (so && how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        rc = -EINVAL;
    else if (so)
        rc = so->type == SOCK_STREAM ? us_sock_tcp_shutdown(so, how) : dgram_shutdown(so, how);
    us_runtime_unlock(s);
    return set_errno(rc);
}

int us_socket_pollfd(struct ustack *s, int sd)
{
    us_runtime_lock(s);
    struct us_sock *so = sock_get(s, sd);
    int rc = so ? so->pf.app : -EBADF;
    if (so && so->pf.app < 0) {
        rc = us_pollfd_open(&so->pf, so->type == SOCK_STREAM, sock_mask(so));
        if (rc == 0)
            rc = so->pf.app;
    }
    us_runtime_unlock(s);
    return set_errno(rc);
}
