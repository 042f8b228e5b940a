# shellcheck shell=bash
# bench/lib.sh: what the benchmark scripts share (sourced by run.sh and
# tcp.sh): the process and namespace bookkeeping that cleans up on any exit,
# and medians. The sourcing script sets BENCH_NAME (used in messages and in
# the temporary directory's name) before sourcing.

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 2
}

# ---------------------------------------------------------------- cleanup --

WORK=$(mktemp -d "/tmp/us-$BENCH_NAME.XXXXXX")
PIDS=()
NAMESPACES=()

running() { # pid: alive and not yet a zombie
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# stop_pid pid: SIGINT, then SIGKILL after 3 s. Only for pids in PIDS (our
# children); once reaped the pid is dropped from PIDS, so it is never signalled
# again after the system could have reused it.
stop_pid() {
    local pid=$1 i kept=()
    if running "$pid"; then
        kill -INT "$pid" 2>/dev/null
        for i in $(seq 30); do
            running "$pid" || break
            sleep 0.1
        done
        running "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || kept+=("$i"); done
    PIDS=("${kept[@]}")
    return 0
}

cleanup() {
    local pid ns
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ "${BENCH_KEEP_WORK:-0}" = 1 ]; then
        echo "$BENCH_NAME: outputs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- namespaces --

netns_new() { # name
    ip netns add "$1" || die "cannot create namespace $1"
    NAMESPACES+=("$1")
    ip -n "$1" link set lo up
    # IPv4 only: keeps IPv6 router/neighbour chatter off the measured links.
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
}

# ------------------------------------------------------------------ stats --

# median_fmt format values...: median printed with format, or n/a if none
median_fmt() {
    local format=$1
    shift
    printf '%s\n' "$@" | awk 'NF' | sort -g |
        awk -v f="$format" '{ v[NR] = $1 } END {
            if (NR == 0) { print "n/a"; exit }
            printf f "\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

median() { # values...: median (one decimal if the values have one), or n/a
    if [[ "$*" == *.* ]]; then median_fmt %.1f "$@"; else median_fmt %.0f "$@"; fi
}

sum() { # values...: sum, or n/a if none
    printf '%s\n' "$@" | awk 'NF { s += $1; n++ } END { if (n) print s; else print "n/a" }'
}
