/* Dual-stack address type used by every layer of ustack. */
#ifndef USTACK_ADDR_H
#define USTACK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum us_family { US_AF_NONE = 0, US_AF_INET = 4, US_AF_INET6 = 6 };

/* An IPv4 or IPv6 address. IPv4 is held in network byte order in v4. */
struct us_addr {
    uint8_t family; /* enum us_family */
    union {
        uint32_t v4;
        uint8_t v6[16];
    };
};

/* MAC address. */
struct us_mac {
    uint8_t b[6];
};

static inline struct us_addr us_addr4(uint32_t net_order)
{
    struct us_addr a = {.family = US_AF_INET};
    a.v4 = net_order;
    return a;
}

bool us_addr_eq(const struct us_addr *a, const struct us_addr *b);
bool us_addr_is_any(const struct us_addr *a);
/* Parses "10.0.0.1" (and later IPv6 text). Returns 0 or -1. */
int us_addr_parse(const char *text, struct us_addr *out);
/* Formats into buf (at least 46 bytes); returns buf. */
const char *us_addr_str(const struct us_addr *a, char *buf, size_t len);

int us_mac_parse(const char *text, struct us_mac *out);
const char *us_mac_str(const struct us_mac *m, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
