/* URLs of `ustack get`: http://A.B.C.D[:PORT][/PATH] (RFC 3986 3, the
 * "http" scheme of RFC 9110 4.2.1). There is no DNS: the host is an IPv4
 * address. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "http.h"

static int url_bad(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

/* PORT: 1..65535, digits only. */
static int parse_port(const char *p, size_t n, uint16_t *port)
{
    unsigned long v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* The path is sent as it is: visible ASCII only, no fragment. */
static bool path_ok(const char *p)
{
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
            return false;
    return true;
}

int http_url_parse(const char *url, struct http_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "http://", 7) != 0)
        return url_bad(err, errlen, "expected http://ADDRESS[:PORT][/PATH]");
    const char *host = url + 7;
    size_t authority_len = strcspn(host, "/?#");
    const char *colon = memchr(host, ':', authority_len);
    size_t host_len = colon ? (size_t)(colon - host) : authority_len;
    char addr_text[INET_ADDRSTRLEN];
    if (memchr(host, '@', authority_len))
        return url_bad(err, errlen, "user information is not supported");
    if (host_len == 0 || host_len >= sizeof(addr_text))
        return url_bad(err, errlen, "expected an IPv4 address as the host: there is no DNS");
    memcpy(addr_text, host, host_len);
    addr_text[host_len] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, addr_text, &a) != 1)
        return url_bad(err, errlen, "expected an IPv4 address as the host: there is no DNS");
    u->addr = a.s_addr;
    u->port = 80;
    if (colon && parse_port(colon + 1, authority_len - host_len - 1, &u->port) != 0)
        return url_bad(err, errlen, "expected a port 1..65535 after the ':'");
    const char *path = host + authority_len;
    if (*path == '#')
        path = "";
    if (*path == '?')
        return url_bad(err, errlen, "expected a '/' before the query");
    if (*path && !path_ok(path))
        return url_bad(err, errlen, "the path holds a space, a control character or a '#'");
    u->path = *path ? path : "/";
    /* RFC 9110 7.2: Host is the authority; the default port may go. */
    if (u->port == 80)
        snprintf(u->host, sizeof(u->host), "%s", addr_text);
    else
        snprintf(u->host, sizeof(u->host), "%s:%u", addr_text, u->port);
    return 0;
}
