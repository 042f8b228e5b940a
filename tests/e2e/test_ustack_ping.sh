#!/usr/bin/env bash
# "ustack ping" as a client: a ustack process alone on the TAP pings the
# kernel at 10.77.0.1, which answers. A silent address gets no reply and
# makes it exit non-zero.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap

# uping WHAT OUTFILE [ping arguments...]: runs ustack ping, returns its status.
uping()
{
    local out=$1
    shift
    timeout -k 5 60 ip netns exec "$NS" "$USTACK_BIN" ping --tap ust0 --ip4 "$STACK_CIDR" \
        --no-acd "$@" >"$out" 2>"$out.err" </dev/null
}

check_ping_output()
{
    local what=$1 out=$2 rc=$3 count=$4 want_recv=$5 summary
    if grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$out.err"; then
        sed 's/^/    | /' "$out.err" | head -n 60 >&2
        fail "$what: sanitizer report"
    fi
    summary=$(grep -E 'packets transmitted' "$out" || true)
    if [[ -z "$summary" ]]; then
        fail "$what: no summary line" "expected: '$count packets transmitted, $want_recv received, ...'" \
            "stdout:" "$(indent "$(cat "$out")")" "stderr:" "$(indent "$(tail -n 20 "$out.err")")"
    fi
    assert_contains "$what: summary" "$summary" \
        "^$count packets transmitted, $want_recv received, "
}

rc=0
uping "$TMP/p1" -c 3 -i 0.2 "$KERNEL_IP" || rc=$?
check_ping_output "ustack ping -c 3" "$TMP/p1" "$rc" 3 3
assert_contains "ustack ping -c 3: 0% loss" "$(cat "$TMP/p1")" " 0% packet loss"
assert_eq "ustack ping -c 3: exit status" 0 "$rc"
replies=$(grep -Ec "bytes from $KERNEL_IP: icmp_seq=[0-9]+ ttl=[0-9]+ time=" "$TMP/p1" || true)
assert_eq "ustack ping -c 3: reply lines" 3 "$replies"
log "ustack ping -c 3: 3 received"

# Fragmented both ways: the kernel reassembles our request and we reassemble
# its reply.
rc=0
uping "$TMP/p2" -c 2 -i 0.2 -s 4000 "$KERNEL_IP" || rc=$?
check_ping_output "ustack ping -s 4000" "$TMP/p2" "$rc" 2 2
assert_eq "ustack ping -s 4000: exit status" 0 "$rc"
assert_contains "ustack ping -s 4000: reply size" "$(cat "$TMP/p2")" \
    "^4008 bytes from $KERNEL_IP: icmp_seq="
log "ustack ping -s 4000: 2 received"

# Nobody holds 10.77.0.99: nothing comes back, and the tool says so.
rc=0
uping "$TMP/p3" -c 2 -i 0.2 "10.77.0.99" || rc=$?
check_ping_output "ustack ping to a silent address" "$TMP/p3" "$rc" "[0-9]+" 0
if ((rc == 0 || rc == 124)); then
    fail "ustack ping to a silent address: exit status" "expected: non-zero (no reply), not 124 (timeout)" \
        "seen:     $rc"
fi
log "ustack ping to 10.77.0.99: 0 received, exit $rc"
