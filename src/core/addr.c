#include "ustack/addr.h"

#include <stdio.h>
#include <string.h>

bool us_addr_eq(const struct us_addr *a, const struct us_addr *b)
{
    if (a->family != b->family)
        return false;
    if (a->family == US_AF_INET)
        return a->v4 == b->v4;
    if (a->family == US_AF_INET6)
        return memcmp(a->v6, b->v6, 16) == 0;
    return true;
}

bool us_addr_is_any(const struct us_addr *a)
{
    static const uint8_t zero[16];
    if (a->family == US_AF_INET)
        return a->v4 == 0;
    if (a->family == US_AF_INET6)
        return memcmp(a->v6, zero, 16) == 0;
    return true;
}

/* Strict dotted quad: four decimal parts 0..255, no leading '+', no spaces. */
static int parse_ip4(const char *t, uint32_t *out)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        if (*t < '0' || *t > '9')
            return -1;
        unsigned v = 0;
        int digits = 0;
        while (*t >= '0' && *t <= '9') {
            v = v * 10 + (unsigned)(*t++ - '0');
            if (++digits > 3 || v > 255)
                return -1;
        }
        b[i] = (uint8_t)v;
        if (i < 3 && *t++ != '.')
            return -1;
    }
    if (*t != '\0')
        return -1;
    memcpy(out, b, 4);
    return 0;
}

int us_addr_parse(const char *text, struct us_addr *out)
{
    uint32_t v4;
    if (text && parse_ip4(text, &v4) == 0) {
        *out = us_addr4(v4);
        return 0;
    }
    return -1;
}

const char *us_addr_str(const struct us_addr *a, char *buf, size_t len)
{
    if (a->family == US_AF_INET) {
        const uint8_t *b = (const uint8_t *)&a->v4;
        snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    } else if (a->family == US_AF_INET6) {
        /* Full form; the compressed form comes with IPv6 itself. */
        snprintf(
            buf, len, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
            a->v6[0], a->v6[1], a->v6[2], a->v6[3], a->v6[4], a->v6[5], a->v6[6], a->v6[7],
            a->v6[8], a->v6[9], a->v6[10], a->v6[11], a->v6[12], a->v6[13], a->v6[14], a->v6[15]);
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int us_mac_parse(const char *text, struct us_mac *out)
{
    if (!text)
        return -1;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(text[0]);
        if (hi < 0)
            return -1; /* also stops at the terminating NUL */
        int lo = hexval(text[1]);
        if (lo < 0)
            return -1;
        out->b[i] = (uint8_t)(hi << 4 | lo);
        text += 2;
        if (i < 5 && *text++ != ':')
            return -1;
    }
    return *text == '\0' ? 0 : -1;
}

const char *us_mac_str(const struct us_mac *m, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1], m->b[2], m->b[3], m->b[4],
             m->b[5]);
    return buf;
}
