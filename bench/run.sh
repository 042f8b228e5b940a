#!/bin/bash
# shellcheck disable=SC2317 # functions are called indirectly (start_$target, traps)
#
# bench/run.sh: ustack against the kernel and against a trivial TAP reflector,
# side by side in one run (UDP and ICMP here, then bench/tcp.sh for TCP).
# Reports numbers and ratios; never passes or fails on speed. Needs root: it
# creates network namespaces (us-bench-<pid>-*) and deletes them, and kills
# only the processes it started, on any exit.
#
# Targets, all started up front, each in its own namespaces:
#   kernel     two namespaces joined by veth, 10.78.0.1 -> 10.78.0.2, the
#              kernel's UDP/ICMP on the far side (UDP echo: udp_echo_server)
#   reflector  a TAP (kernel side 10.77.0.1/24) answered by tap_reflector as
#              10.77.0.2: one read and one write per frame, the TAP's limit
#   ustack     the same kind of TAP answered by `ustack serve --service echo`
# Measurements, for each CPU placement, in ROUNDS interleaved rounds (kernel,
# reflector, ustack, then again), so a noisy neighbour slows every target alike:
#   udp_load   UDP echo replies/s, W requests in flight, D seconds per round
#   icmp_rtt   mean round trip of N sequential ICMP echoes per round
# CPU placements (taskset; the targets are re-pinned before each measurement):
#   split      load generator / pinger on CPU 0, target on CPU 1
#   same       load generator / pinger and target both on CPU 1
#   none       no pinning
# Each cell of the table is the median over rounds; each ratio is the median
# of the per-round ratios. See bench/README.md.
#
# Environment (all optional):
#   USTACK_BIN         ustack tool                  (default: build/ustack)
#   BENCH_BIN          bench programs directory     (default: build/bench)
#   BENCH_TARGETS      targets to run               (default: "kernel reflector ustack")
#   BENCH_PLACEMENTS   CPU placements to measure    (default: "split same")
#   BENCH_ROUNDS       interleaved rounds           (default: 5)
#   BENCH_DURATION     UDP seconds per round        (default: 1)
#   BENCH_INFLIGHT     UDP requests in flight       (default: 32)
#   BENCH_PINGS        ICMP echoes per round        (default: 2000)
#   BENCH_USTACK_ARGS  extra arguments for `ustack serve`
#   BENCH_TCP          0: skip the TCP part (bench/tcp.sh, run after this one;
#                      its own knobs are listed there)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
USTACK_BIN=${USTACK_BIN:-$ROOT/build/ustack}
BENCH_BIN=${BENCH_BIN:-$ROOT/build/bench}
TARGETS=${BENCH_TARGETS:-kernel reflector ustack}
PLACEMENTS=${BENCH_PLACEMENTS:-split same}
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-1}
INFLIGHT=${BENCH_INFLIGHT:-32}
PINGS=${BENCH_PINGS:-2000}
USTACK_ARGS=${BENCH_USTACK_ARGS:-}
UDP_WARMUP=0.2 # seconds of each UDP run that are not counted

NS_PREFIX=us-bench-$$
TAP=ust0
TAP_KERNEL_IP=10.77.0.1
TAP_TARGET_IP=10.77.0.2
VETH_CLIENT_IP=10.78.0.1
VETH_SERVER_IP=10.78.0.2
UDP_ECHO_PORT=7

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

check_words() { # variable allowed-words...: every word of the variable is allowed
    local name=$1 word
    shift
    for word in ${!name}; do
        [[ " $* " == *" $word "* ]] || die "bad '$word' in BENCH_$name (expected: $*)"
    done
    [ -n "${!name// /}" ] || die "BENCH_$name is empty (expected some of: $*)"
}

check_setup() {
    [ "$(id -u)" = 0 ] || {
        echo "bench: needs root (network namespaces, TAP, raw sockets)" >&2
        exit 1
    }
    local v t
    for v in ROUNDS INFLIGHT PINGS; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_$v '${!v}' (expected a positive integer)"
    done
    [[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        die "bad BENCH_DURATION '$DURATION' (expected seconds, e.g. 1 or 0.5)"
    check_words TARGETS kernel reflector ustack
    check_words PLACEMENTS split same none
    if [ "$(nproc)" -lt 2 ] && [ "$PLACEMENTS" != none ]; then
        die "placements split and same need 2 CPUs; set BENCH_PLACEMENTS=none"
    fi
    for t in udp_load udp_echo_server tap_reflector icmp_rtt; do
        [ -x "$BENCH_BIN/$t" ] || die "missing $BENCH_BIN/$t (run 'make build' first)"
    done
    if [[ " $TARGETS " == *" ustack "* ]] && [ ! -x "$USTACK_BIN" ]; then
        die "missing $USTACK_BIN (run 'make build' first, or set USTACK_BIN)"
    fi
}

# ------------------------------------------------------------- namespaces --

setup_veth_pair() { # client-namespace server-namespace
    netns_new "$1"
    netns_new "$2"
    ip link add veth-c netns "$1" type veth peer name veth-s netns "$2" ||
        die "cannot create veth pair"
    ip -n "$1" addr add "$VETH_CLIENT_IP/24" dev veth-c
    ip -n "$2" addr add "$VETH_SERVER_IP/24" dev veth-s
    ip -n "$1" link set veth-c up
    ip -n "$2" link set veth-s up
}

setup_tap() { # namespace: a persistent TAP, kernel side addressed and up
    netns_new "$1"
    ip -n "$1" tuntap add dev "$TAP" mode tap || die "cannot create TAP $TAP in $1"
    ip -n "$1" addr add "$TAP_KERNEL_IP/24" dev "$TAP"
    ip -n "$1" link set "$TAP" up
}

# -------------------------------------------------------------- processes --

# Per target: the namespace the client runs in, the address it aims at, and
# the pid of the target's process.
declare -A CLIENT_NS TARGET_HOST TARGET_PID

# start_process target namespace command...: starts it in the background and
# waits for "ready" on its stdout. Returns 1 if it never got ready. (`ip netns
# exec` execs the command, so the pid is the target's own.)
start_process() {
    local target=$1 ns=$2 i
    shift 2
    ip netns exec "$ns" "$@" >"$WORK/$target.out" 2>"$WORK/$target.err" &
    TARGET_PID[$target]=$!
    PIDS+=("$!")
    for i in $(seq 150); do
        grep -q '^ready' "$WORK/$target.out" 2>/dev/null && return 0
        running "${TARGET_PID[$target]}" || break
        sleep 0.1
    done
    echo "bench: $target did not print 'ready'" >&2
    return 1
}

# wait_reachable target: a few pings, so ARP is resolved before timing.
wait_reachable() {
    local i
    for i in $(seq 10); do
        ip netns exec "${CLIENT_NS[$1]}" ping -q -c 1 -W 1 "${TARGET_HOST[$1]}" \
            >/dev/null 2>&1 && return 0
    done
    echo "bench: $1 (${TARGET_HOST[$1]}) does not answer ping" >&2
    return 1
}

start_kernel() {
    CLIENT_NS[kernel]=$NS_PREFIX-kc
    TARGET_HOST[kernel]=$VETH_SERVER_IP
    setup_veth_pair "$NS_PREFIX-kc" "$NS_PREFIX-ks"
    start_process kernel "$NS_PREFIX-ks" "$BENCH_BIN/udp_echo_server" -p "$UDP_ECHO_PORT"
}

start_reflector() {
    CLIENT_NS[reflector]=$NS_PREFIX-r
    TARGET_HOST[reflector]=$TAP_TARGET_IP
    setup_tap "$NS_PREFIX-r"
    start_process reflector "$NS_PREFIX-r" "$BENCH_BIN/tap_reflector" "$TAP" "$TAP_TARGET_IP"
}

start_ustack() {
    CLIENT_NS[ustack]=$NS_PREFIX-u
    TARGET_HOST[ustack]=$TAP_TARGET_IP
    setup_tap "$NS_PREFIX-u"
    # shellcheck disable=SC2086 # USTACK_ARGS is a list of words
    start_process ustack "$NS_PREFIX-u" "$USTACK_BIN" serve --tap "$TAP" \
        --ip4 "$TAP_TARGET_IP/24" --no-acd --service echo $USTACK_ARGS
}

show_stderr() { # target: the end of its stderr, indented
    [ -s "$WORK/$1.err" ] || return 0
    echo "bench: $1's stderr ends with:" >&2
    tail -n 5 "$WORK/$1.err" | sed 's/^/    /' >&2
}

# ---------------------------------------------------------------- placing --

# place target placement: pins every thread of the target; prints the taskset
# prefix for the client (load generator or pinger).
place() {
    local all_cpus="0-$(($(nproc) - 1))" target_cpus client=""
    case $2 in
    split) target_cpus=1 client="taskset -c 0" ;;
    same) target_cpus=1 client="taskset -c 1" ;;
    none) target_cpus=$all_cpus ;;
    esac
    taskset -a -p -c "$target_cpus" "${TARGET_PID[$1]}" >/dev/null
    echo "$client"
}

# -------------------------------------------------------------- measuring --

# Results, keyed "metric|placement|target|round".
declare -A RESULT
declare -A FAILED # target -> 1 once it stopped answering

# keep key text names...: stores "name value" lines of text under key|name.
keep() {
    # shellcheck disable=SC2034 # key is used in the subscript below
    local key=$1 text=$2 name
    shift 2
    for name in "$@"; do
        RESULT[$name|$key]=$(awk -v k="$name" '$1 == k { print $2 }' <<<"$text")
    done
}

measure() { # target placement round
    local t=$1 p=$2 r=$3 client out
    client=$(place "$t" "$p")
    # shellcheck disable=SC2086 # word splitting of the taskset prefix is wanted
    out=$(ip netns exec "${CLIENT_NS[$t]}" $client "$BENCH_BIN/udp_load" -w "$INFLIGHT" \
        -d "$DURATION" -u "$UDP_WARMUP" "${TARGET_HOST[$t]}" "$UDP_ECHO_PORT") &&
        keep "$p|$t|$r" "$out" udp_echo_rate udp_echo_resends
    # shellcheck disable=SC2086
    out=$(ip netns exec "${CLIENT_NS[$t]}" $client "$BENCH_BIN/icmp_rtt" -c "$PINGS" \
        "${TARGET_HOST[$t]}") &&
        keep "$p|$t|$r" "$out" icmp_rtt_mean_us icmp_rtt_p99_us icmp_rtt_lost
    echo "bench: round $r, $p, $t: udp ${RESULT[udp_echo_rate|$p|$t|$r]:-none}/s," \
        "icmp ${RESULT[icmp_rtt_mean_us|$p|$t|$r]:-none} us" >&2
}

alive() { # target: still running? If not, says so once and marks it failed.
    [ -z "${FAILED[$1]:-}" ] || return 1
    running "${TARGET_PID[$1]}" && return 0
    echo "bench: $1 exited during the run" >&2
    show_stderr "$1"
    FAILED[$1]=1
    return 1
}

# ------------------------------------------------------------------ report --

rounds_of() { # metric placements target: one line per round and placement
    local p r
    for p in $2; do
        for r in $(seq "$ROUNDS"); do echo "${RESULT[$1|$p|$3|$r]:-}"; done
    done
}

cell() { # reducer metric placements target
    local vals
    mapfile -t vals < <(rounds_of "$2" "$3" "$4")
    "$1" "${vals[@]}"
}

ratio_cell() { # metric placement a b: median over rounds of a/b
    local r vals=()
    for r in $(seq "$ROUNDS"); do
        vals+=("$(awk -v a="${RESULT[$1|$2|$3|$r]:-}" -v b="${RESULT[$1|$2|$4|$r]:-}" \
            'BEGIN { if (a != "" && b + 0 > 0) printf "%.4f\n", a / b }')")
    done
    median_fmt %.2f "${vals[@]}"
}

line() { printf '%-26s %12s %14s %12s %11s %11s\n' "$@"; }

row() { # label metric placement
    line "$1" "$(cell median "$2" "$3" kernel)" "$(cell median "$2" "$3" reflector)" \
        "$(cell median "$2" "$3" ustack)" "$(ratio_cell "$2" "$3" ustack reflector)" \
        "$(ratio_cell "$2" "$3" ustack kernel)"
}

sum_row() { # label metric: summed over rounds and placements
    line "$1" "$(cell sum "$2" "$PLACEMENTS" kernel)" "$(cell sum "$2" "$PLACEMENTS" reflector)" \
        "$(cell sum "$2" "$PLACEMENTS" ustack)" "" ""
}

report() {
    local p
    echo "ustack benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $(nproc) CPUs"
    echo "  $ROUNDS interleaved rounds; per round, placement and target: UDP echo for" \
        "${DURATION} s"
    echo "  with $INFLIGHT in flight, then $PINGS ICMP echoes one at a time."
    echo "  placements: split = load generator/pinger on CPU 0, target on CPU 1;"
    echo "  same = both on CPU 1; none = unpinned."
    echo "  cells: median over rounds; ratios: median of the per-round ratios."
    echo
    line "" "kernel(veth)" "reflector(TAP)" "ustack(TAP)" "ustack/refl" "ustack/kern"
    for p in $PLACEMENTS; do row "udp echo rate/s   [$p]" udp_echo_rate "$p"; done
    for p in $PLACEMENTS; do row "icmp rtt mean us  [$p]" icmp_rtt_mean_us "$p"; done
    for p in $PLACEMENTS; do row "icmp rtt p99 us   [$p]" icmp_rtt_p99_us "$p"; done
    sum_row "udp resends (sum)" udp_echo_resends
    sum_row "icmp lost (sum)" icmp_rtt_lost
    echo
    echo "  rate ratio: 1.00 = as many echoes/s, higher is better. RTT ratio: 1.00 = as"
    echo "  quick, lower is better. Issue goal: udp echo rate ustack/refl >= 0.70"
    echo "  (reported, not enforced)."
}

main() {
    check_setup
    local t r p status=0 live=()
    for t in $TARGETS; do
        echo "bench: starting $t" >&2
        if "start_$t" && wait_reachable "$t"; then
            live+=("$t")
        else
            show_stderr "$t"
            echo "bench: $t will not be measured" >&2
            status=1
        fi
    done
    # The targets a ratio compares are measured one right after the other.
    for r in $(seq "$ROUNDS"); do
        for p in $PLACEMENTS; do
            for t in "${live[@]}"; do
                alive "$t" && measure "$t" "$p" "$r"
            done
        done
    done
    for t in "${live[@]}"; do
        stop_pid "${TARGET_PID[$t]}"
        [ -n "${FAILED[$t]:-}" ] && status=1
    done
    report
    # The TCP part (bench/tcp.sh) runs after this one, on its own namespaces.
    if [ "${BENCH_TCP:-1}" != 0 ]; then
        echo
        "$ROOT/bench/tcp.sh" || status=1
    fi
    return $status
}

main
exit $?
