#!/usr/bin/env bash
# 1000 TCP connections open at once to the echo service: python's asyncio on
# the kernel side opens them all, then sends a distinct 1 KB payload on each,
# reads it back and compares, half-closes, waits for the stack's FIN and
# closes. Every connection must succeed, and the stack must count 1000
# passive opens and end with no connection reset.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

CONNS=1000

netns_setup tap
ustack_start --service echo

cat >"$TMP/many.py" <<'EOF'
import asyncio, hashlib, resource, sys

host, count = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 100)), hard))

def payload(i):
    """1024 bytes, different for every connection."""
    seed = hashlib.sha256(b"conn %d" % i).digest()
    return (seed * 32)[:1024]

async def one(i, go):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, 7), 30)
    except Exception as e:
        return f"connection {i}: connect: {e!r}"
    try:
        opened_count[0] += 1
        if opened_count[0] == count:
            go.set()
        await go.wait()  # all connections are open at the same time
        data = payload(i)
        writer.write(data)
        await writer.drain()
        back = await asyncio.wait_for(reader.readexactly(len(data)), 30)
        if back != data:
            return f"connection {i}: payload differs"
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), 30)  # the stack's FIN
        if rest:
            return f"connection {i}: {len(rest)} bytes after the echo"
        return None
    except Exception as e:
        return f"connection {i}: {e!r}"
    finally:
        writer.close()

opened_count = [0]

async def main():
    go = asyncio.Event()
    tasks = [asyncio.create_task(one(i, go)) for i in range(count)]
    # If some connection fails to open, the others must not wait forever.
    async def release():
        await asyncio.sleep(40)
        go.set()
    rel = asyncio.create_task(release())
    results = await asyncio.gather(*tasks)
    rel.cancel()
    errors = [r for r in results if r]
    print(f"opened {opened_count[0]} at once, {count - len(errors)} verified, {len(errors)} failed")
    for e in errors[:10]:
        print(e)
    sys.exit(1 if errors else 0)

asyncio.run(main())
EOF

rc=0
timeout -k 5 120 ip netns exec "$NS" python3 "$TMP/many.py" "$STACK_IP" "$CONNS" >"$TMP/many.out" \
    2>&1 || rc=$?
out=$(cat "$TMP/many.out")
if [[ $rc != 0 ]]; then
    show_ustack_log
    fail "$CONNS concurrent echo connections" "expected: exit 0, all verified" \
        "seen:     exit $rc$( ((rc == 124)) && echo ' (timed out)')" "$(indent "$out")"
fi
assert_contains "$CONNS concurrent echo connections" "$out" \
    "^opened $CONNS at once, $CONNS verified, 0 failed$"
log "$out"

ustack_stop_tcp
assert_counter_eq tcp.passive_open "$CONNS"
assert_counter_eq tcp.reset_sent 0
assert_counter_eq drop.tcp_bad_checksum 0
n=$(tshark_count "$US_PCAP" "$(from_stack) && tcp.srcport == 7 && tcp.flags.fin == 1")
assert_ge "FINs sent by the echo service" "$CONNS" "$n"
