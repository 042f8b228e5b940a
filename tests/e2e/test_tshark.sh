#!/usr/bin/env bash
# tshark reads everything ustack sent during a mixed workload (ARP, pings of
# several sizes around the MTU, UDP services, port unreachable) and finds no
# malformed frame, no bad IPv4/ICMP/UDP checksum, no expert warning, no frame
# over the MTU, and every request answered.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start --service all

for size in 0 56 1472 1473 2000 8000 20000; do
    ping_ok "ping -s $size" 2 -i 0.2 -s "$size"
done
for size in 1 100 1472 1473 3000 16000; do
    head -c "$size" /dev/urandom >"$TMP/in"
    udp_exchange 7 "$TMP/in" "$TMP/out"
    assert_eq "UDP echo of $size bytes (sha256)" "$(sha256sum <"$TMP/in")" "$(sha256sum <"$TMP/out")"
done
printf 'x\n' >"$TMP/x"
udp_exchange 13 "$TMP/x" "$TMP/out"
udp_exchange 19 "$TMP/x" "$TMP/out"
udp_exchange 9 "$TMP/x" "$TMP/out"
udp_exchange 4242 "$TMP/x" "$TMP/out"
nsx arping -c 2 -w 5 -i ust0 "$STACK_IP" >/dev/null 2>&1 || true

ustack_stop # runs pcap_check: no malformed frame, checksum or expert warning

ours="eth.src == $STACK_MAC"
n=$(tshark_count "$US_PCAP" "$ours && frame.len > 1514")
assert_eq "frames from ustack larger than MTU 1500 + Ethernet header" 0 "$n"
n=$(tshark_count "$US_PCAP" "$ours && icmp.type == 0 && icmp.resp_to")
assert_ge "echo replies matched to their requests" 14 "$n"
n=$(tshark_count "$US_PCAP" "$ours && udp.srcport == 7 && udp.length > 8")
assert_ge "UDP echo replies" 6 "$n"
n=$(tshark_count "$US_PCAP" "$ours && udp.srcport == 13")
assert_eq "daytime replies" 1 "$n"
n=$(tshark_count "$US_PCAP" "$ours && udp.srcport == 19 && udp.length == 520")
assert_eq "chargen replies of 512 bytes" 1 "$n"
n=$(tshark_count "$US_PCAP" "$ours && icmp.type == 3 && icmp.code == 3 && udp.dstport == 4242")
assert_eq "port unreachable for 4242" 1 "$n"
n=$(tshark_count "$US_PCAP" "$ours && udp.srcport == 9")
assert_eq "replies from discard" 0 "$n"
# IPv4 header sanity on everything the stack sent: version 4, 20-byte header
# (no options), TTL set, not a fragment of a datagram that did not need it.
n=$(tshark_count "$US_PCAP" "$ours && ip && (ip.version != 4 || ip.hdr_len != 20 || ip.ttl == 0)")
assert_eq "IPv4 headers from ustack with a bad version, length or TTL" 0 "$n"
n=$(tshark_count "$US_PCAP" "$ours && ip.flags.mf == 0 && ip.frag_offset == 0 && ip.len > 1500")
assert_eq "unfragmented datagrams over the MTU" 0 "$n"
