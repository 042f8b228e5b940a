#!/usr/bin/env bash
# "ustack get" as an HTTP client: a ustack process alone on the TAP fetches
# from kernel-side servers. A 5 MB file from python's http.server (framed by
# Content-Length) arrives identical; chunked bodies (RFC 9112 7.1) from a
# small HTTP/1.1 server, with chunks of many sizes, then with chunk
# extensions and a trailer section, arrive decoded and identical; a 404 makes
# "ustack get" exit 1 naming the status.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap

mkdir -p "$TMP/www"
head -c 5000000 /dev/urandom >"$TMP/www/five.bin"
head -c 3000000 /dev/urandom >"$TMP/chunked.bin"

bg_start files /dev/null python3 -m http.server 8000 --bind "$KERNEL_IP" --directory "$TMP/www"
files_pid=$BG_PID

cat >"$TMP/chunked.py" <<'EOF'
# HTTP/1.1 server on ADDR:8001 sending FILE in the chunked transfer coding
# (not named the usual way on this line: Python would take it for a
# source encoding declaration).
# /chunked: chunks of sizes cycling through SIZES; /chunked-ext: the same
# with a chunk extension on every chunk and a trailer section at the end.
import http.server, sys

addr, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
SIZES = [1, 2, 7, 100, 1000, 4096, 8192, 16384, 65536, 3, 200000]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent: the client must stop at the last chunk

    def do_GET(self):
        if self.path not in ("/chunked", "/chunked-ext"):
            self.send_error(404)
            return
        ext = self.path == "/chunked-ext"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        if ext:
            self.send_header("Trailer", "X-Checked")
        self.end_headers()
        off, i = 0, 0
        while off < len(data):
            n = min(SIZES[i % len(SIZES)], len(data) - off)
            head = b"%x" % n + (b";piece=%d;note=\"a b\"" % i if ext else b"")
            self.wfile.write(head + b"\r\n" + data[off:off + n] + b"\r\n")
            off, i = off + n, i + 1
        self.wfile.write(b"0\r\n" + (b"X-Checked: yes\r\n" if ext else b"") + b"\r\n")
        self.wfile.flush()

    def log_message(self, *args):
        pass

http.server.HTTPServer((addr, 8001), Handler).serve_forever()
EOF
bg_start chunked /dev/null python3 "$TMP/chunked.py" "$KERNEL_IP" "$TMP/chunked.bin"
wait_listen 8000
wait_listen 8001

# uget TAG OUT URL [options...]: runs ustack get -o OUT URL; returns its
# status. The capture and stderr are in $TMP/get-TAG*.
uget()
{
    local tag=$1 out=$2 url=$3
    shift 3
    ustack_run "$TMP/get-$tag" 60 get -o "$out" "$@" "$url"
}

# get_ok TAG WHAT URL WANTFILE: ustack get must exit 0 with WANTFILE's
# bytes; its files are $TMP/get-TAG*.
get_ok()
{
    local tag=$1 what=$2 url=$3 want=$4 rc=0 size
    rm -f "$TMP/body"
    uget "$tag" "$TMP/body" "$url" || rc=$?
    check_sanitizers_in "$TMP/get-$tag.err"
    size=$(stat -c %s "$TMP/body" 2>/dev/null || echo none)
    if [[ $rc != 0 || "$size" != "$(stat -c %s "$want")" ]]; then
        show_tail "$TMP/get-$tag.err"
        fail "$what: ustack get $url" "expected: exit 0, $(stat -c %s "$want") bytes" \
            "seen:     exit $rc$( ((rc == 124)) && echo ' (timed out)'), $size bytes"
    fi
    assert_eq "$what: body (sha256)" "$(sha256sum <"$want")" "$(sha256sum <"$TMP/body")"
    pcap_check_except "$TMP/get-$tag.pcap" "$TCP_EXPERT_OK"
    log "$what: $size bytes, identical"
}

get_ok file "5 MB file, Content-Length" "http://$KERNEL_IP:8000/five.bin" "$TMP/www/five.bin"
get_ok chunked "chunked" "http://$KERNEL_IP:8001/chunked" "$TMP/chunked.bin"
get_ok chunked-ext "chunked with extensions and trailer" "http://$KERNEL_IP:8001/chunked-ext" \
    "$TMP/chunked.bin"

# A 404: exit status 1, the status named on stderr.
for port in 8000 8001; do
    rc=0
    uget "404-$port" "$TMP/missing" "http://$KERNEL_IP:$port/no/such/file" || rc=$?
    check_sanitizers_in "$TMP/get-404-$port.err"
    if [[ $rc != 1 ]]; then
        show_tail "$TMP/get-404-$port.err"
        fail "404 from port $port: ustack get exit status" "expected: 1" "seen:     $rc"
    fi
    assert_contains "404 from port $port: error message" "$(cat "$TMP/get-404-$port.err")" '404'
    log "404 from port $port: exit 1, $(grep -m1 404 "$TMP/get-404-$port.err")"
done

# -v shows the status line and header fields.
rc=0
ustack_run "$TMP/get-verbose" 60 get -v "http://$KERNEL_IP:8000/five.bin" >/dev/null || rc=$?
assert_eq "ustack get -v: exit status" 0 "$rc"
assert_contains "ustack get -v: status line on stderr" "$(cat "$TMP/get-verbose.err")" \
    'HTTP/1\.[01] 200'
assert_contains "ustack get -v: Content-Length on stderr" "$(cat "$TMP/get-verbose.err")" \
    '[Cc]ontent-[Ll]ength: 5000000'
assert_eq "ustack get -v: body on stdout (sha256)" "$(sha256sum <"$TMP/www/five.bin")" \
    "$(sha256sum <"$TMP/get-verbose")"

# The servers saw every request; the file server is still up.
alive "$files_pid" || fail "python http.server exited" "$(tail -n 5 "$TMP/files.err")"
n=$(grep -c '"GET /five.bin HTTP/1.1" 200' "$TMP/files.err" || true)
assert_eq "requests for five.bin logged by http.server with status 200" 2 "$n"
