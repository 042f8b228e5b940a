/* The virtio-net header (IFF_VNET_HDR) that leads every frame on a TAP or
 * TUN descriptor with offloads on: the kernel's word on a frame's checksum
 * and segmentation (include/uapi/linux/virtio_net.h). */
#ifndef US_LINK_VNET_HDR_H
#define US_LINK_VNET_HDR_H

#include <linux/virtio_net.h>

#include "core/counters.h"
#include "core/pkt.h"

/* Judges the header the kernel put before the received frame p. A frame
 * whose transport checksum the kernel left partial (NEEDS_CSUM: it comes
 * from the local stack, whose memory we trust as the kernel's own receive
 * path does) is marked so (us_pkt_csum_mark_partial); such a frame, or one
 * the kernel vouched for (DATA_VALID), gets p->csum_ok, so TCP and UDP
 * skip checking it. A header that cannot describe the frame (the checksum field past its
 * end, an unknown GSO type) is refused with a drop reason. */
enum us_drop us_vnet_hdr_rx(const struct virtio_net_hdr *h, struct us_pkt *p);

/* Fills the header for the frame p about to be written (link type Ethernet
 * when ethernet is true, else bare IPv4): empty for a plain frame; for a
 * TSO frame (p->gso_size) GSO_TCPV4 with a partial checksum, which it
 * writes into the frame. */
void us_vnet_hdr_tx(struct virtio_net_hdr *h, struct us_pkt *p, bool ethernet);

#endif
