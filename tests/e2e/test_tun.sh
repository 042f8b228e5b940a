#!/usr/bin/env bash
# ustack on a TUN device (bare IPv4, no Ethernet, no ARP): the kernel pings
# it, with and without fragmentation, and uses the UDP echo service.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tun
ustack_start --service all

ping_ok "TUN: default size" 3 -i 0.2
ping_ok "TUN: 4000 bytes (fragmented both ways)" 3 -i 0.2 -s 4000

head -c 3000 /dev/urandom >"$TMP/in"
udp_exchange 7 "$TMP/in" "$TMP/out"
assert_eq "TUN: UDP echo of 3000 bytes (sha256)" "$(sha256sum <"$TMP/in")" "$(sha256sum <"$TMP/out")"
log "TUN: UDP echo of 3000 bytes intact"

ustack_stop
assert_counter_ge ip4.reasm_ok 4
assert_counter_ge ip4.frag_out 4
assert_counter_eq arp.tx 0
# The capture is raw IPv4 (no Ethernet header).
n=$(tshark_count "$US_PCAP" "eth")
assert_eq "Ethernet frames in a TUN capture" 0 "$n"
n=$(tshark_count "$US_PCAP" "ip.src == $STACK_IP && icmp.type == 0")
assert_ge "echo replies (and fragments) in the TUN capture" 6 "$n"
