#!/usr/bin/env bash
# TCP on a faulty link: "--impair loss=10%" drops one frame in ten each way.
# Through "ustack serve", curl's download of /bytes/N arrives as the exact
# pattern and a random echo returns unchanged (the stack sending, and
# receiving, under loss); then "ustack get" fetches 20 MB from the kernel's
# http.server (the kernel sending, the stack receiving out-of-order data and
# answering with SACKs) and the file arrives identical. Each stack must have
# seen the loss; the captures must hold no malformed frame or bad checksum
# (tshark's warnings about retransmissions and lost segments are expected
# here and allowed).
#
# Sizes: E2E_IMPAIR_BYTES (default 5000000) for the download from the stack,
# and 2 MB for the echo. The stack recovers lost retransmissions by timeout
# only, 200 ms or more each, so 20 MB from it take minutes at 10% loss.
#
# The seed is random and printed: E2E_IMPAIR_SEED=N replays a run.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

SEED=${E2E_IMPAIR_SEED:-$((RANDOM % 10000 + 1))}
BYTES=${E2E_IMPAIR_BYTES:-5000000}
# On a lossy link tshark's TCP analysis flags retransmissions and lost
# segments, and a late duplicate (an ACK repeated for a resent FIN, say) may
# reach a connection already closed and draw an RST (RFC 9293 3.10.7.1).
# The HTTP dissector, missing segments, takes body bytes for heads: it is
# turned off. Malformed frames and bad checksums still fail.
LOSSY="$TCP_EXPERT_OK || tcp.analysis.flags || tcp.flags.reset == 1"
TSHARK_PREFS+=(--disable-protocol http)

netns_setup tap
log "impairment seed $SEED (E2E_IMPAIR_SEED=$SEED replays it)"
ustack_start --service echo,http --impair "loss=10%,seed=$SEED"

start=$SECONDS
set +e
timeout -k 5 120 ip netns exec "$NS" curl -sS --max-time 110 "http://$STACK_IP/bytes/$BYTES" \
    2>"$TMP/curl.err" | pattern_verify "$BYTES" >"$TMP/verify.out"
st=("${PIPESTATUS[@]}")
set -e
if [[ "${st[0]}" != 0 || "${st[1]}" != 0 ]]; then
    show_ustack_log
    fail "GET /bytes/$BYTES with 10% loss (seed $SEED)" \
        "expected: curl exit 0, $BYTES bytes of the i mod 251 pattern" \
        "seen:     curl exit ${st[0]} ($(head -c 200 "$TMP/curl.err")), body: $(cat "$TMP/verify.out")"
fi
log "GET /bytes/$BYTES with 10% loss: intact in $((SECONDS - start))s"

start=$SECONDS
head -c 2000000 /dev/urandom >"$TMP/in"
rc=0
timeout -k 5 120 ip netns exec "$NS" nc -N "$STACK_IP" 7 <"$TMP/in" >"$TMP/out" 2>"$TMP/nc.err" ||
    rc=$?
size=$(stat -c %s "$TMP/out")
if [[ $rc != 0 || $size != 2000000 ]]; then
    show_ustack_log
    fail "2 MB echo with 10% loss (seed $SEED)" "expected: exit 0, 2000000 bytes back" \
        "seen:     exit $rc$( ((rc == 124)) && echo ' (timed out)'), $size bytes: $(head -c 200 "$TMP/nc.err")"
fi
assert_eq "2 MB echo with 10% loss (seed $SEED): content (sha256)" "$(sha256sum <"$TMP/in")" \
    "$(sha256sum <"$TMP/out")"
log "2 MB echo with 10% loss: intact in $((SECONDS - start))s"

ustack_stop_tcp "$LOSSY"
# The impairment is per wire frame: --impair turns offload off, so no frame
# either way is longer than the MTU (one loss never costs 45 segments).
n=$(tshark_count "$US_PCAP" "frame.len > 1514")
assert_eq "frames longer than the MTU on an impaired link" 0 "$n"
assert_counter_ge drop.link_impair_loss 500
assert_counter_ge tcp.retransmit 100
assert_counter_eq drop.tcp_bad_checksum 0
log "stack retransmitted $(counter tcp.retransmit) segments" \
    "($(counter tcp.fast_retransmit) fast, $(counter tcp.rto) timeouts);" \
    "$(counter drop.link_impair_loss) frames dropped by the impairment"

# The kernel sends, the stack receives: 20 MB through "ustack get".
mkdir -p "$TMP/www"
head -c 20000000 /dev/urandom >"$TMP/www/f"
bg_start files /dev/null python3 -m http.server 8000 --bind "$KERNEL_IP" --directory "$TMP/www"
wait_listen 8000
nsx nstat -n >/dev/null 2>&1 || true # the next nstat shows this transfer only
start=$SECONDS
rc=0
ustack_run "$TMP/get" 120 get --impair "loss=10%,seed=$SEED" -o "$TMP/got" \
    "http://$KERNEL_IP:8000/f" || rc=$?
check_sanitizers_in "$TMP/get.err"
size=$(stat -c %s "$TMP/got" 2>/dev/null || echo none)
if [[ $rc != 0 || $size != 20000000 ]]; then
    show_tail "$TMP/get.err"
    fail "ustack get of 20 MB with 10% loss (seed $SEED)" "expected: exit 0, 20000000 bytes" \
        "seen:     exit $rc$( ((rc == 124)) && echo ' (timed out)'), $size bytes"
fi
assert_eq "ustack get of 20 MB with 10% loss (seed $SEED): content (sha256)" \
    "$(sha256sum <"$TMP/www/f")" "$(sha256sum <"$TMP/got")"
retrans=$(nsx nstat -az TcpRetransSegs 2>/dev/null | awk '$1 == "TcpRetransSegs" { print $2 }')
assert_ge "segments the kernel retransmitted (the loss happened)" 100 "${retrans:-none}"
pcap_check_except "$TMP/get.pcap" "$LOSSY"
log "ustack get of 20 MB with 10% loss: intact in $((SECONDS - start))s;" \
    "the kernel retransmitted $retrans segments"
