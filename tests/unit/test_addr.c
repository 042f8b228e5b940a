/* Unit tests for address text parsing and formatting (src/core/addr.c,
 * include/ustack/addr.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ustack/addr.h"

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t bytes[4] = {a, b, c, d};
    uint32_t v;
    memcpy(&v, bytes, 4);
    return v;
}

/* Copies text into an exactly sized heap buffer, so a parser that reads past
 * the terminating NUL trips AddressSanitizer. */
static char *exact(const char *text)
{
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, text, n);
    return copy;
}

static int parse_addr(const char *text, struct us_addr *out)
{
    char *copy = exact(text);
    int rc = us_addr_parse(copy, out);
    free(copy);
    return rc;
}

static int parse_mac(const char *text, struct us_mac *out)
{
    char *copy = exact(text);
    int rc = us_mac_parse(copy, out);
    free(copy);
    return rc;
}

static void test_ip4_parse_good(void **state)
{
    (void)state;
    const struct {
        const char *text;
        uint8_t b[4];
    } cases[] = {
        {"10.0.0.1", {10, 0, 0, 1}},
        {"0.0.0.0", {0, 0, 0, 0}},
        {"255.255.255.255", {255, 255, 255, 255}},
        {"192.168.100.254", {192, 168, 100, 254}},
        {"1.2.3.4", {1, 2, 3, 4}},
        {"224.0.0.22", {224, 0, 0, 22}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct us_addr a;
        memset(&a, 0xee, sizeof a);
        assert_int_equal(parse_addr(cases[i].text, &a), 0);
        assert_int_equal(a.family, US_AF_INET);
        assert_int_equal(a.v4, ip(cases[i].b[0], cases[i].b[1], cases[i].b[2], cases[i].b[3]));
    }
}

/* v4 is in network order: the first octet is the first byte in memory. */
static void test_ip4_network_order(void **state)
{
    (void)state;
    struct us_addr a;
    assert_int_equal(parse_addr("10.20.30.40", &a), 0);
    const uint8_t *b = (const uint8_t *)&a.v4;
    assert_int_equal(b[0], 10);
    assert_int_equal(b[1], 20);
    assert_int_equal(b[2], 30);
    assert_int_equal(b[3], 40);
}

static void test_ip4_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",          "1.2.3",    "256.1.1.1",  "1.2.3.256",  "1.2.3.4.5",  "1.2.3.",
        ".1.2.3",    "1..2.3",   "a.b.c.d",    "1.2.3.4x",   " 1.2.3.4",   "1.2.3.4 ",
        "1.2.3.-4",  "+1.2.3.4", "1.2.3.4/24", "999.0.0.1",  "1.2.3.1000", "1,2,3,4",
        "0x1.2.3.4", "1.2.3.4.", "...",        "4294967295", "10.0.0.1\n", "1.2.3.0004",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct us_addr a = {0};
        if (parse_addr(bad[i], &a) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    struct us_addr a;
    assert_int_equal(us_addr_parse(NULL, &a), -1);
}

static void test_ip4_format(void **state)
{
    (void)state;
    char buf[46];
    struct us_addr a = us_addr4(ip(10, 0, 0, 2));
    assert_ptr_equal(us_addr_str(&a, buf, sizeof buf), buf);
    assert_string_equal(buf, "10.0.0.2");
    a = us_addr4(ip(255, 255, 255, 255));
    assert_string_equal(us_addr_str(&a, buf, sizeof buf), "255.255.255.255");
    a = us_addr4(0);
    assert_string_equal(us_addr_str(&a, buf, sizeof buf), "0.0.0.0");
}

/* A short buffer is never overrun and stays NUL-terminated. */
static void test_ip4_format_short_buffer(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof buf);
    struct us_addr a = us_addr4(ip(192, 168, 100, 254));
    us_addr_str(&a, buf, 6);
    assert_int_equal(buf[5], '\0');
    assert_int_equal(buf[6], 'x');
    assert_memory_equal(buf, "192.1", 5);
}

static void test_ip4_round_trip(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (int i = 0; i < 2000; i++) {
        x = x * 1103515245u + 12345u;
        struct us_addr a = us_addr4(x), back;
        char buf[46];
        assert_int_equal(parse_addr(us_addr_str(&a, buf, sizeof buf), &back), 0);
        assert_true(us_addr_eq(&a, &back));
    }
}

static void test_addr_eq_and_any(void **state)
{
    (void)state;
    struct us_addr a = us_addr4(ip(10, 0, 0, 1)), b = us_addr4(ip(10, 0, 0, 1));
    struct us_addr c = us_addr4(ip(10, 0, 0, 2)), any4 = us_addr4(0);
    assert_true(us_addr_eq(&a, &b));
    assert_false(us_addr_eq(&a, &c));
    assert_false(us_addr_is_any(&a));
    assert_true(us_addr_is_any(&any4));

    struct us_addr s6 = {.family = US_AF_INET6}, t6 = {.family = US_AF_INET6};
    assert_true(us_addr_is_any(&s6));
    t6.v6[15] = 1;
    assert_false(us_addr_is_any(&t6));
    assert_false(us_addr_eq(&s6, &t6));
    s6.v6[15] = 1;
    assert_true(us_addr_eq(&s6, &t6));
    /* Different families never compare equal, even with the same leading bytes. */
    struct us_addr v4zero = us_addr4(0), v6zero = {.family = US_AF_INET6};
    assert_false(us_addr_eq(&v4zero, &v6zero));
}

static void test_mac_parse_good(void **state)
{
    (void)state;
    struct us_mac m;
    const uint8_t want1[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal(parse_mac("02:00:00:00:00:01", &m), 0);
    assert_memory_equal(m.b, want1, 6);
    const uint8_t want2[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    assert_int_equal(parse_mac("AA:bb:Cc:dD:EE:ff", &m), 0);
    assert_memory_equal(m.b, want2, 6);
    const uint8_t want3[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(parse_mac("ff:ff:ff:ff:ff:ff", &m), 0);
    assert_memory_equal(m.b, want3, 6);
}

static void test_mac_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "01:02:03:04:05",
        "01:02:03:04:05:",
        "01:02:03:04:05:06:",
        "01:02:03:04:05:06:07",
        "zz:00:00:00:00:00",
        "00:00:00:00:00:zz",
        "0g:00:00:00:00:00",
        "01:02:03:04:05:6",
        "01-02-03-04-05-06",
        "0102.0304.0506",
        "010203040506",
        " 01:02:03:04:05:06",
        "01:02:03:04:05:06 ",
        "001:02:03:04:05:06",
        ":01:02:03:04:05:06",
        "0",
        "01:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct us_mac m;
        if (parse_mac(bad[i], &m) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    struct us_mac m;
    assert_int_equal(us_mac_parse(NULL, &m), -1);
}

static void test_mac_format_and_round_trip(void **state)
{
    (void)state;
    char buf[18];
    struct us_mac m = {{0x02, 0x00, 0x5e, 0x10, 0xab, 0xff}};
    assert_ptr_equal(us_mac_str(&m, buf, sizeof buf), buf);
    assert_string_equal(buf, "02:00:5e:10:ab:ff");
    for (int i = 0; i < 256; i++) {
        struct us_mac in, out;
        for (int k = 0; k < 6; k++)
            in.b[k] = (uint8_t)(i * (k + 3) + k);
        assert_int_equal(parse_mac(us_mac_str(&in, buf, sizeof buf), &out), 0);
        assert_memory_equal(in.b, out.b, 6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip4_parse_good),
        cmocka_unit_test(test_ip4_network_order),
        cmocka_unit_test(test_ip4_parse_rejects),
        cmocka_unit_test(test_ip4_format),
        cmocka_unit_test(test_ip4_format_short_buffer),
        cmocka_unit_test(test_ip4_round_trip),
        cmocka_unit_test(test_addr_eq_and_any),
        cmocka_unit_test(test_mac_parse_good),
        cmocka_unit_test(test_mac_parse_rejects),
        cmocka_unit_test(test_mac_format_and_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
