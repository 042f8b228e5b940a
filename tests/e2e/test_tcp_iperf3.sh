#!/usr/bin/env bash
# iperf3 both ways round. The real iperf3 client against "ustack serve"
# (port 5201): plain, reverse (-R) and 4 parallel streams (-P 4), each for
# 3 s: exit 0 and a JSON report (-J) with bytes sent and received and a
# retransmits count. Then "ustack iperf3" as the client against a kernel-side
# "iperf3 -s -1": plain, -R and -P 2: exit 0, iperf3's summary lines, and the
# server's own JSON report agreeing that data flowed.
#
# Whole, bulk captures run to hundreds of MB: ustack keeps the first 20000
# frames of each (the handshake, slow start and steady state) and tshark
# checks those.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
E2E_PCAP_CHECK=0
E2E_PCAP_COUNT=20000

# check_json WHAT FILE STREAMS [MODE]: iperf3's JSON report: no error,
# STREAMS streams, and for MODE "client" (the default) bytes sent and
# received > 0 and a retransmits count for the sender; for a server's
# report, which counts its own side only, bytes > 0 in sum_received (MODE
# "server-recv") or in sum_sent with a retransmits count ("server-send").
check_json()
{
    local what=$1 file=$2 streams=$3 mode=${4:-client} why
    why=$(python3 - "$file" "$streams" "$mode" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no JSON report: {e}")
    sys.exit(0)
end = d.get("end", {})
sent, recv = end.get("sum_sent", {}), end.get("sum_received", {})
mode = sys.argv[3]
problems = []
if "error" in d:
    problems.append(f"error: {d['error']}")
if mode != "server-recv" and not sent.get("bytes", 0) > 0:
    problems.append(f"end.sum_sent.bytes: {sent.get('bytes')}")
if mode != "server-send" and not recv.get("bytes", 0) > 0:
    problems.append(f"end.sum_received.bytes: {recv.get('bytes')}")
if mode != "server-recv" and not isinstance(sent.get("retransmits"), int):
    problems.append(f"end.sum_sent.retransmits: {sent.get('retransmits')!r}")
if len(end.get("streams", [])) != int(sys.argv[2]):
    problems.append(f"streams: {len(end.get('streams', []))}, expected {sys.argv[2]}")
if problems:
    print("; ".join(problems))
else:
    print(f"ok {sent.get('bytes')} bytes sent, {recv.get('bytes')} received, "
          f"{sent.get('retransmits')} retransmits")
EOF
)
    [[ "$why" == ok* ]] || fail "$what: iperf3 JSON report ($mode)" "expected: bytes > 0, \
a retransmits field, $streams streams" "seen:     $why"
    log "$what: ${why#ok }"
}

# kernel_client WHAT STREAMS [iperf3 options...]: kernel iperf3 -c against
# a fresh ustack serve.
kernel_client()
{
    local what=$1 streams=$2 rc=0
    shift 2
    ustack_start --service iperf3
    # 1 Gbit/s in all keeps the capture to a few hundred MB: unpaced, the
    # stack now takes several Gbit/s and the pcap would be gigabytes.
    timeout -k 5 40 ip netns exec "$NS" iperf3 -c "$STACK_IP" -t 3 -b "$((1000 / streams))M" -J "$@" \
        >"$TMP/client.json" 2>"$TMP/client.err" || rc=$?
    if [[ $rc != 0 ]]; then
        show_ustack_log
        fail "$what: iperf3 -c $STACK_IP -t 3 $*" "expected: exit 0" \
            "seen:     exit $rc: $(head -c 300 "$TMP/client.err") $(grep -m1 '"error"' "$TMP/client.json")"
    fi
    check_json "$what" "$TMP/client.json" "$streams"
    ustack_stop
    pcap_check_head "$US_PCAP" 20000
    assert_counter_ge tcp.passive_open $((streams + 1))
    assert_counter_eq drop.tcp_bad_checksum 0
    rm -f "$US_PCAP"
}

kernel_client "iperf3 -c" 1
kernel_client "iperf3 -c -R" 1 -R
kernel_client "iperf3 -c -P 4" 4 -P 4

# ustack_client WHAT STREAMS [ustack iperf3 options...]: ustack iperf3 -c
# against a kernel-side iperf3 -s -1 (one test, then it exits).
ustack_client()
{
    local what=$1 streams=$2 rc=0 srv out mode n
    shift 2
    bg_start server /dev/null iperf3 -s -1 -B "$KERNEL_IP" -J
    srv=$BG_PID
    wait_listen 5201
    ustack_run "$TMP/uclient" 40 iperf3 -c "$KERNEL_IP" -t 3 "$@" || rc=$?
    check_sanitizers_in "$TMP/uclient.err"
    out=$(cat "$TMP/uclient")
    if [[ $rc != 0 ]]; then
        show_tail "$TMP/uclient.err"
        fail "$what: ustack iperf3 -c $KERNEL_IP -t 3 $*" "expected: exit 0" "seen:     exit $rc" \
            "stdout:" "$(indent "$(tail -n 12 <<<"$out")")"
    fi
    assert_contains "$what: sender summary" "$out" \
        '^\[(SUM| *[0-9]+)\] +0\.00-[0-9.]+ +sec +[0-9.]+ [KMG]?Bytes +[0-9.]+ [KMG]?bits/sec +[0-9]+ .*sender$'
    assert_contains "$what: receiver summary" "$out" \
        '^\[(SUM| *[0-9]+)\] +0\.00-[0-9.]+ +sec +[0-9.]+ [KMG]?Bytes +[0-9.]+ [KMG]?bits/sec .*receiver$'
    if ((streams > 1)); then
        assert_contains "$what: [SUM] lines" "$out" '^\[SUM\].*sender$'
        n=$(grep -Ec '^\[ *[0-9]+\] +0\.00-.*sender$' <<<"$out" || true)
        assert_eq "$what: per-stream sender lines" "$streams" "$n"
    fi
    rc=0
    bg_wait "$srv" 15 || rc=$?
    [[ $rc == 0 ]] || fail "$what: kernel iperf3 -s -1 exit status" "expected: 0" \
        "seen:     $rc: $(head -c 300 "$TMP/server.err")"
    mode=server-recv
    [[ " $* " != *" -R "* ]] || mode=server-send
    check_json "$what (kernel server's report)" "$TMP/server.out" "$streams" "$mode"
    # With -R the kernel server still has data in flight when the results
    # are in; the client reads it until the server's FIN and closes without
    # a reset (the kernel's own iperf3 client resets here).
    pcap_check_head "$TMP/uclient.pcap" 20000
    n=$(tshark_count "$TMP/uclient.pcap" "($(from_stack)) && tcp.flags.reset == 1")
    assert_eq "$what: resets sent by the client" 0 "$n"
    rm -f "$TMP/uclient.pcap"
    log "$what: $(grep -E 'sender$' <<<"$out" | tail -n 1 | tr -s ' ')"
}

ustack_client "ustack iperf3 -c" 1
ustack_client "ustack iperf3 -c -R" 1 -R
ustack_client "ustack iperf3 -c -P 2" 2 -P 2

# Reverse with a bitrate: the server sends, and must keep to the client's
# -b as iperf3's own server does (about 10 Mbit/s x 2 s = 2.5 MB).
ustack_start --service iperf3
rc=0
timeout -k 5 40 ip netns exec "$NS" iperf3 -c "$STACK_IP" -t 2 -R -b 10M -J \
    >"$TMP/paced.json" 2>"$TMP/paced.err" || rc=$?
assert_eq "iperf3 -c -R -b 10M -t 2: exit status" 0 "$rc"
check_json "iperf3 -c -R -b 10M" "$TMP/paced.json" 1
bytes=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' \
    "$TMP/paced.json")
assert_le "iperf3 -c -R -b 10M -t 2: bytes received (10 Mbit/s for 2 s, 50% slack)" 3750000 "$bytes"
ustack_stop
pcap_check_head "$US_PCAP" 20000
