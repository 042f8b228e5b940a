/* The `ustack` tool: option parsing (apps/cli.c), the UDP services run
 * against a real stack on the flow harness (apps/svc_*.c), and ping's
 * output format (apps/ping_report.c). apps/ is not in the library, so its
 * sources are compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

#include "../../apps/cli.c"
#include "../../apps/ping_report.c"
#include "../../apps/services.c"
#include "../../apps/svc_chargen.c"
#include "../../apps/svc_daytime.c"
#include "../../apps/svc_discard.c"
#include "../../apps/svc_echo.c"

/* ---- Option parsing ---- */

#define MAX_WORDS 32

/* Splits a command line on spaces (no quoting needed here). */
struct words {
    char buf[512];
    char *v[MAX_WORDS];
    int n;
};

static void split(struct words *w, const char *line)
{
    snprintf(w->buf, sizeof(w->buf), "%s", line);
    w->n = 0;
    for (char *tok = strtok(w->buf, " "); tok && w->n < MAX_WORDS; tok = strtok(NULL, " "))
        w->v[w->n++] = tok;
}

/* A subcommand with its own options, recording what it was given. */
enum { T_COUNT, T_FLAG, T_NAME };
struct test_cmd_ctx {
    unsigned long count;
    int flags;
    const char *name;
    char count_label[8];
};

static int test_apply(void *ctx, int id, const char *opt, const char *value, char *err,
                      size_t errlen)
{
    struct test_cmd_ctx *c = ctx;
    switch (id) {
    case T_COUNT:
        snprintf(c->count_label, sizeof(c->count_label), "%s", opt);
        return cli_parse_uint(opt, value, 1, 100, &c->count, err, errlen);
    case T_FLAG:
        c->flags++;
        return 0;
    case T_NAME:
        c->name = value;
        return 0;
    }
    return -1;
}

static const struct cli_opt test_opts[] = {
    {"--count", 'c', "N", "count", T_COUNT},
    {"--flag", 'f', NULL, "a flag", T_FLAG},
    {"--name", 0, "NAME", "a name", T_NAME},
};

static struct test_cmd_ctx tctx;
static const struct cli_cmd test_cmd = {
    .name = "test",
    .synopsis = "[OPTIONS]",
    .summary = "a test command",
    .opts = test_opts,
    .nopts = 3,
    .apply = test_apply,
    .ctx = &tctx,
};

static struct cli_args args;
static char err[CLI_ERRLEN];

static enum cli_result parse(const char *line)
{
    struct words w;
    memset(&tctx, 0, sizeof(tctx));
    err[0] = '\0';
    split(&w, line);
    return cli_parse(&test_cmd, w.n, w.v, &args, err, sizeof(err));
}

static struct us_addr v4(const char *text)
{
    struct us_addr a;
    assert_int_equal(us_addr_parse(text, &a), 0);
    return a;
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("--ip4 10.77.0.2/24"), CLI_OK);
    const struct cli_iface *o = &args.iface;
    assert_string_equal(o->ifname, "ustack0");
    assert_int_equal(o->link, US_LINK_ETHERNET);
    assert_int_equal(o->mtu, 1500);
    assert_true(o->acd);
    assert_true(o->offload);
    assert_null(o->pcap);
    assert_null(o->impair);
    assert_null(o->log);
    assert_false(o->gw4_given);
    assert_int_equal(o->n_ip4, 1);
    assert_int_equal(o->ip4[0].prefix_len, 24);
    assert_int_equal(o->ip4[0].addr.v4, v4("10.77.0.2").v4);
    /* 02:75 then the address: 10.77.0.2 -> 02:75:0a:4d:00:02. */
    const uint8_t mac[6] = {0x02, 0x75, 0x0a, 0x4d, 0x00, 0x02};
    assert_memory_equal(o->mac.b, mac, 6);
    assert_int_equal(args.npos, 0);
}

static void test_every_option_in_any_order(void **state)
{
    (void)state;
    assert_int_equal(
        parse("first --tap tap9 --mac 02:aa:bb:cc:dd:ee --ip4 10.0.0.2/24 "
              "second --ip4=192.168.7.1/32 --gw4 10.0.0.1 --mtu=9000 --pcap x.pcap "
              "--pcap-count 20000 "
              "--impair loss=5% --log arp=debug,ip4=info --no-acd --no-offload -c 7 -f "
              "--flag --name=bob third"),
        CLI_OK);
    const struct cli_iface *o = &args.iface;
    assert_string_equal(o->ifname, "tap9");
    assert_int_equal(o->link, US_LINK_ETHERNET);
    const uint8_t mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    assert_true(o->mac_given);
    assert_memory_equal(o->mac.b, mac, 6);
    assert_int_equal(o->n_ip4, 2);
    assert_int_equal(o->ip4[1].addr.v4, v4("192.168.7.1").v4);
    assert_int_equal(o->ip4[1].prefix_len, 32);
    assert_true(o->gw4_given);
    assert_int_equal(o->gw4.v4, v4("10.0.0.1").v4);
    assert_int_equal(o->mtu, 9000);
    assert_string_equal(o->pcap, "x.pcap");
    assert_int_equal(o->pcap_count, 20000);
    assert_string_equal(o->impair, "loss=5%");
    assert_string_equal(o->log, "arp=debug,ip4=info");
    assert_false(o->acd);
    assert_false(o->offload);
    /* The subcommand saw its own options, named as spelt. */
    assert_int_equal(tctx.count, 7);
    assert_string_equal(tctx.count_label, "-c");
    assert_int_equal(tctx.flags, 2);
    assert_string_equal(tctx.name, "bob");
    assert_int_equal(args.npos, 3);
    assert_string_equal(args.pos[0], "first");
    assert_string_equal(args.pos[1], "second");
    assert_string_equal(args.pos[2], "third");
}

static void test_short_option_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("--ip4 10.0.0.2/24 -c42"), CLI_OK);
    assert_int_equal(tctx.count, 42);
    assert_int_equal(parse("--ip4 10.0.0.2/24 --count 9"), CLI_OK);
    assert_int_equal(tctx.count, 9);
    assert_string_equal(tctx.count_label, "--count");
    assert_int_equal(parse("--ip4 10.0.0.2/24 -c 0"), CLI_ERROR);
    assert_string_equal(err, "invalid value for -c: '0' (expected 1..100)");
}

static void test_tun(void **state)
{
    (void)state;
    assert_int_equal(parse("--tun tun3 --ip4 10.0.0.2/24"), CLI_OK);
    assert_int_equal(args.iface.link, US_LINK_IP);
    assert_string_equal(args.iface.ifname, "tun3");
    static const struct us_mac zero;
    assert_memory_equal(&args.iface.mac, &zero, sizeof(zero)); /* no MAC on TUN */
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(parse("--ip4 10.0.0.2/24 --mtu 68"), CLI_OK);
    assert_int_equal(args.iface.mtu, 68);
    assert_int_equal(parse("--ip4 10.0.0.2/24 --mtu 65535"), CLI_OK);
    assert_int_equal(args.iface.mtu, 65535);
    assert_int_equal(parse("--ip4 10.0.0.2/1"), CLI_OK);
    assert_int_equal(args.iface.ip4[0].prefix_len, 1);
    assert_int_equal(parse("--tap 123456789012345 --ip4 10.0.0.2/24"), CLI_OK);
    assert_int_equal(parse("--ip4 10.0.0.1/24 --ip4 10.0.0.2/24 --ip4 10.0.0.3/24 "
                           "--ip4 10.0.0.4/24 --ip4 10.0.0.5/24 --ip4 10.0.0.6/24 "
                           "--ip4 10.0.0.7/24 --ip4 10.0.0.8/24"),
                     CLI_OK);
    assert_int_equal(args.iface.n_ip4, 8);
}

/* line is refused with exactly the one-line message want. */
static void check_error(const char *line, const char *want)
{
    enum cli_result r = parse(line);
    if (r != CLI_ERROR || strcmp(err, want) != 0)
        fail_msg("'%s': result %d, message '%s', expected '%s'", line, r, err, want);
    assert_null(strchr(err, '\n'));
}

struct bad_case {
    const char *line;
    const char *msg;
};

static void test_errors_name_the_value(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"--ip4 10.0.0.2/24 --mtu 70000", "invalid value for --mtu: '70000' (expected 68..65535)"},
        {"--ip4 10.0.0.2/24 --mtu 67", "invalid value for --mtu: '67' (expected 68..65535)"},
        {"--ip4 10.0.0.2/24 --mtu 1500x", "invalid value for --mtu: '1500x' (expected 68..65535)"},
        {"--ip4 10.0.0.2/24 --mtu -1", "invalid value for --mtu: '-1' (expected 68..65535)"},
        {"--ip4 10.0.0.2/24 --mtu 99999999999999999999999",
         "invalid value for --mtu: '99999999999999999999999' (expected 68..65535)"},
        {"--ip4 10.0.0.2/24 --foo", "unknown option '--foo'"},
        {"--ip4 10.0.0.2/24 --foo=3", "unknown option '--foo'"},
        {"--ip4 10.0.0.2/24 -z", "unknown option '-z'"},
        {"--ip4 10.0.0.2/24 --mtu", "missing value for --mtu (expected N)"},
        {"--ip4 10.0.0.2/24 --no-acd=yes", "option '--no-acd' takes no value"},
        {"--ip4 10.0.0.2/24 --tap a --tun b", "--tap and --tun cannot be used together"},
        {"--tun t --mac 02:00:00:00:00:01 --ip4 10.0.0.2/24",
         "--mac cannot be used with --tun (a TUN device has no MAC)"},
        {"--tap t", "missing --ip4 ADDR/LEN (at least one IPv4 address is required)"},
        {"--ip4 10.0.0.2/24 --mac 02:zz:00:00:00:01",
         "invalid value for --mac: '02:zz:00:00:00:01' (expected a unicast MAC like "
         "02:00:00:00:00:01)"},
        {"--ip4 10.0.0.2/24 --mac 03:00:00:00:00:01",
         "invalid value for --mac: '03:00:00:00:00:01' (expected a unicast MAC like "
         "02:00:00:00:00:01)"},
        {"--ip4 10.0.0.2/24 --gw4 10.0.0", "invalid value for --gw4: '10.0.0' (expected a "
                                           "unicast IPv4 address)"},
        {"--ip4 10.0.0.2/24 --tap 1234567890123456",
         "invalid value for --tap: '1234567890123456' (expected an interface name of 1..15 "
         "characters)"},
        {"--ip4 10.0.0.2/24 --pcap=", "invalid value for --pcap: '' (expected a file name)"},
        {"--ip4 10.0.0.2/24 --pcap x --pcap-count 0",
         "invalid value for --pcap-count: '0' (expected 1..4294967295)"},
        {"--ip4 10.0.0.2/24 --pcap x --pcap-count 4294967296",
         "invalid value for --pcap-count: '4294967296' (expected 1..4294967295)"},
        {"--ip4 10.0.0.2/24 --pcap-count 10", "--pcap-count needs --pcap FILE"},
        {"--ip4 10.0.0.2/24 --ip4 10.0.0.2/16",
         "invalid value for --ip4: '10.0.0.2/16' (expected each address once)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_error(cases[i].line, cases[i].msg);
    }
}

static void test_bad_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "10.0.0.2",     "10.0.0.2/",    "10.0.0.2/0",  "10.0.0.2/33",  "10.0.0.300/24",
        "banana/24",    "/24",          "0.0.0.0/8",   "127.0.0.1/8",  "224.0.0.1/24",
        "10.0.0.2/24x", "10.0.0.2/+24", "10.0.0.2/-1", "10.0.0.2/024", "255.255.255.255/32",
    };
    char line[80], want[200];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(line, sizeof(line), "--ip4 %s", bad[i]);
        snprintf(want, sizeof(want),
                 "invalid value for --ip4: '%s' (expected ADDR/LEN with a unicast IPv4 ADDR "
                 "and LEN 1..32, e.g. 10.0.0.2/24)",
                 bad[i]);
        check_error(line, want);
    }
    /* Nine addresses: one too many. */
    assert_int_equal(parse("--ip4 10.0.0.1/24 --ip4 10.0.0.2/24 --ip4 10.0.0.3/24 "
                           "--ip4 10.0.0.4/24 --ip4 10.0.0.5/24 --ip4 10.0.0.6/24 "
                           "--ip4 10.0.0.7/24 --ip4 10.0.0.8/24 --ip4 10.0.0.9/24"),
                     CLI_ERROR);
    assert_string_equal(err, "invalid value for --ip4: '10.0.0.9/24' (expected at most 8 "
                             "addresses)");
}

/* The first error is reported, not a later one. */
static void test_first_error_wins(void **state)
{
    (void)state;
    assert_int_equal(parse("--mtu 1 --bogus --ip4 nope"), CLI_ERROR);
    assert_string_equal(err, "invalid value for --mtu: '1' (expected 68..65535)");
}

static void test_help_anywhere(void **state)
{
    (void)state;
    assert_int_equal(parse("--help"), CLI_HELP);
    assert_int_equal(parse("--mtu 70000 --bogus -h"), CLI_HELP);
    assert_int_equal(parse("x --ip4 10.0.0.2/24 --help y"), CLI_HELP);
    /* After "--" it is an argument. */
    assert_int_equal(parse("--ip4 10.0.0.2/24 -- --help"), CLI_OK);
    assert_int_equal(args.npos, 1);
    assert_string_equal(args.pos[0], "--help");
}

static void test_double_dash_and_dash(void **state)
{
    (void)state;
    assert_int_equal(parse("--ip4 10.0.0.2/24 - -- --mtu -c"), CLI_OK);
    assert_int_equal(args.iface.mtu, 1500);
    assert_int_equal(args.npos, 3);
    assert_string_equal(args.pos[0], "-");
    assert_string_equal(args.pos[1], "--mtu");
    assert_string_equal(args.pos[2], "-c");
}

static void test_usage_lists_options(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cli_usage(&test_cmd, f);
    fclose(f);
    assert_non_null(strstr(text, "Usage: ustack test [OPTIONS]"));
    assert_non_null(strstr(text, "-c, --count N"));
    assert_non_null(strstr(text, "--flag"));
    assert_non_null(strstr(text, "--ip4 ADDR/LEN"));
    assert_non_null(strstr(text, "--no-acd"));
    free(text);
}

static void test_seconds(void **state)
{
    (void)state;
    us_time_t t = 0;
    assert_int_equal(cli_parse_seconds("-i", "0.2", 0.001, 3600, &t, err, sizeof(err)), 0);
    assert_int_equal(t, 200 * US_MSEC);
    assert_int_equal(cli_parse_seconds("-i", "1", 0.001, 3600, &t, err, sizeof(err)), 0);
    assert_int_equal(t, US_SEC);
    assert_int_equal(cli_parse_seconds("-i", ".5", 0.001, 3600, &t, err, sizeof(err)), 0);
    assert_int_equal(t, 500 * US_MSEC);
    assert_int_equal(cli_parse_seconds("-W", "0", 0, 3600, &t, err, sizeof(err)), 0);
    assert_int_equal(t, 0);
    static const char *const bad[] = {"",    ".",   "1..2",   "-1",   "1e3",
                                      "nan", "inf", "0.0001", "3601", "1s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[120];
        snprintf(want, sizeof(want), "invalid value for -i: '%s' (expected seconds, 0.001..3600)",
                 bad[i]);
        assert_int_equal(cli_parse_seconds("-i", bad[i], 0.001, 3600, &t, err, sizeof(err)), -1);
        assert_string_equal(err, want);
    }
}

static void test_mac_from_ip4(void **state)
{
    (void)state;
    struct us_addr a = v4("192.168.1.254");
    struct us_mac m = cli_mac_from_ip4(&a);
    const uint8_t want[6] = {0x02, 0x75, 192, 168, 1, 254};
    assert_memory_equal(m.b, want, 6);
}

/* ---- Services, unit level ---- */

/* RFC 864's sample begins with these two lines. */
static const char rfc864_line1[] =
    "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh";
static const char rfc864_line2[] =
    "\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghi";

/* Checks len bytes of chargen output whose first line starts at ring
 * character first (' ' + 0..94). */
static void check_chargen(const uint8_t *b, size_t len, int first)
{
    for (size_t p = 0; p < len; p++) {
        size_t line = p / 74, col = p % 74;
        bool last_line = len - p <= 2;
        int want = col < 72 ? 32 + (int)((first + line + col) % 95) : col == 72 ? '\r' : '\n';
        if (last_line)
            want = len - p == 2 ? '\r' : '\n';
        if (b[p] != want)
            fail_msg("chargen byte %zu (line %zu col %zu): expected %d, seen %d", p, line, col,
                     want, b[p]);
    }
}

static void test_chargen_fill(void **state)
{
    (void)state;
    uint8_t buf[SVC_CHARGEN_DGRAM];
    uint32_t cursor = 0;
    svc_chargen_fill(buf, sizeof(buf), &cursor);
    assert_memory_equal(buf, rfc864_line1, 72);
    assert_memory_equal(buf + 72, "\r\n", 2);
    assert_memory_equal(buf + 74, rfc864_line2, 72);
    check_chargen(buf, sizeof(buf), 1);
    /* Six whole lines and a seventh of 66 characters: cursor moved by 7. */
    assert_int_equal(cursor, 7);
    assert_int_equal(buf[444], '\''); /* line 7 starts 6 after '!' */
    assert_memory_equal(buf + 510, "\r\n", 2);
    /* The next datagram carries on where this one stopped, and the ring
     * wraps from '~' to ' '. */
    for (int i = 0; i < 20; i++) {
        uint32_t before = cursor;
        svc_chargen_fill(buf, sizeof(buf), &cursor);
        check_chargen(buf, sizeof(buf), (int)(before + 1) % 95);
    }
}

static void test_daytime_format(void **state)
{
    (void)state;
    char buf[64];
    size_t n = svc_daytime_format(1796026502, buf, sizeof(buf));
    assert_string_equal(buf, "Monday, November 30, 2026 08:15:02-UTC\r\n");
    assert_int_equal(n, strlen(buf));
    svc_daytime_format(951868799, buf, sizeof(buf));
    assert_string_equal(buf, "Tuesday, February 29, 2000 23:59:59-UTC\r\n");
    svc_daytime_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "Thursday, January 1, 1970 00:00:00-UTC\r\n");
}

static void test_may_reply(void **state)
{
    (void)state;
    struct us_addr peer = v4("10.0.0.1");
    assert_true(svc_may_reply(&peer, 40000));
    assert_false(svc_may_reply(&peer, 0));
    assert_false(svc_may_reply(&peer, 7));
    assert_false(svc_may_reply(&peer, 9));
    assert_false(svc_may_reply(&peer, 13));
    assert_false(svc_may_reply(&peer, 19));
    struct us_addr bcast = v4("255.255.255.255"), any = v4("0.0.0.0"), mcast = v4("224.0.0.1");
    assert_false(svc_may_reply(&bcast, 40000));
    assert_false(svc_may_reply(&any, 40000));
    assert_false(svc_may_reply(&mcast, 40000));
}

/* ---- Services on a stack (flow harness: peer 10.0.0.1, us 10.0.0.2) ---- */

static struct svc_ctx svc_state;
static struct us_udp_pcb *svc_pcb;

/* A flow with the service bound to 10.0.0.2 as `ustack serve` binds it. */
static struct flow *service_flow(const struct svc_def *def)
{
    struct flow *f = flow_new(NULL);
    flow_prime_arp(f);
    svc_state = (struct svc_ctx){.stack = f->s};
    svc_pcb = us_udp_new(f->s, def->recv, NULL, &svc_state);
    assert_non_null(svc_pcb);
    struct us_addr ours = us_addr4(FLOW_OUR_IP);
    assert_int_equal(us_udp_bind(svc_pcb, &ours, def->port), 0);
    return f;
}

/* Checks that nothing more was sent and unbinds the service. */
static void service_done(struct flow *f)
{
    flow_expect_none(f);
    us_udp_free(svc_pcb);
    svc_pcb = NULL;
}

static void test_reply_pkt_reuses_buffer(void **state)
{
    (void)state;
    struct flow *f = flow_new(NULL);
    struct us_pkt *p = us_pkt_alloc(f->s, 100);
    memset(p->data, 0xab, 100);
    /* Room for the headers in front: the same buffer, no copy. */
    assert_ptr_equal(svc_reply_pkt(f->s, p, 60), p);
    assert_int_equal(p->len, 60);
    /* Too little headroom: a new buffer holding the old bytes. */
    us_pkt_push(p, US_PKT_HEADROOM - 20);
    memset(p->data, 0xcd, p->len);
    struct us_pkt *q = svc_reply_pkt(f->s, p, 50);
    assert_non_null(q);
    assert_ptr_not_equal(q, p);
    assert_int_equal(q->len, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(q->data[i], 0xcd);
    us_pkt_free(q);
}

static void test_echo_service(void **state)
{
    (void)state;
    struct flow *f = service_flow(&svc_echo);
    flow_inject_udp(f, 40000, 7, "hello ustack", 12);
    struct flow_udp_rx rx;
    flow_expect_udp(f, 7, 40000, "hello ustack", 12, &rx);
    assert_int_equal(rx.ip.src, FLOW_OUR_IP);
    assert_int_equal(rx.ip.dst, FLOW_PEER_IP);
    /* Empty datagrams are echoed too. */
    flow_inject_udp(f, 40001, 7, "", 0);
    flow_expect_udp(f, 7, 40001, "", 0, &rx);
    service_done(f);
}

/* A datagram larger than the MTU comes in as fragments and goes back out
 * as fragments, unchanged. */
static void test_echo_fragmented(void **state)
{
    (void)state;
    struct flow *f = service_flow(&svc_echo);
    static uint8_t data[3000], udp[3008];
    flow_pattern(data, sizeof(data), 5);
    size_t n =
        flow_build_udp(udp, FLOW_PEER_IP, FLOW_OUR_IP, 40002, 7, data, sizeof(data), FLOW_CSUM_OK);
    assert_int_equal(flow_inject_fragmented(f, PROTO_UDP, 77, udp, n, 1480, NULL, 0), 3);
    static struct flow_dgram dg;
    flow_expect_dgram(f, 1500, &dg);
    assert_true(dg.nfrags >= 3);
    assert_int_equal(dg.plen, 8 + sizeof(data));
    assert_int_equal(dg.payload[0] << 8 | dg.payload[1], 7);     /* source port */
    assert_int_equal(dg.payload[2] << 8 | dg.payload[3], 40002); /* destination port */
    assert_memory_equal(dg.payload + 8, data, sizeof(data));
    service_done(f);
}

/* No answer to another small service's port: two of them must not be able
 * to ping-pong (echo <-> chargen). */
static void test_echo_loop_guard(void **state)
{
    (void)state;
    struct flow *f = service_flow(&svc_echo);
    flow_inject_udp(f, 19, 7, "x", 1);
    flow_inject_udp(f, 7, 7, "x", 1);
    flow_inject_udp(f, 0, 7, "x", 1);
    service_done(f);
    assert_int_equal(flow_counter(f, "udp.rx"), 3);
}

static void test_daytime_service(void **state)
{
    (void)state;
    struct flow *f = service_flow(&svc_daytime);
    flow_inject_udp(f, 40003, 13, "\n", 1);
    struct flow_udp_rx rx;
    flow_expect_udp(f, 13, 40003, NULL, 0, &rx);
    char want[64];
    time_t now = time(NULL);
    size_t n = svc_daytime_format(now, want, sizeof(want));
    assert_true(rx.dlen == n);
    /* Same date; the time of day may have ticked. */
    assert_memory_equal(rx.data, want, n - 14);
    assert_memory_equal(rx.data + n - 6, "-UTC\r\n", 6);
    service_done(f);
}

static void test_chargen_service(void **state)
{
    (void)state;
    struct flow *f = service_flow(&svc_chargen);
    struct flow_udp_rx rx;
    flow_inject_udp(f, 40004, 19, "", 0);
    flow_expect_udp(f, 19, 40004, NULL, 0, &rx);
    assert_int_equal(rx.dlen, 512);
    assert_memory_equal(rx.data, rfc864_line1, 72);
    check_chargen(rx.data, rx.dlen, 1);
    /* A 1000-byte request still gets 512 bytes, continuing the pattern. */
    static uint8_t big[1000];
    flow_inject_udp(f, 40004, 19, big, sizeof(big));
    flow_expect_udp(f, 19, 40004, NULL, 0, &rx);
    assert_int_equal(rx.dlen, 512);
    check_chargen(rx.data, rx.dlen, 8);
    service_done(f);
}

static void test_discard_service(void **state)
{
    (void)state;
    struct flow *f = service_flow(&svc_discard);
    flow_inject_udp(f, 40005, 9, "into the void", 13);
    service_done(f);
    assert_int_equal(flow_counter(f, "udp.rx"), 1);
    assert_int_equal(flow_counter(f, "drop.udp_no_port"), 0);
}

/* ---- ping output ---- */

static void test_rtt_format(void **state)
{
    (void)state;
    static const struct {
        long long us;
        const char *text;
    } cases[] = {
        {0, "time=0.000 ms"},   {412, "time=0.412 ms"},  {999, "time=0.999 ms"},
        {1000, "time=1.00 ms"}, {1234, "time=1.23 ms"},  {9994, "time=9.99 ms"},
        {9995, "time=10.0 ms"}, {12345, "time=12.3 ms"}, {99949, "time=99.9 ms"},
        {99950, "time=100 ms"}, {123456, "time=123 ms"}, {1000460, "time=1000 ms"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ping_format_rtt(cases[i].us, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
    }
}

static char *summary(const struct ping_stats *st, us_time_t elapsed)
{
    static char *text;
    size_t len;
    free(text);
    FILE *f = open_memstream(&text, &len);
    ping_print_summary(f, "10.77.0.1", st, elapsed);
    fclose(f);
    return text;
}

static void test_summary(void **state)
{
    (void)state;
    struct ping_stats st;
    ping_stats_init(&st, true);
    st.transmitted = 3;
    st.received = 3;
    ping_stats_add_rtt(&st, 412);
    ping_stats_add_rtt(&st, 300);
    ping_stats_add_rtt(&st, 500);
    /* mdev as iputils: (509744 - 1212 * 1212 / 3) / 3 = 6698, isqrt 81. */
    assert_string_equal(summary(&st, 2003 * US_MSEC + 400000),
                        "\n--- 10.77.0.1 ping statistics ---\n"
                        "3 packets transmitted, 3 received, 0% packet loss, time 2003ms\n"
                        "rtt min/avg/max/mdev = 0.300/0.404/0.500/0.081 ms\n");

    ping_stats_init(&st, true);
    st.transmitted = 3;
    st.received = 1;
    st.duplicates = 1;
    ping_stats_add_rtt(&st, 1500);
    ping_stats_add_rtt(&st, 1500);
    assert_string_equal(summary(&st, 2 * US_SEC),
                        "\n--- 10.77.0.1 ping statistics ---\n"
                        "3 packets transmitted, 1 received, +1 duplicates, 66.6667% packet loss, "
                        "time 2000ms\n"
                        "rtt min/avg/max/mdev = 1.500/1.500/1.500/0.000 ms\n");

    /* Nothing back: no rtt line. */
    ping_stats_init(&st, true);
    st.transmitted = 2;
    st.errors = 2;
    assert_string_equal(summary(&st, 1102 * US_MSEC),
                        "\n--- 10.77.0.1 ping statistics ---\n"
                        "2 packets transmitted, 0 received, +2 errors, 100% packet loss, "
                        "time 1102ms\n");

    /* Payload too short for a timestamp: no rtt line either. */
    ping_stats_init(&st, false);
    st.transmitted = 1;
    st.received = 1;
    assert_string_equal(summary(&st, 0),
                        "\n--- 10.77.0.1 ping statistics ---\n"
                        "1 packets transmitted, 1 received, 0% packet loss, time 0ms\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option_in_any_order),
        cmocka_unit_test(test_short_option_forms),
        cmocka_unit_test(test_tun),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_errors_name_the_value),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_help_anywhere),
        cmocka_unit_test(test_double_dash_and_dash),
        cmocka_unit_test(test_usage_lists_options),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_mac_from_ip4),
        cmocka_unit_test(test_chargen_fill),
        cmocka_unit_test(test_daytime_format),
        cmocka_unit_test(test_may_reply),
        FLOW_TEST(test_reply_pkt_reuses_buffer),
        FLOW_TEST(test_echo_service),
        FLOW_TEST(test_echo_fragmented),
        FLOW_TEST(test_echo_loop_guard),
        FLOW_TEST(test_daytime_service),
        FLOW_TEST(test_chargen_service),
        FLOW_TEST(test_discard_service),
        cmocka_unit_test(test_rtt_format),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
