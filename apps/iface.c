/* Stack, netif, TAP/TUN device, capture, impairment and runtime for the
 * `ustack` tool. */
#include "iface.h"

#include "core/stack.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "core/netif.h"
#include "signals.h"
#include "ustack/link.h"
#include "ustack/runtime.h"

#define COUNTERS_BUF (64 * 1024)
#define READY_POLL_MS 20
#define LINK_UP_MAX (3 * US_SEC) /* longest wait for the kernel's carrier */

/* ---- Validation on a throw-away stack ---- */

static void discard_transmit(void *ctx, struct us_pkt *p)
{
    (void)ctx;
    us_pkt_free(p);
}

static void quiet_log(void *ctx, enum us_log_level level, enum us_log_chan chan, const char *line)
{
    (void)ctx, (void)level, (void)chan, (void)line;
}

static int check_log(struct ustack *s, const char *spec, char *err, size_t errlen)
{
    if (!spec || us_log_parse(s, spec) == 0)
        return 0;
    return cli_invalid(err, errlen, "--log", spec,
                       "error, warn, info, debug or trace, or CHAN=LEVEL,... like "
                       "arp=debug,ip4=info");
}

static int check_addrs(struct us_netif *nif, const struct cli_iface *o, char *err, size_t errlen)
{
    char addr[64], text[80];
    for (int i = 0; i < o->n_ip4; i++) {
        if (us_netif_add_addr(nif, &o->ip4[i].addr, o->ip4[i].prefix_len) != 0) {
            snprintf(text, sizeof(text), "%s/%d", us_addr_str(&o->ip4[i].addr, addr, sizeof(addr)),
                     o->ip4[i].prefix_len);
            return cli_invalid(err, errlen, "--ip4", text, strerror(errno));
        }
    }
    if (o->gw4_given && us_netif_set_gateway(nif, &o->gw4) != 0)
        return cli_invalid(err, errlen, "--gw4", us_addr_str(&o->gw4, text, sizeof(text)),
                           "a gateway reachable from an --ip4 prefix");
    return 0;
}

static int check_impair(struct us_netif *nif, const char *spec, char *err, size_t errlen)
{
    char why[160] = "";
    if (!spec || us_netif_set_impair(nif, spec, why, sizeof(why)) == 0)
        return 0;
    if (!why[0])
        return cli_invalid(err, errlen, "--impair", spec,
                           "loss=5%,dup=1%,reorder=2%,delay=10ms,corrupt=0.1%,seed=7");
    snprintf(err, errlen, "invalid value for --impair: '%s': %s", spec, why);
    return -1;
}

static int check_on_stack(struct ustack *s, const struct cli_iface *o, char *err, size_t errlen)
{
    if (check_log(s, o->log, err, errlen) != 0)
        return -1;
    struct us_netif_config nc = {
        .name = "check", .type = o->link, .mac = o->mac, .mtu = o->mtu, .acd = false};
    struct us_driver drv = {.name = "discard", .transmit = discard_transmit, .ctx = NULL};
    struct us_netif *nif = us_netif_add(s, &nc, &drv);
    if (!nif) {
        snprintf(err, errlen, "cannot create an interface: %s", strerror(errno));
        return -1;
    }
    if (check_addrs(nif, o, err, errlen) != 0)
        return -1;
    return check_impair(nif, o->impair, err, errlen);
}

int iface_validate(const struct cli_iface *o, char *err, size_t errlen)
{
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.log_fn = quiet_log;
    struct ustack *s = us_stack_new(&cfg);
    if (!s) {
        snprintf(err, errlen, "cannot create a stack: %s", strerror(errno));
        return -1;
    }
    int rc = check_on_stack(s, o, err, errlen);
    us_stack_free(s);
    return rc;
}

/* ---- Opening ---- */

static uint64_t random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
        return seed;
    return us_clock_monotonic() ^ ((uint64_t)getpid() << 32);
}

static void on_link_readable(void *ctx)
{
    struct iface *ifc = ctx;
    us_tuntap_receive(ifc->tuntap, ifc->nif);
}

static int add_netif(struct iface *ifc, const struct cli_iface *o, char *err, size_t errlen)
{
    struct us_netif_config nc = {
        .name = o->ifname, .type = o->link, .mac = o->mac, .mtu = o->mtu, .acd = o->acd};
    struct us_driver drv = us_tuntap_driver(ifc->tuntap);
    ifc->nif = us_netif_add(ifc->stack, &nc, &drv);
    if (!ifc->nif) {
        snprintf(err, errlen, "cannot add interface %s: %s", o->ifname, strerror(errno));
        return -1;
    }
    /* Everything below was accepted by iface_validate() already. */
    for (int i = 0; i < o->n_ip4; i++) {
        ifc->addrs[i] = o->ip4[i];
        us_netif_add_addr(ifc->nif, &o->ip4[i].addr, o->ip4[i].prefix_len);
    }
    ifc->naddrs = o->n_ip4;
    if (o->gw4_given)
        us_netif_set_gateway(ifc->nif, &o->gw4);
    return 0;
}

static int add_capture_and_impair(struct iface *ifc, const struct cli_iface *o, char *err,
                                  size_t errlen)
{
    if (o->pcap) {
        char why[200] = "";
        ifc->pcap = us_pcap_open(o->pcap, o->link, why, sizeof(why));
        if (!ifc->pcap) {
            snprintf(err, errlen, "%s", why[0] ? why : strerror(errno));
            return -1;
        }
        us_pcap_set_max_frames(ifc->pcap, o->pcap_count);
        us_pcap_attach(ifc->pcap, ifc->nif);
    }
    if (o->impair)
        return check_impair(ifc->nif, o->impair, err, errlen);
    return 0;
}

static int start_runtime(struct iface *ifc, char *err, size_t errlen)
{
    ifc->rt = us_runtime_new(ifc->stack);
    if (!ifc->rt) {
        snprintf(err, errlen, "cannot create the runtime: %s", strerror(errno));
        return -1;
    }
    if (us_runtime_add_fd(ifc->rt, us_tuntap_fd(ifc->tuntap), on_link_readable, ifc) != 0 ||
        us_runtime_start(ifc->rt) != 0) {
        snprintf(err, errlen, "cannot start the runtime: %s", strerror(errno));
        return -1;
    }
    ifc->running = true;
    return 0;
}

int iface_open(struct iface *ifc, const struct cli_iface *o, char *err, size_t errlen)
{
    memset(ifc, 0, sizeof(*ifc));
    ifc->link = o->link;
    snprintf(ifc->ifname, sizeof(ifc->ifname), "%s", o->ifname);
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = random_seed();
    cfg.start_time = us_clock_monotonic();
    cfg.log_level = US_LOG_WARN;
    ifc->stack = us_stack_new(&cfg);
    if (!ifc->stack) {
        snprintf(err, errlen, "cannot create a stack: %s", strerror(errno));
        return -1;
    }
    if (o->log)
        us_log_parse(ifc->stack, o->log);
    ifc->tuntap = us_tuntap_open(o->ifname, o->link, err, errlen);
    if (!ifc->tuntap)
        return -1;
    /* An impaired link loses, duplicates and delays wire frames, which are
     * MTU-sized: offload would make one loss cost up to 45 segments. */
    bool offload = o->offload && !o->impair;
    if (!offload && us_tuntap_set_offload(ifc->tuntap, false) != 0) {
        snprintf(err, errlen, "%s: turning offloads off: %s", o->ifname, strerror(errno));
        return -1;
    }
    if (add_netif(ifc, o, err, errlen) != 0 || add_capture_and_impair(ifc, o, err, errlen) != 0)
        return -1;
    return start_runtime(ifc, err, errlen);
}

/* ---- Running ---- */

static bool tcp_closing(struct ustack *s)
{
    for (int i = 0; i < TCP_HASH; i++)
        for (struct us_tcp_pcb *p = s->tcp.conns[i]; p; p = p->next)
            if (p->state != TCPS_TIME_WAIT)
                return true;
    return false;
}

void iface_linger_tcp(struct iface *ifc, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 10) {
        iface_lock(ifc);
        bool busy = tcp_closing(ifc->stack);
        iface_unlock(ifc);
        if (!busy)
            return;
        poll(NULL, 0, 10);
    }
}

void iface_lock(struct iface *ifc)
{
    if (ifc->running)
        us_runtime_lock(ifc->stack);
}

void iface_unlock(struct iface *ifc)
{
    if (ifc->running)
        us_runtime_unlock(ifc->stack);
}

void iface_print_counters(struct iface *ifc)
{
    char *buf = malloc(COUNTERS_BUF);
    if (!buf)
        return;
    iface_lock(ifc);
    size_t n = us_counters_format(ifc->stack, buf, COUNTERS_BUF);
    iface_unlock(ifc);
    if (n >= COUNTERS_BUF)
        n = COUNTERS_BUF - 1;
    fwrite(buf, 1, n, stderr);
    fflush(stderr);
    free(buf);
}

bool iface_on_signal(struct iface *ifc, int signo)
{
    if (signals_is_stop(signo))
        return true;
    iface_print_counters(ifc); /* SIGUSR1 */
    return false;
}

/* Marks which addresses passed ACD and reports the others. */
static enum iface_wait check_conflicts(struct iface *ifc)
{
    int usable = 0;
    iface_lock(ifc);
    for (int i = 0; i < ifc->naddrs; i++) {
        ifc->usable[i] = us_netif_has_addr4(ifc->nif, ifc->addrs[i].addr.v4);
        usable += ifc->usable[i];
    }
    iface_unlock(ifc);
    for (int i = 0; i < ifc->naddrs; i++) {
        char text[64];
        if (!ifc->usable[i])
            fprintf(stderr, "ustack: address conflict on %s\n",
                    us_addr_str(&ifc->addrs[i].addr, text, sizeof(text)));
    }
    if (usable == 0) {
        fprintf(stderr, "ustack: no usable IPv4 address left\n");
        return IFACE_NO_ADDRESS;
    }
    return IFACE_READY;
}

/* A TAP or TUN device is not carrier-up in the kernel the moment we attach:
 * the kernel's link watcher turns the carrier on (and starts the device's
 * queueing discipline) up to a second later, and drops what the kernel sends
 * us until then. True once the kernel reports IFF_RUNNING (or cannot say). */
static bool kernel_link_running(const char *ifname)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return true;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
    close(sock);
    return rc != 0 || (ifr.ifr_flags & IFF_RUNNING);
}

enum iface_wait iface_wait_ready(struct iface *ifc, int sigfd)
{
    us_time_t link_deadline = us_clock_monotonic() + LINK_UP_MAX;
    for (;;) {
        iface_lock(ifc);
        bool ready = us_netif_ready(ifc->nif);
        iface_unlock(ifc);
        if (ready && (kernel_link_running(ifc->ifname) || us_clock_monotonic() >= link_deadline))
            return check_conflicts(ifc);
        struct pollfd pfd = {.fd = sigfd, .events = POLLIN};
        poll(&pfd, 1, READY_POLL_MS);
        int signo;
        while ((signo = signals_read(sigfd)) != 0)
            if (iface_on_signal(ifc, signo))
                return IFACE_STOPPED;
    }
}

void iface_close(struct iface *ifc, bool print_counters)
{
    if (ifc->running)
        us_runtime_stop(ifc->rt);
    ifc->running = false;
    if (ifc->pcap) {
        us_netif_set_capture(ifc->nif, NULL, NULL);
        us_pcap_close(ifc->pcap);
        ifc->pcap = NULL;
    }
    if (print_counters && ifc->stack)
        iface_print_counters(ifc);
    if (ifc->rt)
        us_runtime_free(ifc->rt);
    if (ifc->stack)
        us_stack_free(ifc->stack);
    if (ifc->tuntap)
        us_tuntap_close(ifc->tuntap);
    memset(ifc, 0, sizeof(*ifc));
}
