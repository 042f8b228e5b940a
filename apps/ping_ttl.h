/* The TTL of echo replies, for `ustack ping`.
 *
 * The sockets API hands a ping socket the ICMP message without its IP header
 * and has no recvmsg()/IP_RECVTTL yet, so the TTL is read from the frame as
 * the netif's capture hook sees it, keyed by sequence number. The hook
 * chains to the capture already installed (the pcap writer), so --pcap keeps
 * working. Every call is made with the stack lock held. */
#ifndef USTACK_APPS_PING_TTL_H
#define USTACK_APPS_PING_TTL_H

#include <stdint.h>

#include "ustack/ustack.h"

struct ping_ttl;

/* Watches echo replies from peer (network order) arriving on nif. */
struct ping_ttl *ping_ttl_attach(struct us_netif *nif, enum us_link_type link, uint32_t peer);
/* TTL of the latest echo reply seen with this sequence number, or -1. */
int ping_ttl_lookup(const struct ping_ttl *pt, uint16_t seq);
/* Restores the previous capture hook and frees pt. */
void ping_ttl_detach(struct ping_ttl *pt);

#endif
