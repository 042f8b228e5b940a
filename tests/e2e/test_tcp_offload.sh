#!/usr/bin/env bash
# Checksum and TCP segmentation offload on the TAP (src/link/vnet_hdr.c).
# With offloads on, the default, the kernel treats the TAP as a NIC with
# TSO: it sends the stack TCP segments of up to 64 KiB, their checksums
# left partial, and takes such frames from the stack (GSO) to cut or
# deliver whole. 4 MB through the echo service come back intact; the
# capture holds frames longer than the MTU both ways; and every TCP and
# UDP checksum in it verifies, the kernel's frames too (the stack completed
# them). With --no-offload every frame is MTU-sized.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
head -c 4000000 /dev/urandom >"$TMP/in"
printf 'datagram %s\n' "$$" >"$TMP/dgram"

# echo_run WHAT [ustack serve options]: 4 MB through TCP echo and a UDP
# datagram through UDP echo; sets BIG_IN and BIG_OUT to the number of
# frames from the kernel and from the stack longer than an Ethernet frame
# of MTU 1500.
echo_run()
{
    local what=$1 rc=0 bad
    shift
    ustack_start --service echo "$@"
    timeout -k 5 60 ip netns exec "$NS" socat -b 65536 -t 30 - "TCP:$STACK_IP:7" \
        <"$TMP/in" >"$TMP/out" 2>"$TMP/out.err" || rc=$?
    assert_eq "$what: socat through TCP echo, exit status" 0 "$rc"
    assert_eq "$what: 4 MB returned (sha256)" "$(sha256sum <"$TMP/in")" "$(sha256sum <"$TMP/out")"
    udp_exchange 7 "$TMP/dgram" "$TMP/dgram.out"
    assert_eq "$what: UDP echo" "$(cat "$TMP/dgram")" "$(cat "$TMP/dgram.out")"
    ustack_stop_tcp
    assert_counter_eq drop.link_bad_vnet_hdr 0
    assert_counter_eq drop.tcp_bad_checksum 0
    assert_counter_eq drop.udp_bad_checksum 0
    bad=$(tshark_fields "$US_PCAP" 'tcp.checksum.status == "Bad" || udp.checksum.status == "Bad"' \
        frame.number _ws.col.Info)
    [[ -z "$bad" ]] || fail "$what: frames with a bad checksum in the capture (either side)" \
        "$(head -n 5 <<<"$bad")"
    BIG_IN=$(tshark_count "$US_PCAP" "!($(from_stack)) && frame.len > 1514")
    BIG_OUT=$(tshark_count "$US_PCAP" "($(from_stack)) && frame.len > 1514")
    log "$what: 4 MB and a datagram echoed; frames over 1514 bytes: $BIG_IN from the kernel," \
        "$BIG_OUT from the stack; all checksums good"
}

echo_run "offload (default)"
assert_ge "offload: kernel frames longer than the MTU (TSO to the stack)" 1 "$BIG_IN"
assert_ge "offload: stack frames longer than the MTU (TSO from the stack)" 1 "$BIG_OUT"

echo_run "--no-offload" --no-offload
assert_eq "--no-offload: kernel frames longer than the MTU" 0 "$BIG_IN"
assert_eq "--no-offload: stack frames longer than the MTU" 0 "$BIG_OUT"
