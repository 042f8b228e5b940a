/* Link drivers: TAP, TUN, the in-memory wire, and pcap capture. */
#ifndef USTACK_LINK_H
#define USTACK_LINK_H

#include <stdio.h>

#include "ustack/ustack.h"

#ifdef __cplusplus
extern "C" {
#endif

struct us_tuntap;

/* Opens (or creates when absent) TAP or TUN device `name` and brings it up.
 * On failure returns NULL and writes a one-line reason into err (no
 * permission, no such device, busy). */
struct us_tuntap *us_tuntap_open(const char *name, enum us_link_type type, char *err,
                                 size_t errlen);
void us_tuntap_close(struct us_tuntap *t);
int us_tuntap_fd(const struct us_tuntap *t);
/* Checksum and TCP segmentation offload (on from us_tuntap_open): the
 * kernel may send TCP segments of up to 64 KiB with partial checksums.
 * Off, every frame is MTU-sized and fully checksummed. Returns 0, or -1
 * with errno when the kernel refuses. */
int us_tuntap_set_offload(struct us_tuntap *t, bool on);
/* The driver to pass to us_netif_add(). */
struct us_driver us_tuntap_driver(struct us_tuntap *t);
/* Reads every pending frame (non-blocking) into nif; returns frames read. */
int us_tuntap_receive(struct us_tuntap *t, struct us_netif *nif);

/* In-memory wire joining two netifs (possibly of two stacks) in one process.
 * Frames are queued and delivered by us_memwire_deliver(), so a test controls
 * the order of events. */
struct us_memwire;
struct us_memwire *us_memwire_new(void);
void us_memwire_free(struct us_memwire *w);
/* Driver for end 0 or 1. */
struct us_driver us_memwire_driver(struct us_memwire *w, int end);
void us_memwire_attach(struct us_memwire *w, int end, struct us_netif *nif);
/* Delivers queued frames (including those sent while delivering) until the
 * wire is quiet or max frames moved; returns frames delivered. */
int us_memwire_deliver(struct us_memwire *w, int max);
/* Frames transmitted by end and not yet delivered: lets a test inspect and
 * take them instead of delivering (for scripted flows). Returns NULL if none. */
struct us_pkt *us_memwire_take(struct us_memwire *w, int end);
size_t us_memwire_pending(const struct us_memwire *w, int end);

/* pcap capture file (link type Ethernet or raw IP). */
struct us_pcap;
struct us_pcap *us_pcap_open(const char *path, enum us_link_type type, char *err, size_t errlen);
void us_pcap_close(struct us_pcap *p);
void us_pcap_attach(struct us_pcap *p, struct us_netif *nif);
/* Stop recording after max_frames frames (0: no limit, the default), as
 * tcpdump -c does: a bulk transfer's capture stays bounded. */
void us_pcap_set_max_frames(struct us_pcap *p, uint64_t max_frames);

#ifdef __cplusplus
}
#endif
#endif
