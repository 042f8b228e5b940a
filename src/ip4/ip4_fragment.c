/* Outbound fragmentation (RFC 791 section 3.2, "An Example Fragmentation
 * Procedure"). Every fragment but the last carries a multiple of 8 bytes. */
#include <string.h>

#include "core/stack.h"
#include "ip4/ip4.h"

void us_ip4_fragment(struct us_netif *nif, struct us_pkt *p, const struct ip4_view *ip,
                     uint32_t nexthop)
{
    struct ustack *s = nif->stack;
    const uint8_t *payload = p->data + IP4_HLEN;
    uint32_t total = ip->total_len - IP4_HLEN;
    uint32_t chunk_max = (nif->mtu - IP4_HLEN) & ~7u;
    for (uint32_t off = 0; off < total; off += chunk_max) {
        uint32_t chunk = total - off < chunk_max ? total - off : chunk_max;
        struct us_pkt *f = us_pkt_alloc(s, IP4_HLEN + chunk);
        if (!f) {
            us_count_drop(s, US_P_ip4, US_DROP_no_buffer);
            break;
        }
        struct ip4_view fv = *ip;
        fv.total_len = (uint16_t)(IP4_HLEN + chunk);
        fv.frag_off = (uint16_t)off;
        fv.mf = off + chunk < total;
        ip4_build(f->data, &fv);
        memcpy(f->data + IP4_HLEN, payload + off, chunk);
        us_count_event(s, US_EV_ip4_frag_out);
        us_ip4_link_output(nif, f, nexthop);
    }
    us_pkt_free(p);
}
