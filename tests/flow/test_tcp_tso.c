/* TCP flow tests: segmentation offload. On a link whose driver cuts large
 * frames into segments (us_driver.tso_max, a TAP with offloads), new data
 * leaves in frames of several full segments; a frame ends short only where
 * the data does; retransmissions stay one MSS; and with SACK blocks to
 * send (whose number changes the header length) frames are one MSS. */
#include "flow_tcp.h"

#include <string.h>

#include "core/stack.h"

static struct flow *tso_flow(void)
{
    struct flow_opts o = {.tso_max = 65000};
    return tc_flow(&o);
}

/* The initial window (RFC 6928: ten segments) leaves as one frame; once it
 * is acknowledged the rest, the end of the data, as one more with PSH. */
static void test_window_in_one_frame(void **state)
{
    (void)state;
    struct flow *f = tso_flow();
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t mss = c.pcb->mss, off = 0;
    tc_send(&c, &off, 15 * mss + 100);
    tc_out(&c, ".", 1, 1, 10 * mss);
    tc_expect_none(&c);
    tc_in(&c, ".", 1, 1 + 10 * mss, 0);
    tc_out(&c, "P.", 1 + 10 * mss, 1, 5 * mss + 100);
    tc_expect_none(&c);
}

/* Without TSO the same window is ten segments of one MSS. */
static void test_without_tso_one_mss_per_frame(void **state)
{
    (void)state;
    struct flow *f = tc_flow(NULL);
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t mss = c.pcb->mss, off = 0;
    tc_send(&c, &off, 15 * mss);
    for (uint32_t i = 0; i < 10; i++)
        tc_out(&c, ".", 1 + i * mss, 1, mss);
    tc_expect_none(&c);
}

/* A window that ends mid-segment: the frame stops at the last whole
 * segment, and the remainder waits (sender SWS avoidance). */
static void test_window_edge_cuts_whole_segments(void **state)
{
    (void)state;
    struct flow *f = tso_flow();
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t mss = c.pcb->mss, off = 0;
    tc_send(&c, &off, 20 * mss);
    tc_out(&c, ".", 1, 1, 10 * mss);
    /* All acknowledged, and the window now 13.5 segments from there. */
    uint32_t win = (27 * mss / 2) >> c.pcb->snd_wscale;
    tc_in_full(&c, ".", 1, 1 + 10 * mss, (uint16_t)win, NULL, 0);
    const struct tc_rx *rx = tc_out(&c, ".", 1 + 10 * mss, 1, TC_ANY);
    assert_int_equal(rx->len % mss, 0);
    assert_true(rx->len >= 10 * mss);
    tc_expect_none(&c);
}

/* After a timeout the first segment goes again, one MSS long. */
static void test_retransmission_is_one_mss(void **state)
{
    (void)state;
    struct flow *f = tso_flow();
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t mss = c.pcb->mss, off = 0;
    tc_send(&c, &off, 10 * mss);
    tc_out(&c, "P.", 1, 1, 10 * mss);
    assert_true(tc_run_until_sent(f, 3 * US_SEC));
    tc_out(&c, ".", 1, 1, mss);
}

/* Out-of-order data from the peer: our segments carry SACK blocks, so
 * each frame is one MSS. */
static void test_sack_blocks_turn_it_off(void **state)
{
    (void)state;
    struct flow *f = tso_flow();
    struct tc_conn c = {0};
    tc_accept(&c, f, 8080, NULL);
    uint32_t mss = c.pcb->mss, off = 0;
    tc_in(&c, ".", 1 + 100, 1, 100); /* a hole at [1, 101) */
    tc_out(&c, ".", 1, 1, 0);        /* the duplicate ACK with a SACK block */
    tc_send(&c, &off, 3 * mss);
    for (uint32_t i = 0; i < 3; i++)
        tc_out(&c, i == 2 ? "P." : ".", 1 + i * mss, 1, mss);
    tc_expect_none(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_window_in_one_frame, tc_teardown),
        cmocka_unit_test_teardown(test_without_tso_one_mss_per_frame, tc_teardown),
        cmocka_unit_test_teardown(test_window_edge_cuts_whole_segments, tc_teardown),
        cmocka_unit_test_teardown(test_retransmission_is_one_mss, tc_teardown),
        cmocka_unit_test_teardown(test_sack_blocks_turn_it_off, tc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
