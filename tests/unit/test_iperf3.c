/* The iperf3 pieces of the `ustack` tool: the JSON reader and writer
 * (apps/json_mini.c), the control protocol's messages, framing and cookies
 * (apps/iperf3_proto.c), the client's options (apps/cmd_iperf3.c), and
 * whole tests between the client engine and the server (apps/svc_iperf3.c)
 * on two stacks joined by the in-memory wire, on a virtual clock.
 * apps/ is not in the library, so its sources are compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/cli.c"
#include "../../apps/cmd_iperf3.c"
#include "../../apps/iface.c"
#include "../../apps/iperf3_proto.c"
#include "../../apps/json_mini.c"
#include "../../apps/signals.c"
#include "../../apps/svc_iperf3.c"
#include "ustack/link.h"

/* ---- JSON reader ---- */

static void test_json_parse_values(void **state)
{
    (void)state;
    const char *text =
        " { \"a\" : [1, -2.5, 3e2, 0, -0.125E-1], \"s\": \"x\\n\\\"y\\u00e9\\ud83d\\ude00\","
        " \"t\": true, \"f\": false, \"n\": null, \"big\": 18446744073709551615,"
        " \"o\": {\"k\": {}}, \"e\": [] } ";
    struct jm_doc doc;
    assert_int_equal(jm_parse(&doc, text, strlen(text)), 0);
    const struct jm_value *root = jm_root(&doc);
    assert_int_equal(root->type, JM_OBJECT);
    assert_int_equal(root->count, 8);
    const struct jm_value *a = jm_get(root, "a");
    assert_non_null(a);
    assert_int_equal(a->count, 5);
    assert_true(jm_at(a, 0)->number == 1);
    assert_true(jm_at(a, 1)->number == -2.5);
    assert_true(jm_at(a, 2)->number == 300);
    assert_true(jm_at(a, 4)->number == -0.0125);
    assert_null(jm_at(a, 5));
    const struct jm_value *s = jm_get(root, "s");
    assert_int_equal(s->type, JM_STRING);
    assert_string_equal(s->string, "x\n\"y\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(s->string_len, 10);
    assert_true(jm_get_flag(root, "t"));
    assert_false(jm_get_flag(root, "f"));
    assert_int_equal(jm_get(root, "n")->type, JM_NULL);
    double big = 0;
    assert_true(jm_get_number(root, "big", &big));
    assert_true(big > 1.8e19);
    assert_int_equal(jm_get(jm_get(root, "o"), "k")->type, JM_OBJECT);
    assert_int_equal(jm_get(root, "e")->count, 0);
    assert_null(jm_get(root, "missing"));
    assert_false(jm_get_number(root, "s", &big)); /* not a number */
    jm_free(&doc);
}

static void test_json_rejects_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",          " ",          "{",        "}",         "[1,]",        "{\"a\":1,}",
        "{\"a\" 1}", "{a:1}",      "01",       "1.",        ".5",          "+1",
        "-",         "1e",         "0x10",     "NaN",       "tru",         "nul",
        "\"abc",     "\"a\tb\"",   "\"\\x\"",  "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"",
        "[1] 2",     "{\"a\":1}}", "[\"a\",]", "[1 2]",     "\"\\",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jm_doc doc;
        if (jm_parse(&doc, bad[i], strlen(bad[i])) == 0)
            fail_msg("accepted malformed JSON: %s", bad[i]);
        assert_null(jm_root(&doc));
        jm_free(&doc);
    }
    /* Nesting deeper than JM_MAX_DEPTH is refused; at the limit it is fine. */
    char deep[2 * (JM_MAX_DEPTH + 1) + 1];
    for (int depth = JM_MAX_DEPTH; depth <= JM_MAX_DEPTH + 1; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        struct jm_doc doc;
        int rc = jm_parse(&doc, deep, 2 * (size_t)depth);
        assert_int_equal(rc, depth <= JM_MAX_DEPTH ? 0 : -1);
        jm_free(&doc);
    }
    /* The text is bounded by its length, not by a NUL. */
    struct jm_doc doc;
    assert_int_equal(jm_parse(&doc, "[1]xyz", 3), 0);
    jm_free(&doc);
}

static void test_json_write_round_trip(void **state)
{
    (void)state;
    struct jm_writer w;
    jm_writer_init(&w);
    jm_object_begin(&w);
    jm_key(&w, "n");
    jm_number(&w, 1.5);
    jm_key(&w, "i");
    jm_int(&w, -7);
    jm_key(&w, "u");
    jm_uint(&w, 18446744073709551615ull);
    jm_key(&w, "whole");
    jm_number(&w, 131072);
    jm_key(&w, "s\"");
    jm_string(&w, "a\"b\\c\n\x01");
    jm_key(&w, "arr");
    jm_array_begin(&w);
    jm_bool(&w, true);
    jm_null(&w);
    jm_array_begin(&w);
    jm_array_end(&w);
    jm_array_end(&w);
    jm_object_end(&w);
    size_t len;
    const char *text = jm_finish(&w, &len);
    assert_non_null(text);
    assert_string_equal(text, "{\"n\":1.5,\"i\":-7,\"u\":18446744073709551615,\"whole\":131072,"
                              "\"s\\\"\":\"a\\\"b\\\\c\\n\\u0001\",\"arr\":[true,null,[]]}");
    assert_int_equal(len, strlen(text));
    struct jm_doc doc;
    assert_int_equal(jm_parse(&doc, text, len), 0);
    const struct jm_value *root = jm_root(&doc);
    assert_string_equal(jm_get(root, "s\"")->string, "a\"b\\c\n\x01");
    assert_true(jm_get(root, "n")->number == 1.5);
    assert_true(jm_get(root, "i")->number == -7);
    assert_int_equal(jm_get(root, "arr")->count, 3);
    jm_free(&doc);
    jm_writer_free(&w);
}

static void test_json_writer_misuse(void **state)
{
    (void)state;
    struct jm_writer w;
    jm_writer_init(&w); /* nothing written */
    assert_null(jm_finish(&w, NULL));
    jm_writer_free(&w);
    jm_writer_init(&w); /* two top-level values */
    jm_int(&w, 1);
    jm_int(&w, 2);
    assert_null(jm_finish(&w, NULL));
    jm_writer_free(&w);
    jm_writer_init(&w); /* still open */
    jm_object_begin(&w);
    assert_null(jm_finish(&w, NULL));
    jm_writer_free(&w);
    jm_writer_init(&w); /* a key without its value */
    jm_object_begin(&w);
    jm_key(&w, "k");
    jm_object_end(&w);
    assert_null(jm_finish(&w, NULL));
    jm_writer_free(&w);
    jm_writer_init(&w); /* closing what was never opened */
    jm_array_end(&w);
    assert_null(jm_finish(&w, NULL));
    jm_writer_free(&w);
}

/* ---- Parameters ---- */

static void test_params_to_json_like_iperf3(void **state)
{
    (void)state;
    struct ip3_params p;
    ip3_params_default(&p);
    size_t len;
    char *json = ip3_params_to_json(&p, &len);
    /* Byte for byte what iperf 3.12 sends for `iperf3 -c HOST`. */
    assert_string_equal(json, "{\"tcp\":true,\"omit\":0,\"time\":10,\"num\":0,\"blockcount\":0,"
                              "\"parallel\":1,\"len\":131072,\"pacing_timer\":1000,"
                              "\"client_version\":\"3.12\"}");
    assert_int_equal(len, strlen(json));
    free(json);
    p.reverse = true;
    p.parallel = 4;
    p.time = 5;
    json = ip3_params_to_json(&p, &len);
    struct ip3_params back;
    int i_errno;
    char err[160];
    assert_int_equal(ip3_params_from_json(json, len, &back, &i_errno, err, sizeof(err)), 0);
    assert_true(back.reverse);
    assert_true(back.tcp);
    assert_int_equal(back.parallel, 4);
    assert_int_equal(back.time, 5);
    assert_int_equal(back.len, 131072);
    assert_string_equal(back.client_version, "3.12");
    free(json);
}

static void test_params_from_real_client(void **state)
{
    (void)state;
    /* As iperf 3.12 -d prints it (cJSON's formatted output). */
    const char *text = "{\n\t\"tcp\":\ttrue,\n\t\"omit\":\t0,\n\t\"time\":\t1,\n\t\"num\":\t0,\n"
                       "\t\"blockcount\":\t0,\n\t\"parallel\":\t1,\n\t\"reverse\":\ttrue,\n"
                       "\t\"len\":\t131072,\n\t\"pacing_timer\":\t1000,\n"
                       "\t\"client_version\":\t\"3.12\"\n}";
    struct ip3_params p;
    int i_errno;
    char err[160];
    assert_int_equal(ip3_params_from_json(text, strlen(text), &p, &i_errno, err, sizeof(err)), 0);
    assert_true(p.tcp && p.reverse && !p.bidirectional);
    assert_int_equal(p.time, 1);
    assert_int_equal(p.parallel, 1);
    assert_int_equal(p.omit, 0);
    /* Absent members keep their defaults. */
    assert_int_equal(ip3_params_from_json("{}", 2, &p, &i_errno, err, sizeof(err)), 0);
    assert_int_equal(p.parallel, 1);
    assert_int_equal(p.time, IP3_DEFAULT_TIME);
    assert_false(p.reverse);
}

static void test_params_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int i_errno;
    } cases[] = {
        {"{\"udp\":true,\"time\":1}", IP3_IE_UNIMP},
        {"{\"sctp\":true}", IP3_IE_UNIMP},
        {"{\"tcp\":true,\"bidirectional\":true}", IP3_IE_UNIMP},
        {"{\"parallel\":0}", IP3_IE_RECVPARAMS},
        {"{\"parallel\":129}", IP3_IE_RECVPARAMS},
        {"{\"time\":\"10\"}", IP3_IE_RECVPARAMS},
        {"{\"time\":-1}", IP3_IE_RECVPARAMS},
        {"{\"len\":0}", IP3_IE_RECVPARAMS},
        {"{\"len\":1048577}", IP3_IE_RECVPARAMS},
        {"[1,2]", IP3_IE_RECVPARAMS},
        {"{\"tcp\":true", IP3_IE_RECVPARAMS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ip3_params p;
        int i_errno = 0;
        char err[160] = "";
        if (ip3_params_from_json(cases[i].text, strlen(cases[i].text), &p, &i_errno, err,
                                 sizeof(err)) == 0)
            fail_msg("accepted parameters %s", cases[i].text);
        assert_int_equal(i_errno, cases[i].i_errno);
        assert_true(err[0] != '\0');
    }
}

/* ---- Results ---- */

static void test_results_round_trip(void **state)
{
    (void)state;
    struct ip3_results *r = calloc(1, sizeof(*r)), *back = calloc(1, sizeof(*back));
    r->cpu_total = 43.402608316391358;
    r->cpu_user = 2.5;
    r->cpu_system = 40.902608316391358;
    r->sender_has_retransmits = 1;
    snprintf(r->congestion_used, sizeof(r->congestion_used), "newreno");
    r->nstreams = 2;
    r->streams[0] = (struct ip3_stream_result){
        .id = 1, .bytes = 2655518720ull, .retransmits = 34, .end_time = 1.000026};
    r->streams[1] =
        (struct ip3_stream_result){.id = 3, .bytes = 1ull << 40, .retransmits = -1, .end_time = 10};
    size_t len;
    char *json = ip3_results_to_json(r, &len);
    assert_non_null(json);
    char err[160];
    assert_int_equal(ip3_results_from_json(json, len, back, err, sizeof(err)), 0);
    assert_int_equal(back->nstreams, 2);
    assert_true(back->cpu_total == r->cpu_total);
    assert_true(back->cpu_system == r->cpu_system);
    assert_int_equal(back->sender_has_retransmits, 1);
    assert_string_equal(back->congestion_used, "newreno");
    assert_int_equal(back->streams[0].id, 1);
    assert_true(back->streams[0].bytes == 2655518720ull);
    assert_int_equal(back->streams[0].retransmits, 34);
    assert_true(back->streams[0].end_time == 1.000026);
    assert_true(back->streams[1].bytes == 1ull << 40);
    assert_int_equal(back->streams[1].retransmits, -1);
    assert_ptr_equal(ip3_results_find(back, 3), &back->streams[1]);
    assert_null(ip3_results_find(back, 2));
    free(json);
    free(r);
    free(back);
}

static void test_results_from_real_server(void **state)
{
    (void)state;
    /* iperf 3.12's receiving server writes -1 as an unsigned 64-bit number. */
    const char *text =
        "{\"cpu_util_total\":36.623050417664082,\"cpu_util_user\":1.4592745023927942,"
        "\"cpu_util_system\":35.163675923870549,\"sender_has_retransmits\":18446744073709551615,"
        "\"congestion_used\":\"bbr\",\"streams\":[{\"id\":1,\"bytes\":2655518720,"
        "\"retransmits\":18446744073709551615,\"jitter\":0,\"errors\":0,\"packets\":0,"
        "\"start_time\":0,\"end_time\":1.000068}]}";
    struct ip3_results *r = calloc(1, sizeof(*r));
    char err[160];
    assert_int_equal(ip3_results_from_json(text, strlen(text), r, err, sizeof(err)), 0);
    assert_int_equal(r->sender_has_retransmits, -1);
    assert_int_equal(r->nstreams, 1);
    assert_int_equal(r->streams[0].retransmits, -1);
    assert_true(r->streams[0].bytes == 2655518720ull);
    assert_true(r->streams[0].end_time == 1.000068);
    assert_string_equal(r->congestion_used, "bbr");
    free(r);
}

static void test_results_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"cpu_util_user\":0,\"cpu_util_system\":0,\"sender_has_retransmits\":1,\"streams\":[]}",
        "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,\"streams\":[]}",
        "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,"
        "\"sender_has_retransmits\":1}",
        "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,"
        "\"sender_has_retransmits\":1,\"streams\":[{\"id\":1,\"bytes\":5}]}",
        "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,"
        "\"sender_has_retransmits\":1,\"streams\":{}}",
        "not json",
    };
    struct ip3_results *r = calloc(1, sizeof(*r));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        if (ip3_results_from_json(bad[i], strlen(bad[i]), r, err, sizeof(err)) == 0)
            fail_msg("accepted results %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* More streams than a test can have. */
    struct jm_writer w;
    jm_writer_init(&w);
    jm_object_begin(&w);
    const char *keys[] = {"cpu_util_total", "cpu_util_user", "cpu_util_system",
                          "sender_has_retransmits"};
    for (int i = 0; i < 4; i++) {
        jm_key(&w, keys[i]);
        jm_int(&w, 0);
    }
    jm_key(&w, "streams");
    jm_array_begin(&w);
    for (int i = 0; i <= IP3_MAX_STREAMS; i++) {
        jm_object_begin(&w);
        const char *sk[] = {"id", "bytes", "retransmits", "jitter", "errors", "packets"};
        for (int k = 0; k < 6; k++) {
            jm_key(&w, sk[k]);
            jm_int(&w, i);
        }
        jm_object_end(&w);
    }
    jm_array_end(&w);
    jm_object_end(&w);
    size_t len;
    const char *text = jm_finish(&w, &len);
    char err[160];
    assert_int_equal(ip3_results_from_json(text, len, r, err, sizeof(err)), -1);
    jm_writer_free(&w);
    free(r);
}

/* ---- Framing, cookies, numbers ---- */

static void test_framing_split_messages(void **state)
{
    (void)state;
    /* A state, a JSON message, another state: fed one byte at a time. */
    const char *json = "{\"a\":1}";
    uint8_t wire[64];
    size_t n = 0;
    wire[n++] = IP3_EXCHANGE_RESULTS;
    ip3_put_len(wire + n, (uint32_t)strlen(json));
    n += 4;
    memcpy(wire + n, json, strlen(json));
    n += strlen(json);
    wire[n++] = (uint8_t)(int8_t)IP3_ACCESS_DENIED;
    assert_int_equal(wire[1], 0);
    assert_int_equal(wire[4], 7);

    struct ip3_rx rx = {0};
    int got_state = 0, st, got_json = 0, step = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ip3_rx_append(&rx, wire + i, 1), 0);
        if (step == 0 && ip3_rx_take_state(&rx, &st)) {
            assert_int_equal(st, IP3_EXCHANGE_RESULTS);
            got_state++;
            step = 1;
        } else if (step == 1) {
            char *text;
            size_t len;
            int rc = ip3_rx_take_json(&rx, &text, &len);
            assert_true(rc >= 0);
            if (rc == 1) {
                assert_string_equal(text, json);
                assert_int_equal(len, strlen(json));
                free(text);
                got_json++;
                step = 2;
            }
        } else if (step == 2 && ip3_rx_take_state(&rx, &st)) {
            assert_int_equal(st, IP3_ACCESS_DENIED); /* a signed byte */
            got_state++;
        }
    }
    assert_int_equal(got_state, 2);
    assert_int_equal(got_json, 1);
    assert_int_equal(rx.len, 0);
    ip3_rx_free(&rx);
}

static void test_framing_limits(void **state)
{
    (void)state;
    struct ip3_rx rx = {0};
    uint8_t hdr[4];
    ip3_put_len(hdr, IP3_JSON_MAX + 1); /* announced too long */
    assert_int_equal(ip3_rx_append(&rx, hdr, 4), 0);
    char *text;
    size_t len;
    assert_int_equal(ip3_rx_take_json(&rx, &text, &len), -1);
    ip3_rx_free(&rx);
    /* An empty message is a message. */
    ip3_put_len(hdr, 0);
    assert_int_equal(ip3_rx_append(&rx, hdr, 4), 0);
    assert_int_equal(ip3_rx_take_json(&rx, &text, &len), 1);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);
    /* A flood is refused rather than buffered without end. */
    static uint8_t junk[IP3_JSON_MAX];
    assert_int_equal(ip3_rx_append(&rx, junk, sizeof(junk)), 0);
    assert_int_equal(ip3_rx_append(&rx, junk, 4096), -1);
    uint8_t out[8];
    assert_int_equal(ip3_rx_take(&rx, out, sizeof(out)), 1);
    assert_int_equal(rx.len, sizeof(junk) - sizeof(out));
    ip3_rx_free(&rx);
}

static void test_cookie(void **state)
{
    (void)state;
    uint8_t rnd[IP3_COOKIE_SIZE - 1];
    for (size_t i = 0; i < sizeof(rnd); i++)
        rnd[i] = (uint8_t)(i * 7 + 250);
    char cookie[IP3_COOKIE_SIZE];
    ip3_make_cookie(cookie, rnd);
    assert_int_equal(strlen(cookie), IP3_COOKIE_SIZE - 1);
    assert_int_equal(cookie[0], "abcdefghijklmnopqrstuvwxyz234567"[250 % 32]);
    assert_true(ip3_cookie_valid(cookie));
    char bad[IP3_COOKIE_SIZE];
    memcpy(bad, cookie, sizeof(bad));
    bad[5] = '1'; /* not in iperf3's alphabet */
    assert_false(ip3_cookie_valid(bad));
    memcpy(bad, cookie, sizeof(bad));
    bad[IP3_COOKIE_SIZE - 1] = 'a'; /* no NUL */
    assert_false(ip3_cookie_valid(bad));
    assert_int_equal(ip3_stream_id(0), 1);
    assert_int_equal(ip3_stream_id(1), 3);
    assert_int_equal(ip3_stream_id(2), 4);
}

static void test_number_formats(void **state)
{
    (void)state;
    char b[32];
    ip3_format_bytes(b, sizeof(b), 2.75 * 1024 * 1024 * 1024);
    assert_string_equal(b, "2.75 GByte");
    ip3_format_bytes(b, sizeof(b), 128 * 1024);
    assert_string_equal(b, " 128 KByte");
    ip3_format_bytes(b, sizeof(b), 1023 * 1024);
    assert_string_equal(b, "1023 KByte");
    ip3_format_bytes(b, sizeof(b), 0);
    assert_string_equal(b, "0.00 Byte");
    ip3_format_bytes(b, sizeof(b), 3.74 * 1024 * 1024 * 1024);
    assert_string_equal(b, "3.74 GByte");
    ip3_format_bits(b, sizeof(b), 2.36e9 / 8);
    assert_string_equal(b, "2.36 Gbit");
    ip3_format_bits(b, sizeof(b), 32.1e9 / 8);
    assert_string_equal(b, "32.1 Gbit");
    ip3_format_bits(b, sizeof(b), 17.5e6 / 8);
    assert_string_equal(b, "17.5 Mbit");
    ip3_format_bits(b, sizeof(b), 999.4 / 8);
    assert_string_equal(b, " 999 bit");
}

/* ---- The client's options ---- */

static int run_cmd(const char *line)
{
    char buf[256], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *w = strtok(buf, " "); w && argc < 31; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    int rc = cmd_iperf3(argc, argv);
    fclose(stderr);
    stderr = saved;
    return rc;
}

static void test_client_options(void **state)
{
    (void)state;
    const char *ok_iface = "--tap ust9 --ip4 10.9.0.2/24";
    static const char *const usage_errors[] = {
        "",   /* no -c */
        "-c", /* no value */
        "-c 10.9.0.1 -P 0",
        "-c 10.9.0.1 -P 129",
        "-c 10.9.0.1 -t 0",
        "-c 10.9.0.1 -t 86401",
        "-c 10.9.0.1 -p 0",
        "-c 10.9.0.1 -p 65536",
        "-c 10.9.0.1 -l 0",
        "-c 10.9.0.1 -l 1048577",
        "-c 10.9.0.1 -i 0.05",
        "-c 224.0.0.1",
        "-c example.org",
        "-c 10.9.0.1 extra",
        "-c 10.9.0.1 -R=1",
        "-c 10.9.0.1 -u",
        "-c 10.9.0.1 -w 4095",
    };
    for (size_t i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
        char line[200];
        snprintf(line, sizeof(line), "%s %s", ok_iface, usage_errors[i]);
        if (run_cmd(line) != 2)
            fail_msg("not a usage error: %s", line);
    }
    /* Without --ip4 the interface options are incomplete. */
    assert_int_equal(run_cmd("-c 10.9.0.1"), 2);
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    assert_int_equal(run_cmd("--help"), 0);
    fclose(stdout);
    stdout = saved;

    struct iperf_args a = {.o = {.port = IP3_PORT, .time = 10, .parallel = 1}};
    char err[CLI_ERRLEN];
    assert_int_equal(iperf_apply(&a, IPERF_OPT_PARALLEL, "-P", "128", err, sizeof(err)), 0);
    assert_int_equal(a.o.parallel, 128);
    assert_int_equal(iperf_apply(&a, IPERF_OPT_TIME, "-t", "5", err, sizeof(err)), 0);
    assert_int_equal(a.o.time, 5);
    assert_int_equal(iperf_apply(&a, IPERF_OPT_INTERVAL, "-i", "0", err, sizeof(err)), 0);
    assert_int_equal(a.o.interval, 0);
    assert_int_equal(iperf_apply(&a, IPERF_OPT_INTERVAL, "-i", "0.5", err, sizeof(err)), 0);
    assert_int_equal(a.o.interval, US_SEC / 2);
    assert_int_equal(iperf_apply(&a, IPERF_OPT_CLIENT, "-c", "10.9.0.1", err, sizeof(err)), 0);
    assert_int_equal(a.o.server.v4, htonl(0x0a090001));
    assert_int_equal(iperf_apply(&a, IPERF_OPT_CLIENT, "-c", "0.0.0.0", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "-c"));
}

/* ---- Whole tests on two stacks ---- */

struct side {
    struct ustack *s;
    struct us_netif *nif;
};

struct sim {
    struct us_memwire *w;
    struct side a, b; /* client 10.0.0.1, server 10.0.0.2 */
    char *report;
    size_t report_len;
    FILE *report_f;
};

static us_time_t virtual_clock(struct ustack *s)
{
    return us_now(s);
}

static void make_side(struct side *sd, struct us_memwire *w, int end, const char *ip)
{
    struct us_config cfg;
    us_config_defaults(&cfg);
    cfg.random_seed = 11 + (uint64_t)end;
    cfg.start_time = 1000 * US_SEC;
    cfg.log_level = getenv("SIM_LOG") ? US_LOG_DEBUG : US_LOG_ERROR;
    sd->s = us_stack_new(&cfg);
    struct us_netif_config nc = {.name = "sim", .type = US_LINK_ETHERNET, .mtu = 1500};
    nc.mac.b[0] = 2;
    nc.mac.b[5] = (uint8_t)(end + 1);
    struct us_driver drv = us_memwire_driver(w, end);
    sd->nif = us_netif_add(sd->s, &nc, &drv);
    us_memwire_attach(w, end, sd->nif);
    struct us_addr a;
    us_addr_parse(ip, &a);
    us_netif_add_addr(sd->nif, &a, 24);
    /* A 40 ms round trip keeps the virtual-time transfer small. */
    char err[64];
    assert_int_equal(us_netif_set_impair(sd->nif, "delay=20ms", err, sizeof(err)), 0);
}

static void sim_setup(struct sim *sm)
{
    memset(sm, 0, sizeof(*sm));
    srv_clock = virtual_clock;
    sm->report_f = open_memstream(&sm->report, &sm->report_len);
    svc_iperf3_set_report(sm->report_f);
    sm->w = us_memwire_new();
    make_side(&sm->a, sm->w, 0, "10.0.0.1");
    make_side(&sm->b, sm->w, 1, "10.0.0.2");
    assert_int_equal(svc_iperf3_start(sm->b.s, sm->b.nif), 0);
    assert_int_equal(svc_iperf3_start(sm->b.s, sm->b.nif), -EEXIST);
}

typedef bool (*sim_done_fn)(void *ctx);

/* Runs the wire and both clocks until done(ctx), a quiet wire or for. */
static void sim_run(struct sim *sm, sim_done_fn done, void *ctx, us_time_t howlong)
{
    us_time_t now = us_now(sm->a.s), limit = now + howlong;
    while (now < limit) {
        us_memwire_deliver(sm->w, 0);
        if (done && done(ctx))
            break;
        us_time_t na = us_next_deadline(sm->a.s), nb = us_next_deadline(sm->b.s);
        us_time_t next = na < nb ? na : nb;
        if (next == US_TIME_NEVER)
            break;
        now = next > now ? next : now + 1;
        us_poll(sm->a.s, now);
        us_poll(sm->b.s, now);
    }
}

static void sim_teardown(struct sim *sm)
{
    svc_iperf3_stop(sm->b.s);
    sim_run(sm, NULL, NULL, 5 * US_SEC);
    us_memwire_free(sm->w);
    us_stack_free(sm->a.s);
    us_stack_free(sm->b.s);
    svc_iperf3_set_report(stdout);
    fclose(sm->report_f);
    free(sm->report);
    srv_clock = real_clock_srv;
}

/* Windows of 64 KiB keep the transfers (and the test) short. */
static struct client *new_client(struct sim *sm, int port, int time, int parallel, bool reverse)
{
    struct client *c = calloc(1, sizeof(*c));
    c->s = sm->a.s;
    us_addr_parse("10.0.0.2", &c->o.server);
    c->o.port = (uint16_t)port;
    c->o.time = time;
    c->o.parallel = parallel;
    c->o.len = IP3_DEFAULT_BLKSIZE;
    c->o.reverse = reverse;
    c->o.interval = US_SEC;
    c->o.window = 64 * 1024;
    c->clock = virtual_clock;
    assert_int_equal(client_start(c), 0);
    return c;
}

static bool client_is_over(void *ctx)
{
    return client_over(ctx);
}

static void end_client(struct client *c)
{
    client_stop(c);
    client_free(c);
}

/* The report line for a stream and role, e.g. "[  5] ... sender". */
static const char *find_line(const char *out, const char *who, const char *role)
{
    for (const char *p = out; (p = strstr(p, who)) != NULL; p++) {
        const char *eol = strchr(p, '\n');
        const char *r = strstr(p, role);
        if (r && eol && r < eol && p[strlen(who)] == ' ' &&
            strncmp(eol - strlen(role), role, strlen(role)) == 0)
            return p;
    }
    return NULL;
}

static void run_full_test(int parallel, bool reverse)
{
    struct sim sm;
    sim_setup(&sm);
    struct client *c = new_client(&sm, IP3_PORT, 2, parallel, reverse);
    sim_run(&sm, client_is_over, c, 60 * US_SEC);
    if (c->phase != CP_FINISHED)
        fail_msg("test did not finish: phase %d, %s\n%.*s", c->phase, c->err, (int)c->out_len,
                 c->out ? c->out : "");
    /* Let the server take IPERF_DONE. */
    sim_run(&sm, NULL, NULL, 1 * US_SEC);
    fflush(sm.report_f);
    const char *out = c->out;
    if (getenv("IPERF3_SHOW")) /* to eyeball the report */
        printf("%s%s", out, sm.report);
    assert_non_null(strstr(out, reverse ? "Reverse mode, remote host 10.0.0.2 is sending\n"
                                        : "[ ID] Interval           Transfer     Bitrate"
                                          "         Retr  Cwnd\n"));
    assert_non_null(strstr(out, "[ ID] Interval           Transfer     Bitrate         Retr\n"));
    assert_non_null(strstr(out, "connected to 10.0.0.2 port 5201\n"));
    assert_non_null(strstr(out, "\niperf Done.\n"));
    assert_non_null(strstr(out, "   0.00-1.00   sec"));
    for (int i = 0; i < parallel; i++) {
        char who[16];
        snprintf(who, sizeof(who), "[%3d]", FIRST_ID_LABEL + 2 * i);
        const char *snd = find_line(out, who, "sender");
        const char *rcv = find_line(out, who, "receiver");
        if (!snd || !rcv)
            fail_msg("no sender/receiver line for %s in:\n%s", who, out);
        assert_non_null(strstr(snd, "0.00-2.00   sec"));
        const struct cstream *st = &c->streams[i];
        const struct ip3_stream_result *p = ip3_results_find(&c->peer, st->id);
        assert_non_null(p);
        uint64_t sent = reverse ? p->bytes : st->bytes;
        uint64_t got = reverse ? st->bytes : p->bytes;
        /* The sender counts what it sent, the receiver what it read while
         * the test ran: they differ by what was in flight. */
        assert_true(got > 64 * 1024 && sent > 64 * 1024);
        assert_true(got <= sent + 64 * 1024 && sent <= got + 64 * 1024);
        assert_true(p->end_time > 1.9 && p->end_time < 2.2);
    }
    if (parallel > 1) {
        assert_non_null(find_line(out, "[SUM]", "sender"));
        assert_non_null(find_line(out, "[SUM]", "receiver"));
    }
    assert_non_null(strstr(sm.report, "iperf3: 10.0.0.1 port "));
    assert_non_null(strstr(sm.report, reverse ? ": sent " : ": received "));
    end_client(c);
    sim_teardown(&sm);
}

static void test_e2e_forward(void **state)
{
    (void)state;
    run_full_test(1, false);
}

static void test_e2e_reverse(void **state)
{
    (void)state;
    run_full_test(1, true);
}

static void test_e2e_parallel(void **state)
{
    (void)state;
    run_full_test(3, false);
    run_full_test(2, true);
}

static void test_e2e_busy_and_refused(void **state)
{
    (void)state;
    struct sim sm;
    sim_setup(&sm);
    struct client *first = new_client(&sm, IP3_PORT, 3, 1, false);
    sim_run(&sm, NULL, NULL, 1 * US_SEC);
    assert_int_equal(first->phase, CP_RUNNING);
    struct client *second = new_client(&sm, IP3_PORT, 1, 1, false);
    sim_run(&sm, client_is_over, second, 10 * US_SEC);
    assert_int_equal(second->phase, CP_FAILED);
    assert_non_null(strstr(second->err, "busy"));
    struct client *nobody = new_client(&sm, 5202, 1, 1, false);
    sim_run(&sm, client_is_over, nobody, 10 * US_SEC);
    assert_int_equal(nobody->phase, CP_FAILED);
    assert_non_null(strstr(nobody->err, "Connection refused"));
    /* The first test is not disturbed. */
    sim_run(&sm, client_is_over, first, 30 * US_SEC);
    assert_int_equal(first->phase, CP_FINISHED);
    end_client(second);
    end_client(nobody);
    end_client(first);
    sim_teardown(&sm);
}

static void test_e2e_client_terminates(void **state)
{
    (void)state;
    struct sim sm;
    sim_setup(&sm);
    struct client *c = new_client(&sm, IP3_PORT, 10, 2, true);
    sim_run(&sm, NULL, NULL, 2 * US_SEC);
    assert_int_equal(c->phase, CP_RUNNING);
    end_client(c); /* sends CLIENT_TERMINATE, closes everything */
    sim_run(&sm, NULL, NULL, 1 * US_SEC);
    fflush(sm.report_f);
    assert_non_null(strstr(sm.report, "test aborted: the client has terminated"));
    /* The server is free for the next test. */
    c = new_client(&sm, IP3_PORT, 1, 1, false);
    sim_run(&sm, client_is_over, c, 30 * US_SEC);
    assert_int_equal(c->phase, CP_FINISHED);
    end_client(c);
    sim_teardown(&sm);
}

static void test_e2e_no_intervals_and_omit(void **state)
{
    (void)state;
    struct sim sm;
    sim_setup(&sm);
    struct client *c = new_client(&sm, IP3_PORT, 2, 1, false);
    c->o.interval = 0;
    c->params.omit = 1; /* the server leaves the first second out */
    sim_run(&sm, client_is_over, c, 60 * US_SEC);
    assert_int_equal(c->phase, CP_FINISHED);
    /* Without intervals, iperf3 reports the whole test as one. */
    assert_non_null(strstr(c->out, "Retr  Cwnd\n[  5]   0.00-2.00   sec"));
    assert_null(strstr(c->out, "0.00-1.00"));
    const struct ip3_stream_result *p = ip3_results_find(&c->peer, 1);
    assert_non_null(p);
    assert_true(p->end_time > 0.9 && p->end_time < 1.2);
    assert_true(p->bytes > 0 && p->bytes < c->streams[0].bytes * 3 / 4);
    end_client(c);
    sim_teardown(&sm);
}

/* A hand-driven control connection, to send what our client never does. */
struct raw_ctrl {
    struct ip3_ctrl ctrl;
    bool connected;
};

static void raw_event(void *ctx, struct us_tcp_pcb *pcb, unsigned ev)
{
    struct raw_ctrl *r = ctx;
    (void)pcb;
    if (ev & US_TCP_EV_CONNECTED)
        r->connected = true;
    ip3_ctrl_pull(&r->ctrl);
}

static bool raw_has(void *ctx)
{
    struct raw_ctrl *r = ctx;
    return r->ctrl.rx.len > 0 || r->ctrl.eof;
}

static bool raw_connected(void *ctx)
{
    return ((struct raw_ctrl *)ctx)->connected;
}

static void test_e2e_server_rejects_udp(void **state)
{
    (void)state;
    struct sim sm;
    sim_setup(&sm);
    struct raw_ctrl r = {0};
    r.ctrl.pcb = us_tcp_new(sm.a.s, raw_event, &r);
    struct us_addr dst;
    us_addr_parse("10.0.0.2", &dst);
    assert_int_equal(us_tcp_connect(r.ctrl.pcb, &dst, IP3_PORT), 0);
    sim_run(&sm, raw_connected, &r, 5 * US_SEC);
    assert_true(r.connected);
    char cookie[IP3_COOKIE_SIZE];
    uint8_t rnd[IP3_COOKIE_SIZE - 1] = {0};
    ip3_make_cookie(cookie, rnd);
    assert_int_equal(ip3_ctrl_send(&r.ctrl, cookie, sizeof(cookie)), 0);
    sim_run(&sm, raw_has, &r, 5 * US_SEC);
    int st;
    assert_int_equal(ip3_rx_take_state(&r.ctrl.rx, &st), 1);
    assert_int_equal(st, IP3_PARAM_EXCHANGE);
    const char *params = "{\"udp\":true,\"time\":1,\"parallel\":1,\"len\":1400}";
    assert_int_equal(ip3_ctrl_send_json(&r.ctrl, params, strlen(params)), 0);
    sim_run(&sm, raw_has, &r, 5 * US_SEC);
    sim_run(&sm, NULL, NULL, 1 * US_SEC);
    uint8_t msg[9];
    assert_int_equal(ip3_rx_take(&r.ctrl.rx, msg, sizeof(msg)), 1);
    assert_int_equal((int8_t)msg[0], IP3_SERVER_ERROR);
    assert_int_equal(msg[4], IP3_IE_UNIMP); /* i_errno, big-endian */
    assert_int_equal(msg[1] | msg[2] | msg[3], 0);
    assert_true(r.ctrl.eof); /* and the server hangs up */
    r.ctrl.pcb->event = NULL;
    us_tcp_close(r.ctrl.pcb);
    ip3_ctrl_free(&r.ctrl);
    fflush(sm.report_f);
    assert_non_null(strstr(sm.report, "UDP tests are not supported"));
    sim_teardown(&sm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parse_values),
        cmocka_unit_test(test_json_rejects_malformed),
        cmocka_unit_test(test_json_write_round_trip),
        cmocka_unit_test(test_json_writer_misuse),
        cmocka_unit_test(test_params_to_json_like_iperf3),
        cmocka_unit_test(test_params_from_real_client),
        cmocka_unit_test(test_params_rejected),
        cmocka_unit_test(test_results_round_trip),
        cmocka_unit_test(test_results_from_real_server),
        cmocka_unit_test(test_results_rejected),
        cmocka_unit_test(test_framing_split_messages),
        cmocka_unit_test(test_framing_limits),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_number_formats),
        cmocka_unit_test(test_client_options),
        cmocka_unit_test(test_e2e_forward),
        cmocka_unit_test(test_e2e_reverse),
        cmocka_unit_test(test_e2e_parallel),
        cmocka_unit_test(test_e2e_no_intervals_and_omit),
        cmocka_unit_test(test_e2e_busy_and_refused),
        cmocka_unit_test(test_e2e_client_terminates),
        cmocka_unit_test(test_e2e_server_rejects_udp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
