#!/usr/bin/env bash
# IPv4 address conflict detection (RFC 5227), with ACD on.
#  1. Free address: 3 ARP probes (sender 0.0.0.0, target 10.77.0.2, at least
#     PROBE_MIN = 1 s apart), ANNOUNCE_WAIT = 2 s of silence, then "ready" and
#     2 announcements ANNOUNCE_INTERVAL = 2 s apart; then arping works.
#  2. The kernel already holds 10.77.0.2: ustack reports the conflict and
#     never claims the address (no announcement, no reply, no IP traffic).
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
probe="eth.src == $STACK_MAC && arp.opcode == 1 && arp.src.proto_ipv4 == 0.0.0.0 \
    && arp.dst.proto_ipv4 == $STACK_IP"
claim="eth.src == $STACK_MAC && arp && arp.src.proto_ipv4 == $STACK_IP"
announce="$claim && arp.opcode == 1 && arp.dst.proto_ipv4 == $STACK_IP"

# ---- 1. free address ----
t0=$(date +%s.%N)
ustack_start --acd
t_ready=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t_ready" 'BEGIN { printf "%.1f", b - a }')
log "ready after ${took}s of probing"
# PROBE_WAIT (0-1 s) + 2 x PROBE_MIN + ANNOUNCE_WAIT >= 4 s.
awk -v d="$took" 'BEGIN { exit !(d >= 3.5) }' ||
    fail "time from start to ready with ACD" "expected: >= 4 s (RFC 5227 2.1.1)" "seen:     ${took}s"
sleep 3 # let both announcements go out

rc=0
out=$(nsx arping -c 3 -w 10 -i ust0 "$STACK_IP" 2>&1 </dev/null) || rc=$?
replies=$(grep -c "bytes from $STACK_MAC ($STACK_IP)" <<<"$out" || true)
assert_eq "arping replies after ACD" 3 "$replies"
assert_eq "arping exit status" 0 "$rc"
ustack_stop

probes=$(tshark_fields "$US_PCAP" "$probe" frame.time_epoch)
assert_eq "ARP probes sent" 3 "$(grep -c . <<<"$probes" || true)"
n=$(tshark_count "$US_PCAP" "$probe && eth.dst == ff:ff:ff:ff:ff:ff \
    && arp.src.hw_mac == $STACK_MAC && arp.dst.hw_mac == 00:00:00:00:00:00")
assert_eq "probes broadcast, sender MAC ours, target MAC zero (RFC 5227 2.1.1)" 3 "$n"
announces=$(tshark_fields "$US_PCAP" "$announce" frame.time_epoch)
assert_eq "ARP announcements sent (ANNOUNCE_NUM)" 2 "$(grep -c . <<<"$announces" || true)"
n=$(tshark_count "$US_PCAP" "$announce && eth.dst == ff:ff:ff:ff:ff:ff && arp.src.hw_mac == $STACK_MAC")
assert_eq "announcements broadcast with our MAC" 2 "$n"

# Timing, from the capture's timestamps (ustack's own clock).
why=$(printf '%s\n%s\n' "$probes" "$announces" | awk -v ready="$t_ready" '
    { t[NR] = $1 }
    END {
        for (i = 2; i <= 3; i++) {
            d = t[i] - t[i - 1]
            if (d < 0.95 || d > 3.5) { printf "probe %d came %.3f s after probe %d (PROBE_MIN 1 s .. PROBE_MAX 2 s)\n", i, d, i - 1; exit }
        }
        d = t[4] - t[3]
        if (d < 1.95) { printf "first announcement %.3f s after the last probe (ANNOUNCE_WAIT 2 s)\n", d; exit }
        d = t[5] - t[4]
        if (d < 1.95) { printf "announcements %.3f s apart (ANNOUNCE_INTERVAL 2 s)\n", d; exit }
        # Only if the capture uses wall-clock time: ready not before ANNOUNCE_WAIT.
        if (t[1] > ready - 60 && t[1] < ready && ready < t[3] + 1.9) {
            printf "ready printed %.3f s after the last probe (ANNOUNCE_WAIT 2 s)\n", ready - t[3]; exit
        }
    }')
[[ -z "$why" ]] || fail "RFC 5227 timing" "$why" "probes: $(tr '\n' ' ' <<<"$probes")" \
    "announcements: $(tr '\n' ' ' <<<"$announces")"
# Nothing else from the stack before its first announcement.
first_announce=$(tshark_fields "$US_PCAP" "$announce" frame.number | sed -n 1p)
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && frame.number < $first_announce \
    && !($probe)")
assert_eq "frames other than probes sent before the first announcement" 0 "$n"
log "ACD: 3 probes, 2 announcements, RFC 5227 timing respected"

# ---- 2. conflict: the kernel holds 10.77.0.2 ----
nsx ip addr add "$STACK_IP/24" dev ust0
ustack_spawn --acd
deadline=$((SECONDS + READY_TIMEOUT))
while ! grep -qi conflict "$US_ERR" && alive "$US_PID" && ((SECONDS < deadline)); do
    sleep 0.2
done
sleep 1
self_exit=0
alive "$US_PID" || self_exit=1
ustack_signal_stop || fail "ustack did not exit within ${STOP_TIMEOUT}s of SIGINT"
check_sanitizers
if ! grep -qi conflict "$US_ERR"; then
    show_ustack_log
    fail "conflict report" "expected: a line containing 'conflict' on stderr" "seen: none"
fi
log "conflict reported: $(grep -i -m1 conflict "$US_ERR")"
if ((self_exit)); then
    # Left without an address, it gives up: non-zero, but not a crash.
    assert_le "exit status of ustack after the conflict (not a crash)" 127 "$US_RC"
    assert_ge "exit status of ustack after the conflict (failure)" 1 "$US_RC"
else
    assert_eq "exit status after SIGINT" 0 "$US_RC"
fi
assert_not_contains "stdout after a conflict" "$(cat "$US_OUT")" "^ready$"
pcap_check "$US_PCAP"
assert_ge "probes sent before the conflict" 1 "$(tshark_count "$US_PCAP" "$probe")"
n=$(tshark_count "$US_PCAP" "arp.opcode == 2 && arp.src.proto_ipv4 == $STACK_IP && eth.src != $STACK_MAC")
assert_ge "the kernel's replies defending 10.77.0.2" 1 "$n"
n=$(tshark_count "$US_PCAP" "$claim")
assert_eq "ARP frames from ustack claiming $STACK_IP" 0 "$n"
n=$(tshark_count "$US_PCAP" "eth.src == $STACK_MAC && ip.src == $STACK_IP")
assert_eq "IPv4 packets from ustack with source $STACK_IP" 0 "$n"
assert_counter_ge arp.conflict 1
