/* Command-line parsing shared by every `ustack` subcommand. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

enum common_opt_id {
    OPT_TAP = -100,
    OPT_TUN,
    OPT_MAC,
    OPT_IP4,
    OPT_GW4,
    OPT_MTU,
    OPT_PCAP,
    OPT_PCAP_COUNT,
    OPT_IMPAIR,
    OPT_LOG,
    OPT_NO_ACD,
    OPT_NO_OFFLOAD,
    OPT_HELP,
};

static const struct cli_opt common_opts[] = {
    {"--tap", 0, "NAME", "TAP device to use, created if absent (default " CLI_DEFAULT_IFNAME ")",
     OPT_TAP},
    {"--tun", 0, "NAME", "TUN device instead of TAP (raw IP, no Ethernet)", OPT_TUN},
    {"--mac", 0, "MAC", "Ethernet address (default 02:75:a:b:c:d for --ip4 a.b.c.d)", OPT_MAC},
    {"--ip4", 0, "ADDR/LEN", "IPv4 address and prefix length, repeatable (required)", OPT_IP4},
    {"--gw4", 0, "ADDR", "IPv4 default gateway", OPT_GW4},
    {"--mtu", 0, "N", "link MTU, 68..65535 (default 1500)", OPT_MTU},
    {"--pcap", 0, "FILE", "write every frame in and out to a pcap file", OPT_PCAP},
    {"--pcap-count", 0, "N", "stop the capture after N frames (default: no limit)", OPT_PCAP_COUNT},
    {"--impair", 0, "SPEC", "impair the link: loss=5%,dup=1%,reorder=2%,delay=10ms,seed=7",
     OPT_IMPAIR},
    {"--log", 0, "LEVEL", "log level: error, warn (default), info, debug, trace, or CHAN=LEVEL,...",
     OPT_LOG},
    {"--no-acd", 0, NULL, "use the addresses at once, without RFC 5227 conflict detection",
     OPT_NO_ACD},
    {"--no-offload", 0, NULL,
     "no checksum or TCP segmentation offload on the link: MTU-sized frames only (implied by "
     "--impair)",
     OPT_NO_OFFLOAD},
    {"--help", 'h', NULL, "show this help and exit", OPT_HELP},
};

#define N_COMMON (sizeof(common_opts) / sizeof(common_opts[0]))

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int cli_invalid(char *err, size_t errlen, const char *opt, const char *value, const char *expected)
{
    set_err(err, errlen, "invalid value for %s: '%s' (expected %s)", opt, value, expected);
    return -1;
}

/* ---- Value parsers ---- */

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int cli_parse_uint(const char *opt, const char *text, unsigned long min, unsigned long max,
                   unsigned long *out, char *err, size_t errlen)
{
    char expected[64];
    snprintf(expected, sizeof(expected), "%lu..%lu", min, max);
    if (!all_digits(text))
        return cli_invalid(err, errlen, opt, text, expected);
    errno = 0;
    unsigned long v = strtoul(text, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return cli_invalid(err, errlen, opt, text, expected);
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *opt, const char *text, double min, double max, us_time_t *out,
                      char *err, size_t errlen)
{
    char expected[80];
    snprintf(expected, sizeof(expected), "seconds, %g..%g", min, max);
    char *end;
    /* Digits and one dot only: no sign, exponent, "inf" or "nan". */
    if (strspn(text, "0123456789.") != strlen(text) || strchr(text, '.') != strrchr(text, '.'))
        return cli_invalid(err, errlen, opt, text, expected);
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= min && v <= max))
        return cli_invalid(err, errlen, opt, text, expected);
    *out = (us_time_t)(v * (double)US_SEC + 0.5);
    return 0;
}

/* Multicast (224/4), limited broadcast, 0.0.0.0 and loopback cannot be an
 * interface address. */
static bool ip4_assignable(uint32_t host_order)
{
    uint8_t first = (uint8_t)(host_order >> 24);
    return host_order != 0 && host_order != 0xffffffffu && first != 127 && (first & 0xf0) != 0xe0;
}

int cli_parse_ip4_prefix(const char *text, struct cli_ip4 *out)
{
    const char *slash = strchr(text, '/');
    char addr_text[64];
    size_t alen = slash ? (size_t)(slash - text) : 0;
    if (!slash || alen == 0 || alen >= sizeof(addr_text))
        return -1;
    memcpy(addr_text, text, alen);
    addr_text[alen] = '\0';
    struct us_addr a;
    if (us_addr_parse(addr_text, &a) != 0 || a.family != US_AF_INET || !ip4_assignable(ntohl(a.v4)))
        return -1;
    const char *len_text = slash + 1;
    if (!all_digits(len_text) || strlen(len_text) > 2)
        return -1;
    int len = atoi(len_text);
    if (len < 1 || len > 32)
        return -1;
    out->addr = a;
    out->prefix_len = len;
    return 0;
}

struct us_mac cli_mac_from_ip4(const struct us_addr *a)
{
    const uint8_t *b = (const uint8_t *)&a->v4; /* network order: a.b.c.d */
    struct us_mac m = {{0x02, 0x75, b[0], b[1], b[2], b[3]}};
    return m;
}

/* ---- Common options ---- */

static int apply_ifname(struct cli_iface *o, const char *opt, const char *v, char *err,
                        size_t errlen)
{
    if (*v == '\0' || strlen(v) > CLI_IFNAME_MAX || strpbrk(v, "/ \t\n:") != NULL)
        return cli_invalid(err, errlen, opt, v, "an interface name of 1..15 characters");
    o->ifname = v;
    return 0;
}

static int apply_mac(struct cli_iface *o, const char *v, char *err, size_t errlen)
{
    struct us_mac m;
    static const struct us_mac zero;
    if (us_mac_parse(v, &m) != 0 || (m.b[0] & 1) || memcmp(&m, &zero, sizeof(m)) == 0)
        return cli_invalid(err, errlen, "--mac", v, "a unicast MAC like 02:00:00:00:00:01");
    o->mac = m;
    o->mac_given = true;
    return 0;
}

static int apply_ip4(struct cli_iface *o, const char *v, char *err, size_t errlen)
{
    struct cli_ip4 a;
    if (cli_parse_ip4_prefix(v, &a) != 0)
        return cli_invalid(err, errlen, "--ip4", v,
                           "ADDR/LEN with a unicast IPv4 ADDR and LEN 1..32, e.g. 10.0.0.2/24");
    for (int i = 0; i < o->n_ip4; i++)
        if (us_addr_eq(&o->ip4[i].addr, &a.addr))
            return cli_invalid(err, errlen, "--ip4", v, "each address once");
    if (o->n_ip4 == CLI_MAX_IP4)
        return cli_invalid(err, errlen, "--ip4", v, "at most 8 addresses");
    o->ip4[o->n_ip4++] = a;
    return 0;
}

static int apply_gw4(struct cli_iface *o, const char *v, char *err, size_t errlen)
{
    struct us_addr a;
    if (us_addr_parse(v, &a) != 0 || a.family != US_AF_INET || !ip4_assignable(ntohl(a.v4)))
        return cli_invalid(err, errlen, "--gw4", v, "a unicast IPv4 address");
    o->gw4 = a;
    o->gw4_given = true;
    return 0;
}

static int apply_common(struct cli_iface *o, int id, const char *opt, const char *v, char *err,
                        size_t errlen)
{
    unsigned long n;
    switch (id) {
    case OPT_TAP:
    case OPT_TUN:
        *(id == OPT_TAP ? &o->tap_given : &o->tun_given) = true;
        return apply_ifname(o, opt, v, err, errlen);
    case OPT_MAC:
        return apply_mac(o, v, err, errlen);
    case OPT_IP4:
        return apply_ip4(o, v, err, errlen);
    case OPT_GW4:
        return apply_gw4(o, v, err, errlen);
    case OPT_MTU:
        if (cli_parse_uint(opt, v, 68, 65535, &n, err, errlen) != 0)
            return -1;
        o->mtu = (uint32_t)n;
        return 0;
    case OPT_PCAP:
        if (*v == '\0')
            return cli_invalid(err, errlen, opt, v, "a file name");
        o->pcap = v;
        return 0;
    case OPT_PCAP_COUNT:
        if (cli_parse_uint(opt, v, 1, UINT32_MAX, &n, err, errlen) != 0)
            return -1;
        o->pcap_count = (uint32_t)n;
        return 0;
    case OPT_IMPAIR:
        o->impair = v; /* judged by the stack, see iface_validate() */
        return 0;
    case OPT_LOG:
        o->log = v; /* judged by the stack, see iface_validate() */
        return 0;
    case OPT_NO_ACD:
        o->acd = false;
        return 0;
    case OPT_NO_OFFLOAD:
        o->offload = false;
        return 0;
    }
    return 0;
}

/* Cross-option checks and defaults once every option is in. */
static int finish_iface(struct cli_iface *o, char *err, size_t errlen)
{
    if (o->tap_given && o->tun_given) {
        set_err(err, errlen, "--tap and --tun cannot be used together");
        return -1;
    }
    if (o->tun_given && o->mac_given) {
        set_err(err, errlen, "--mac cannot be used with --tun (a TUN device has no MAC)");
        return -1;
    }
    if (o->n_ip4 == 0) {
        set_err(err, errlen, "missing --ip4 ADDR/LEN (at least one IPv4 address is required)");
        return -1;
    }
    if (o->pcap_count && !o->pcap) {
        set_err(err, errlen, "--pcap-count needs --pcap FILE");
        return -1;
    }
    o->link = o->tun_given ? US_LINK_IP : US_LINK_ETHERNET;
    if (!o->ifname)
        o->ifname = CLI_DEFAULT_IFNAME;
    if (o->link == US_LINK_ETHERNET && !o->mac_given)
        o->mac = cli_mac_from_ip4(&o->ip4[0].addr);
    return 0;
}

/* ---- The parser ---- */

static const struct cli_opt *find_in(const struct cli_opt *opts, size_t n, const char *name,
                                     size_t name_len, char short_name)
{
    for (size_t i = 0; i < n; i++) {
        if (short_name
                ? opts[i].short_name == short_name
                : strlen(opts[i].name) == name_len && strncmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    }
    return NULL;
}

static const struct cli_opt *find_opt(const struct cli_cmd *cmd, const char *name, size_t name_len,
                                      char short_name)
{
    const struct cli_opt *o = find_in(common_opts, N_COMMON, name, name_len, short_name);
    if (!o && cmd->opts)
        o = find_in(cmd->opts, cmd->nopts, name, name_len, short_name);
    return o;
}

struct parse_state {
    const struct cli_cmd *cmd;
    int argc;
    char **argv;
    int i; /* index of the word being parsed */
    struct cli_args *out;
    bool help;
};

/* Common options have negative ids, a subcommand's own are >= 0. */
static int apply_opt(struct parse_state *st, const struct cli_opt *o, const char *name,
                     const char *value, char *err, size_t errlen)
{
    if (o->id < 0)
        return apply_common(&st->out->iface, o->id, name, value, err, errlen);
    return st->cmd->apply(st->cmd->ctx, o->id, name, value, err, errlen);
}

/* Parses the option in argv[st->i] (and its value); 0 or -1. */
static int parse_option(struct parse_state *st, char *err, size_t errlen)
{
    const char *word = st->argv[st->i];
    const char *inline_val = NULL;
    const struct cli_opt *o;
    if (word[1] == '-') {
        const char *eq = strchr(word, '=');
        size_t name_len = eq ? (size_t)(eq - word) : strlen(word);
        inline_val = eq ? eq + 1 : NULL;
        o = find_opt(st->cmd, word, name_len, 0);
        if (!o) {
            set_err(err, errlen, "unknown option '%.*s'", (int)name_len, word);
            return -1;
        }
    } else {
        o = find_opt(st->cmd, NULL, 0, word[1]);
        if (!o) {
            set_err(err, errlen, "unknown option '%.2s'", word);
            return -1;
        }
        inline_val = word[2] ? word + 2 : NULL;
    }
    /* Messages name the option as the user spelt it: "-c" or "--count". */
    char label[4] = {'-', word[1], '\0', '\0'};
    const char *name = word[1] == '-' ? o->name : label;
    if (o->id == OPT_HELP) {
        st->help = true;
        return 0;
    }
    if (!o->metavar) {
        if (inline_val) {
            set_err(err, errlen, "option '%s' takes no value", name);
            return -1;
        }
        return apply_opt(st, o, name, NULL, err, errlen);
    }
    const char *value = inline_val;
    if (!value) {
        if (st->i + 1 >= st->argc) {
            set_err(err, errlen, "missing value for %s (expected %s)", name, o->metavar);
            return -1;
        }
        value = st->argv[++st->i];
    }
    return apply_opt(st, o, name, value, err, errlen);
}

static int add_positional(struct cli_args *out, const char *word, char *err, size_t errlen)
{
    if (out->npos == CLI_MAX_POS) {
        set_err(err, errlen, "too many arguments");
        return -1;
    }
    out->pos[out->npos++] = word;
    return 0;
}

enum cli_result cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->iface.mtu = 1500;
    out->iface.acd = true;
    out->iface.offload = true;
    struct parse_state st = {.cmd = cmd, .argc = argc, .argv = argv, .out = out};
    bool options_done = false, failed = false;
    /* Keep scanning after an error so that --help anywhere still wins; the
     * first error is the one reported. */
    char scratch[CLI_ERRLEN];
    for (st.i = 0; st.i < argc; st.i++) {
        const char *word = argv[st.i];
        char *e = failed ? scratch : err;
        size_t elen = failed ? sizeof(scratch) : errlen;
        int rc;
        if (!options_done && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (options_done || word[0] != '-' || word[1] == '\0')
            rc = add_positional(out, word, e, elen);
        else
            rc = parse_option(&st, e, elen);
        failed |= rc != 0;
    }
    if (st.help)
        return CLI_HELP;
    if (failed || finish_iface(&out->iface, err, errlen) != 0)
        return CLI_ERROR;
    return CLI_OK;
}

/* ---- Usage ---- */

static void print_opts(FILE *f, const struct cli_opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char left[48];
        if (opts[i].short_name)
            snprintf(left, sizeof(left), "-%c, %s%s%s", opts[i].short_name, opts[i].name,
                     opts[i].metavar ? " " : "", opts[i].metavar ? opts[i].metavar : "");
        else
            snprintf(left, sizeof(left), "%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                     opts[i].metavar ? opts[i].metavar : "");
        fprintf(f, "  %-22s %s\n", left, opts[i].help);
    }
}

void cli_usage(const struct cli_cmd *cmd, FILE *f)
{
    fprintf(f, "Usage: ustack %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->summary);
    if (cmd->details)
        fprintf(f, "\n%s", cmd->details);
    if (cmd->nopts) {
        fprintf(f, "\n%s options:\n", cmd->name);
        print_opts(f, cmd->opts, cmd->nopts);
    }
    fprintf(f, "\nInterface options:\n");
    print_opts(f, common_opts, N_COMMON);
}

int cli_parse_command(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out)
{
    char err[CLI_ERRLEN];
    switch (cli_parse(cmd, argc, argv, out, err, sizeof(err))) {
    case CLI_HELP:
        cli_usage(cmd, stdout);
        return 0;
    case CLI_ERROR:
        fprintf(stderr, "ustack: %s\n", err);
        return 2;
    default:
        return CLI_GO_ON;
    }
}
