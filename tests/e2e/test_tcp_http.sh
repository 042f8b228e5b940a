#!/usr/bin/env bash
# The HTTP service (port 80) of "ustack serve" with curl and the kernel's TCP:
# GET / is an HTML page naming the stack's address; an unknown path is 404;
# HEAD has the head only; a garbage request is answered 400 and the
# connection closed; two URLs on one curl command share one connection
# (keep-alive); pipelined requests are answered in order; GET /bytes/N
# returns N bytes, byte i being i mod 251, checked for 1 MB and for 100 MB.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

URL=http://$STACK_IP

netns_setup tap
ustack_start --service http

# kcurl ARGS...: curl from the kernel side, failing the test if curl does.
kcurl()
{
    local rc=0
    timeout -k 5 60 ip netns exec "$NS" curl -sS --max-time 50 "$@" 2>"$TMP/curl.err" || rc=$?
    if [[ $rc != 0 ]]; then
        show_ustack_log
        fail "curl $*" "expected: exit 0" "seen:     exit $rc: $(head -c 300 "$TMP/curl.err")"
    fi
}

# fetch_pattern N: GET /bytes/N through curl, verified as it streams.
fetch_pattern()
{
    local n=$1 st why
    set +e
    timeout -k 5 60 ip netns exec "$NS" curl -sS --max-time 50 "$URL/bytes/$n" 2>"$TMP/curl.err" |
        pattern_verify "$n" >"$TMP/verify.out"
    st=("${PIPESTATUS[@]}")
    set -e
    why=$(cat "$TMP/verify.out")
    if [[ "${st[0]}" != 0 || "${st[1]}" != 0 ]]; then
        show_ustack_log
        fail "GET /bytes/$n" "expected: curl exit 0, $n bytes of the i mod 251 pattern" \
            "seen:     curl exit ${st[0]} ($(head -c 200 "$TMP/curl.err")), body: ${why:-ok}"
    fi
    log "GET /bytes/$n: $n bytes of the pattern"
}

# GET /: 200, HTML, naming the stack's address.
kcurl -i -o "$TMP/root" "$URL/"
head=$(sed '/^\r$/q' "$TMP/root" | tr -d '\r')
assert_contains "GET /: status line" "$head" '^HTTP/1\.1 200 '
assert_contains "GET /: content type" "$head" '^Content-Type: text/html'
body=$(sed '1,/^\r$/d' "$TMP/root")
assert_contains "GET /: an HTML page" "$body" '<html'
assert_contains "GET /: the page names the stack's address" "$body" "${STACK_IP//./\\.}"
length=$(sed -n 's/^Content-Length: \([0-9]*\)$/\1/p' <<<"$head")
assert_eq "GET /: Content-Length matches the body" "$length" "$(sed '1,/^\r$/d' "$TMP/root" | wc -c)"
log "GET /: 200, text/html, $length bytes naming $STACK_IP"

# An unknown path: 404.
code=$(kcurl -o /dev/null -w '%{http_code}' "$URL/no/such/page")
assert_eq "GET /no/such/page: status" 404 "$code"
log "GET /no/such/page: 404"

# HEAD: the head of /bytes/N, no body.
kcurl -I -o "$TMP/head" "$URL/bytes/12345"
assert_contains "HEAD /bytes/12345: status" "$(tr -d '\r' <"$TMP/head")" '^HTTP/1\.1 200 '
assert_contains "HEAD /bytes/12345: Content-Length" "$(tr -d '\r' <"$TMP/head")" \
    '^Content-Length: 12345$'

# Raw requests from python: a garbage request gets 400 and the connection
# closes; two pipelined requests get their responses in order.
cat >"$TMP/raw.py" <<'EOF'
import socket, sys

def exchange(data, timeout=10):
    """Sends data, returns (all bytes received, whether the server closed)."""
    s = socket.create_connection((sys.argv[1], 80), timeout=timeout)
    s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got, True
            got += chunk
    except socket.timeout:
        return got, False
    finally:
        s.close()

if sys.argv[2] == "garbage":
    got, closed = exchange(b"\x01\x02 garbage \xff\r\n\r\n", timeout=5)
    print(got.split(b"\r\n", 1)[0].decode("latin-1"))
    print("closed" if closed else "still open after 5 s")
elif sys.argv[2] == "pipeline":
    req = (b"GET /bytes/5 HTTP/1.1\r\nHost: t\r\n\r\n"
           b"GET /no/such HTTP/1.1\r\nHost: t\r\n\r\n"
           b"GET /bytes/300 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    got, closed = exchange(req)
    rest = got
    for want_status, want_body in ((200, bytes(range(5))), (404, None),
                                   (200, bytes(range(251)) + bytes(range(49)))):
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(l.split(":")[1]) for l in lines if l.lower().startswith("content-length:"))
        body, rest = rest[:length], rest[length:]
        if status != want_status or (want_body is not None and body != want_body):
            print(f"response: expected {want_status}, seen {lines[0]!r} body {body[:40]!r}")
            sys.exit(1)
    print("in order, closed" if closed and not rest else f"closed={closed} extra={rest[:40]!r}")
EOF
out=$(timeout -k 5 30 ip netns exec "$NS" python3 "$TMP/raw.py" "$STACK_IP" garbage 2>&1) || true
assert_contains "garbage request: status line" "$out" '^HTTP/1\.1 400 '
assert_contains "garbage request: the server closes the connection" "$out" '^closed$'
log "garbage request: 400, connection closed"
out=$(timeout -k 5 30 ip netns exec "$NS" python3 "$TMP/raw.py" "$STACK_IP" pipeline 2>&1) || true
assert_eq "three pipelined requests" "in order, closed" "$out"
log "pipelined requests: 3 responses in order"

# Keep-alive: curl fetches two URLs over one connection, from one port.
out=$(kcurl -o /dev/null -o /dev/null -w '%{http_code} %{num_connects} %{local_port}\n' \
    "$URL/bytes/1000" "$URL/")
first=$(sed -n 1p <<<"$out")
second=$(sed -n 2p <<<"$out")
assert_eq "keep-alive: first transfer (status, new connections)" "200 1" "${first% *}"
assert_eq "keep-alive: second transfer reuses it (status, new connections)" "200 0" "${second% *}"
assert_eq "keep-alive: both transfers from the same local port" "${first##* }" "${second##* }"
log "keep-alive: 2 transfers on 1 connection (port ${first##* })"

fetch_pattern 1000000

E2E_PCAP_CHECK=0 ustack_stop
tcp_no_retransmissions "$US_PCAP"
pcap_check_except "$US_PCAP" "$TCP_EXPERT_OK"
assert_counter_eq tcp.reset_sent 0
assert_counter_eq drop.tcp_bad_checksum 0
syns=$(tshark_count "$US_PCAP" "tcp.dstport == 80 && tcp.flags.syn == 1 && tcp.flags.ack == 0")
# GET /, 404, HEAD, garbage, pipeline, keep-alive (one), 1 MB
assert_eq "connections opened by the kernel" 7 "$syns"

# 100 MB on a fresh stack: its whole capture is too large for tshark in a
# test's time, so ustack keeps only its first 20000 frames for tshark to
# check (test_tcp_tshark checks a whole bulk capture).
E2E_PCAP_CHECK=0
E2E_PCAP_COUNT=20000 ustack_start --service http
fetch_pattern 100000000
ustack_stop
pcap_check_head "$US_PCAP" 20000
assert_counter_ge tcp.tx 1500 # 100 MB in frames of up to 45 segments (offload)
assert_counter_eq tcp.reset_sent 0
