#!/usr/bin/env bash
# Helpers for the end-to-end tests, sourced by tests/e2e/test_*.sh.
#
# Each test gets its own network namespace "us-e2e-<test>-<pid>" holding a
# TAP (or TUN) device ust0. The kernel side of ust0 is 10.77.0.1/24, ustack
# runs on the same device as 10.77.0.2. Everything the test creates (the
# namespace, the temporary directory, the ustack process) is removed by an
# EXIT trap, whatever way the test ends.
#
# Assertions stop the test at the first failure and print what was expected
# and what was seen.

# shellcheck disable=SC2034 # variables used by the tests that source this
set -euo pipefail

: "${USTACK_BIN:?USTACK_BIN must name the ustack binary to test}"

E2E_TEST=$(basename "$0" .sh)
E2E_TEST=${E2E_TEST#test_}

NS="us-e2e-${E2E_TEST}-$$"
KERNEL_IP=10.77.0.1
STACK_IP=10.77.0.2
STACK_CIDR=10.77.0.2/24
# ustack's default MAC for 10.77.0.2: 02:75 ("u") followed by the address.
STACK_MAC=02:75:0a:4d:00:02
E2E_LINK=tap # or tun, set by netns_setup

# How long to wait for "ready" and for the exit after SIGINT.
READY_TIMEOUT=${READY_TIMEOUT:-20}
STOP_TIMEOUT=${STOP_TIMEOUT:-15}

# The sanitizer build must stop at the first error and say where.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

TMP=$(mktemp -d "/tmp/us-e2e-${E2E_TEST}.XXXXXX")
E2E_NS_MADE=0
US_PID=""
US_RUN=0
US_OUT=""
US_ERR=""
US_PCAP=""
US_RC=""

# ---- messages and assertions ----

# log MESSAGE: one line, with the seconds since the test started (a test
# that times out in CI shows where its time went).
log() { printf '[%s +%ss] %s\n' "$E2E_TEST" "$SECONDS" "$*"; }

fail()
{
    printf '[%s] FAIL: %s\n' "$E2E_TEST" "$1" >&2
    shift
    local line
    for line in "$@"; do
        printf '    %s\n' "$line" >&2
    done
    exit 1
}

# assert_eq WHAT EXPECTED SEEN
assert_eq()
{
    [[ "$2" == "$3" ]] || fail "$1" "expected: $2" "seen:     $3"
}

# assert_ge WHAT MINIMUM SEEN (integers)
assert_ge()
{
    [[ "$3" =~ ^[0-9]+$ ]] || fail "$1" "expected: a number >= $2" "seen:     '$3'"
    ((${3} >= ${2})) || fail "$1" "expected: >= $2" "seen:     $3"
}

# assert_le WHAT MAXIMUM SEEN (integers)
assert_le()
{
    [[ "$3" =~ ^[0-9]+$ ]] || fail "$1" "expected: a number <= $2" "seen:     '$3'"
    ((${3} <= ${2})) || fail "$1" "expected: <= $2" "seen:     $3"
}

# assert_contains WHAT TEXT PATTERN: TEXT matches the extended regex PATTERN.
assert_contains()
{
    grep -Eq -- "$3" <<<"$2" || fail "$1" "expected text matching: $3" "seen:" "$(indent "$2")"
}

# assert_not_contains WHAT TEXT PATTERN
assert_not_contains()
{
    if grep -Eq -- "$3" <<<"$2"; then
        fail "$1" "expected no text matching: $3" "seen:" "$(indent "$2")"
    fi
}

# shellcheck disable=SC2001
indent() { sed 's/^/      | /' <<<"$1"; }

# Shows the last lines of ustack's stderr (its log and counters).
show_ustack_log()
{
    [[ -n "$US_ERR" && -s "$US_ERR" ]] || return 0
    printf '    --- ustack stderr (%s, last 40 lines) ---\n' "$US_ERR" >&2
    tail -n 40 "$US_ERR" | sed 's/^/    | /' >&2
}

# ---- namespace ----

nsx() { ip netns exec "$NS" "$@"; }

# netns_setup [tap|tun]: namespace, device ust0, kernel side 10.77.0.1 up.
netns_setup()
{
    E2E_LINK=${1:-tap}
    ip netns add "$NS"
    E2E_NS_MADE=1
    # run.sh removes namespaces listed here if the test is killed.
    if [[ -n "${E2E_NS_FILE:-}" ]]; then
        echo "$NS" >>"$E2E_NS_FILE"
    fi
    nsx ip link set lo up
    nsx ip tuntap add dev ust0 mode "$E2E_LINK"
    if [[ "$E2E_LINK" == tun ]]; then
        nsx ip addr add "$KERNEL_IP" peer "$STACK_IP" dev ust0
    else
        nsx ip addr add "$KERNEL_IP/24" dev ust0
    fi
    nsx ip link set ust0 up
}

# ---- the ustack process ----

alive()
{
    local pid=$1 stat
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ "${stat:0:1}" != Z ]]
}

# ustack_spawn [serve options...]: starts "ustack serve" on ust0 in the
# namespace with a pcap capture, stdout and stderr in files; does not wait.
# A first argument --acd keeps RFC 5227 probing on (default: --no-acd).
ustack_spawn()
{
    local acd=(--no-acd) link=(--tap ust0)
    if [[ "${1:-}" == --acd ]]; then
        acd=()
        shift
    fi
    [[ "$E2E_LINK" == tun ]] && link=(--tun ust0)
    # E2E_LOG=debug (for instance) turns ustack's log up for a failing test.
    [[ -z "${E2E_LOG:-}" ]] || acd+=(--log "$E2E_LOG")
    # E2E_PCAP_COUNT=N keeps only the first N frames of a bulk transfer.
    [[ -z "${E2E_PCAP_COUNT:-}" ]] || acd+=(--pcap-count "$E2E_PCAP_COUNT")
    US_RUN=$((US_RUN + 1))
    US_OUT=$TMP/ustack$US_RUN.out
    US_ERR=$TMP/ustack$US_RUN.err
    US_PCAP=$TMP/cap$US_RUN.pcap
    # A background job of a script starts with SIGINT ignored; undo that so
    # the SIGINT we send later reaches ustack's own handler.
    (
        trap - INT QUIT
        exec ip netns exec "$NS" "$USTACK_BIN" serve "${link[@]}" --ip4 "$STACK_CIDR" \
            "${acd[@]}" --pcap "$US_PCAP" "$@" >"$US_OUT" 2>"$US_ERR" </dev/null
    ) &
    US_PID=$!
    log "started ustack serve (pid $US_PID) ${acd[*]} $*"
}

# wait_ready: waits for the line "ready" on ustack's stdout.
wait_ready()
{
    local deadline=$((SECONDS + READY_TIMEOUT))
    while ! grep -qx ready "$US_OUT" 2>/dev/null; do
        if ! alive "$US_PID"; then
            local rc=0
            wait "$US_PID" || rc=$?
            US_PID=""
            show_ustack_log
            fail "ustack exited (status $rc) before printing ready"
        fi
        if ((SECONDS >= deadline)); then
            show_ustack_log
            fail "ustack did not print ready within ${READY_TIMEOUT}s" \
                "stdout: $(head -c 300 "$US_OUT" 2>/dev/null | tr '\n' ' ')"
        fi
        sleep 0.1
    done
}

# ustack_start [--acd] [serve options...]: spawn and wait for ready.
ustack_start()
{
    ustack_spawn "$@"
    wait_ready
}

# Fails if ustack's stderr holds a sanitizer report.
check_sanitizers()
{
    if grep -Eq 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$US_ERR" 2>/dev/null; then
        grep -E -A 30 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$US_ERR" | head -n 60 |
            sed 's/^/    | /' >&2
        fail "sanitizer report in ustack's stderr"
    fi
}

# ustack_signal_stop: SIGINT, wait for the exit, sets US_RC. Returns 1 if
# it had to be killed.
ustack_signal_stop()
{
    local pid=$US_PID deadline=$((SECONDS + STOP_TIMEOUT)) killed=0
    [[ -n "$pid" ]] || return 0
    kill -INT "$pid" 2>/dev/null || true
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            killed=1
            break
        fi
        sleep 0.1
    done
    US_RC=0
    wait "$pid" 2>/dev/null || US_RC=$?
    US_PID=""
    return $((killed ? 1 : 0))
}

# ustack_stop: stops ustack with SIGINT, requires exit status 0, no
# sanitizer report, and a clean capture (see pcap_check).
ustack_stop()
{
    [[ -n "$US_PID" ]] || return 0
    if ! ustack_signal_stop; then
        show_ustack_log
        fail "ustack did not exit within ${STOP_TIMEOUT}s of SIGINT (killed)"
    fi
    check_sanitizers
    if [[ "$US_RC" != 0 ]]; then
        show_ustack_log
        fail "ustack exit status after SIGINT" "expected: 0" "seen:     $US_RC"
    fi
    if [[ "${E2E_PCAP_CHECK:-1}" == 1 ]]; then
        pcap_check "$US_PCAP"
    fi
}

# counter NAME: value of counter NAME from the last ustack's exit report
# ("name value" lines on stderr; counters at zero are not printed).
counter()
{
    awk -v n="$1" '$1 == n && NF == 2 && $2 ~ /^[0-9]+$/ { v = $2 } END { print v + 0 }' \
        "$US_ERR"
}

# assert_counter_ge NAME MIN
assert_counter_ge()
{
    local v
    v=$(counter "$1")
    if ((v < $2)); then
        show_ustack_log
        fail "counter $1" "expected: >= $2" "seen:     $v"
    fi
}

# assert_counter_eq NAME VALUE
assert_counter_eq()
{
    local v
    v=$(counter "$1")
    if ((v != $2)); then
        show_ustack_log
        fail "counter $1" "expected: $2" "seen:     $v"
    fi
}

# ---- kernel-side tools ----

# ping_ok WHAT COUNT [ping options...] : pings the stack from the kernel and
# requires every echo to be answered, with no duplicates or errors.
ping_ok()
{
    local what=$1 count=$2 out rc=0 sent recv
    shift 2
    out=$(nsx ping -n -c "$count" -W 3 -w 120 "$@" "$STACK_IP" 2>&1 </dev/null) || rc=$?
    sent=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1/p' <<<"$out")
    recv=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2/p' <<<"$out")
    if [[ "$sent" != "$count" || "$recv" != "$count" || $rc != 0 ]]; then
        show_ustack_log
        fail "$what: ping $* $STACK_IP" "expected: $count transmitted, $count received, exit 0" \
            "seen:     ${sent:-?} transmitted, ${recv:-?} received, exit $rc" \
            "$(tail -n 4 <<<"$out")"
    fi
    assert_not_contains "$what: no duplicate or corrupted replies" "$(tail -n 3 <<<"$out")" \
        'duplicates|errors|corrupted|wrong data'
    log "$what: $count/$count replies"
}

# udp_exchange PORT INFILE OUTFILE: sends INFILE as one datagram from the
# kernel side to the stack, writes what comes back (for up to 2 s after sending) to OUTFILE.
udp_exchange()
{
    local port=$1 in=$2 out=$3
    nsx socat -b 65536 -t 2 -T 3 - "UDP:$STACK_IP:$port" <"$in" >"$out" 2>"$out.err" || true
}

# ---- tshark ----

# A capture the tests check is at most tens of MB: tshark reads that in
# seconds. Thrift's heuristic dissector takes some bulk payloads (iperf3's
# random bytes) for Thrift messages and reassembles them over and over:
# a minute for 20000 frames instead of a second, so it is off.
TSHARK_TIMEOUT=120
TSHARK_PREFS=(-n --disable-protocol thrift -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE
    -o tcp.check_checksum:TRUE)

# tshark_fields FILE FILTER FIELD...: one line per matching frame.
tshark_fields()
{
    local file=$1 filter=$2 args=() f rc=0 out
    shift 2
    for f in "$@"; do
        args+=(-e "$f")
    done
    out=$(timeout -k 5 "$TSHARK_TIMEOUT" tshark -r "$file" "${TSHARK_PREFS[@]}" -Y "$filter" \
        -T fields -E separator=' ' "${args[@]}" 2>"$TMP/tshark.err") || rc=$?
    if [[ $rc == 124 || $rc == 137 ]]; then
        fail "tshark took over ${TSHARK_TIMEOUT}s on $file ($(stat -c %s "$file") bytes)" \
            "filter: $filter"
    elif [[ $rc != 0 ]]; then
        fail "tshark could not read $file (exit $rc)" "$(grep -v 'Running as user' "$TMP/tshark.err")"
    fi
    [[ -z "$out" ]] || printf '%s\n' "$out"
}

# tshark_count FILE FILTER: number of frames matching FILTER.
tshark_count()
{
    tshark_fields "$1" "$2" frame.number | wc -l
}

# Display filter for frames ustack sent.
from_stack()
{
    if [[ "$E2E_LINK" == tun ]]; then
        echo "ip.src == $STACK_IP"
    else
        echo "eth.src == $STACK_MAC"
    fi
}

# pcap_check FILE: the capture is readable and not empty, holds frames sent
# by ustack, and none of those is malformed, has a bad IPv4/UDP/ICMP/TCP
# checksum or draws a warning or error from tshark's expert system.
pcap_check()
{
    local file=$1 total ours bad
    [[ -s "$file" ]] || fail "capture $file is missing or empty"
    total=$(tshark_count "$file" "frame")
    ((total > 0)) || fail "capture $file holds no frames"
    ours=$(tshark_count "$file" "$(from_stack)")
    ((ours > 0)) || fail "capture $file holds no frame sent by ustack ($(from_stack))"
    bad=$(tshark_fields "$file" "($(from_stack)) && (_ws.malformed || _ws.expert.severity >= warning \
        || ip.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\" \
        || icmp.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\")" \
        frame.number _ws.col.Info _ws.expert.message)
    if [[ -n "$bad" ]]; then
        fail "tshark flags frames sent by ustack in $file (frame, info, expert)" \
            "$(head -n 20 <<<"$bad")"
    fi
    log "capture $(basename "$file"): $total frames, $ours from ustack, none flagged by tshark"
}

# ---- TCP: background peers, ustack clients, checks ----

E2E_BG_PIDS=()
BG_PID=""

# bg_start NAME STDIN COMMAND...: runs COMMAND in the namespace in the
# background with standard input from the file STDIN, output in
# $TMP/NAME.out and $TMP/NAME.err; sets BG_PID. Whatever still runs at the
# end of the test is stopped by the cleanup.
bg_start()
{
    local name=$1 in=$2
    shift 2
    (
        trap - INT QUIT
        exec ip netns exec "$NS" "$@" <"$in" >"$TMP/$name.out" 2>"$TMP/$name.err"
    ) &
    BG_PID=$!
    E2E_BG_PIDS+=("$BG_PID")
}

# bg_wait PID SECS: waits up to SECS seconds for PID (started by bg_start)
# to exit and returns its exit status; 124 after killing it if it did not.
bg_wait()
{
    local pid=$1 deadline=$((SECONDS + $2)) rc=0
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 124
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

# e2e_bg_stop: stops, by pid, what bg_start started and still runs.
e2e_bg_stop()
{
    local pid
    for pid in "${E2E_BG_PIDS[@]}"; do
        if alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            sleep 0.2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    E2E_BG_PIDS=()
}

# wait_listen PORT [SECS]: waits until a kernel-side socket in the namespace
# listens on TCP port PORT.
wait_listen()
{
    local port=$1 secs=${2:-10} deadline
    deadline=$((SECONDS + secs))
    while [[ -z "$(nsx ss -Htln "sport = :$port" 2>/dev/null)" ]]; do
        ((SECONDS < deadline)) || fail "nothing listens on TCP port $port in the namespace after ${secs}s"
        sleep 0.1
    done
}

# ustack_run OUT SECS COMMAND [ARGS...]: runs "ustack COMMAND" (nc, get,
# iperf3, ...) alone on ust0 as 10.77.0.2 (no ACD), capturing to OUT.pcap,
# with stdout in OUT and stderr in OUT.err; standard input is the caller's.
# Killed after SECS seconds. Returns its exit status (124: timed out).
ustack_run()
{
    local out=$1 secs=$2 cmd=$3 rc=0 extra=()
    shift 3
    [[ -z "${E2E_LOG:-}" ]] || extra+=(--log "$E2E_LOG")
    [[ -z "${E2E_PCAP_COUNT:-}" ]] || extra+=(--pcap-count "$E2E_PCAP_COUNT")
    timeout -k 5 "$secs" ip netns exec "$NS" "$USTACK_BIN" "$cmd" --tap ust0 \
        --ip4 "$STACK_CIDR" --no-acd --pcap "$out.pcap" "${extra[@]}" "$@" \
        >"$out" 2>"$out.err" || rc=$?
    return $rc
}

# check_sanitizers_in FILE: fails if FILE (a ustack stderr) holds a
# sanitizer report.
check_sanitizers_in()
{
    if grep -Eq 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' "$1" 2>/dev/null; then
        grep -E -A 30 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$1" | head -n 60 |
            sed 's/^/    | /' >&2
        fail "sanitizer report in $1"
    fi
}

# show_tail FILE [LINES]: prints the end of FILE (a log) on stderr.
show_tail()
{
    [[ -s "$1" ]] || return 0
    printf '    --- %s (last %s lines) ---\n' "$1" "${2:-30}" >&2
    tail -n "${2:-30}" "$1" | sed 's/^/    | /' >&2
}

# pattern_verify N: reads standard input and checks that it is the body of
# the HTTP service's /bytes/N: N bytes, byte i being i mod 251. Prints the
# first difference and returns 1 if it is not.
pattern_verify()
{
    python3 -c '
import sys
n, period, size = int(sys.argv[1]), 251, 1 << 20
block = bytes(range(period)) * (size // period + 2)
off, inp = 0, sys.stdin.buffer
while True:
    chunk = inp.read(size)
    if not chunk:
        break
    start = off % period
    want = block[start:start + len(chunk)]
    if chunk != want:
        i = next(k for k in range(len(chunk)) if chunk[k] != want[k])
        print(f"byte {off + i}: expected {want[i]}, seen {chunk[i]}")
        sys.exit(1)
    off += len(chunk)
if off != n:
    print(f"length: expected {n} bytes, seen {off}")
    sys.exit(1)
' "$1"
}

# pcap_check_except FILE IGNORE: pcap_check, except that expert warnings on
# frames matching the display filter IGNORE are allowed (for instance
# "tcp.analysis.flags": retransmissions and lost segments on a lossy link).
# Malformed frames and bad checksums still fail.
pcap_check_except()
{
    local file=$1 ignore=$2 total ours bad
    [[ -s "$file" ]] || fail "capture $file is missing or empty"
    total=$(tshark_count "$file" "frame")
    ((total > 0)) || fail "capture $file holds no frames"
    ours=$(tshark_count "$file" "$(from_stack)")
    ((ours > 0)) || fail "capture $file holds no frame sent by ustack ($(from_stack))"
    bad=$(tshark_fields "$file" "($(from_stack)) && (_ws.malformed \
        || (_ws.expert.severity >= warning && !($ignore)) \
        || ip.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\" \
        || icmp.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\")" \
        frame.number _ws.col.Info _ws.expert.message)
    if [[ -n "$bad" ]]; then
        fail "tshark flags frames sent by ustack in $file (frame, info, expert)" \
            "$(head -n 20 <<<"$bad")"
    fi
    log "capture $(basename "$file"): $total frames, $ours from ustack, none flagged" \
        "(expert warnings on '$ignore' allowed)"
}

# pcap_check_head FILE N [ALLOW]: pcap_check_except (allowing TCP_EXPERT_OK
# or ALLOW) over the N frames of a bulk transfer's capture, which ustack
# stopped writing after N frames (E2E_PCAP_COUNT=N): whole, such a capture
# runs to gigabytes, too much to write and read in a test's time. Fails if
# the capture holds more than N frames.
pcap_check_head()
{
    local TSHARK_PREFS=("${TSHARK_PREFS[@]}" -c "$(($2 + 1))") n
    n=$(tshark_count "$1" frame)
    ((n <= $2)) || fail "capture $1 holds more than $2 frames (was ustack given --pcap-count $2?)"
    pcap_check_except "$1" "${3:-$TCP_EXPERT_OK}"
}

# Wireshark's TCP analysis raises expert warnings for flow control working
# as designed: "Window Full" (we sent up to the peer's window) and "Zero
# Window" (we advertised none, our reader being slower). The TCP tests allow
# these, and nothing else: retransmissions or out-of-order segments on a
# clean link, segments past what was ACKed, lost sequence space all still
# fail.
TCP_EXPERT_OK="tcp.analysis.window_full || tcp.analysis.zero_window"

# ustack_stop_tcp [ALLOW]: ustack_stop (SIGINT, exit 0, no sanitizer
# report), then pcap_check_except on its capture allowing TCP_EXPERT_OK (or
# the display filter ALLOW) instead of pcap_check.
ustack_stop_tcp()
{
    E2E_PCAP_CHECK=0 ustack_stop
    pcap_check_except "$US_PCAP" "${1:-$TCP_EXPERT_OK}"
}

# tcp_no_retransmissions FILE: on a link that loses nothing the stack has
# nothing to retransmit. Fails listing the segments tshark sees the stack
# resend in FILE, with the kernel's count of duplicate segments it got
# (TcpExtTCPDSACKOldSent: data it already had, so the resend was spurious).
tcp_no_retransmissions()
{
    local file=$1 bad dsack
    bad=$(tshark_fields "$file" "($(from_stack)) && tcp.analysis.retransmission" frame.number \
        frame.time_relative _ws.col.Info)
    [[ -n "$bad" ]] || return 0
    dsack=$(nsx nstat -az TcpExtTCPDSACKOldSent 2>/dev/null |
        awk '$1 == "TcpExtTCPDSACKOldSent" { print $2 }')
    fail "the stack retransmitted $(wc -l <<<"$bad") segments on a link that loses nothing" \
        "stack counters: tcp.retransmit $(counter tcp.retransmit), tcp.rto $(counter tcp.rto)," \
        "tcp.fast_retransmit $(counter tcp.fast_retransmit); the kernel received ${dsack:-?}" \
        "segments it already had (TcpExtTCPDSACKOldSent). First ones in $file:" \
        "$(head -n 8 <<<"$bad")"
}

# ---- teardown ----

e2e_cleanup()
{
    local rc=$?
    trap - EXIT INT TERM
    e2e_bg_stop # TCP tests: kernel-side peers started with bg_start
    if [[ -n "$US_PID" ]]; then
        if ! ustack_signal_stop; then
            printf '[%s] FAIL: ustack did not exit within %ss of SIGINT (killed)\n' \
                "$E2E_TEST" "$STOP_TIMEOUT" >&2
            rc=1
        elif [[ "$US_RC" != 0 ]]; then
            printf '[%s] FAIL: ustack exit status after SIGINT: expected 0, seen %s\n' \
                "$E2E_TEST" "$US_RC" >&2
            rc=1
        fi
        if grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$US_ERR" 2>/dev/null; then
            printf '[%s] FAIL: sanitizer report in ustack stderr\n' "$E2E_TEST" >&2
            rc=1
        fi
        if ((rc != 0)); then
            show_ustack_log
        fi
    fi
    if ((rc == 0)); then
        log "passed"
    fi
    if ((E2E_NS_MADE)); then
        ip netns del "$NS" 2>/dev/null || true
    fi
    if [[ "${E2E_KEEP:-0}" == 1 ]]; then
        printf '[%s] kept %s\n' "$E2E_TEST" "$TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}

trap e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
