#!/usr/bin/env bash
# ICMP echo (RFC 792) from the kernel: default size, 4000 bytes (IPv4
# reassembly on input and fragmentation on output, RFC 791), and 65000 bytes
# (44 fragments each way). No loss allowed.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start

ping_ok "default size" 5 -i 0.2
# The kernel resolved the stack with ARP on the way.
neigh=$(nsx ip neigh show "$STACK_IP" dev ust0)
assert_contains "kernel neighbour entry for $STACK_IP" "$neigh" "lladdr $STACK_MAC"

ping_ok "1472 bytes (exactly one 1500-byte frame)" 3 -i 0.2 -s 1472 -M "do"
ping_ok "4000 bytes (3 fragments each way)" 5 -i 0.2 -s 4000
ping_ok "65000 bytes (44 fragments each way)" 3 -i 0.5 -s 65000

ustack_stop

# 5 + 3 echo requests came in fragments: each was reassembled, each reply
# was fragmented (3 fragments for 4000 bytes, 44 for 65000).
assert_counter_ge ip4.reasm_ok 8
assert_counter_ge ip4.frag_out 8
assert_counter_ge icmp4.echo_reply_out 16
assert_counter_eq drop.ip4_frag_timeout 0
assert_counter_eq drop.ip4_frag_overlap 0

# The capture holds the fragmented replies: fragments from the stack with
# MF set and non-zero offsets, and every fragment fits the 1500-byte MTU.
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && ip.flags.mf == 1")
assert_ge "reply fragments with MF set" $((5 * 2 + 3 * 43)) "$n"
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && ip.len > 1500")
assert_eq "frames from ustack larger than the MTU" 0 "$n"
# tshark reassembles the 65000-byte replies and finds them well formed
# (pcap_check in ustack_stop already checked malformation and checksums).
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && icmp.type == 0 && ip.reassembled.length == 65008 && icmp.resp_to")
assert_ge "reassembled 65000-byte echo replies (tshark)" 3 "$n"
