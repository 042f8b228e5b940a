#!/usr/bin/env bash
# A UDP datagram to a closed port is answered with ICMP destination
# unreachable, port unreachable (RFC 1122 3.2.2.1, RFC 792), quoting the
# offending datagram; the kernel turns it into ECONNREFUSED for socat. A
# datagram sent to the broadcast address draws no ICMP error (RFC 1122
# 3.2.2).
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start --service all

printf 'anyone there?\n' >"$TMP/msg"
rc=0
nsx socat -T 3 - "UDP:$STACK_IP:9999" <"$TMP/msg" >"$TMP/out" 2>"$TMP/err" || rc=$?
assert_contains "socat to closed port 9999 reports the ICMP error" "$(cat "$TMP/err")" \
    "Connection refused"
[[ $rc != 0 ]] || fail "socat exit status" "expected: non-zero" "seen:     0"
log "socat to 10.77.0.2:9999: Connection refused"

# To the subnet broadcast and to 255.255.255.255: no ICMP error may come.
nsx socat -u - "UDP-DATAGRAM:10.77.0.255:9998,broadcast" <"$TMP/msg" || true
nsx socat -u - "UDP-DATAGRAM:255.255.255.255:9998,broadcast,so-bindtodevice=ust0" \
    <"$TMP/msg" || true
sleep 1

ustack_stop
assert_counter_ge drop.udp_no_port 1
assert_counter_eq icmp4.error_out 1

# From the stack's capture: exactly one port unreachable, from 10.77.0.2 to
# the kernel, quoting the UDP datagram to port 9999.
unreach="eth.src == $STACK_MAC && icmp.type == 3 && icmp.code == 3"
n=$(tshark_count "$US_PCAP" "$unreach")
assert_eq "ICMP port unreachable messages sent" 1 "$n"
n=$(tshark_count "$US_PCAP" "$unreach && ip.src == $STACK_IP && ip.dst == $KERNEL_IP \
    && udp.dstport == 9999 && udp.srcport > 0")
assert_eq "port unreachable quoting the datagram to 9999" 1 "$n"
# RFC 1812 4.3.2.3 / RFC 1122: the quote holds the IP header and at least
# the first 8 bytes of the datagram.
len=$(tshark_fields "$US_PCAP" "$unreach" ip.len | cut -d, -f1)
assert_ge "IP length of the port unreachable (20 + 8 + 20 + 8)" 56 "$len"
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && udp.dstport == 9998")
assert_eq "ICMP errors or UDP sent about broadcast datagrams" 0 "$n"
