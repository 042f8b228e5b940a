#!/usr/bin/env bash
# ustack on a TUN device (bare IPv4, no Ethernet, no ARP): the kernel pings
# it, with and without fragmentation, and uses the UDP and TCP echo
# services; TCP goes with segmentation offload both ways, as on a TAP.
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

head -c 2000000 /dev/urandom >"$TMP/big"
timeout -k 5 30 ip netns exec "$NS" socat -b 65536 -t 10 - "TCP:$STACK_IP:7" \
    <"$TMP/big" >"$TMP/big.out" 2>"$TMP/big.err" || true
assert_eq "TUN: TCP echo of 2 MB (sha256)" "$(sha256sum <"$TMP/big")" "$(sha256sum <"$TMP/big.out")"
log "TUN: TCP echo of 2 MB intact"

E2E_PCAP_CHECK=0 ustack_stop
pcap_check_except "$US_PCAP" "$TCP_EXPERT_OK"
n=$(tshark_count "$US_PCAP" "ip.dst == $STACK_IP && tcp && frame.len > 1500")
assert_ge "TUN: TCP packets from the kernel longer than the MTU (offload)" 1 "$n"
n=$(tshark_count "$US_PCAP" "ip.src == $STACK_IP && tcp && frame.len > 1500")
assert_ge "TUN: TCP packets from the stack longer than the MTU (offload)" 1 "$n"
assert_counter_ge ip4.reasm_ok 4
assert_counter_ge ip4.frag_out 4
assert_counter_eq arp.tx 0
# The capture is raw IPv4 (no Ethernet header).
n=$(tshark_count "$US_PCAP" "eth")
assert_eq "Ethernet frames in a TUN capture" 0 "$n"
n=$(tshark_count "$US_PCAP" "ip.src == $STACK_IP && icmp.type == 0")
assert_ge "echo replies (and fragments) in the TUN capture" 6 "$n"
