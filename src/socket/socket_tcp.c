/* TCP sockets (SOCK_STREAM) on the core's TCP connections, with the
 * semantics of Linux's inet_stream_ops and tcp_prot: the socket-level
 * connection states (SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED) that
 * decide what connect() answers, blocking with SO_RCVTIMEO/SO_SNDTIMEO,
 * tcp_poll()'s readiness bits, and the TCP-level options.
 *
 * A connection that ends with an error can be reused by calling connect()
 * again, as on Linux (tcp_disconnect): the core connection is replaced by
 * a fresh one that keeps the options and the address the application bound. */
#include <errno.h>
#include <netinet/tcp.h>

#include "runtime/runtime_internal.h"
#include "socket/socket_internal.h"
#include "tcp/tcp.h"

#define TCP_SOMAXCONN 4096     /* net.core.somaxconn */
#define TCP_USER_MSS_MIN 88    /* Linux TCP_MIN_MSS */
#define TCP_USER_MSS_MAX 32767 /* MAX_TCP_WINDOW */
#define TCP_KEEP_MAX 32767     /* MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL */
#define TCP_KEEPCNT_MAX 127    /* MAX_TCP_KEEPCNT */

enum { SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED };

static bool syn_state(const struct us_tcp_pcb *pcb)
{
    return pcb->state == TCPS_SYN_SENT || pcb->state == TCPS_SYN_RECEIVED;
}

/* Linux __sk_stream_is_writeable(): free space at least half of what is
 * queued, so that a writer wakes for a useful amount. */
static bool send_space_ok(const struct us_tcp_pcb *pcb)
{
    uint32_t free_bytes = us_tcp_writable(pcb);
    return free_bytes > 0 && free_bytes >= pcb->snd.len / 2;
}

/* tcp_poll(): a listener is readable with a connection to accept; a socket
 * that never connected polls OUT|HUP (TCP_CLOSE). Otherwise each shut-down
 * direction (a FIN received or SHUT_RD; SHUT_WR) and the end of the
 * connection (both) map to their bits, and data and send space count once
 * the handshake is done. */
unsigned us_sock_tcp_mask(const struct us_sock *so)
{
    const struct us_tcp_pcb *pcb = so->tcp.pcb;
    if (pcb->state == TCPS_LISTEN)
        return pcb->acc_q ? POLLIN : 0;
    if (!so->tcp.started)
        return US_POLL_FRESH;
    bool closed = pcb->state == TCPS_CLOSED;
    bool rd_shut = closed || pcb->fin_received || pcb->rcv_shutdown;
    bool wr_shut = closed || pcb->fin_queued;
    unsigned m = 0;
    if (rd_shut)
        m |= POLLIN | POLLRDHUP;
    if (rd_shut && wr_shut)
        m |= POLLHUP;
    if (!syn_state(pcb)) {
        if (us_tcp_readable(pcb))
            m |= POLLIN;
        if (wr_shut || send_space_ok(pcb))
            m |= POLLOUT;
    }
    if (pcb->err)
        m |= POLLERR;
    return m;
}

/* Core events: readers wake for anything, writers only when the space is
 * worth it (as sk_stream_write_space does), to avoid a wake-up per ACK. */
static void tcp_event(void *ctx, struct us_tcp_pcb *pcb, unsigned events)
{
    struct us_sock *so = ctx;
    if (so->pf.app >= 0)
        us_pollfd_show(&so->pf, us_sock_tcp_mask(so));
    if (so->refs && ((events & ~(unsigned)US_TCP_EV_WRITABLE) || send_space_ok(pcb)))
        us_runtime_broadcast(&so->cv);
}

static void refresh(struct us_sock *so)
{
    if (so->pf.app >= 0)
        us_pollfd_show(&so->pf, us_sock_tcp_mask(so));
}

/* ---- Connection blocks ---- */

static void copy_options(struct us_tcp_pcb *to, const struct us_tcp_pcb *from)
{
    to->nodelay = from->nodelay;
    to->keepalive = from->keepalive;
    to->keepidle_s = from->keepidle_s;
    to->keepintvl_s = from->keepintvl_s;
    to->keepcnt = from->keepcnt;
    to->user_mss = from->user_mss;
    to->linger_on = from->linger_on;
    to->linger_sec = from->linger_sec;
    to->snd.limit = from->snd.limit;
    to->rcv.limit = from->rcv.limit;
}

/* Linux tcp_disconnect(): the connection is aborted (a reset if it was
 * synchronized) and the socket starts over, keeping its options and the
 * address and port the application bound. */
static int tcp_disconnect(struct us_sock *so)
{
    struct us_tcp_pcb *old = so->tcp.pcb;
    struct us_tcp_pcb *pcb = us_tcp_new(so->s, tcp_event, so);
    if (!pcb)
        return -ENOBUFS;
    copy_options(pcb, old);
    us_tcp_abort(old);
    so->tcp.pcb = pcb;
    so->tcp.ss = SS_UNCONNECTED;
    so->tcp.started = false;
    if (so->tcp.bound && us_tcp_bind(pcb, &so->tcp.bind_addr, so->tcp.bind_port, true) < 0)
        so->tcp.bound = false;
    refresh(so);
    return 0;
}

static int tcp_bind(struct us_sock *so, uint32_t addr, uint16_t port)
{
    struct us_addr a = us_addr4(addr);
    int rc = us_tcp_bind(so->tcp.pcb, &a, port, so->reuseaddr);
    if (rc == 0) {
        so->tcp.bound = true;
        so->tcp.bind_addr = a;
        so->tcp.bind_port = port;
    }
    return rc;
}

/* getpeername(): inet_getname() refuses CLOSE and SYN-SENT. */
static bool tcp_connected(const struct us_sock *so)
{
    const struct us_tcp_pcb *pcb = so->tcp.pcb;
    return pcb->rport && pcb->state != TCPS_CLOSED && pcb->state != TCPS_SYN_SENT &&
           pcb->state != TCPS_LISTEN;
}

static void tcp_name(const struct us_sock *so, struct sockaddr_in *out)
{
    out->sin_addr.s_addr = so->tcp.pcb->local.v4;
    out->sin_port = htons(so->tcp.pcb->lport);
}

static void tcp_peer(const struct us_sock *so, struct sockaddr_in *out)
{
    out->sin_addr.s_addr = so->tcp.pcb->remote.v4;
    out->sin_port = htons(so->tcp.pcb->rport);
}

/* close(): graceful, or a reset when data is left unread or SO_LINGER
 * says zero (the core decides); the core frees the connection. */
static void tcp_release(struct us_sock *so)
{
    if (so->tcp.pcb)
        us_tcp_close(so->tcp.pcb);
    so->tcp.pcb = NULL;
}

void us_sock_tcp_forget(struct us_sock *so)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    if (!pcb)
        return;
    pcb->event = NULL;
    if (pcb->hashed)
        pcb->user_closed = true; /* us_tcp_destroy frees it */
    else
        us_tcp_close(pcb); /* closed and unlisted: freed at once, sends nothing */
    so->tcp.pcb = NULL;
}

static const struct us_sock_ops tcp_ops = {
    .bind = tcp_bind,
    .connected = tcp_connected,
    .name = tcp_name,
    .peer = tcp_peer,
    .release = tcp_release,
};

int us_sock_tcp_open(struct us_sock *so)
{
    struct us_tcp_pcb *pcb = us_tcp_new(so->s, tcp_event, so);
    if (!pcb)
        return -ENOBUFS;
    so->tcp.pcb = pcb;
    so->ops = &tcp_ops;
    /* Reported as Linux's sk_sndbuf / sk_rcvbuf: the receive window Linux
     * offers is about half of sk_rcvbuf. */
    so->sndbuf = pcb->snd.limit;
    so->rcvbuf = 2 * pcb->rcv.limit;
    return 0;
}

void us_sock_tcp_adopt(struct us_sock *so, const struct us_sock *l, struct us_tcp_pcb *child)
{
    child->event = tcp_event;
    child->ctx = so;
    so->ops = &tcp_ops;
    so->tcp.pcb = child;
    so->tcp.ss = SS_CONNECTED;
    so->tcp.started = true;
    /* sk_clone_lock() copies the listener's socket-level settings. */
    so->reuseaddr = l->reuseaddr;
    so->broadcast = l->broadcast;
    so->keepalive = l->keepalive;
    so->recvttl = l->recvttl;
    so->linger = l->linger;
    so->rcvbuf = l->rcvbuf;
    so->sndbuf = l->sndbuf;
    so->rcvtimeo = l->rcvtimeo;
    so->sndtimeo = l->sndtimeo;
}

/* ---- connect, listen, accept ---- */

static int start_connect(struct us_sock *so, const struct sockaddr *addr, socklen_t len)
{
    struct sockaddr_in sin;
    int rc = us_sock_parse_sin(addr, len, &sin);
    if (rc < 0)
        return rc;
    if (sin.sin_family != AF_INET)
        return -EAFNOSUPPORT;
    uint32_t dst4 = sin.sin_addr.s_addr;
    if (IN_MULTICAST(ntohl(dst4)) || us_sock_is_bcast4(so->s, dst4))
        return -ENETUNREACH; /* tcp_v4_connect: no broadcast or multicast route */
    if (so->tcp.pcb->rport && (rc = tcp_disconnect(so)) < 0)
        return rc;
    struct us_addr dst = us_addr4(dst4);
    rc = us_tcp_connect(so->tcp.pcb, &dst, ntohs(sin.sin_port));
    if (rc < 0)
        return rc;
    us_runtime_kick_if_earlier(so->s); /* the SYN's retransmission timer */
    so->tcp.ss = SS_CONNECTING;
    so->tcp.started = true;
    refresh(so);
    return 0;
}

/* __inet_stream_connect(): a first call starts the handshake; a later one
 * while it runs says EALREADY, after it succeeded 0 (once, then EISCONN),
 * after it failed the error (or ECONNABORTED if already read) and the
 * socket is made reusable. A blocking call waits up to SO_SNDTIMEO and
 * then answers as a non-blocking one would. */
int us_sock_tcp_connect(struct us_sock *so, const struct sockaddr *addr, socklen_t len)
{
    if (!addr || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    if (addr->sa_family == AF_UNSPEC)
        return tcp_disconnect(so);
    int rc;
    switch (so->tcp.ss) {
    case SS_CONNECTED:
        return -EISCONN;
    case SS_CONNECTING:
        rc = -EALREADY;
        break;
    default:
        if (so->tcp.pcb->state != TCPS_CLOSED)
            return -EISCONN;
        rc = start_connect(so, addr, len);
        if (rc < 0)
            return rc;
        rc = -EINPROGRESS;
    }
    us_time_t deadline = 0;
    while (syn_state(so->tcp.pcb)) {
        if (so->nonblock)
            return rc;
        int w = us_sock_wait(so, so->sndtimeo, &deadline);
        if (w == -EBADF)
            return w;
        if (w < 0)
            return rc;
    }
    if (so->tcp.pcb->state == TCPS_CLOSED) {
        int err = us_tcp_take_error(so->tcp.pcb);
        tcp_disconnect(so);
        return -(err ? err : ECONNABORTED);
    }
    so->tcp.ss = SS_CONNECTED;
    return 0;
}

int us_sock_tcp_listen(struct us_sock *so, int backlog)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    if (so->tcp.ss != SS_UNCONNECTED || pcb->rport ||
        (pcb->state != TCPS_CLOSED && pcb->state != TCPS_LISTEN))
        return -EINVAL;
    /* __sys_listen clamps to somaxconn (negative values too); an accept
     * queue is full when it holds more than the backlog. */
    unsigned b = (unsigned)backlog > TCP_SOMAXCONN ? TCP_SOMAXCONN : (unsigned)backlog;
    int rc = us_tcp_listen(pcb, (int)b + 1);
    if (rc == 0)
        refresh(so);
    return rc;
}

struct us_tcp_pcb *us_sock_tcp_accept_pcb(struct us_sock *so, int *err)
{
    us_time_t deadline = 0;
    for (;;) {
        struct us_tcp_pcb *l = so->tcp.pcb;
        if (l->state != TCPS_LISTEN) {
            *err = -EINVAL;
            return NULL;
        }
        struct us_tcp_pcb *child = us_tcp_accept(l);
        refresh(so);
        if (child)
            return child;
        if (so->nonblock) {
            *err = -EAGAIN;
            return NULL;
        }
        int rc = us_sock_wait(so, so->rcvtimeo, &deadline);
        if (rc < 0) {
            *err = rc;
            return NULL;
        }
    }
}

/* ---- Data ---- */

/* tcp_sendmsg(): a blocking send takes every byte unless an error or the
 * timeout stops it, then reports what it took; a non-blocking one takes
 * what fits. Data waits for the handshake to finish. */
ssize_t us_sock_tcp_send(struct us_sock *so, const void *buf, size_t len, int flags)
{
    if (flags & MSG_OOB)
        return -EOPNOTSUPP; /* no urgent data */
    if (len && !buf)
        return -EFAULT;
    bool nonblock = so->nonblock || (flags & MSG_DONTWAIT);
    us_time_t deadline = 0;
    size_t done = 0;
    ssize_t rc = 0;
    for (;;) {
        struct us_tcp_pcb *pcb = so->tcp.pcb;
        bool connecting = syn_state(pcb);
        if (!connecting) {
            ssize_t n = us_tcp_send(pcb, (const uint8_t *)buf + done, len - done, flags & MSG_MORE);
            if (n < 0) {
                rc = n == -ENOTCONN ? -EPIPE : n; /* Linux: EPIPE when not connected */
                break;
            }
            done += (size_t)n;
            if (done == len)
                break;
        }
        rc = -EAGAIN;
        if (nonblock)
            break;
        int w = us_sock_wait(so, so->sndtimeo, &deadline);
        if (w == -EBADF)
            return w;
        if (w < 0)
            break;
    }
    us_runtime_kick_if_earlier(so->s);
    refresh(so);
    return done ? (ssize_t)done : rc;
}

/* tcp_recvmsg(): waits for at least one byte (all of them with
 * MSG_WAITALL), end of stream or an error; an error or the end that
 * follows data is left for the next call. */
ssize_t us_sock_tcp_recv(struct us_sock *so, void *buf, size_t len, int flags)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    if (flags & MSG_OOB)
        return -EINVAL; /* no urgent data */
    if (pcb->state == TCPS_LISTEN || (!so->tcp.started && pcb->state == TCPS_CLOSED))
        return -ENOTCONN;
    if (len == 0)
        return 0;
    if (!buf)
        return -EFAULT;
    bool peek = flags & MSG_PEEK;
    bool nonblock = so->nonblock || (flags & MSG_DONTWAIT);
    size_t target = (flags & MSG_WAITALL) && !peek ? len : 1;
    us_time_t deadline = 0;
    size_t done = 0;
    ssize_t rc = 0;
    for (;;) {
        pcb = so->tcp.pcb;
        if (done && pcb->err && !us_tcp_readable(pcb))
            break;
        ssize_t n = us_tcp_recv(pcb, (uint8_t *)buf + done, len - done, peek);
        if (n > 0) {
            done += (size_t)n;
            if (done >= target)
                break;
            continue;
        }
        rc = n;
        if (n != -EAGAIN || nonblock)
            break;
        int w = us_sock_wait(so, so->rcvtimeo, &deadline);
        if (w == -EBADF)
            return w;
        if (w < 0)
            break;
    }
    if (!peek) {
        us_runtime_kick_if_earlier(so->s);
        refresh(so);
    }
    return done ? (ssize_t)done : rc;
}

/* inet_shutdown(): SHUT_RD on a listener stops it (the socket starts
 * over); on a connection that is still opening the attempt is abandoned,
 * as tcp_disconnect() does, with ECONNRESET pending. */
int us_sock_tcp_shutdown(struct us_sock *so, int how)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    if (so->tcp.ss == SS_CONNECTING && !syn_state(pcb) && pcb->state != TCPS_CLOSED)
        so->tcp.ss = SS_CONNECTED;
    int rc;
    switch (pcb->state) {
    case TCPS_LISTEN:
        return how == SHUT_WR ? 0 : tcp_disconnect(so);
    case TCPS_CLOSED:
        return -ENOTCONN;
    case TCPS_SYN_SENT:
        rc = tcp_disconnect(so);
        if (rc == 0)
            so->tcp.pcb->err = ECONNRESET;
        return rc;
    default:
        rc = us_tcp_shutdown(pcb, how);
        us_runtime_kick_if_earlier(so->s);
        refresh(so);
        return rc;
    }
}

/* SO_LINGER with a time, on a blocking socket (tcp_close then
 * sk_stream_wait_close): the FIN is sent now and close() waits until it is
 * acknowledged, the connection ends, or the time is up. */
int us_sock_tcp_linger(struct us_sock *so)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    if (!so->linger.l_onoff || so->linger.l_linger <= 0 || so->nonblock ||
        !us_runtime_can_wait(so->s) || us_tcp_readable(pcb))
        return 0;
    if (pcb->state != TCPS_ESTABLISHED && pcb->state != TCPS_CLOSE_WAIT &&
        pcb->state != TCPS_FIN_WAIT_1 && pcb->state != TCPS_CLOSING && pcb->state != TCPS_LAST_ACK)
        return 0;
    us_tcp_shutdown(pcb, SHUT_WR);
    us_runtime_kick_if_earlier(so->s);
    us_time_t deadline = 0;
    for (;;) {
        pcb = so->tcp.pcb;
        int st = pcb->state;
        if (st != TCPS_ESTABLISHED && st != TCPS_CLOSE_WAIT && st != TCPS_FIN_WAIT_1 &&
            st != TCPS_CLOSING && st != TCPS_LAST_ACK)
            return 0;
        int w = us_sock_wait(so, (us_time_t)so->linger.l_linger * US_SEC, &deadline);
        if (w < 0)
            return w == -EBADF ? w : 0;
    }
}

/* ---- Options ---- */

void us_sock_tcp_apply(struct us_sock *so, int name)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    switch (name) {
    case SO_SNDBUF:
        us_tcp_set_bufsizes(pcb, so->sndbuf, 0); /* below what is queued: kept */
        break;
    case SO_RCVBUF:
        us_tcp_set_bufsizes(pcb, 0, so->rcvbuf / 2); /* fixed once the window scale is */
        break;
    case SO_KEEPALIVE:
        pcb->keepalive = so->keepalive;
        if (pcb->state >= TCPS_ESTABLISHED)
            tcp_keepalive_reset(pcb); /* arms or cancels the timer */
        break;
    case SO_LINGER:
        pcb->linger_on = so->linger.l_onoff != 0;
        pcb->linger_sec = so->linger.l_linger < 0 ? UINT32_MAX : (uint32_t)so->linger.l_linger;
        break;
    default:
        return;
    }
    us_runtime_kick_if_earlier(so->s); /* a keep-alive timer armed */
    refresh(so);
}

int us_sock_tcp_take_error(struct us_sock *so)
{
    int err = us_tcp_take_error(so->tcp.pcb);
    refresh(so);
    return err;
}

/* A keep-alive setting changed on a live connection: start the idle
 * period over with it (tcp_sock_set_keepidle re-arms the timer). */
static void keepalive_rearm(struct us_tcp_pcb *pcb)
{
    if (pcb->keepalive && pcb->state >= TCPS_ESTABLISHED && pcb->state != TCPS_TIME_WAIT) {
        us_timer_cancel(pcb->stack, &pcb->keep_timer);
        tcp_keepalive_reset(pcb);
    }
}

static int set_range(int v, int lo, int hi, uint32_t *field)
{
    if (v < lo || v > hi)
        return -EINVAL;
    *field = (uint32_t)v;
    return 0;
}

/* do_tcp_setsockopt() for the options we have. */
int us_sock_tcp_setopt(struct us_sock *so, int name, const void *val, socklen_t len)
{
    struct us_tcp_pcb *pcb = so->tcp.pcb;
    int v, rc = us_sock_get_int(val, len, &v);
    if (rc < 0)
        return rc;
    switch (name) {
    case TCP_NODELAY:
        pcb->nodelay = v != 0;
        if (pcb->nodelay)
            tcp_output(pcb); /* what Nagle held goes now (tcp_push_pending_frames) */
        break;
    case TCP_MAXSEG:
        if (v && (v < TCP_USER_MSS_MIN || v > TCP_USER_MSS_MAX))
            return -EINVAL;
        pcb->user_mss = (uint16_t)v;
        break;
    case TCP_KEEPIDLE:
        rc = set_range(v, 1, TCP_KEEP_MAX, &pcb->keepidle_s);
        if (rc == 0)
            keepalive_rearm(pcb);
        break;
    case TCP_KEEPINTVL:
        rc = set_range(v, 1, TCP_KEEP_MAX, &pcb->keepintvl_s);
        break;
    case TCP_KEEPCNT:
        rc = set_range(v, 1, TCP_KEEPCNT_MAX, &pcb->keepcnt);
        break;
    default:
        return -ENOPROTOOPT;
    }
    us_runtime_kick_if_earlier(so->s);
    return rc;
}

int us_sock_tcp_getopt(struct us_sock *so, int name, int *v)
{
    const struct us_tcp_pcb *pcb = so->tcp.pcb;
    switch (name) {
    case TCP_NODELAY:
        *v = pcb->nodelay;
        return 0;
    case TCP_MAXSEG:
        /* The user's value until connected, then the segment size in use. */
        *v = pcb->user_mss && (pcb->state == TCPS_CLOSED || pcb->state == TCPS_LISTEN)
                 ? pcb->user_mss
                 : pcb->mss;
        return 0;
    case TCP_KEEPIDLE:
        *v = (int)pcb->keepidle_s;
        return 0;
    case TCP_KEEPINTVL:
        *v = (int)pcb->keepintvl_s;
        return 0;
    case TCP_KEEPCNT:
        *v = (int)pcb->keepcnt;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}
