#!/usr/bin/env bash
# "ustack nc" against kernel-side listeners. Both ways at once: ustack nc's
# standard input (1 MB) reaches the kernel's nc -l, whose own 1 MB comes back
# on ustack nc's standard output; the end of ustack nc's input half-closes
# (the kernel's nc -N then sees EOF and finishes), and ustack nc exits 0 once
# the peer has closed too. Then a peer that half-closes first, before our
# input has come: ustack nc still sends all of its input afterwards.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap

head -c 1000000 /dev/urandom >"$TMP/up"   # ustack -> kernel
head -c 1000000 /dev/urandom >"$TMP/down" # kernel -> ustack

# 1. Both directions, half-close on each side.
bg_start peer1 "$TMP/down" nc -N -l "$KERNEL_IP" 12345
peer=$BG_PID
wait_listen 12345
rc=0
ustack_run "$TMP/unc1" 60 nc "$KERNEL_IP" 12345 <"$TMP/up" || rc=$?
check_sanitizers_in "$TMP/unc1.err"
if [[ $rc != 0 ]]; then
    show_tail "$TMP/unc1.err"
    fail "ustack nc to nc -l: exit status" "expected: 0" \
        "seen:     $rc$( ((rc == 124)) && echo ' (timed out: EOF not sent, or the peer close not seen)')"
fi
prc=0
bg_wait "$peer" 10 || prc=$?
assert_eq "kernel nc -l: exit status (it saw our EOF)" 0 "$prc"
assert_eq "stdin of ustack nc received by the kernel (bytes)" 1000000 "$(stat -c %s "$TMP/peer1.out")"
assert_eq "stdin of ustack nc received by the kernel (sha256)" "$(sha256sum <"$TMP/up")" \
    "$(sha256sum <"$TMP/peer1.out")"
assert_eq "the kernel's data on ustack nc's stdout (bytes)" 1000000 "$(stat -c %s "$TMP/unc1")"
assert_eq "the kernel's data on ustack nc's stdout (sha256)" "$(sha256sum <"$TMP/down")" \
    "$(sha256sum <"$TMP/unc1")"
# Our FIN went out after all our data: a FIN from the stack, no RST.
n=$(tshark_count "$TMP/unc1.pcap" "$(from_stack) && tcp.dstport == 12345 && tcp.flags.fin == 1")
assert_ge "FINs sent by ustack nc" 1 "$n"
n=$(tshark_count "$TMP/unc1.pcap" "tcp.port == 12345 && tcp.flags.reset == 1")
assert_eq "RSTs on the connection" 0 "$n"
pcap_check_except "$TMP/unc1.pcap" "$TCP_EXPERT_OK"
log "1 MB each way, both half-closes seen, exit 0"

# 2. The peer half-closes first: it sends a line and its FIN at once, and
# our input only comes a second later. A FIN ends the peer's sending, not
# the connection (RFC 9293 3.6): ustack nc must print the line, still send
# all of its input, then half-close and exit 0.
printf 'from the kernel %s\n' "$$" >"$TMP/line"
head -c 100000 /dev/urandom >"$TMP/late"
bg_start peer2 "$TMP/line" nc -N -l "$KERNEL_IP" 12346
peer=$BG_PID
wait_listen 12346
mkfifo "$TMP/fifo"
(
    sleep 1
    cat "$TMP/late"
) >"$TMP/fifo" &
E2E_BG_PIDS+=("$!")
rc=0
ustack_run "$TMP/unc2" 20 nc "$KERNEL_IP" 12346 <"$TMP/fifo" || rc=$?
check_sanitizers_in "$TMP/unc2.err"
if [[ $rc != 0 ]]; then
    show_tail "$TMP/unc2.err"
    fail "ustack nc, peer half-closes first: exit status" "expected: 0" \
        "seen:     $rc$( ((rc == 124)) && echo ' (timed out)')"
fi
assert_eq "ustack nc, peer half-closes first: output" "$(cat "$TMP/line")" "$(cat "$TMP/unc2")"
prc=0
bg_wait "$peer" 10 || prc=$?
assert_eq "ustack nc, peer half-closes first: bytes of our late input the peer got" 100000 \
    "$(stat -c %s "$TMP/peer2.out")"
assert_eq "ustack nc, peer half-closes first: our late input (sha256)" \
    "$(sha256sum <"$TMP/late")" "$(sha256sum <"$TMP/peer2.out")"
assert_eq "kernel nc -l (peer half-closed first): exit status" 0 "$prc"
pcap_check_except "$TMP/unc2.pcap" "$TCP_EXPERT_OK"
log "peer half-closed first: line printed, our input still sent, exit 0"

# 3. -v says when the connection is up; an empty input still half-closes.
bg_start peer3 "$TMP/line" nc -N -l "$KERNEL_IP" 12347
peer=$BG_PID
wait_listen 12347
rc=0
ustack_run "$TMP/unc3" 20 nc -v "$KERNEL_IP" 12347 </dev/null || rc=$?
assert_eq "ustack nc -v with empty input: exit status" 0 "$rc"
assert_eq "ustack nc -v with empty input: output" "$(cat "$TMP/line")" "$(cat "$TMP/unc3")"
assert_contains "ustack nc -v: says it connected" "$(cat "$TMP/unc3.err")" "$KERNEL_IP"
prc=0
bg_wait "$peer" 10 || prc=$?
assert_eq "kernel nc -l after an empty upload: exit status" 0 "$prc"
assert_eq "kernel nc -l after an empty upload: bytes received" 0 "$(stat -c %s "$TMP/peer3.out")"
log "empty input: immediate half-close, exit 0"
