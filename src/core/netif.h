/* Network interfaces: addresses, link type, and the path to the driver. */
#ifndef US_CORE_NETIF_H
#define US_CORE_NETIF_H

#include <stdbool.h>

#include "core/pkt.h"
#include "core/timer.h"
#include "ip4/acd.h"
#include "ip4/arp.h"

#define US_NETIF_MAX_ADDRS 8
#define US_NETIF_MAX_MCAST 8

struct us_ifaddr {
    struct us_addr addr;
    uint8_t prefix_len;
    uint32_t mask4; /* network order, IPv4 */
    struct us_acd acd;
};

struct us_impair;

struct us_netif {
    struct ustack *stack;
    struct us_netif *next;
    char name[16];
    enum us_link_type type;
    struct us_mac mac;
    uint32_t mtu;
    bool acd_enabled;
    struct us_driver drv;
    struct us_ifaddr addrs[US_NETIF_MAX_ADDRS];
    int naddrs;
    struct us_addr gw4;
    struct us_arp_cache arp;
    struct us_mac mcast[US_NETIF_MAX_MCAST]; /* joined link multicast groups */
    int nmcast;
    us_capture_fn capture;
    void *capture_ctx;
    struct us_impair *impair;
};

/* An address of nif usable as a source / destination (ACD passed). */
bool us_netif_has_addr4(const struct us_netif *nif, uint32_t a);
/* Address owned by nif, whatever its ACD state (NULL if none). */
struct us_ifaddr *us_netif_find_addr4(struct us_netif *nif, uint32_t a);
/* True when a is the subnet broadcast of one of nif's IPv4 prefixes. */
bool us_netif_is_bcast4(const struct us_netif *nif, uint32_t a);
/* First usable IPv4 address on nif in the same subnet as dst, else the
 * first usable one; 0 when none. */
uint32_t us_netif_pick_src4(const struct us_netif *nif, uint32_t dst);
/* Checks an address a socket binds to: the wildcard, or one a netif owns.
 * 0, -EAFNOSUPPORT or -EADDRNOTAVAIL (shared by UDP and TCP). */
int us_bind_addr_check(struct ustack *s, const struct us_addr *a);
/* True when dst is on one of nif's subnets. */
bool us_netif_on_link4(const struct us_netif *nif, uint32_t dst);

/* Sends a complete link frame (Ethernet or IP per link type) through the
 * impairment layer, the capture hook and the driver. Takes ownership. */
void us_link_tx(struct us_netif *nif, struct us_pkt *p);
/* Delivers a frame that passed the impairment layer to the stack. */
void us_link_rx(struct us_netif *nif, struct us_pkt *p);
/* Hands a frame to the driver after capture (used by the impairment layer). */
void us_link_tx_wire(struct us_netif *nif, struct us_pkt *p);

/* Prepends an Ethernet header and transmits. */
void us_eth_output(struct us_netif *nif, struct us_pkt *p, const struct us_mac *dst,
                   uint16_t ethertype);
void us_eth_input(struct us_netif *nif, struct us_pkt *p);

void us_netif_destroy(struct us_netif *nif);
/* Link-layer multicast filter: accept frames to this group. */
int us_netif_join_mcast(struct us_netif *nif, const struct us_mac *group);

extern const struct us_mac us_mac_broadcast;

#endif
