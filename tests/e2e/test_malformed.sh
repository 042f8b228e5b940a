#!/usr/bin/env bash
# Hostile and broken frames, written raw onto ust0 from the kernel side: each
# is dropped silently, counted under its named reason, answered by nothing
# (not even an ARP request towards the sender), and ustack keeps serving.
# RFC 1122 3.2.1.2 (bad IP checksum), 3.2.1.1 (version), 3.2.1.3 (bad source
# address), 4.1.3.4 (bad UDP checksum), RFC 792 (bad ICMP checksum), RFC 826.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start --service all

PEER_MAC=020000000099 # a sender that does not exist
PEER_IP=10.77.0.50

# ip_hex A.B.C.D: the address as 8 hex digits.
# shellcheck disable=SC2086 # split the address at the dots
ip_hex() { printf '%02x%02x%02x%02x' ${1//./ }; }

# hex_bytes HEX: the bytes themselves.
# shellcheck disable=SC2001
hex_bytes() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }

# csum HEX: Internet checksum (RFC 1071) of the bytes HEX.
csum()
{
    local h=$1 s=0 i
    ((${#h} % 4 == 0)) || h+=00
    for ((i = 0; i < ${#h}; i += 4)); do
        s=$((s + 16#${h:i:4}))
    done
    while ((s >> 16)); do
        s=$(((s & 0xffff) + (s >> 16)))
    done
    printf '%04x' $((~s & 0xffff))
}

# ip4 SRC PROTO PAYLOAD [VER_IHL] [TOTAL_LEN] [FRAG] [CSUM]: an IPv4 header
# to 10.77.0.2 followed by PAYLOAD (hex). Defaults make it valid.
ip4()
{
    local src=$1 proto=$2 payload=$3 vihl=${4:-45} tlen=${5:-} frag=${6:-0000} sum=${7:-}
    [[ -n "$tlen" ]] || tlen=$(printf '%04x' $((20 + ${#payload} / 2)))
    local hdr
    hdr="${vihl}00${tlen}1234${frag}40$(printf '%02x' "$proto")0000$(ip_hex "$src")$(ip_hex "$STACK_IP")"
    [[ -n "$sum" ]] || sum=$(csum "$hdr")
    echo "${hdr:0:20}${sum}${hdr:24}${payload}"
}

# udp SRC DPORT DATA [LEN] [CSUM]: a UDP header and DATA (hex), checksum over
# the pseudo-header unless given.
udp()
{
    local src=$1 dport=$2 data=$3 len=${4:-} sum=${5:-}
    [[ -n "$len" ]] || len=$(printf '%04x' $((8 + ${#data} / 2)))
    local seg
    seg="d431$(printf '%04x' "$dport")${len}0000${data}"
    if [[ -z "$sum" ]]; then
        sum=$(csum "$(ip_hex "$src")$(ip_hex "$STACK_IP")0011$(printf '%04x' $((${#seg} / 2)))${seg}")
        [[ "$sum" != 0000 ]] || sum=ffff
    fi
    echo "${seg:0:12}${sum}${seg:16}"
}

# inject NAME HEX: writes one Ethernet frame to the stack's MAC onto ust0.
inject()
{
    local name=$1 hex="${STACK_MAC//:/}${PEER_MAC}$2"
    hex_bytes "$hex" >"$TMP/$name.frame"
    nsx socat -u -b 65536 "OPEN:$TMP/$name.frame" INTERFACE:ust0 ||
        fail "could not inject frame $name with socat"
}

payload=$(printf 'hostile' | od -An -v -tx1 | tr -d ' \n')
good_udp=$(udp "$PEER_IP" 7 "$payload")

# Sanity of the builder: the same datagram with the stack's real peer as
# source, sent by the kernel's MAC, is echoed (so the drops below are due to
# the one broken field, not to the builder).
kmac=$(nsx cat /sys/class/net/ust0/address)
hex_bytes "${STACK_MAC//:/}${kmac//:/}0800$(ip4 "$KERNEL_IP" 17 "$(udp "$KERNEL_IP" 7 "$payload")")" \
    >"$TMP/control.frame"
nsx socat -u -b 65536 "OPEN:$TMP/control.frame" INTERFACE:ust0

inject bad_ip_csum "0800$(ip4 "$PEER_IP" 17 "$good_udp" 45 "" "" beef)"
inject bad_version "0800$(ip4 "$PEER_IP" 17 "$good_udp" 65)"
inject bad_ihl "0800$(ip4 "$PEER_IP" 17 "$good_udp" 44)"
inject total_len_too_big "0800$(ip4 "$PEER_IP" 17 "$good_udp" 45 0400)"
inject total_len_too_small "0800$(ip4 "$PEER_IP" 17 "$good_udp" 45 0010)"
inject short_ip "0800450000"
inject bad_udp_csum "0800$(ip4 "$PEER_IP" 17 "$(udp "$PEER_IP" 7 "$payload" "" 1234)")"
inject udp_len_too_big "0800$(ip4 "$PEER_IP" 17 "$(udp "$PEER_IP" 7 "$payload" 0100)")"
inject udp_len_too_small "0800$(ip4 "$PEER_IP" 17 "$(udp "$PEER_IP" 7 "$payload" 0004)")"
inject multicast_src "0800$(ip4 224.0.0.1 17 "$(udp 224.0.0.1 7 "$payload")")"
inject broadcast_src "0800$(ip4 255.255.255.255 17 "$(udp 255.255.255.255 7 "$payload")")"
icmp_body="08000000abcd0001${payload}"
inject bad_icmp_csum "0800$(ip4 "$PEER_IP" 1 "${icmp_body:0:4}dead${icmp_body:8}")"
# A fragment whose end lies beyond 65535 bytes (offset 8189 * 8 + 100).
inject frag_too_big "0800$(ip4 "$PEER_IP" 17 "$(printf '%0200x' 0)" 45 "" 1ffd)"
# ARP with a hardware address length of 7.
inject bad_arp "08060001080007040001${PEER_MAC}00$(ip_hex "$PEER_IP")000000000000$(ip_hex "$STACK_IP")"
sleep 1

# Still alive and serving.
ping_ok "ping after the hostile frames" 3 -i 0.2
ustack_stop

assert_counter_ge drop.ip4_bad_checksum 1
assert_counter_ge drop.ip4_bad_version 1
assert_counter_ge drop.ip4_bad_hlen 1
assert_counter_ge drop.ip4_bad_total_len 2
assert_counter_ge drop.ip4_short 1
assert_counter_ge drop.udp_bad_checksum 1
assert_counter_ge drop.udp_bad_len 2
assert_counter_ge drop.ip4_bad_src 2
assert_counter_ge drop.icmp4_bad_checksum 1
assert_counter_ge drop.arp_bad_format 1
too_big=$(($(counter drop.ip4_frag_too_big) + $(counter drop.ip4_frag_bad)))
assert_ge "counters drop.ip4_frag_too_big + drop.ip4_frag_bad" 1 "$too_big"

# Only the control datagram was answered, and nothing went to the sender
# of the broken frames (no reply, no ICMP error, no ARP request for it).
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && udp.srcport == 7 && ip.dst == $KERNEL_IP")
assert_eq "echo replies to the control datagram" 1 "$n"
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && (ip.dst == $PEER_IP || \
    arp.dst.proto_ipv4 == $PEER_IP || ip.dst == 224.0.0.1 || ip.dst == 255.255.255.255)")
assert_eq "frames from ustack towards the senders of broken frames" 0 "$n"
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && icmp.type == 3")
assert_eq "ICMP errors sent about broken frames" 0 "$n"
