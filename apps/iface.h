/* Builds what every `ustack` subcommand runs on from the interface options:
 * a stack, one netif on a TAP or TUN device, its addresses and gateway, the
 * pcap capture and impairment, and a runtime thread driving it all. */
#ifndef USTACK_APPS_IFACE_H
#define USTACK_APPS_IFACE_H

#include <stdbool.h>

#include "cli.h"

struct us_tuntap;
struct us_pcap;
struct us_runtime;

struct iface {
    struct ustack *stack;
    struct us_netif *nif;
    struct us_tuntap *tuntap;
    struct us_pcap *pcap;
    struct us_runtime *rt;
    enum us_link_type link;
    char ifname[CLI_IFNAME_MAX + 1];
    bool running;
    struct cli_ip4 addrs[CLI_MAX_IP4];
    bool usable[CLI_MAX_IP4]; /* ACD passed (set by iface_wait_ready) */
    int naddrs;
};

/* Judges the options only a stack can judge (--log, --impair, addresses
 * and gateway) on a throw-away stack, before any device is touched.
 * 0, or -1 with one line in err (exit status 2). */
int iface_validate(const struct cli_iface *o, char *err, size_t errlen);

/* Opens the device and starts the runtime. 0, or -1 with one line in err
 * (exit status 1); call iface_close() either way. */
int iface_open(struct iface *ifc, const struct cli_iface *o, char *err, size_t errlen);

enum iface_wait { IFACE_READY, IFACE_STOPPED, IFACE_NO_ADDRESS };
/* Waits until address conflict detection is over and the kernel has the
 * device's carrier up, polling every 20 ms and watching the signalfd (a stop
 * signal ends the wait). Prints one line per address in conflict. */
enum iface_wait iface_wait_ready(struct iface *ifc, int sigfd);

/* Handles a signal read from the signalfd: SIGUSR1 prints the counters.
 * Returns true for a signal that should stop the program. */
bool iface_on_signal(struct iface *ifc, int signo);

/* Prints the non-zero counters to stderr. */
void iface_print_counters(struct iface *ifc);

void iface_lock(struct iface *ifc);
void iface_unlock(struct iface *ifc);
/* Waits (up to max_ms) until every TCP connection the stack still has is
 * done with its closing handshake (TIME-WAIT or gone), so that a command
 * exiting right after closing leaves no half-closed peer behind. */
void iface_linger_tcp(struct iface *ifc, int max_ms);

/* Stops the runtime, closes the capture (flushed), optionally prints the
 * counters, and frees everything. */
void iface_close(struct iface *ifc, bool print_counters);

#endif
