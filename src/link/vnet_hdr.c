/* Received virtio-net headers: see vnet_hdr.h. */
#include "link/vnet_hdr.h"

#include <netinet/in.h>
#include <string.h>

#include "wire/checksum.h"

#define UDP_CSUM_OFFSET 6
#define TCP_CSUM_OFFSET 16

/* virtio 1.x 5.1.6.2: the checksum field at csum_offset into the transport
 * header holds the pseudo-header sum; the sum of everything from the
 * header on, complemented, goes there. Done here, once, so that the frame
 * is whole wherever it goes next: a capture, or the quote in an ICMP error. */
static void complete_csum(uint8_t *l4, size_t len, uint16_t csum_offset)
{
    uint16_t c = us_csum_fold(us_csum_add(0, l4, len));
    if (c == 0 && csum_offset == UDP_CSUM_OFFSET)
        c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
    memcpy(l4 + csum_offset, &c, 2);
}

/* The tun driver writes the header in the host's order (legacy virtio,
 * no TUNSETVNETLE), which is how it is read here. */
static enum us_drop check_gso(const struct virtio_net_hdr *h, const struct us_pkt *p)
{
    switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
        return US_DROP_none;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        /* A TCP segment larger than the MTU, to take whole (as GRO would
         * hand it over); it needs a partial checksum and a segment size. */
        if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h->gso_size == 0 || h->hdr_len > p->len)
            return US_DROP_link_bad_vnet_hdr;
        return US_DROP_none;
    default: /* UDP, IPv6: offloads we never asked for */
        return US_DROP_link_bad_vnet_hdr;
    }
}

enum us_drop us_vnet_hdr_rx(const struct virtio_net_hdr *h, struct us_pkt *p)
{
    enum us_drop why = check_gso(h, p);
    if (why != US_DROP_none)
        return why;
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if ((uint32_t)h->csum_start + h->csum_offset + 2 > p->len)
            return US_DROP_link_bad_vnet_hdr;
        complete_csum(p->data + h->csum_start, p->len - h->csum_start, h->csum_offset);
        p->csum_ok = 1;
    } else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
        p->csum_ok = 1;
    }
    return US_DROP_none;
}

/* virtio 1.x 5.1.6.2 from the sending side: a TSO frame (p->gso_size) goes
 * as GSO_TCPV4 with its checksum made partial, the pseudo-header sum that
 * the kernel completes per segment when it cuts the frame (or trusts as it
 * is, delivering it whole to a local socket). The frame was built with the
 * full checksum, which the capture has already recorded. */
void us_vnet_hdr_tx(struct virtio_net_hdr *h, struct us_pkt *p, bool ethernet)
{
    *h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_NONE};
    if (!p->gso_size)
        return;
    uint16_t l3 = ethernet ? 14 : 0;
    uint8_t *ip = p->data + l3;
    uint16_t ihl = (uint16_t)((ip[0] & 0x0f) * 4);
    uint8_t *tcp = ip + ihl;
    uint16_t tcp_len = (uint16_t)(p->len - l3 - ihl);
    struct us_addr src = {.family = US_AF_INET}, dst = {.family = US_AF_INET};
    memcpy(&src.v4, ip + 12, 4);
    memcpy(&dst.v4, ip + 16, 4);
    uint16_t partial = (uint16_t)~us_csum_fold(us_csum_pseudo(&src, &dst, IPPROTO_TCP, tcp_len));
    memcpy(tcp + TCP_CSUM_OFFSET, &partial, 2);
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h->gso_size = p->gso_size;
    h->hdr_len = (uint16_t)(l3 + ihl + (tcp[12] >> 4) * 4);
    h->csum_start = (uint16_t)(l3 + ihl);
    h->csum_offset = TCP_CSUM_OFFSET;
}
