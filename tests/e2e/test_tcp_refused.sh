#!/usr/bin/env bash
# A connection to a closed TCP port is refused at once, both ways round.
# The kernel connecting to the stack's port 9999 gets ECONNREFUSED within
# a second, because the stack answers the SYN with <SEQ=0><ACK=ISN+1>
# <CTL=RST,ACK> (RFC 9293 3.10.7.1); "ustack nc" connecting to the kernel's
# closed port 9999 takes the kernel's RST as "Connection refused" and exits 1.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start --service echo

now_ms() { date +%s%3N; }

for attempt in 1 2; do
    start=$(now_ms)
    rc=0
    nsx nc -v -z -w 5 "$STACK_IP" 9999 >"$TMP/nc.out" 2>&1 || rc=$?
    took=$(($(now_ms) - start))
    msg=$(cat "$TMP/nc.out")
    if [[ $rc == 0 ]]; then
        fail "nc -z $STACK_IP 9999 (attempt $attempt): exit status" "expected: non-zero" "seen:     0: $msg"
    fi
    assert_contains "nc -z $STACK_IP 9999 (attempt $attempt): error" "$msg" "Connection refused"
    assert_le "nc -z $STACK_IP 9999 (attempt $attempt): milliseconds until refused" 1000 "$took"
    log "kernel -> stack port 9999: refused in ${took} ms"
done

# The open port still works: echo answers.
printf 'still here\n' >"$TMP/line"
got=$(timeout -k 5 20 ip netns exec "$NS" nc -N "$STACK_IP" 7 <"$TMP/line")
assert_eq "echo on port 7 next to the closed port" "still here" "$got"

ustack_stop_tcp "$TCP_EXPERT_OK || (tcp.flags.reset == 1 && tcp.srcport == 9999)"
assert_counter_ge tcp.reset_sent 2
assert_counter_ge drop.tcp_no_socket 2
syns=$(tshark_fields "$US_PCAP" "tcp.dstport == 9999 && tcp.flags.syn == 1 && tcp.flags.ack == 0" \
    tcp.seq_raw)
assert_eq "SYNs from the kernel to port 9999" 2 "$(wc -l <<<"$syns")"
rsts=$(tshark_fields "$US_PCAP" "$(from_stack) && tcp.srcport == 9999" \
    tcp.flags.reset tcp.flags.ack tcp.flags.syn tcp.seq_raw tcp.ack_raw tcp.len)
want=$(while read -r isn; do echo "1 1 0 0 $(((isn + 1) % 4294967296)) 0"; done <<<"$syns")
assert_eq "the stack's answers to those SYNs (RST ACK SYN seq ack len)" "$want" "$rsts"
log "the stack answered each SYN with RST,ACK seq 0 ack ISN+1"

# From the stack: nothing listens on the kernel's port 9999.
start=$(now_ms)
rc=0
ustack_run "$TMP/unc" 30 nc "$KERNEL_IP" 9999 </dev/null || rc=$?
took=$(($(now_ms) - start))
check_sanitizers_in "$TMP/unc.err"
if [[ $rc != 1 ]]; then
    show_tail "$TMP/unc.err"
    fail "ustack nc $KERNEL_IP 9999: exit status" "expected: 1 (refused)" \
        "seen:     $rc$( ((rc == 124)) && echo ' (timed out)')"
fi
assert_contains "ustack nc $KERNEL_IP 9999: error message" "$(cat "$TMP/unc.err")" \
    "Connection refused"
assert_le "ustack nc $KERNEL_IP 9999: milliseconds until it gave up" 10000 "$took"
n=$(tshark_count "$TMP/unc.pcap" "ip.src == $KERNEL_IP && tcp.srcport == 9999 && tcp.flags.reset == 1")
assert_ge "RSTs from the kernel's port 9999" 1 "$n"
pcap_check_except "$TMP/unc.pcap" "$TCP_EXPERT_OK"
log "stack -> kernel port 9999: exit 1, '$(grep -m1 'refused' "$TMP/unc.err")' in ${took} ms"
