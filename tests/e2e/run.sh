#!/usr/bin/env bash
# Runs the end-to-end tests: every tests/e2e/test_*.sh, or those whose name
# contains FILTER.
#
#   USTACK_BIN=build-test/ustack tests/e2e/run.sh [FILTER]
#
# The tests need root, /dev/net/tun and network namespaces. Where those are
# missing the suite is skipped (exit 0), except when CI=true: a skipped e2e
# suite in CI is a failure.
#
# Knobs: E2E_TEST_TIMEOUT (seconds per test, default 300), E2E_LOG=debug
# (ustack's log level in the tests), E2E_KEEP=1 (keep each test's temporary
# directory: captures, ustack's stdout and stderr).

set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FILTER=${1:-}
IN_CI=0
[[ "${CI:-}" == true ]] && IN_CI=1
TEST_TIMEOUT=${E2E_TEST_TIMEOUT:-300}

# Cannot run here: a failure in CI, a skip elsewhere.
skip_or_fail()
{
    if ((IN_CI)); then
        echo "e2e: FAIL: $* (CI=true: the e2e suite must run in CI)" >&2
        exit 1
    fi
    echo "e2e: SKIP: $*"
    exit 0
}

if [[ -z "${USTACK_BIN:-}" ]]; then
    echo "e2e: FAIL: USTACK_BIN is not set (path to the ustack binary)" >&2
    exit 1
fi
if [[ ! -x "$USTACK_BIN" ]]; then
    echo "e2e: FAIL: USTACK_BIN=$USTACK_BIN is not an executable file" >&2
    exit 1
fi
USTACK_BIN=$(cd "$(dirname "$USTACK_BIN")" && pwd)/$(basename "$USTACK_BIN")
export USTACK_BIN

[[ $(id -u) == 0 ]] || skip_or_fail "needs root (network namespaces and TAP devices)"
[[ -c /dev/net/tun ]] || skip_or_fail "/dev/net/tun is missing"
command -v ip >/dev/null || skip_or_fail "the ip command (iproute2) is missing"
probe_ns="us-e2e-probe-$$"
if ! ip netns add "$probe_ns" 2>/dev/null; then
    skip_or_fail "cannot create a network namespace (ip netns add)"
fi
if ! ip netns exec "$probe_ns" ip tuntap add dev ust0 mode tap 2>/dev/null; then
    ip netns del "$probe_ns"
    skip_or_fail "cannot create a TAP device in a network namespace"
fi
ip netns del "$probe_ns"

missing=()
for tool in ping arping socat nc tshark timeout awk od sha256sum; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) || skip_or_fail "missing tools: ${missing[*]}"

LOGDIR=$(mktemp -d /tmp/us-e2e-logs.XXXXXX)

# Removes the namespaces a test recorded, if it left any (a test killed by
# the timeout cannot run its own cleanup), and stops what still runs in them.
reap_namespaces()
{
    local nsfile=$1 ns pid
    [[ -s "$nsfile" ]] || return 0
    while read -r ns; do
        ip netns list | grep -q "^$ns\b" || continue
        echo "    removing namespace $ns left by the test"
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
    done <"$nsfile"
}

passed=0
failed=0
failed_names=()
total_start=$SECONDS
shopt -s nullglob
tests=("$E2E_DIR"/test_*.sh)
selected=()
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    name=${name#test_}
    [[ -z "$FILTER" || "$name" == *"$FILTER"* ]] && selected+=("$t")
done
if ((${#selected[@]} == 0)); then
    echo "e2e: FAIL: no test matches '${FILTER}'" >&2
    exit 1
fi

echo "e2e: ${#selected[@]} tests, ustack $USTACK_BIN, logs in $LOGDIR"
for t in "${selected[@]}"; do
    name=$(basename "$t" .sh)
    name=${name#test_}
    log=$LOGDIR/$name.log
    nsfile=$LOGDIR/$name.ns
    : >"$nsfile"
    start=$(date +%s.%N)
    rc=0
    E2E_NS_FILE=$nsfile timeout -k 10 "$TEST_TIMEOUT" bash "$t" >"$log" 2>&1 </dev/null || rc=$?
    dur=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    reap_namespaces "$nsfile"
    if ((rc == 0)); then
        passed=$((passed + 1))
        printf 'PASS  %-24s %6ss\n' "$name" "$dur"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        why="exit $rc"
        ((rc == 124 || rc == 137)) && why="timed out after ${TEST_TIMEOUT}s"
        printf 'FAIL  %-24s %6ss  (%s)\n' "$name" "$dur" "$why"
        sed 's/^/      /' "$log" | tail -n 80
    fi
done

echo "e2e: $passed passed, $failed failed, $((SECONDS - total_start))s"
if ((failed > 0)); then
    echo "e2e: failed: ${failed_names[*]} (logs in $LOGDIR)"
    exit 1
fi
rm -rf "$LOGDIR"
exit 0
