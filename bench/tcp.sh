#!/bin/bash
# shellcheck disable=SC2317 # functions are called indirectly (traps, run_$part)
#
# bench/tcp.sh: ustack's TCP against the kernel's, side by side in one run.
# Reports numbers and ratios; never passes or fails on speed. Needs root: it
# creates network namespaces (us-benchtcp-<pid>-*) and deletes them, and kills
# only the processes it started, on any exit. Run by bench/run.sh after the
# UDP/ICMP part; can be run alone. See bench/README.md.
#
# Setups, all in their own namespaces:
#   kernel   two namespaces joined by veth, 10.78.0.1 (clients) -> 10.78.0.2
#            (iperf3 -s and nginx)
#   serve    a TAP, kernel side 10.77.0.1/24, answered by `ustack serve
#            --service iperf3,http` as 10.77.0.2; the real iperf3 and wrk are
#            the clients
#   client   a TAP, kernel side 10.77.0.1/24 running `iperf3 -s -1`, and
#            `ustack iperf3 -c 10.77.0.1` as 10.77.0.2
#   idle     a TAP with `ustack serve --service discard` as 10.77.0.2, used
#            only for the idle-connection measurement
# Parts (BENCH_TCP_PARTS), in ROUNDS interleaved rounds for bulk and http:
#   bulk     iperf3 Gbit/s each way: kernel->kernel, kernel->ustack serve,
#            ustack serve->kernel (-R), ustack client->kernel, kernel->ustack
#            client (-R)
#   http     wrk requests/s for GET PATH, keep-alive and one connection per
#            request, against ustack's HTTP service and against nginx
#   idle     N idle connections to ustack's discard service (tcp_hold); the
#            stack's RSS before and while they are held
# CPU placement: the process under test (ustack, or the kernel-side server
# for the kernel baseline) on CPU 1, the kernel-side tool on CPU 0.
#
# Environment (all optional):
#   USTACK_BIN            ustack tool                    (default: build/ustack)
#   BENCH_BIN             bench programs directory       (default: build/bench)
#   BENCH_TCP_PARTS       parts to run                   (default: "bulk http idle")
#   BENCH_TCP_ROUNDS      interleaved rounds             (default: 3)
#   BENCH_TCP_TIME        iperf3 seconds per test        (default: 5)
#   BENCH_TCP_HTTP_TIME   wrk seconds per test           (default: 5)
#   BENCH_TCP_HTTP_CONNS  wrk connections                (default: 32)
#   BENCH_TCP_HTTP_PATH   the URL path requested         (default: /bytes/100)
#   BENCH_TCP_IDLE_CONNS  idle connections held          (default: 10000)
#   BENCH_TCP_PIN         0: no CPU pinning              (default: 1)
#   BENCH_TCP_PROFILE     a directory: after the rounds, profile ustack with
#                         `perf record -g` during one more bulk test each way
#                         and write perf.data and reports there
#   BENCH_USTACK_ARGS     extra arguments for ustack (e.g. --log tcp=debug)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
USTACK_BIN=${USTACK_BIN:-$ROOT/build/ustack}
BENCH_BIN=${BENCH_BIN:-$ROOT/build/bench}
PARTS=${BENCH_TCP_PARTS:-bulk http idle}
ROUNDS=${BENCH_TCP_ROUNDS:-3}
TIME=${BENCH_TCP_TIME:-5}
HTTP_TIME=${BENCH_TCP_HTTP_TIME:-5}
HTTP_CONNS=${BENCH_TCP_HTTP_CONNS:-32}
HTTP_PATH=${BENCH_TCP_HTTP_PATH:-/bytes/100}
IDLE_CONNS=${BENCH_TCP_IDLE_CONNS:-10000}
PIN=${BENCH_TCP_PIN:-1}
PROFILE=${BENCH_TCP_PROFILE:-}
USTACK_ARGS=${BENCH_USTACK_ARGS:-}

NS_PREFIX=us-benchtcp-$$
TAP=ust0
TAP_KERNEL_IP=10.77.0.1
TAP_STACK_IP=10.77.0.2
VETH_CLIENT_IP=10.78.0.1
VETH_SERVER_IP=10.78.0.2
IPERF_PORT=5201
HTTP_PORT=80
DISCARD_PORT=9
IDLE_TARGET_MB=100 # the issue's target: 10,000 idle connections in under 100 MB

BENCH_NAME=benchtcp
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

check_setup() {
    [ "$(id -u)" = 0 ] || {
        echo "benchtcp: needs root (network namespaces, TAP)" >&2
        exit 1
    }
    local v word
    for v in ROUNDS TIME HTTP_TIME HTTP_CONNS IDLE_CONNS; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "bad BENCH_TCP_$v '${!v}' (expected a positive integer)"
    done
    for word in $PARTS; do
        [[ " bulk http idle " == *" $word "* ]] ||
            die "bad '$word' in BENCH_TCP_PARTS (expected: bulk http idle)"
    done
    [[ $PIN =~ ^[01]$ ]] || die "bad BENCH_TCP_PIN '$PIN' (expected 0 or 1)"
    [[ $HTTP_PATH == /* ]] || die "bad BENCH_TCP_HTTP_PATH '$HTTP_PATH' (expected /...)"
    if [ "$PIN" = 1 ] && [ "$(nproc)" -lt 2 ]; then
        die "pinning needs 2 CPUs; set BENCH_TCP_PIN=0"
    fi
    [ -x "$USTACK_BIN" ] || die "missing $USTACK_BIN (run 'make build' first, or set USTACK_BIN)"
    needs bulk iperf3 iperf3
    needs bulk python3 python3
    needs http wrk wrk
    needs http nginx "nginx-light (or nginx)"
    needs idle "$BENCH_BIN/tcp_hold" "build/bench/tcp_hold (run 'make build' first)"
    if [ -n "$PROFILE" ]; then
        needs bulk perf "linux-perf"
        mkdir -p "$PROFILE" || die "cannot create BENCH_TCP_PROFILE directory '$PROFILE'"
    fi
}

has_part() { [[ " $PARTS " == *" $1 "* ]]; }

needs() { # part command package: the command must exist if the part runs
    has_part "$1" || return 0
    command -v "$2" >/dev/null || die "part '$1' needs $2 (apt-get install $3)"
}

# cpu which: the taskset prefix for the tested side (target) or the
# kernel-side tool (tool), or nothing when not pinning.
cpu() {
    [ "$PIN" = 1 ] || return 0
    case $1 in
    target) echo "taskset -c 1" ;;
    tool) echo "taskset -c 0" ;;
    esac
}

# ------------------------------------------------------------------ setup --

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

# start_bg name namespace command...: starts it in the background, output in
# $WORK/name.out and .err; sets LAST_PID.
start_bg() {
    local name=$1 ns=$2
    shift 2
    ip netns exec "$ns" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

wait_ready() { # name pid: waits for "ready" on its stdout
    local i
    for i in $(seq 150); do
        grep -q '^ready' "$WORK/$1.out" 2>/dev/null && return 0
        running "$2" || break
        sleep 0.1
    done
    echo "benchtcp: $1 did not print 'ready'" >&2
    show_stderr "$1"
    return 1
}

wait_listening() { # namespace port pid: waits for a TCP listener on port
    local i
    for i in $(seq 100); do
        [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ] && return 0
        running "$3" || break
        sleep 0.05
    done
    echo "benchtcp: nothing listens on port $2 in $1" >&2
    return 1
}

wait_reachable() { # namespace host: a few pings, so ARP is resolved
    local i
    for i in $(seq 10); do
        ip netns exec "$1" ping -q -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
    done
    echo "benchtcp: $2 does not answer ping from $1" >&2
    return 1
}

show_stderr() { # name: the end of its stderr, indented
    [ -s "$WORK/$1.err" ] || return 0
    echo "benchtcp: $1's stderr ends with:" >&2
    tail -n 8 "$WORK/$1.err" | sed 's/^/    /' >&2
}

NS_KC=$NS_PREFIX-kc   # kernel baseline, clients
NS_KS=$NS_PREFIX-ks   # kernel baseline, servers
NS_SERVE=$NS_PREFIX-s # ustack serve (iperf3, http)
NS_CLIENT=$NS_PREFIX-c
NS_IDLE=$NS_PREFIX-i
declare -A PID # kernel_iperf, nginx, serve

# The kernel's HTTP peer: nginx, one process with one event loop (as
# ustack's HTTP service), the same body size as ustack's /bytes/N, made in
# memory (`return`, as ustack generates it) rather than read from a file,
# no access log, and keep-alive connections never closed by a request count.
write_nginx_conf() {
    local size=${HTTP_PATH#/bytes/} body
    [[ $size =~ ^[0-9]+$ ]] || size=100
    body=$(head -c "$size" /dev/zero | tr '\0' x)
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen $VETH_SERVER_IP:$HTTP_PORT backlog=4096;
        location / {
            default_type application/octet-stream;
            return 200 "$body";
        }
    }
}
EOF
}

start_kernel() {
    setup_veth_pair "$NS_KC" "$NS_KS" || return 1
    if has_part bulk; then
        # shellcheck disable=SC2046 # word splitting of the taskset prefix is wanted
        start_bg kernel_iperf "$NS_KS" $(cpu target) iperf3 -s -p "$IPERF_PORT"
        PID[kernel_iperf]=$LAST_PID
        wait_listening "$NS_KS" "$IPERF_PORT" "$LAST_PID" || return 1
    fi
    if has_part http; then
        write_nginx_conf
        # shellcheck disable=SC2046
        start_bg nginx "$NS_KS" $(cpu target) nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
            -e "$WORK/nginx/error.log"
        PID[nginx]=$LAST_PID
        wait_listening "$NS_KS" "$HTTP_PORT" "$LAST_PID" || return 1
    fi
    wait_reachable "$NS_KC" "$VETH_SERVER_IP"
}

start_serve() {
    setup_tap "$NS_SERVE"
    # shellcheck disable=SC2046,SC2086 # taskset prefix and USTACK_ARGS are word lists
    start_bg serve "$NS_SERVE" $(cpu target) "$USTACK_BIN" serve --tap "$TAP" \
        --ip4 "$TAP_STACK_IP/24" --no-acd --service iperf3,http $USTACK_ARGS
    PID[serve]=$LAST_PID
    wait_ready serve "$LAST_PID" && wait_reachable "$NS_SERVE" "$TAP_STACK_IP"
}

start_client_ns() { setup_tap "$NS_CLIENT"; }

# ------------------------------------------------------------------- bulk --

# Results, keyed "metric|case|round".
declare -A RESULT
FAILURES=0

json_get() { # file python-expression-on-j: prints the value, or nothing
    python3 -c 'import json, sys
try:
    j = json.load(open(sys.argv[1]))
    print(eval(sys.argv[2]))
except Exception:
    pass' "$1" "$2" 2>/dev/null
}

gbits() { awk -v b="$1" 'BEGIN { if (b != "") printf "%.3f\n", b / 1e9 }'; }

# iperf_kernel_client case round namespace host [-R]: the real iperf3 client;
# the result is the receiver's rate (for -R the server's results, which
# iperf3 exchanges at the end).
iperf_kernel_client() {
    local c=$1 r=$2 ns=$3 host=$4 json=$WORK/iperf-$1-$2.json
    shift 4
    # shellcheck disable=SC2046
    timeout $((TIME + 30)) ip netns exec "$ns" $(cpu tool) iperf3 -c "$host" -p "$IPERF_PORT" \
        -t "$TIME" -J "$@" >"$json" 2>"$WORK/iperf-$c-$r.err"
    RESULT[gbit|$c|$r]=$(gbits "$(json_get "$json" "j['end']['sum_received']['bits_per_second']")")
    RESULT[retr|$c|$r]=$(json_get "$json" "j['end']['sum_sent']['retransmits']")
    bulk_done "$c" "$r" "$json"
}

bulk_done() { # case round file-to-show-on-failure
    if [ -z "${RESULT[gbit|$1|$2]}" ]; then
        FAILURES=$((FAILURES + 1))
        echo "benchtcp: round $2, $1: no result; output:" >&2
        tail -c 600 "$3" | sed 's/^/    /' >&2
        return 1
    fi
    echo "benchtcp: round $2, $1: ${RESULT[gbit|$1|$2]} Gbit/s," \
        "retransmits ${RESULT[retr|$1|$2]:-?}" >&2
}

# iperf_stack_client case round [-R]: `ustack iperf3 -c` on the client TAP
# against a one-off kernel `iperf3 -s -1 -J`; the rate is the kernel
# server's (receiver's for the stack sending, sender's with -R), the
# retransmits are the sender's (ustack's own report without -R).
iperf_stack_client() {
    local c=$1 r=$2 json=$WORK/iperf-$1-$2.json out=$WORK/iperf-$1-$2.out spid cpid
    shift 2
    # shellcheck disable=SC2046
    start_bg "ksrv-$c-$r" "$NS_CLIENT" $(cpu tool) iperf3 -s -1 -J -p "$IPERF_PORT"
    spid=$LAST_PID
    wait_listening "$NS_CLIENT" "$IPERF_PORT" "$spid" || return 1
    # shellcheck disable=SC2046,SC2086
    timeout $((TIME + 30)) ip netns exec "$NS_CLIENT" $(cpu target) "$USTACK_BIN" iperf3 \
        --tap "$TAP" --ip4 "$TAP_STACK_IP/24" --no-acd $USTACK_ARGS -c "$TAP_KERNEL_IP" \
        -p "$IPERF_PORT" -t "$TIME" "$@" >"$out" 2>"$WORK/iperf-$c-$r.err" &
    cpid=$!
    PIDS+=("$cpid")
    # `ip netns exec` and taskset exec, so timeout's only child is ustack.
    local i upid=""
    for i in $(seq 50); do
        upid=$(pgrep -P "$cpid" | head -n 1)
        [ -n "$upid" ] && break
        sleep 0.02
    done
    echo "$upid" >"$WORK/client.pid"
    # ustack iperf3 prints no counters at the end: ask for them just before.
    sleep "$(awk -v t="$TIME" 'BEGIN { print t - 0.3 }')"
    [ -n "$upid" ] && running "$upid" && kill -USR1 "$upid" 2>/dev/null
    wait "$cpid"
    stop_pid "$cpid"
    stop_pid "$spid"
    RESULT[trouble|$c|$r]=$(trouble_counters "$WORK/iperf-$c-$r.err")
    cp "$WORK/ksrv-$c-$r.out" "$json"
    if [ "${1:-}" = -R ]; then
        RESULT[gbit|$c|$r]=$(gbits "$(json_get "$json" "j['end']['sum_sent']['bits_per_second']")")
        RESULT[retr|$c|$r]=$(json_get "$json" "j['end']['sum_sent']['retransmits']")
    else
        RESULT[gbit|$c|$r]=$(gbits "$(json_get "$json" "j['end']['sum_received']['bits_per_second']")")
        RESULT[retr|$c|$r]=$(awk '$NF == "sender" { print $(NF - 1) }' "$out" | tail -n 1)
    fi
    bulk_done "$c" "$r" "$out"
}

# Bulk cases: name, then how it runs. k_* are the kernel baselines. For the
# ustack cases, also the frames the kernel dropped on the TAP during the test
# (it queues them for the stack; the queue overflows when the stack lags).
run_bulk_case() { # case round
    local ns="" before after
    case $1 in
    s_*) ns=$NS_SERVE ;;
    c_*) ns=$NS_CLIENT ;;
    esac
    [ -n "$ns" ] && before=$(tap_tx_dropped "$ns")
    run_iperf_case "$@"
    if [ -n "$ns" ]; then
        after=$(tap_tx_dropped "$ns")
        RESULT[tapdrop|$1|$2]=$((${after:-0} - ${before:-0}))
    fi
}

run_iperf_case() { # case round
    case $1 in
    k_fwd) iperf_kernel_client "$1" "$2" "$NS_KC" "$VETH_SERVER_IP" ;;
    k_rev) iperf_kernel_client "$1" "$2" "$NS_KC" "$VETH_SERVER_IP" -R ;;
    s_fwd) iperf_kernel_client "$1" "$2" "$NS_SERVE" "$TAP_STACK_IP" ;;
    s_rev) iperf_kernel_client "$1" "$2" "$NS_SERVE" "$TAP_STACK_IP" -R ;;
    c_fwd) iperf_stack_client "$1" "$2" ;;
    c_rev) iperf_stack_client "$1" "$2" -R ;;
    esac
}
BULK_CASES="k_fwd s_fwd c_rev k_rev s_rev c_fwd"

# ------------------------------------------------------------------- http --

# wrk_case case round namespace host [header]: requests/s; errors summed.
wrk_case() {
    local c=$1 r=$2 ns=$3 host=$4 out=$WORK/wrk-$1-$2.out
    shift 4
    # shellcheck disable=SC2046
    timeout $((HTTP_TIME + 30)) ip netns exec "$ns" $(cpu tool) wrk -t 1 -c "$HTTP_CONNS" \
        -d "$HTTP_TIME" "$@" "http://$host$HTTP_PATH" >"$out" 2>&1
    RESULT[rps|$c|$r]=$(awk '$1 == "Requests/sec:" { printf "%.0f\n", $2 }' "$out")
    # "Socket errors: connect 0, read 0, write 0, timeout 0" and non-2xx.
    RESULT[err|$c|$r]=$(awk '/Socket errors:/ { gsub(",", ""); s += $4 + $6 + $8 + $10 }
        /Non-2xx/ { s += $NF } END { print s + 0 }' "$out")
    if [ -z "${RESULT[rps|$c|$r]}" ]; then
        FAILURES=$((FAILURES + 1))
        echo "benchtcp: round $r, $c: no result; output:" >&2
        sed 's/^/    /' "$out" >&2
        return 1
    fi
    echo "benchtcp: round $r, $c: ${RESULT[rps|$c|$r]} req/s, errors ${RESULT[err|$c|$r]}" >&2
}

run_http_case() { # case round
    case $1 in
    k_keep) wrk_case "$1" "$2" "$NS_KC" "$VETH_SERVER_IP" ;;
    k_close) wrk_case "$1" "$2" "$NS_KC" "$VETH_SERVER_IP" -H "Connection: close" ;;
    s_keep) wrk_case "$1" "$2" "$NS_SERVE" "$TAP_STACK_IP" ;;
    s_close) wrk_case "$1" "$2" "$NS_SERVE" "$TAP_STACK_IP" -H "Connection: close" ;;
    esac
}
HTTP_CASES="k_keep s_keep k_close s_close"

# ------------------------------------------------------------------- idle --

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

declare -A IDLE
run_idle() {
    setup_tap "$NS_IDLE"
    # shellcheck disable=SC2046,SC2086
    start_bg idle_stack "$NS_IDLE" $(cpu target) "$USTACK_BIN" serve --tap "$TAP" \
        --ip4 "$TAP_STACK_IP/24" --no-acd --service discard $USTACK_ARGS
    local spid=$LAST_PID hpid i
    wait_ready idle_stack "$spid" && wait_reachable "$NS_IDLE" "$TAP_STACK_IP" || return 1
    IDLE[rss_before]=$(rss_kb "$spid")
    # shellcheck disable=SC2046
    start_bg idle_hold "$NS_IDLE" $(cpu tool) "$BENCH_BIN/tcp_hold" -n "$IDLE_CONNS" \
        "$TAP_STACK_IP" "$DISCARD_PORT"
    hpid=$LAST_PID
    wait_ready idle_hold "$hpid" || return 1
    sleep 2 # let the last handshakes and any retransmissions settle
    IDLE[rss_held]=$(rss_kb "$spid")
    IDLE[established]=$(awk '$1 == "tcp_hold_established" { print $2 }' "$WORK/idle_hold.out")
    IDLE[open_s]=$(awk '$1 == "tcp_hold_open_seconds" { print $2 }' "$WORK/idle_hold.out")
    IDLE[failed]=$(awk '$1 == "tcp_hold_failed" { print $2 }' "$WORK/idle_hold.out")
    IDLE[kernel_side]=$(ip netns exec "$NS_IDLE" ss -Htn state established "dport = :$DISCARD_PORT" |
        wc -l)
    kill -USR1 "$spid" # the counters while held, before the closes
    sleep 0.3
    cp "$WORK/idle_stack.err" "$WORK/idle_counters_held.txt"
    stop_pid "$hpid"
    IDLE[lost]=$(awk '$1 == "tcp_hold_lost" { print $2 }' "$WORK/idle_hold.out")
    for i in $(seq 50); do # until the closes are done (the stack has no TIME_WAIT here)
        [ -z "$(ip netns exec "$NS_IDLE" ss -Htn "dport = :$DISCARD_PORT")" ] && break
        sleep 0.1
    done
    sleep 1
    IDLE[rss_after]=$(rss_kb "$spid")
    TAP_DROPPED[idle]=$(tap_tx_dropped "$NS_IDLE")
    stop_pid "$spid"
    cp "$WORK/idle_stack.err" "$WORK/idle_counters.txt"
    echo "benchtcp: idle: ${IDLE[established]} established in ${IDLE[open_s]} s," \
        "RSS ${IDLE[rss_before]} -> ${IDLE[rss_held]} kB" >&2
}

# --------------------------------------------------------------- profiling --

# profile_case case: one more bulk test of that case with perf attached to
# the ustack process for TIME-1 seconds; the report goes to PROFILE/case.txt.
profile_case() {
    local c=$1 pid data=$PROFILE/$1.perf.data
    case $c in
    s_*) pid=${PID[serve]} ;;
    esac
    rm -f "$WORK/client.pid"
    (
        sleep 1
        [ -n "${pid:-}" ] || pid=$(cat "$WORK/client.pid") # c_*: the stack's client
        # DWARF unwinding: a Release build has no frame pointers.
        perf record -q -F 1999 --call-graph dwarf,16384 -p "$pid" -o "$data" \
            -- sleep $((TIME > 3 ? TIME - 2 : 1)) >/dev/null 2>"$PROFILE/$c.perf.err"
    ) &
    local ppid=$!
    run_bulk_case "$c" profile
    wait "$ppid"
    perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
        >"$PROFILE/$c.txt"
    perf report -i "$data" --children --sort sym --stdio -g caller,0.5,callee,function,percent \
        --percent-limit 2 2>/dev/null >"$PROFILE/$c.callers.txt"
    echo "benchtcp: profile of $c in $PROFILE/$c.txt (flat) and $c.callers.txt;" \
        "self time by object, then ustack's top symbols:" >&2
    grep -E '^ +[0-9.]+%' "$PROFILE/$c.txt" | awk '{ d[$2] += $1 }
        END { for (k in d) printf "    %-20s %5.1f%%\n", k, d[k] }' | sort -k2 -rn >&2
    grep -E '^ +[0-9.]+% +ustack ' "$PROFILE/$c.txt" | head -n 12 | sed 's/^/    /' >&2
}

# ------------------------------------------------------------------ report --

rounds_of() { # metric case
    local r
    for r in $(seq "$ROUNDS"); do echo "${RESULT[$1|$2|$r]:-}"; done
}

cell() { # reducer format metric case
    local vals
    mapfile -t vals < <(rounds_of "$3" "$4")
    if [ "$1" = median ]; then median_fmt "$2" "${vals[@]}"; else sum "${vals[@]}"; fi
}

ratio_cell() { # metric case-a case-b: median over rounds of a/b
    local r vals=()
    for r in $(seq "$ROUNDS"); do
        vals+=("$(awk -v a="${RESULT[$1|$2|$r]:-}" -v b="${RESULT[$1|$3|$r]:-}" \
            'BEGIN { if (a != "" && b + 0 > 0) printf "%.4f\n", a / b }')")
    done
    median_fmt %.2f "${vals[@]}"
}

line() { printf '%-44s %12s %12s %11s %9s %9s\n' "$@"; }

bulk_row() { # label ustack-case kernel-case
    line "$1" "$(cell median %.2f gbit "$3")" "$(cell median %.2f gbit "$2")" \
        "$(ratio_cell gbit "$2" "$3")" "$(cell sum %s retr "$3")" "$(cell sum %s retr "$2")"
}

http_row() { # label ustack-case kernel-case
    line "$1" "$(cell median %.0f rps "$3")" "$(cell median %.0f rps "$2")" \
        "$(ratio_cell rps "$2" "$3")" "$(cell sum %s err "$3")" "$(cell sum %s err "$2")"
}

# Counters that tell of loss or trouble, from ustack's SIGINT output.
trouble_counters() { # file
    grep -E '^(tcp\.(retransmit|rto|fast_retransmit|syncookie|challenge_ack|rst|drop|reset)|drop\.)' \
        "$1" 2>/dev/null | tr '\n' ' '
}

tap_tx_dropped() { # namespace: frames the kernel could not queue to the stack
    ip -n "$1" -s -j link show "$TAP" 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])' \
            2>/dev/null
}

report_bulk() {
    line "bulk TCP, iperf3 Gbit/s (receiver)" "kernel(veth)" "ustack(TAP)" "ustack/kern" \
        "retr(k)" "retr(us)"
    bulk_row "kernel -> ustack serve   (iperf3 -c)" s_fwd k_fwd
    bulk_row "ustack serve -> kernel   (iperf3 -c -R)" s_rev k_rev
    bulk_row "ustack client -> kernel  (ustack iperf3)" c_fwd k_fwd
    bulk_row "kernel -> ustack client  (ustack iperf3 -R)" c_rev k_rev
    echo "  kernel(veth): the same direction between two kernels (client -> server"
    echo "  for the first and third rows, server -> client for the others);"
    echo "  retr: the sender's retransmissions, summed over rounds."
    echo "  Issue target: ustack >= 2.5 Gbit/s each way (reported, not enforced)."
    echo
}

report_http() {
    line "HTTP GET $HTTP_PATH, wrk req/s ($HTTP_CONNS conns)" "nginx(veth)" "ustack(TAP)" \
        "ustack/kern" "err(k)" "err(us)"
    http_row "keep-alive" s_keep k_keep
    http_row "connection per request (Connection: close)" s_close k_close
    echo "  nginx: one process, body made in memory, no access log (see README);"
    echo "  err: wrk socket errors and non-2xx responses, summed over rounds."
    echo
}

report_idle() {
    local n=${IDLE[established]:-0} b=${IDLE[rss_before]:-} h=${IDLE[rss_held]:-}
    echo "idle TCP connections to ustack's discard service (tcp_hold)"
    if [ -z "$b" ] || [ -z "$h" ]; then
        echo "  not measured"
        echo
        return
    fi
    awk -v n="$n" -v want="$IDLE_CONNS" -v b="$b" -v h="$h" -v a="${IDLE[rss_after]:-}" \
        -v s="${IDLE[open_s]}" -v f="${IDLE[failed]}" -v l="${IDLE[lost]:-?}" \
        -v k="${IDLE[kernel_side]}" -v t="$IDLE_TARGET_MB" 'BEGIN {
        printf "  connections established   %d of %d in %s s (%d failed connects, retried);\n",
            n, want, s, f
        printf "                            %d established on the kernel side, %s lost while held\n",
            k, l
        printf "  ustack RSS                %.1f MB before, %.1f MB while held, %s after closing\n",
            b / 1024, h / 1024, a == "" ? "n/a" : sprintf("%.1f MB", a / 1024)
        if (n > 0)
            printf "  per idle connection       %.0f bytes ((held - before) / established)\n",
                (h - b) * 1024 / n
        printf "  scaled to 10,000          %.1f MB in total (issue target: under %d MB)\n",
            (b + (n > 0 ? (h - b) * 10000 / n : 0)) / 1024, t
    }'
    echo
}

report_trouble() {
    local c r
    echo "trouble indicators: ustack's non-zero counters of loss, resets and drops,"
    echo "and frames the kernel dropped on a TAP (queued for the stack, which did not"
    echo "read them in time)"
    if has_part bulk || has_part http; then
        echo "  ustack serve after the rounds: $(trouble_counters "$WORK/serve_counters.txt")"
        echo "    TAP dropped ${TAP_DROPPED[serve]:-n/a} in all; RSS ${RSS_SERVE[start]:-?} kB at" \
            "start, ${RSS_SERVE[bulk]:-?} kB after bulk, ${RSS_SERVE[http]:-?} kB after http"
    fi
    if has_part bulk; then
        printf '  TAP dropped per bulk case, summed over rounds:'
        for c in s_fwd s_rev c_fwd c_rev; do printf ' %s %s' "$c" "$(cell sum %s tapdrop "$c")"; done
        echo
        for c in c_fwd c_rev; do
            for r in $(seq "$ROUNDS"); do
                echo "  ustack iperf3 $c round $r, near its end: ${RESULT[trouble|$c|$r]:-}"
            done
        done
    fi
    if has_part idle; then
        echo "  ustack serve (idle) while held: $(trouble_counters "$WORK/idle_counters_held.txt")"
        echo "    at exit: $(trouble_counters "$WORK/idle_counters.txt")"
        echo "    TAP dropped ${TAP_DROPPED[idle]:-n/a} (mostly the burst of closes)"
    fi
    echo
}

report() {
    echo "ustack TCP benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $(nproc) CPUs"
    echo "  $ROUNDS interleaved rounds of ${TIME} s iperf3 and ${HTTP_TIME} s wrk tests;" \
        "cells: median over rounds;"
    echo "  ratios: median of the per-round ratios. Pinning: $([ "$PIN" = 1 ] &&
        echo "tested side on CPU 1, kernel-side tool on CPU 0" || echo none)."
    echo "  kernel TCP congestion control: $(cat /proc/sys/net/ipv4/tcp_congestion_control);" \
        "ustack: NewReno. ustack: $USTACK_BIN"
    echo
    has_part bulk && report_bulk
    has_part http && report_http
    has_part idle && report_idle
    report_trouble
}

# ------------------------------------------------------------------- main --

declare -A TAP_DROPPED RSS_SERVE

main() {
    check_setup
    local r c status=0
    echo "benchtcp: starting the kernel baseline and ustack serve" >&2
    if has_part bulk || has_part http; then
        start_kernel || die "the kernel baseline did not start"
        start_serve || die "ustack serve did not start"
        RSS_SERVE[start]=$(rss_kb "${PID[serve]}")
    fi
    has_part bulk && start_client_ns
    if has_part bulk; then
        for r in $(seq "$ROUNDS"); do
            for c in $BULK_CASES; do run_bulk_case "$c" "$r"; done
        done
        RSS_SERVE[bulk]=$(rss_kb "${PID[serve]}")
    fi
    if has_part http; then
        for r in $(seq "$ROUNDS"); do
            for c in $HTTP_CASES; do run_http_case "$c" "$r"; done
        done
        RSS_SERVE[http]=$(rss_kb "${PID[serve]}")
    fi
    if [ -n "${PID[serve]:-}" ] && running "${PID[serve]}"; then
        kill -USR1 "${PID[serve]}" # the counters of the measured rounds only
        sleep 0.3
    fi
    cp "$WORK/serve.err" "$WORK/serve_counters.txt" 2>/dev/null
    if [ -n "$PROFILE" ] && has_part bulk; then
        for c in s_fwd s_rev c_fwd c_rev; do profile_case "$c"; done
    fi
    if [ -n "${PID[serve]:-}" ]; then
        running "${PID[serve]}" || {
            echo "benchtcp: ustack serve exited during the run" >&2
            status=1
        }
        TAP_DROPPED[serve]=$(tap_tx_dropped "$NS_SERVE")
        stop_pid "${PID[serve]}"
    fi
    has_part bulk && TAP_DROPPED[client]=$(tap_tx_dropped "$NS_CLIENT")
    if has_part idle; then
        run_idle || status=1
    fi
    [ "$FAILURES" -eq 0 ] || status=1
    report
    return $status
}

main
exit $?
