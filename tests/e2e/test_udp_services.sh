#!/usr/bin/env bash
# The UDP services of "ustack serve", used by socat on the kernel side:
# echo (RFC 862) returns each datagram unchanged, from 6 bytes to 65507 (the
# largest IPv4 datagram, 45 fragments each way); daytime (RFC 867) returns
# the date; chargen (RFC 864) returns 512 bytes of the rotating 72-character
# pattern; discard (RFC 863) takes datagrams and returns nothing.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start --service all

# echo_size N: an N-byte random datagram comes back unchanged.
echo_size()
{
    local n=$1 want got size
    head -c "$n" /dev/urandom >"$TMP/echo.in"
    udp_exchange 7 "$TMP/echo.in" "$TMP/echo.out"
    size=$(stat -c %s "$TMP/echo.out")
    if [[ "$size" != "$n" ]]; then
        show_ustack_log
        fail "echo of $n bytes: reply size" "expected: $n" "seen:     $size" \
            "socat: $(head -c 300 "$TMP/echo.out.err")"
    fi
    want=$(sha256sum <"$TMP/echo.in")
    got=$(sha256sum <"$TMP/echo.out")
    assert_eq "echo of $n bytes: reply content (sha256)" "$want" "$got"
    log "echo: $n bytes returned intact"
}

printf 'hello ustack %s\n' "$$" >"$TMP/hello"
udp_exchange 7 "$TMP/hello" "$TMP/hello.out"
assert_eq "echo of a short line" "$(cat "$TMP/hello")" "$(cat "$TMP/hello.out")"
echo_size 1
echo_size 1472  # fills one 1500-byte frame
echo_size 1473  # one byte more: two fragments
echo_size 8192
echo_size 65507 # the largest UDP payload over IPv4

# daytime: one line holding the current year.
printf '\n' >"$TMP/nl"
udp_exchange 13 "$TMP/nl" "$TMP/daytime"
day=$(cat "$TMP/daytime")
assert_contains "daytime reply holds the year" "$day" "$(date -u +%Y)"
assert_eq "daytime reply is one line" 1 "$(wc -l <"$TMP/daytime")"
log "daytime: $day"

# chargen: 512 bytes; lines of 72 consecutive printable characters (ASCII
# 32-126, wrapping) followed by CR LF, each line starting one character
# further than the one before (RFC 864); the last line may be cut short.
check_chargen()
{
    local file=$1 size why
    size=$(stat -c %s "$file")
    assert_eq "chargen reply size" 512 "$size"
    why=$(od -An -v -tu1 "$file" | awk '
        { for (i = 1; i <= NF; i++) b[n++] = $i }
        END {
            start = b[0] - 32
            if (start < 0 || start > 94) { printf "first byte %d is not printable\n", b[0]; exit }
            for (p = 0; p < n; p++) {
                line = int(p / 74); col = p % 74
                if (col < 72) want = 32 + (start + line + col) % 95
                else if (col == 72) want = 13
                else want = 10
                # The last line may be cut short, still ended by CR LF.
                if (b[p] != want && p == n - 2 && b[p] == 13) continue
                if (b[p] != want && p == n - 1 && b[p] == 10 && b[p - 1] == 13) continue
                if (b[p] != want) {
                    printf "byte %d (line %d, column %d): expected %d, seen %d\n", p, line, col, want, b[p]
                    exit
                }
            }
        }')
    [[ -z "$why" ]] || fail "chargen pattern" "$why" "reply:" "$(indent "$(head -c 200 "$file")")"
}
udp_exchange 19 "$TMP/nl" "$TMP/chargen1"
check_chargen "$TMP/chargen1"
udp_exchange 19 "$TMP/nl" "$TMP/chargen2"
check_chargen "$TMP/chargen2"
log "chargen: 2 x 512 bytes of the RFC 864 pattern"

ustack_stop
# 6 echo + 1 daytime + 2 chargen datagrams, each answered.
assert_counter_ge udp.rx 9
assert_counter_ge udp.tx 9
assert_counter_eq drop.udp_bad_checksum 0
assert_counter_eq drop.udp_no_port 0

# discard alone: datagrams are taken (counted, no port unreachable) and
# nothing comes back; echo, not selected, is not served.
ustack_start --service discard
for i in 1 2 3 4 5; do
    udp_exchange 9 "$TMP/hello" "$TMP/discard.out"
    assert_eq "discard: reply size for datagram $i" 0 "$(stat -c %s "$TMP/discard.out")"
    assert_not_contains "discard: no error for datagram $i" "$(cat "$TMP/discard.out.err")" \
        "Connection refused"
done
head -c 8192 /dev/urandom >"$TMP/big"
udp_exchange 9 "$TMP/big" "$TMP/discard.out"
assert_eq "discard: reply size for 8192 bytes" 0 "$(stat -c %s "$TMP/discard.out")"
udp_exchange 7 "$TMP/hello" "$TMP/noecho.out"
assert_eq "echo not selected: reply size" 0 "$(stat -c %s "$TMP/noecho.out")"
ustack_stop
assert_counter_ge udp.rx 6
assert_counter_eq udp.tx 0
assert_counter_eq drop.udp_no_port 1
log "discard: 6 datagrams taken, none answered; echo not served"
