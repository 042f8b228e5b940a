/* TCP byte rings: wrap-around, growth that keeps out-of-order bytes in
 * place, interval merging, and giving idle memory back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/tcp_buf.h"

static void fill(uint8_t *p, uint32_t n, uint32_t start)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)((start + i) * 31 + 7);
}

static void test_sndbuf_wraps_and_copies(void **state)
{
    (void)state;
    struct tcp_sndbuf b = {.limit = 10000};
    uint8_t data[10000], out[10000];
    fill(data, sizeof(data), 0);
    assert_int_equal(tcp_sndbuf_append(&b, data, 6000), 6000);
    tcp_sndbuf_consume(&b, 5000);
    /* Appending past the ring's end wraps; the limit caps what is taken. */
    assert_int_equal(tcp_sndbuf_append(&b, data + 6000, 4000), 4000);
    assert_int_equal(tcp_sndbuf_append(&b, data, 9000), 10000 - 5000);
    assert_int_equal(tcp_sndbuf_space(&b), 0);
    tcp_sndbuf_copy(&b, 0, out, 5000);
    assert_memory_equal(out, data + 5000, 5000);
    tcp_sndbuf_consume(&b, 10000);
    assert_int_equal(b.len, 0);
    assert_non_null(b.buf); /* a ring that grew stays: no malloc per segment */
    tcp_sndbuf_free(&b);
    /* One of the smallest size is given back once empty. */
    assert_int_equal(tcp_sndbuf_append(&b, data, 100), 100);
    tcp_sndbuf_consume(&b, 100);
    assert_null(b.buf);
}

static void test_rcvbuf_in_order_and_wrap(void **state)
{
    (void)state;
    struct tcp_rcvbuf b = {.limit = 8192};
    uint8_t data[20000], out[20000];
    fill(data, sizeof(data), 0);
    uint32_t nxt = 1000, got = 0, put = 0;
    /* Write and read in odd-sized chunks so the ring wraps many times. */
    while (got < 20000) {
        uint32_t n = 20000 - put < 1777 ? 20000 - put : 1777;
        if (n && tcp_rcvbuf_space(&b) >= n) {
            assert_int_equal(tcp_rcvbuf_store(&b, nxt, 0, data + put, n), 0);
            nxt = tcp_rcvbuf_advance(&b, nxt, n);
            put += n;
        }
        got += (uint32_t)tcp_rcvbuf_read(&b, out + got, 1234, false);
    }
    assert_int_equal(nxt, 1000 + 20000);
    assert_memory_equal(out, data, 20000);
    tcp_rcvbuf_free(&b);
}

static void test_rcvbuf_out_of_order_survives_growth(void **state)
{
    (void)state;
    struct tcp_rcvbuf b = {.limit = 1 << 20};
    uint8_t data[300000], out[300000];
    fill(data, sizeof(data), 0);
    uint32_t nxt = 0xfffff000u; /* across the sequence wrap too */
    /* Far segment first (forces growth with nothing in order yet). */
    assert_int_equal(tcp_rcvbuf_store(&b, nxt, 200000, data + 200000, 100000), 0);
    assert_int_equal(tcp_rcvbuf_ooo_add(&b, nxt, nxt + 200000, 100000), 0);
    assert_int_equal(tcp_rcvbuf_store(&b, nxt, 1000, data + 1000, 99000), 0);
    assert_int_equal(tcp_rcvbuf_ooo_add(&b, nxt, nxt + 1000, 99000), 0);
    assert_int_equal(b.nooo, 2);
    /* Filling [100000, 200000) joins the two ranges into one. */
    assert_int_equal(tcp_rcvbuf_store(&b, nxt, 100000, data + 100000, 100000), 0);
    assert_int_equal(tcp_rcvbuf_ooo_add(&b, nxt, nxt + 100000, 100000), 0);
    assert_int_equal(b.nooo, 1);
    assert_int_equal(tcp_rcvbuf_ooo_span(&b, nxt), 300000);
    /* The first 1000 bytes make everything readable. */
    assert_int_equal(tcp_rcvbuf_store(&b, nxt, 0, data, 1000), 0);
    nxt = tcp_rcvbuf_advance(&b, nxt, 1000);
    assert_int_equal(nxt, 0xfffff000u + 300000);
    assert_int_equal(b.unread, 300000);
    assert_int_equal(b.nooo, 0);
    assert_int_equal(tcp_rcvbuf_read(&b, out, sizeof(out), false), 300000);
    assert_memory_equal(out, data, 300000);
    tcp_rcvbuf_free(&b);
}

static void test_rcvbuf_interval_table_full(void **state)
{
    (void)state;
    struct tcp_rcvbuf b = {.limit = 1 << 20};
    for (uint32_t i = 0; i < TCP_OOO_MAX; i++)
        assert_int_equal(tcp_rcvbuf_ooo_add(&b, 0, 100 + i * 100, 10), 0);
    /* A disjoint range no longer fits; one touching an existing range does. */
    assert_int_equal(tcp_rcvbuf_ooo_add(&b, 0, 5000, 10), -1);
    assert_int_equal(tcp_rcvbuf_ooo_add(&b, 0, 110, 5), 0);
    assert_int_equal(b.ooo[0].start, 100);
    assert_int_equal(b.ooo[0].end, 115);
    tcp_rcvbuf_free(&b);
}

static void test_rcvbuf_peek_keeps_data(void **state)
{
    (void)state;
    struct tcp_rcvbuf b = {.limit = 4096};
    uint8_t out[8];
    assert_int_equal(tcp_rcvbuf_store(&b, 0, 0, (const uint8_t *)"abcdef", 6), 0);
    tcp_rcvbuf_advance(&b, 0, 6);
    assert_int_equal(tcp_rcvbuf_read(&b, out, 3, true), 3);
    assert_int_equal(tcp_rcvbuf_read(&b, out, 8, false), 6);
    assert_memory_equal(out, "abcdef", 6);
    assert_null(b.buf);
    tcp_rcvbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sndbuf_wraps_and_copies),
        cmocka_unit_test(test_rcvbuf_in_order_and_wrap),
        cmocka_unit_test(test_rcvbuf_out_of_order_survives_growth),
        cmocka_unit_test(test_rcvbuf_interval_table_full),
        cmocka_unit_test(test_rcvbuf_peek_keeps_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
