/* Received virtio-net headers: see vnet_hdr.h. */
#include "link/vnet_hdr.h"

#include <netinet/in.h>
#include <string.h>

#include "wire/checksum.h"
#include "wire/tcp.h"
#include "wire/udp.h"

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
        /* virtio 1.x 5.1.6.2: the field at csum_offset into the transport
         * header holds the pseudo-header sum; left so (us_pkt_csum_complete
         * finishes it for whoever needs the bytes whole). */
        if ((h->csum_offset != UDP_CSUM_FIELD && h->csum_offset != TCP_CSUM_FIELD) ||
            (uint32_t)h->csum_start + h->csum_offset + 2 > p->len)
            return US_DROP_link_bad_vnet_hdr;
        us_pkt_csum_mark_partial(p, p->data + h->csum_start, (uint8_t)h->csum_offset);
        p->csum_ok = 1;
    } else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
        p->csum_ok = 1;
    }
    return US_DROP_none;
}

/* virtio 1.x 5.1.6.2 from the sending side: a TSO frame (p->gso_size) goes
 * as GSO_TCPV4 with its checksum partial, the pseudo-header sum that the
 * kernel completes per segment when it cuts the frame (or trusts as it is,
 * delivering it whole to a local socket). TCP built it so; if a capture
 * completed it since, the partial sum is written again. */
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
    if (!p->csum_l4) {
        uint16_t partial =
            (uint16_t)~us_csum_fold(us_csum_pseudo(&src, &dst, IPPROTO_TCP, tcp_len));
        memcpy(tcp + TCP_CSUM_FIELD, &partial, 2);
    }
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h->gso_size = p->gso_size;
    h->hdr_len = (uint16_t)(l3 + ihl + (tcp[12] >> 4) * 4);
    h->csum_start = (uint16_t)(l3 + ihl);
    h->csum_offset = TCP_CSUM_FIELD;
}
