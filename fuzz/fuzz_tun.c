/* libFuzzer target: IPv4 packets into an IP (TUN) interface.
 *
 * The harness is the one of fuzz_tap.c (one long-lived stack, UDP echo on
 * port 7, the same record format and checksum-fixing flag) with an IP-type
 * interface: no Ethernet header, no ARP. See fuzz/README.md. */
#define FUZZ_LINK_IP 1
#include "fuzz_tap.c"
