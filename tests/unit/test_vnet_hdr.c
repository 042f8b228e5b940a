/* Unit tests for received virtio-net headers (src/link/vnet_hdr.c): the
 * checksum a TAP with offloads leaves partial is completed, GSO frames are
 * taken only as offered, and headers that cannot describe their frame are
 * refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/stack.h"
#include "link/vnet_hdr.h"
#include "ustack/ustack.h"
#include "wire/checksum.h"

/* 10.0.0.1:12345 -> 10.0.0.2:7 UDP "hello" behind an IPv4 header: the UDP
 * checksum 0x77bf is the one test_wire_udp.c computed independently. */
static const uint8_t udp_packet[] = {
    0x45, 0x00, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 10,  0,   0,   1,   10,
    0,    0,    2,    0x30, 0x39, 0x00, 0x07, 0x00, 0x0d, 0x77, 0xbf, 'h',  'e', 'l', 'l', 'o',
};
#define UDP_AT 20 /* csum_start */
#define UDP_CSUM_AT (UDP_AT + 6)

static struct ustack *stack;

static int setup(void **state)
{
    (void)state;
    struct us_config cfg;
    us_config_defaults(&cfg);
    stack = us_stack_new(&cfg);
    return stack ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    us_stack_free(stack);
    return 0;
}

static struct us_pkt *packet(const uint8_t *bytes, size_t len)
{
    struct us_pkt *p = us_pkt_alloc(stack, len);
    assert_non_null(p);
    memcpy(p->data, bytes, len);
    return p;
}

/* The kernel's partial checksum: the pseudo-header sum, folded, not
 * complemented (what csum_tcpudp_magic leaves before the final ~). */
static void make_partial(uint8_t *pkt)
{
    struct us_addr src = {.family = US_AF_INET}, dst = {.family = US_AF_INET};
    memcpy(&src.v4, pkt + 12, 4);
    memcpy(&dst.v4, pkt + 16, 4);
    uint16_t partial = (uint16_t)~us_csum_fold(us_csum_pseudo(&src, &dst, 17, 13));
    memcpy(pkt + UDP_CSUM_AT, &partial, 2);
}

static void test_plain_header_changes_nothing(void **state)
{
    (void)state;
    struct virtio_net_hdr h = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
    struct us_pkt *p = packet(udp_packet, sizeof udp_packet);
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    assert_int_equal(p->csum_ok, 0);
    assert_memory_equal(p->data, udp_packet, sizeof udp_packet);
    us_pkt_free(p);
}

static void test_data_valid_skips_the_check(void **state)
{
    (void)state;
    struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};
    struct us_pkt *p = packet(udp_packet, sizeof udp_packet);
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    assert_int_equal(p->csum_ok, 1);
    us_pkt_free(p);
}

static void test_partial_checksum_is_completed(void **state)
{
    (void)state;
    uint8_t bytes[sizeof udp_packet];
    memcpy(bytes, udp_packet, sizeof bytes);
    make_partial(bytes);
    assert_memory_not_equal(bytes + UDP_CSUM_AT, udp_packet + UDP_CSUM_AT, 2);
    struct virtio_net_hdr h = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = UDP_AT, .csum_offset = 6};
    struct us_pkt *p = packet(bytes, sizeof bytes);
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    assert_int_equal(p->csum_ok, 1);
    /* Left partial, marked; completed when asked (a capture, an ICMP quote). */
    assert_memory_equal(p->data, bytes, sizeof bytes);
    assert_ptr_equal(p->buf + p->csum_l4, p->data + UDP_AT);
    us_pkt_csum_complete(p);
    assert_int_equal(p->csum_l4, 0);
    assert_memory_equal(p->data, udp_packet, sizeof udp_packet); /* 0x77bf back */
    us_pkt_csum_complete(p); /* complete already: nothing changes */
    assert_memory_equal(p->data, udp_packet, sizeof udp_packet);
    us_pkt_free(p);
}

static void test_checksum_field_past_the_end_is_refused(void **state)
{
    (void)state;
    struct virtio_net_hdr h = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = UDP_AT, .csum_offset = 6};
    struct us_pkt *p = packet(udp_packet, sizeof udp_packet);
    h.csum_start = sizeof udp_packet - 7; /* the field's last byte past the end */
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    h.csum_start--; /* the last two bytes: in bounds */
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    h.csum_offset = 7; /* neither UDP's (6) nor TCP's (16) field */
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    h.csum_start = 0xffff;
    h.csum_offset = 0xffff; /* no wrap-around */
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    us_pkt_free(p);
}

static void test_gso_only_as_offered(void **state)
{
    (void)state;
    struct us_pkt *p = packet(udp_packet, sizeof udp_packet);
    const struct virtio_net_hdr tcp4 = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                        .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                        .gso_size = 1448,
                                        .hdr_len = 20,
                                        .csum_start = UDP_AT,
                                        .csum_offset = 6};
    struct virtio_net_hdr h = tcp4;
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    const uint8_t refused[] = {VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_HDR_GSO_TCPV6, 2, 0x7f};
    for (size_t i = 0; i < sizeof refused; i++) {
        h = tcp4;
        h.gso_type = refused[i];
        assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    }
    h = tcp4;
    h.flags = 0; /* a segment to split needs its checksum left partial */
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    h = tcp4;
    h.gso_size = 0;
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    h = tcp4;
    h.hdr_len = sizeof udp_packet + 1;
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_link_bad_vnet_hdr);
    us_pkt_free(p);
}

/* A TSO frame: 14-byte Ethernet header, IPv4 (20), TCP (20 + 12 of
 * options), 3000 bytes of payload, the full checksum filled in. */
#define TSO_PAYLOAD 3000
#define TSO_TCP_AT (14 + 20)
static struct us_pkt *tso_frame(uint16_t gso_size)
{
    size_t tcp_len = 32 + TSO_PAYLOAD;
    struct us_pkt *p = us_pkt_alloc(stack, TSO_TCP_AT + tcp_len);
    assert_non_null(p);
    uint8_t *f = p->data;
    memset(f, 0, p->len);
    f[12] = 0x08;
    uint8_t *ip = f + 14, *tcp = f + TSO_TCP_AT;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + tcp_len) >> 8);
    ip[3] = (uint8_t)(20 + tcp_len);
    ip[8] = 64;
    ip[9] = 6;
    const uint8_t a[4] = {10, 0, 0, 2}, b[4] = {10, 0, 0, 1};
    memcpy(ip + 12, a, 4);
    memcpy(ip + 16, b, 4);
    tcp[12] = 8 << 4; /* 32-byte header */
    for (size_t i = 32; i < tcp_len; i++)
        tcp[i] = (uint8_t)i;
    struct us_addr src = {.family = US_AF_INET}, dst = {.family = US_AF_INET};
    memcpy(&src.v4, a, 4);
    memcpy(&dst.v4, b, 4);
    uint16_t c =
        us_csum_fold(us_csum_add(us_csum_pseudo(&src, &dst, 6, (uint32_t)tcp_len), tcp, tcp_len));
    memcpy(tcp + 16, &c, 2);
    p->gso_size = gso_size;
    return p;
}

static void test_tx_plain_frame_gets_an_empty_header(void **state)
{
    (void)state;
    struct us_pkt *p = tso_frame(0);
    uint8_t before[TSO_TCP_AT + 32];
    memcpy(before, p->data, sizeof before);
    struct virtio_net_hdr h;
    memset(&h, 0xff, sizeof h);
    us_vnet_hdr_tx(&h, p, true);
    const struct virtio_net_hdr none = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
    assert_memory_equal(&h, &none, sizeof h);
    assert_memory_equal(p->data, before, sizeof before);
    us_pkt_free(p);
}

/* A TSO frame goes as GSO_TCPV4 with a partial checksum: completing it as
 * the kernel would (us_vnet_hdr_rx's NEEDS_CSUM rule) gives back the full
 * checksum the frame was built with. */
static void test_tx_tso_frame_goes_as_gso(void **state)
{
    (void)state;
    struct us_pkt *p = tso_frame(1448);
    uint8_t full[2];
    memcpy(full, p->data + TSO_TCP_AT + 16, 2);
    struct virtio_net_hdr h;
    us_vnet_hdr_tx(&h, p, true);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(h.gso_size, 1448);
    assert_int_equal(h.hdr_len, TSO_TCP_AT + 32);
    assert_int_equal(h.csum_start, TSO_TCP_AT);
    assert_int_equal(h.csum_offset, 16);
    assert_memory_not_equal(p->data + TSO_TCP_AT + 16, full, 2);
    assert_int_equal(us_vnet_hdr_rx(&h, p), US_DROP_none);
    us_pkt_csum_complete(p);
    assert_memory_equal(p->data + TSO_TCP_AT + 16, full, 2);
    us_pkt_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_header_changes_nothing),
        cmocka_unit_test(test_data_valid_skips_the_check),
        cmocka_unit_test(test_partial_checksum_is_completed),
        cmocka_unit_test(test_checksum_field_past_the_end_is_refused),
        cmocka_unit_test(test_gso_only_as_offered),
        cmocka_unit_test(test_tx_plain_frame_gets_an_empty_header),
        cmocka_unit_test(test_tx_tso_frame_goes_as_gso),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
