/* Daytime service (RFC 867): any datagram received on UDP port 13 is
 * answered with the current date and time as one line of ASCII text. RFC 867
 * leaves the format free and suggests "Weekday, Month Day, Year
 * HH:MM:SS-Zone"; we always give UTC. */
#include <stdio.h>
#include <string.h>

#include "services.h"

#define DAYTIME_MAX 64

size_t svc_daytime_format(time_t t, char *buf, size_t len)
{
    static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    struct tm tm;
    if (!gmtime_r(&t, &tm) || len == 0)
        return 0;
    int n = snprintf(buf, len, "%s, %s %d, %d %02d:%02d:%02d-UTC\r\n", days[tm.tm_wday],
                     months[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}

static void daytime_recv(void *ctx, struct us_udp_pcb *pcb, struct us_pkt *p,
                         const struct us_addr *src, uint16_t sport, const struct us_addr *dst)
{
    struct svc_ctx *sc = ctx;
    struct us_addr to = *src;
    char text[DAYTIME_MAX];
    (void)dst;
    if (!svc_may_reply(&to, sport)) {
        us_pkt_free(p);
        return;
    }
    size_t n = svc_daytime_format(time(NULL), text, sizeof(text));
    p = svc_reply_pkt(sc->stack, p, n);
    if (!p)
        return;
    memcpy(p->data, text, n);
    us_udp_sendto(pcb, p, &to, sport);
}

const struct svc_def svc_daytime = {.name = "daytime", .port = 13, .recv = daytime_recv};
