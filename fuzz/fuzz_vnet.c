/* libFuzzer target: Ethernet frames behind a virtio-net header, as a TAP
 * with checksum and segmentation offload delivers them (link/vnet_hdr.h).
 *
 * The harness is the one of fuzz_tap.c (one long-lived stack, the same
 * record format and checksum-fixing flag); each record's frame starts with
 * the 10-byte header, which us_vnet_hdr_rx() judges before the frame goes
 * in: checksums it completes, GSO frames past the MTU. See fuzz/README.md. */
#define FUZZ_VNET 1
#include "fuzz_tap.c"
