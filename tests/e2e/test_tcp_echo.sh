#!/usr/bin/env bash
# The TCP echo service (RFC 862, port 7) of "ustack serve" with the kernel's
# TCP as the client: a short line, then 10 MB of random data sent by nc
# (which half-closes at the end of its input) come back unchanged, and the
# stack closes its side once everything is returned. socat does the same
# with 1 MB.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start --service echo

# tcp_echo WHAT CLIENT INFILE: sends INFILE through the echo service with
# CLIENT (nc or socat) and requires the same bytes back and a clean exit.
tcp_echo()
{
    local what=$1 client=$2 in=$3 out=$TMP/echo.out rc=0 want got size
    case $client in
    nc) timeout -k 5 60 ip netns exec "$NS" nc -N "$STACK_IP" 7 <"$in" >"$out" 2>"$out.err" ||
        rc=$? ;;
    socat) timeout -k 5 60 ip netns exec "$NS" socat -b 65536 -t 30 - "TCP:$STACK_IP:7" \
        <"$in" >"$out" 2>"$out.err" || rc=$? ;;
    esac
    size=$(stat -c %s "$out")
    if [[ $rc != 0 || "$size" != "$(stat -c %s "$in")" ]]; then
        show_ustack_log
        fail "$what: $client through TCP echo" \
            "expected: exit 0, $(stat -c %s "$in") bytes back" \
            "seen:     exit $rc$( ((rc == 124)) && echo ' (timed out after 60s)'), $size bytes back" \
            "$client stderr: $(head -c 300 "$out.err")"
    fi
    want=$(sha256sum <"$in")
    got=$(sha256sum <"$out")
    assert_eq "$what: content returned (sha256)" "$want" "$got"
    log "$what: $size bytes returned intact ($client)"
}

printf 'hello ustack %s\n' "$$" >"$TMP/hello"
tcp_echo "short line" nc "$TMP/hello"

head -c 10000000 /dev/urandom >"$TMP/big"
start=$(date +%s.%N)
tcp_echo "10 MB" nc "$TMP/big"
log "10 MB echo took $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"

head -c 1000000 /dev/urandom >"$TMP/mid"
tcp_echo "1 MB" socat "$TMP/mid"

ustack_stop_tcp
# 3 connections, opened passively, each brought to its end by the client's
# FIN and closed by the stack: nothing reset, nothing dropped as corrupt.
assert_counter_ge tcp.passive_open 3
# Segments both ways: with offload a frame carries up to 64 KiB (see
# test_tcp_offload), so 11 MB take a few hundred frames each way.
assert_counter_ge tcp.rx 100
assert_counter_ge tcp.tx 100
assert_counter_eq tcp.reset_sent 0
assert_counter_eq drop.tcp_bad_checksum 0
n=$(tshark_count "$US_PCAP" "$(from_stack) && tcp.srcport == 7 && tcp.flags.fin == 1")
assert_ge "FINs sent by the echo service" 3 "$n"
n=$(tshark_count "$US_PCAP" "$(from_stack) && tcp.flags.reset == 1")
assert_eq "RSTs sent by the stack" 0 "$n"
