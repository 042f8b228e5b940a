/* TAP (Ethernet frames) and TUN (bare IP packets) driver on /dev/net/tun.
 *
 * The descriptor is non-blocking: transmit never waits (a full queue drops
 * the frame and counts it), receive drains a bounded burst per call.
 *
 * Every frame carries a virtio-net header (IFF_VNET_HDR, vnet_hdr.h). With
 * offloads on (TUNSETOFFLOAD: checksum and TCPv4 segmentation, the
 * default) the kernel gives the interface the features of a NIC with TSO,
 * so it sends up to 64 KiB of TCP in one frame with the checksum left
 * partial: one read instead of forty-odd, and no checksum to compute. The
 * other way, TCP hands the driver frames of up to TT_TSO_MAX bytes of
 * payload, which go as GSO frames for the kernel to cut (or, delivered to
 * a local socket, to take whole). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#include "core/log.h"
#include "core/netif.h"
#include "core/pkt.h"
#include "core/stack.h"
#include "link/vnet_hdr.h"
#include "ustack/link.h"

#define TUN_DEV_PATH "/dev/net/tun"
/* Frames read per us_tuntap_receive() call, so one busy link cannot starve
 * the timers and the other descriptors. */
#define TT_RX_BURST 64
/* Second read segment: whatever does not fit the small packet buffer. With
 * the small class in front, a 64 KiB frame plus link header always fits. */
#define TT_SCRATCH_LEN US_PKT_MAX
/* What ustack can take from the kernel: partial checksums and TCPv4
 * segments past the MTU (TUN_F_TSO4 needs TUN_F_CSUM). */
#define TT_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4)
/* TCP payload of a TSO frame we write: an IPv4 datagram's 65535 bytes less
 * the largest IPv4 and TCP headers. */
#define TT_TSO_MAX (65535u - 60u - 60u)

struct us_tuntap {
    int fd;
    enum us_link_type type;
    char name[IFNAMSIZ];
    uint8_t *scratch; /* TT_SCRATCH_LEN bytes */
    bool offload;     /* TT_OFFLOADS are on */
};

/* ---- Opening ---- */

static const char *tt_kind(enum us_link_type type)
{
    return type == US_LINK_IP ? "TUN" : "TAP";
}

static int tt_open_dev(char *err, size_t errlen)
{
    int fd = open(TUN_DEV_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e == EACCES || e == EPERM)
        snprintf(err, errlen, "opening %s needs root or CAP_NET_ADMIN", TUN_DEV_PATH);
    else if (e == ENOENT)
        snprintf(err, errlen, "%s is missing (modprobe tun, or mknod %s c 10 200)", TUN_DEV_PATH,
                 TUN_DEV_PATH);
    else if (e == ENODEV || e == ENXIO)
        snprintf(err, errlen, "%s: no TUN/TAP support in this kernel (modprobe tun)", TUN_DEV_PATH);
    else
        snprintf(err, errlen, "opening %s: %s", TUN_DEV_PATH, strerror(e));
    errno = e;
    return -1;
}

/* Asks the driver of an existing interface what it is (ethtool works in any
 * network namespace, unlike /sys). tun reports bus_info "tun" or "tap".
 * Returns 0 and fills driver/bus, or -1. */
static int tt_drvinfo(const char *name, char *driver, size_t dlen, char *bus, size_t blen)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_data = (char *)&info;
    int rc = ioctl(sock, SIOCETHTOOL, &ifr);
    close(sock);
    if (rc < 0)
        return -1;
    snprintf(driver, dlen, "%.*s", (int)sizeof info.driver, info.driver);
    snprintf(bus, blen, "%.*s", (int)sizeof info.bus_info, info.bus_info);
    return 0;
}

/* TUNSETIFF said EINVAL: the name exists with another mode or driver. */
static void tt_explain_einval(const char *name, enum us_link_type type, char *err, size_t errlen)
{
    char driver[40] = "", bus[40] = "";
    /* tun always answers GDRVINFO; a device that does not is another kind. */
    if (tt_drvinfo(name, driver, sizeof driver, bus, sizeof bus) < 0 || strcmp(driver, "tun")) {
        snprintf(err, errlen, "%s: exists and is not a TUN/TAP device%s%s%s", name,
                 driver[0] ? " (driver " : "", driver, driver[0] ? ")" : "");
    } else if (strcasecmp(bus, tt_kind(type)) != 0) {
        snprintf(err, errlen, "%s: is a %s device, not %s (wrong mode)", name,
                 type == US_LINK_IP ? "TAP" : "TUN", tt_kind(type));
    } else {
        snprintf(err, errlen, "%s: %s flags differ (created with multi_queue?)", name,
                 tt_kind(type));
    }
}

static void tt_explain_setiff(int e, const char *name, enum us_link_type type, char *err,
                              size_t errlen)
{
    bool exists = name[0] != '\0' && if_nametoindex(name) != 0;
    switch (e) {
    case EPERM:
    case EACCES:
        if (exists)
            snprintf(err, errlen,
                     "%s: attaching needs root, CAP_NET_ADMIN or the device's owner "
                     "(ip tuntap add %s mode %s user NAME)",
                     name, name, type == US_LINK_IP ? "tun" : "tap");
        else
            snprintf(err, errlen, "%s: no such device, and creating it needs root or CAP_NET_ADMIN",
                     name[0] ? name : tt_kind(type));
        break;
    case EBUSY:
        snprintf(err, errlen, "%s: device busy (another process holds it open)", name);
        break;
    case EINVAL:
        tt_explain_einval(name, type, err, errlen);
        break;
    case ENODEV:
    case ENXIO:
        snprintf(err, errlen, "%s: no such device", name);
        break;
    default:
        snprintf(err, errlen, "%s: TUNSETIFF: %s", name[0] ? name : tt_kind(type), strerror(e));
    }
}

/* Attaches fd to the device (creating it when absent). On success the name
 * the kernel chose (for an empty name) is copied back into name. */
static int tt_setiff(int fd, char name[IFNAMSIZ], enum us_link_type type, char *err, size_t errlen)
{
    struct ifreq ifr = {0};
    ifr.ifr_flags = (short)((type == US_LINK_IP ? IFF_TUN : IFF_TAP) | IFF_NO_PI | IFF_VNET_HDR);
    memcpy(ifr.ifr_name, name, IFNAMSIZ);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        tt_explain_setiff(e, name, type, err, errlen);
        errno = e;
        return -1;
    }
    memcpy(name, ifr.ifr_name, IFNAMSIZ);
    name[IFNAMSIZ - 1] = '\0';
    return 0;
}

/* Sets IFF_UP on the kernel side; addresses are left to the user. */
static int tt_bring_up(const char *name, char *err, size_t errlen)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: socket for SIOCSIFFLAGS: %s", name, strerror(e));
        errno = e;
        return -1;
    }
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
    if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
        rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(sock);
    if (rc < 0) {
        if (e == EPERM || e == EACCES)
            snprintf(err, errlen,
                     "%s: bringing the interface up needs root or CAP_NET_ADMIN "
                     "(or run: ip link set %s up)",
                     name, name);
        else
            snprintf(err, errlen, "%s: bringing the interface up: %s", name, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

/* Opens the clone device, attaches it to ifname and brings the interface
 * up. Returns the descriptor, or -1 with errno and a reason in err. */
static int tt_attach(char ifname[IFNAMSIZ], enum us_link_type type, char *err, size_t errlen)
{
    int fd = tt_open_dev(err, errlen);
    if (fd < 0)
        return -1;
    if (tt_setiff(fd, ifname, type, err, errlen) < 0 || tt_bring_up(ifname, err, errlen) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

struct us_tuntap *us_tuntap_open(const char *name, enum us_link_type type, char *err, size_t errlen)
{
    char ifname[IFNAMSIZ] = {0};
    if (name && strlen(name) >= IFNAMSIZ) {
        snprintf(err, errlen, "%s: interface name longer than %d characters", name, IFNAMSIZ - 1);
        errno = EINVAL;
        return NULL;
    }
    if (name)
        memcpy(ifname, name, strlen(name));

    struct us_tuntap *t = calloc(1, sizeof *t);
    uint8_t *scratch = malloc(TT_SCRATCH_LEN);
    int fd = -1;
    if (!t || !scratch) {
        snprintf(err, errlen, "%s: out of memory", ifname[0] ? ifname : tt_kind(type));
        errno = ENOMEM;
    } else {
        fd = tt_attach(ifname, type, err, errlen);
    }
    if (fd < 0) {
        int e = errno;
        free(t);
        free(scratch);
        errno = e;
        return NULL;
    }
    t->fd = fd;
    t->type = type;
    t->scratch = scratch;
    memcpy(t->name, ifname, IFNAMSIZ);
    us_tuntap_set_offload(t, true);
    return t;
}

int us_tuntap_set_offload(struct us_tuntap *t, bool on)
{
    if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)(on ? TT_OFFLOADS : 0)) < 0)
        return -1; /* a kernel without them: frames stay MTU-sized */
    t->offload = on;
    return 0;
}

void us_tuntap_close(struct us_tuntap *t)
{
    if (!t)
        return;
    close(t->fd);
    free(t->scratch);
    free(t);
}

int us_tuntap_fd(const struct us_tuntap *t)
{
    return t->fd;
}

/* ---- Transmit ---- */

static enum us_proto tt_proto(const struct us_tuntap *t)
{
    return t->type == US_LINK_IP ? US_P_ip4 : US_P_eth;
}

/* Writes one frame behind its virtio-net header (us_vnet_hdr_tx: empty,
 * or GSO for a TSO frame); returns the frame bytes written or -1. */
static ssize_t tt_write_frame(struct us_tuntap *t, struct us_pkt *pkt)
{
    struct virtio_net_hdr h;
    us_vnet_hdr_tx(&h, pkt, t->type == US_LINK_ETHERNET);
    struct iovec iov[2] = {
        {.iov_base = &h, .iov_len = sizeof h},
        {.iov_base = pkt->data, .iov_len = pkt->len},
    };
    ssize_t n = writev(t->fd, iov, 2);
    return n < 0 ? n : n - (ssize_t)sizeof h;
}

static void tt_transmit(void *ctx, struct us_pkt *pkt)
{
    struct us_tuntap *t = ctx;
    struct ustack *s = pkt->stack;
    ssize_t n = tt_write_frame(t, pkt);
    if (n != (ssize_t)pkt->len) {
        /* EAGAIN/ENOBUFS: the kernel queue is full; EIO: link down. Either
         * way the frame is lost, as on a congested wire. */
        int e = n < 0 ? errno : EMSGSIZE;
        us_count_drop(s, tt_proto(t), US_DROP_link_tx_error);
        US_DEBUG(s, US_CH_LINK, "%s: tx drop, %u bytes: %s", t->name, (unsigned)pkt->len,
                 strerror(e));
    }
    us_pkt_free(pkt);
}

struct us_driver us_tuntap_driver(struct us_tuntap *t)
{
    struct us_driver d = {
        .name = t->type == US_LINK_IP ? "tun" : "tap",
        .transmit = tt_transmit,
        .ctx = t,
        .tso_max = t->offload ? TT_TSO_MAX : 0,
    };
    return d;
}

/* ---- Receive ---- */

/* Reads one frame's virtio-net header into h, the frame into small (its
 * whole data room) and then the scratch. Returns the frame length, 0 for a
 * read shorter than the header, or -1 with errno. */
static ssize_t tt_read_frame(struct us_tuntap *t, struct virtio_net_hdr *h, struct us_pkt *small)
{
    struct iovec iov[3] = {
        {.iov_base = h, .iov_len = sizeof *h},
        {.iov_base = small->data, .iov_len = small->len},
        {.iov_base = t->scratch, .iov_len = TT_SCRATCH_LEN},
    };
    ssize_t n = readv(t->fd, iov, 3);
    return n < (ssize_t)sizeof *h ? (n < 0 ? -1 : 0) : n - (ssize_t)sizeof *h;
}

/* Moves a frame longer than the small buffer into a buffer of its size.
 * Frees small; returns the new packet or NULL (no buffer / too large). */
static struct us_pkt *tt_grow(struct us_tuntap *t, struct ustack *s, struct us_pkt *small,
                              size_t len)
{
    size_t head = small->len;
    struct us_pkt *big = us_pkt_alloc(s, len); /* NULL past the large class */
    if (big) {
        memcpy(big->data, small->data, head);
        memcpy(big->data + head, t->scratch, len - head);
    }
    us_pkt_free(small);
    return big;
}

/* Reads and discards one frame when no buffer is available, so a level-
 * triggered poller does not spin on a descriptor we cannot drain. */
static int tt_discard_frame(struct us_tuntap *t, struct ustack *s)
{
    if (read(t->fd, t->scratch, TT_SCRATCH_LEN) < 0)
        return -1;
    us_count_drop(s, tt_proto(t), US_DROP_no_buffer);
    return 0;
}

int us_tuntap_receive(struct us_tuntap *t, struct us_netif *nif)
{
    struct ustack *s = nif->stack;
    int frames = 0;
    us_batch_begin(s);
    while (frames < TT_RX_BURST) {
        struct us_pkt *p = us_pkt_alloc(s, US_PKT_SMALL);
        if (!p) {
            if (tt_discard_frame(t, s) < 0)
                break;
            frames++;
            continue;
        }
        struct virtio_net_hdr h;
        ssize_t n = tt_read_frame(t, &h, p);
        if (n <= 0) {
            int e = errno;
            us_pkt_free(p);
            if (n < 0 && e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
                US_DEBUG(s, US_CH_LINK, "%s: read: %s", t->name, strerror(e));
            break;
        }
        frames++;
        if ((size_t)n <= p->len) {
            p->len = (uint32_t)n;
        } else if (!(p = tt_grow(t, s, p, (size_t)n))) {
            us_count_drop(s, tt_proto(t), US_DROP_no_buffer);
            continue;
        }
        enum us_drop why = us_vnet_hdr_rx(&h, p);
        if (why != US_DROP_none) {
            us_count_drop(s, tt_proto(t), why);
            us_pkt_free(p);
            continue;
        }
        us_netif_input(nif, p);
    }
    us_batch_end(s);
    return frames;
}
