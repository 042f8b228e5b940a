/* ustack: a TCP/IP stack in user space. Public API of the core.
 *
 * The core is sans-IO: frames come in through us_netif_input(), leave through
 * the netif's driver, and time advances only when the caller says so with
 * us_poll(). The runtime (runtime.h) drives a stack in real time; tests drive
 * it with a virtual clock. */
#ifndef USTACK_USTACK_H
#define USTACK_USTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ustack;
struct us_netif;
struct us_pkt;

/* Time in nanoseconds on the stack's clock (monotonic, arbitrary epoch). */
typedef uint64_t us_time_t;
#define US_MSEC 1000000ULL
#define US_SEC 1000000000ULL
#define US_TIME_NEVER UINT64_MAX

enum us_log_level { US_LOG_ERROR, US_LOG_WARN, US_LOG_INFO, US_LOG_DEBUG, US_LOG_TRACE };

/* Log subsystems (channels); each may have its own level. */
enum us_log_chan {
    US_CH_CORE,
    US_CH_LINK,
    US_CH_ETH,
    US_CH_ARP,
    US_CH_IP4,
    US_CH_ICMP4,
    US_CH_UDP,
    US_CH_TCP,
    US_CH_SOCK,
    US_CH_APP,
    US_CH__COUNT
};

typedef void (*us_log_fn)(void *ctx, enum us_log_level level, enum us_log_chan chan,
                          const char *line);

struct us_config {
    uint64_t random_seed; /* seed for the stack's random source */
    us_time_t start_time; /* clock value at creation */
    us_log_fn log_fn;     /* NULL: log to stderr */
    void *log_ctx;
    enum us_log_level log_level; /* default level for every channel */
    /* ICMP error rate limit: token bucket (RFC 1812 4.3.2.8, RFC 1122 3.2.2). */
    uint32_t icmp_rate_per_sec; /* 0: default 1000 */
    uint32_t icmp_burst;        /* 0: default 50 */
    uint32_t reasm_mem_limit;   /* bytes reassembly may hold; 0: 4 MiB */
};

void us_config_defaults(struct us_config *cfg);

struct ustack *us_stack_new(const struct us_config *cfg);
void us_stack_free(struct ustack *s);

/* Advance the clock to now, run expired timers; returns the next deadline
 * (US_TIME_NEVER if none). */
us_time_t us_poll(struct ustack *s, us_time_t now);
us_time_t us_now(const struct ustack *s);
/* Moves the clock forward to now without running timers (a driver stamps
 * the frames it is about to feed; us_poll runs what fell due). */
void us_set_now(struct ustack *s, us_time_t now);
us_time_t us_next_deadline(const struct ustack *s);

void us_log_set_level(struct ustack *s, int chan /* -1: all */, enum us_log_level level);
/* Parses "debug" or "arp=debug,ip4=info"; returns 0 or -1. */
int us_log_parse(struct ustack *s, const char *spec);

/* ---- Interfaces and drivers ---- */

enum us_link_type { US_LINK_ETHERNET, US_LINK_IP };

/* A driver transmits frames for one netif. transmit() takes ownership of pkt. */
struct us_driver {
    const char *name;
    void (*transmit)(void *ctx, struct us_pkt *pkt);
    void *ctx;
    /* TCP segmentation offload: the most TCP payload one frame may carry
     * for the driver (or the kernel behind it) to cut into MSS-sized
     * segments; such frames have pkt->gso_size set. 0: no offload. */
    uint32_t tso_max;
};

struct us_netif_config {
    const char *name;
    enum us_link_type type;
    struct us_mac mac; /* Ethernet only */
    uint32_t mtu;      /* 0: 1500 */
    bool acd;          /* RFC 5227 probing before an address is used */
};

struct us_netif *us_netif_add(struct ustack *s, const struct us_netif_config *cfg,
                              const struct us_driver *drv);
/* Adds an address with prefix length. With ACD on, it is tentative until the
 * probes pass. Returns 0, or -1 with errno (EEXIST, ENOSPC, EINVAL). */
int us_netif_add_addr(struct us_netif *nif, const struct us_addr *addr, int prefix_len);
int us_netif_set_gateway(struct us_netif *nif, const struct us_addr *gw);
/* True when every configured address finished ACD (or ACD is off). */
bool us_netif_ready(const struct us_netif *nif);
/* Number of addresses found in conflict (not in use). */
int us_netif_conflicts(const struct us_netif *nif);
uint32_t us_netif_mtu(const struct us_netif *nif);
const char *us_netif_name(const struct us_netif *nif);
struct us_netif *us_netif_first(struct ustack *s);

/* Feeds one received frame (Ethernet or IP per link type); takes ownership. */
void us_netif_input(struct us_netif *nif, struct us_pkt *pkt);
/* A driver that reads several frames at once brackets them: segments of
 * one TCP connection within a batch may then share one acknowledgment
 * (sent at the end), as GRO lets the kernel do. Frames outside a batch are
 * acknowledged as they come. */
void us_batch_begin(struct ustack *s);
void us_batch_end(struct ustack *s);
/* Copying convenience for drivers and tests. */
void us_netif_input_bytes(struct us_netif *nif, const void *data, size_t len);

/* Capture hook: sees every frame in (dir 0) and out (dir 1) as on the wire. */
typedef void (*us_capture_fn)(void *ctx, int dir, us_time_t t, const uint8_t *frame, size_t len);
void us_netif_set_capture(struct us_netif *nif, us_capture_fn fn, void *ctx);

/* Link impairment, seeded and reproducible. Spec like
 * "loss=5%,dup=1%,reorder=2%,delay=10ms,corrupt=0.1%,seed=7". Applies to
 * both directions. Returns 0, or -1 and writes a message to err. */
int us_netif_set_impair(struct us_netif *nif, const char *spec, char *err, size_t errlen);

/* ---- Packet buffers (for drivers) ---- */
struct us_pkt *us_pkt_alloc(struct ustack *s, size_t len);
void us_pkt_free(struct us_pkt *p);
uint8_t *us_pkt_data(struct us_pkt *p);
size_t us_pkt_len(const struct us_pkt *p);
/* Maximum frame size a buffer holds. */
#define US_PKT_MAX 65536u
#define US_PKT_HEADROOM 128u

/* ---- Counters ---- */
/* Writes "name value" lines for every non-zero counter; returns bytes. */
size_t us_counters_format(const struct ustack *s, char *buf, size_t len);
/* Value of a counter by name ("ip4.rx", "drop.ip4_bad_checksum"), or 0. */
uint64_t us_counter_get(const struct ustack *s, const char *name);

#ifdef __cplusplus
}
#endif
#endif
