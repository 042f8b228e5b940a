/* Command-line parsing shared by every `ustack` subcommand: the interface
 * options common to all of them, plus a table of a subcommand's own options
 * handed back to it through a callback. Nothing here touches a stack, so the
 * parser is unit-tested on its own (tests/unit/test_cli.c). */
#ifndef USTACK_APPS_CLI_H
#define USTACK_APPS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ustack/ustack.h"

#ifndef USTACK_VERSION
#define USTACK_VERSION "0.1.0"
#endif

#define CLI_MAX_IP4 8  /* US_NETIF_MAX_ADDRS */
#define CLI_MAX_POS 16 /* positional arguments */
#define CLI_ERRLEN 256
#define CLI_DEFAULT_IFNAME "ustack0"
#define CLI_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

struct cli_ip4 {
    struct us_addr addr;
    int prefix_len;
};

/* The interface options every subcommand takes. */
struct cli_iface {
    const char *ifname;
    enum us_link_type link;
    bool tap_given, tun_given;
    bool mac_given;
    struct us_mac mac; /* given, or derived from the first --ip4 (TAP only) */
    struct cli_ip4 ip4[CLI_MAX_IP4];
    int n_ip4;
    bool gw4_given;
    struct us_addr gw4;
    uint32_t mtu;
    const char *pcap;    /* NULL: no capture */
    uint32_t pcap_count; /* frames to capture, 0: all */
    const char *impair;  /* NULL: no impairment */
    const char *log;     /* NULL: default level (warn) */
    bool acd;
    bool offload; /* kernel offloads on the TAP/TUN (us_tuntap_set_offload) */
};

struct cli_args {
    struct cli_iface iface;
    const char *pos[CLI_MAX_POS];
    int npos;
};

/* One option of a subcommand. Options with a metavar take a value. */
struct cli_opt {
    const char *name; /* "--count" */
    char short_name;  /* 'c', or 0 */
    const char *metavar;
    const char *help;
    int id;
};

/* Applies a subcommand option; returns 0, or -1 with a message in err
 * (see cli_invalid). */
typedef int (*cli_apply_fn)(void *ctx, int id, const char *opt, const char *value, char *err,
                            size_t errlen);

struct cli_cmd {
    const char *name;     /* "serve" */
    const char *synopsis; /* "[OPTIONS] [--service NAME]..." */
    const char *summary;  /* one line saying what it does */
    const char *details;  /* extra help text, may be NULL */
    const struct cli_opt *opts;
    size_t nopts;
    cli_apply_fn apply;
    void *ctx;
};

enum cli_result { CLI_ERROR = -1, CLI_OK = 0, CLI_HELP = 1 };

/* Parses argv[0..argc) (the words after the subcommand name). Options may
 * come before or after positional arguments; "--" ends the options. On
 * CLI_ERROR err holds one line (without the "ustack: " prefix). --help
 * anywhere wins over errors. */
enum cli_result cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out,
                          char *err, size_t errlen);
void cli_usage(const struct cli_cmd *cmd, FILE *f);
/* cli_parse, then what every subcommand does with its outcome: usage on
 * stdout for --help (returns 0), the error line on stderr (returns 2), or
 * CLI_GO_ON when the command should carry on with *out. */
#define CLI_GO_ON (-1)
int cli_parse_command(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out);

/* Formats "invalid value for OPT: 'VALUE' (expected EXPECTED)"; returns -1. */
int cli_invalid(char *err, size_t errlen, const char *opt, const char *value, const char *expected);
/* Decimal integer in [min, max], digits only. 0 or -1 (err set). */
int cli_parse_uint(const char *opt, const char *text, unsigned long min, unsigned long max,
                   unsigned long *out, char *err, size_t errlen);
/* Seconds as a decimal number ("1", "0.2") in [min, max], to nanoseconds. */
int cli_parse_seconds(const char *opt, const char *text, double min, double max, us_time_t *out,
                      char *err, size_t errlen);
/* "10.0.0.2/24": an IPv4 unicast address and a prefix length 1..32. */
int cli_parse_ip4_prefix(const char *text, struct cli_ip4 *out);
/* The locally administered MAC 02:75:a:b:c:d for IPv4 address a.b.c.d. */
struct us_mac cli_mac_from_ip4(const struct us_addr *a);

#endif
