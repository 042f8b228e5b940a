/* What the small UDP services share: the service table, the loop guard,
 * and reply buffers. */
#include "services.h"

#include <string.h>

#include <arpa/inet.h>

#include "core/stack.h"

const struct svc_def *const svc_all[] = {&svc_echo, &svc_discard, &svc_daytime, &svc_chargen};
const size_t svc_count = sizeof(svc_all) / sizeof(svc_all[0]);

/* Ethernet (14) + IPv4 with the largest options (60) + UDP (8). */
#define SVC_REPLY_HEADROOM (14 + 60 + 8)

bool svc_may_reply(const struct us_addr *src, uint16_t sport)
{
    if (src->family != US_AF_INET || sport == 0)
        return false;
    uint32_t a = ntohl(src->v4);
    if (a == 0 || a == 0xffffffffu || (a >> 28) == 0xe)
        return false;
    for (size_t i = 0; i < svc_count; i++)
        if (svc_all[i]->port == sport)
            return false;
    return true;
}

struct us_pkt *svc_reply_pkt(struct ustack *s, struct us_pkt *p, size_t len)
{
    if (us_pkt_headroom(p) >= SVC_REPLY_HEADROOM && us_pkt_headroom(p) + len <= p->cap) {
        p->len = (uint32_t)len;
        p->link_bcast = 0;
        return p;
    }
    struct us_pkt *reply = us_pkt_alloc(s, len);
    if (reply)
        memcpy(reply->data, p->data, len < p->len ? len : p->len);
    us_pkt_free(p);
    return reply;
}
