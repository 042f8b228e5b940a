/* The pollable descriptor: an AF_UNIX socket pair whose application end
 * polls as a Linux socket in the same state would (see socket_internal.h
 * for the mapping of each bit). Everything here follows the kernel's
 * net/unix/af_unix.c: unix_poll() and unix_dgram_poll() compute
 *   POLLERR  from sk_err (set on app by unix_release_sock() when own is
 *            closed with unread bytes, or by unix_dgram_disconnected() when
 *            a datagram own with a queued datagram disconnects),
 *   POLLHUP  from sk_shutdown == SHUTDOWN_MASK, or an unconnected stream,
 *   POLLIN|POLLRDHUP from RCV_SHUTDOWN (a stream peer's SHUT_WR mirrors
 *            into it), POLLIN from a non-empty receive queue,
 *   POLLOUT  from unix_writable(): sk_wmem_alloc * 4 <= sk_sndbuf, where
 *            sk_wmem_alloc counts app's bytes queued at own (truesize).
 * Called with the stack lock held; the descriptors are non-blocking. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <unistd.h>

#include "socket/socket_internal.h"

#define PF_SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)
#define PF_BALLAST_CHUNK 256
#define PF_SNDBUF_HIGH (1 << 20) /* capped by net.core.wmem_max; only needs to beat 4 * ballast */
#define PF_ALL (POLLIN | POLLOUT | POLLHUP | POLLERR | POLLRDHUP)

static int sndbuf_set(int fd, int val)
{
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &val, sizeof(val)) < 0)
        return -errno;
    int got = 0;
    socklen_t len = sizeof(got);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) < 0)
        return -errno;
    return got;
}

/* sk_wmem_alloc as unix_writable() reads it (SIOCOUTQ leaves out the 1
 * the kernel counts while the socket lives). */
static int wmem_alloc(int fd)
{
    int q = 0;
    return ioctl(fd, SIOCOUTQ, &q) < 0 ? -errno : q + 1;
}

/* Queues enough ballast from app at own that the minimum SO_SNDBUF makes
 * app unwritable, and checks that the high one makes it writable. */
static int stream_prime(struct us_pollfd *pf)
{
    static const char zeros[PF_BALLAST_CHUNK];
    int lo = sndbuf_set(pf->app, 0);
    if (lo < 0)
        return lo;
    int wmem = wmem_alloc(pf->app);
    for (int i = 0; i < 64 && wmem >= 0 && (long)wmem * 4 <= lo; i++) {
        if (send(pf->app, zeros, sizeof(zeros), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            return -errno;
        wmem = wmem_alloc(pf->app);
    }
    if (wmem < 0)
        return wmem;
    int hi = sndbuf_set(pf->app, PF_SNDBUF_HIGH);
    if (hi < 0)
        return hi;
    if ((long)wmem * 4 <= lo || (long)wmem * 4 > hi)
        return -ENOBUFS; /* a kernel that accounts differently */
    pf->shown = POLLOUT;
    return 0;
}

static int app_name(int app, struct sockaddr_un *sun, socklen_t *len)
{
    *len = sizeof(*sun);
    return getsockname(app, (struct sockaddr *)sun, len) < 0 ? -errno : 0;
}

static int dgram_send_ballast(struct us_pollfd *pf)
{
    if (send(pf->app, "b", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
        return -errno;
    pf->ballast = true;
    return 0;
}

/* Datagram app end gets an (abstract, automatic) name so that own can
 * reconnect to it after disconnecting to raise POLLERR. */
static int dgram_prime(struct us_pollfd *pf)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (bind(pf->app, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path)) < 0)
        return -errno;
    pf->shown = POLLOUT;
    return dgram_send_ballast(pf);
}

static int link_pair(struct us_pollfd *pf)
{
    int sv[2];
    if (socketpair(AF_UNIX, (pf->stream ? SOCK_STREAM : SOCK_DGRAM) | PF_SOCK_FLAGS, 0, sv) < 0)
        return -errno;
    pf->app = sv[0];
    pf->own = sv[1];
    pf->linked = true;
    pf->byte = false;
    return pf->stream ? stream_prime(pf) : dgram_prime(pf);
}

/* Connects the unconnected app end to a new own end through a listener
 * that lives for this call only. */
static int link_unconnected(struct us_pollfd *pf)
{
    int l = socket(AF_UNIX, SOCK_STREAM | PF_SOCK_FLAGS, 0);
    if (l < 0)
        return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t len = offsetof(struct sockaddr_un, sun_path);
    int rc = 0;
    if (bind(l, (struct sockaddr *)&sun, len) < 0 || listen(l, 1) < 0 ||
        (rc = app_name(l, &sun, &len)) < 0 || connect(pf->app, (struct sockaddr *)&sun, len) < 0)
        rc = rc ? rc : -errno;
    if (rc == 0) {
        pf->own = accept4(l, NULL, NULL, PF_SOCK_FLAGS);
        rc = pf->own < 0 ? -errno : 0;
    }
    close(l);
    if (rc < 0)
        return rc;
    pf->linked = true;
    pf->byte = false;
    return stream_prime(pf);
}

/* Back to an unconnected stream under the same descriptor number (a TCP
 * socket disconnected to be reused): poll() sees the new one at once; an
 * epoll set drops the old file and must be given the descriptor again. */
static void relink_unconnected(struct us_pollfd *pf)
{
    int fresh = socket(AF_UNIX, SOCK_STREAM | PF_SOCK_FLAGS, 0);
    if (fresh < 0 || dup3(fresh, pf->app, O_CLOEXEC) < 0) {
        if (fresh >= 0)
            close(fresh);
        return; /* keeps showing the old state */
    }
    close(fresh);
    if (pf->own >= 0)
        close(pf->own);
    pf->own = -1;
    pf->linked = false;
    pf->byte = false;
    pf->shown = US_POLL_FRESH;
}

static void set_byte(struct us_pollfd *pf, bool on)
{
    char c = 'r';
    if (on && !pf->byte)
        pf->byte = send(pf->own, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
    else if (!on && pf->byte) {
        ssize_t r = recv(pf->app, &c, 1, MSG_DONTWAIT);
        (void)r; /* EAGAIN: the application read it itself */
        pf->byte = false;
    }
    pf->shown = (pf->shown & ~(unsigned)POLLIN) | (pf->byte ? POLLIN : 0);
}

static void clear_error(int app)
{
    int err;
    socklen_t len = sizeof(err);
    (void)getsockopt(app, SOL_SOCKET, SO_ERROR, &err, &len);
}

static void stream_show(struct us_pollfd *pf, unsigned want)
{
    if (want & US_POLL_FRESH) {
        if (pf->linked)
            relink_unconnected(pf);
        return;
    }
    if (!pf->linked && link_unconnected(pf) < 0)
        return;
    if (pf->own < 0) { /* an error was shown: HUP|IN|RDHUP|OUT for good */
        if ((pf->shown & POLLERR) && !(want & POLLERR)) {
            clear_error(pf->app);
            pf->shown &= ~(unsigned)POLLERR;
        }
        return;
    }
    if (want & POLLERR) {
        close(pf->own); /* the ballast is unread: app's sk_err = ECONNRESET */
        pf->own = -1;
        pf->shown = PF_ALL;
        return;
    }
    if ((want & POLLHUP) && !(pf->shown & POLLHUP)) {
        if (shutdown(pf->own, SHUT_RDWR) == 0)
            pf->shown |= POLLHUP | POLLRDHUP | POLLIN;
    } else if ((want & POLLRDHUP) && !(pf->shown & POLLRDHUP)) {
        if (shutdown(pf->own, SHUT_WR) == 0)
            pf->shown |= POLLRDHUP | POLLIN;
    }
    if (!(pf->shown & POLLRDHUP))
        set_byte(pf, want & POLLIN);
    if ((want ^ pf->shown) & POLLOUT) {
        bool on = want & POLLOUT;
        if (sndbuf_set(pf->app, on ? PF_SNDBUF_HIGH : 0) >= 0)
            pf->shown ^= POLLOUT;
    }
}

/* Raises POLLERR on a datagram app end: own drops its peer with the
 * ballast queued (purged, app->sk_err = ECONNRESET) and reconnects. */
static void dgram_raise_error(struct us_pollfd *pf)
{
    if (!pf->ballast && dgram_send_ballast(pf) < 0)
        return;
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    struct sockaddr_un sun;
    socklen_t len;
    if (app_name(pf->app, &sun, &len) < 0 || connect(pf->own, &unspec, sizeof(unspec)) < 0)
        return;
    pf->ballast = false;
    pf->shown |= POLLERR;
    /* Should this fail, own stays unconnected and POLLIN cannot be raised. */
    (void)connect(pf->own, (struct sockaddr *)&sun, len);
}

static void dgram_show(struct us_pollfd *pf, unsigned want)
{
    if ((pf->shown & POLLERR) && !(want & POLLERR)) {
        clear_error(pf->app);
        pf->shown &= ~(unsigned)POLLERR;
        dgram_send_ballast(pf);
    }
    if ((want & POLLHUP) && !(pf->shown & POLLHUP)) {
        if (shutdown(pf->app, SHUT_RDWR) == 0)
            pf->shown |= POLLHUP | POLLRDHUP | POLLIN;
    } else if ((want & POLLRDHUP) && !(pf->shown & POLLRDHUP)) {
        if (shutdown(pf->app, SHUT_RD) == 0)
            pf->shown |= POLLRDHUP | POLLIN;
    }
    if (!(pf->shown & POLLRDHUP) && (bool)(want & POLLIN) != pf->byte) {
        /* Reading a datagram socket reports (and clears) a pending error
         * first: the error is raised again below. */
        if (pf->byte && (pf->shown & POLLERR))
            pf->shown &= ~(unsigned)POLLERR;
        set_byte(pf, want & POLLIN);
    }
    if ((want & POLLERR) && !(pf->shown & POLLERR))
        dgram_raise_error(pf);
}

int us_pollfd_open(struct us_pollfd *pf, bool stream, unsigned want)
{
    *pf = (struct us_pollfd){.app = -1, .own = -1, .stream = stream};
    int rc;
    if (stream && (want & US_POLL_FRESH)) {
        pf->app = socket(AF_UNIX, SOCK_STREAM | PF_SOCK_FLAGS, 0);
        rc = pf->app < 0 ? -errno : 0;
        pf->shown = US_POLL_FRESH;
    } else {
        rc = link_pair(pf);
    }
    if (rc < 0) {
        us_pollfd_close(pf);
        return rc;
    }
    us_pollfd_show(pf, want);
    return 0;
}

void us_pollfd_show(struct us_pollfd *pf, unsigned want)
{
    if (pf->app < 0 || want == pf->shown)
        return;
    if (pf->stream)
        stream_show(pf, want);
    else
        dgram_show(pf, want);
}

void us_pollfd_close(struct us_pollfd *pf)
{
    if (pf->app >= 0)
        close(pf->app);
    if (pf->own >= 0)
        close(pf->own);
    pf->app = pf->own = -1;
}
