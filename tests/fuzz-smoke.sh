#!/bin/sh
# Runs every libFuzzer target in DIR (fuzz_*) for a bounded time against a
# scratch copy of its seed corpus (fuzz/corpus/<name without fuzz_>), so new
# corpus entries never land in the repository. Exits non-zero if a target
# crashes, leaks, times out or exceeds the RSS limit.
#
#   tests/fuzz-smoke.sh build-fuzz/fuzz
#   FUZZ_SECONDS=300 tests/fuzz-smoke.sh build-fuzz/fuzz
#
# Environment: FUZZ_SECONDS (default 30, per target), FUZZ_RSS_MB (512),
# FUZZ_KEEP=1 keeps the scratch directory, ASAN_OPTIONS is passed on. Crash reproducers are copied to
# $FUZZ_CRASH_DIR (default /tmp/fuzz-crashes).
set -u

usage() {
    echo "usage: $0 DIR (directory holding the fuzz_* executables)" >&2
    exit 2
}

[ $# -eq 1 ] || usage
[ -d "$1" ] || { echo "$0: not a directory: $1" >&2; exit 2; }
dir=$(cd "$1" && pwd) # absolute: each target runs from its scratch directory

seconds=${FUZZ_SECONDS:-30}
rss_mb=${FUZZ_RSS_MB:-512}
crash_dir=${FUZZ_CRASH_DIR:-/tmp/fuzz-crashes}
case $seconds in
'' | *[!0-9]*) echo "$0: FUZZ_SECONDS must be a whole number of seconds, got '$seconds'" >&2; exit 2 ;;
esac
case $rss_mb in
'' | *[!0-9]*) echo "$0: FUZZ_RSS_MB must be a whole number, got '$rss_mb'" >&2; exit 2 ;;
esac

# ASan keeps 256 MB of freed memory in quarantine by default, which alone
# would eat half of the RSS limit; a smaller one leaves the limit to catch
# real growth of the stack. Options the caller sets come later and win.
ASAN_OPTIONS="quarantine_size_mb=64${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export ASAN_OPTIONS

root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ustack-fuzz.XXXXXX") || exit 1
if [ "${FUZZ_KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$scratch"' EXIT
    trap 'exit 130' INT TERM
fi

found=0
failed=""
for bin in "$dir"/fuzz_*; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
    found=$((found + 1))
    name=$(basename "$bin")
    kind=${name#fuzz_}
    corpus=$scratch/$name/corpus
    artifacts=$scratch/$name/artifacts
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$root/fuzz/corpus/$kind" ]; then
        cp "$root/fuzz/corpus/$kind"/* "$corpus"/ 2>/dev/null
    else
        echo "$name: no seed corpus at fuzz/corpus/$kind, starting empty" >&2
    fi
    log=$scratch/$name/log
    echo "== $name: ${seconds}s, rss limit ${rss_mb} MB"
    # The scratch directory is the working directory too, so nothing the
    # fuzzer writes (fuzz-*.log, crash-*) ends up in the caller's tree.
    (cd "$scratch/$name" &&
        "$bin" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout=25 \
            -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/" \
            "$corpus") >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$(ls "$artifacts")" ]; then
        failed="$failed $name"
        mkdir -p "$crash_dir"
        cp "$artifacts"/* "$crash_dir"/ 2>/dev/null
        echo "$name: FAILED (exit $rc); reproducers in $crash_dir:" >&2
        ls "$artifacts" >&2
        # The sanitizer report and the lines around it.
        grep -n -A40 -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|out-of-memory|timeout|deadly signal' \
            "$log" | head -80 >&2
        echo "(full log: $log; set FUZZ_KEEP=1 to keep it)" >&2
    else
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|cov: ' "$log" | tail -3
        echo "$name: ok"
    fi
done

if [ $found -eq 0 ]; then
    echo "$0: no fuzz_* executables in $dir" >&2
    exit 1
fi
if [ -n "$failed" ]; then
    echo "fuzz smoke FAILED:$failed" >&2
    exit 1
fi
echo "fuzz smoke passed ($found targets, ${seconds}s each)"
