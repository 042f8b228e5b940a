#!/usr/bin/env bash
# ARP (RFC 826): the kernel resolves 10.77.0.2 with arping and every request
# is answered with ustack's MAC.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start

rc=0
out=$(nsx arping -c 3 -w 10 -i ust0 "$STACK_IP" 2>&1 </dev/null) || rc=$?
assert_eq "arping exit status" 0 "$rc"
replies=$(grep -c "bytes from $STACK_MAC ($STACK_IP)" <<<"$out" || true)
assert_eq "arping replies from $STACK_MAC" 3 "$replies"
others=$(grep 'bytes from' <<<"$out" | grep -vc "from $STACK_MAC" || true)
assert_eq "replies from another MAC" 0 "$others"
log "arping: 3/3 replies from $STACK_MAC"

ustack_stop
assert_counter_ge arp.reply_out 3
# In the capture: ARP replies from the stack, sender = 10.77.0.2/its MAC,
# sent to the kernel's MAC.
kmac=$(nsx cat /sys/class/net/ust0/address)
n=$(tshark_count "$US_PCAP" "arp.opcode == 2 && eth.src == $STACK_MAC && \
    arp.src.hw_mac == $STACK_MAC && arp.src.proto_ipv4 == $STACK_IP && \
    arp.dst.hw_mac == $kmac && arp.dst.proto_ipv4 == $KERNEL_IP && eth.dst == $kmac")
assert_ge "well-formed ARP replies in the capture" 3 "$n"
