#!/usr/bin/env bash
# Bad command-line input: one line on stderr naming the bad value, exit
# status 2, and nothing created (no device appears in the namespace).
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

ip netns add "$NS"
E2E_NS_MADE=1
[[ -z "${E2E_NS_FILE:-}" ]] || echo "$NS" >>"$E2E_NS_FILE"

# bad WHAT PATTERN ARGS...: ustack ARGS exits 2 with one stderr line
# matching PATTERN (case-insensitive).
bad()
{
    local what=$1 pattern=$2 rc=0 lines
    shift 2
    timeout -k 5 20 ip netns exec "$NS" "$USTACK_BIN" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
    if [[ $rc != 2 ]]; then
        fail "$what: ustack $*: exit status" "expected: 2" "seen:     $rc" \
            "stderr:" "$(indent "$(head -n 20 "$TMP/err")")"
    fi
    lines=$(wc -l <"$TMP/err")
    if [[ "$lines" != 1 ]]; then
        fail "$what: ustack $*: lines on stderr" "expected: 1" "seen:     $lines" \
            "$(indent "$(head -n 20 "$TMP/err")")"
    fi
    grep -Eqi -- "$pattern" "$TMP/err" ||
        fail "$what: ustack $*: message" "expected: a line naming '$pattern'" \
            "seen:     $(cat "$TMP/err")"
    if ip -n "$NS" link show ust0 >/dev/null 2>&1; then
        fail "$what: ustack $*: a device ust0 was created despite the bad input"
    fi
    log "$what: exit 2: $(cat "$TMP/err")"
}

base=(serve --tap ust0 --ip4 10.77.0.2/24 --no-acd)
bad "MTU too large" "mtu" "${base[@]}" --mtu 70000
bad "MTU not a number" "mtu" "${base[@]}" --mtu abc
bad "MTU too small" "mtu" "${base[@]}" --mtu 20
bad "address out of range" "ip4|10\.77\.0\.300" serve --tap ust0 --ip4 10.77.0.300/24 --no-acd
bad "prefix too long" "ip4|/33" serve --tap ust0 --ip4 10.77.0.2/33 --no-acd
bad "address not an address" "ip4|banana" serve --tap ust0 --ip4 banana --no-acd
bad "bad MAC" "mac|zz" "${base[@]}" --mac 02:zz:00:00:00:01
bad "unknown service" "service|gopher" "${base[@]}" --service gopher
bad "unknown option" "bogus" "${base[@]}" --bogus
bad "unknown subcommand" "frobnicate" frobnicate
bad "ping count not a number" "count|-c|many" ping --tap ust0 --ip4 10.77.0.2/24 --no-acd -c many 10.77.0.1
bad "ping destination not an address" "10\.77\.0\.999|dest|address" \
    ping --tap ust0 --ip4 10.77.0.2/24 --no-acd -c 1 10.77.0.999
