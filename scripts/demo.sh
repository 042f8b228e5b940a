#!/usr/bin/env bash
# Demo: runs "ustack serve" in a network namespace of its own, on a TAP
# device whose kernel side is 10.77.0.1/24, with every service on, and
# waits until Ctrl-C. Then it stops ustack and deletes the namespace.
#
#   sudo scripts/demo.sh [extra "ustack serve" options, e.g. --log debug]
#
# (make run builds build/ustack and calls this script.)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
USTACK=${USTACK_BIN:-$ROOT/build/ustack}
NS=ustack-demo
STACK_IP=10.77.0.2

die() {
    echo "demo: $*" >&2
    exit 1
}

[[ $(id -u) == 0 ]] ||
    die "needs root (it creates a network namespace and a TAP device): run 'sudo make run' or 'sudo $0'"
[[ -x "$USTACK" ]] || die "$USTACK not found: build it first with 'make'"
command -v ip >/dev/null || die "the ip command (iproute2) is missing"
[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing (modprobe tun)"
if ip netns list | grep -qw "^$NS"; then
    die "namespace $NS already exists (another demo running?); remove it with: ip netns del $NS"
fi

pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        echo
        echo "demo: stopping ustack (pid $pid)"
        kill -INT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    ip netns del "$NS" 2>/dev/null || true
    echo "demo: namespace $NS deleted"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev ust0 mode tap
ip -n "$NS" addr add 10.77.0.1/24 dev ust0
ip -n "$NS" link set ust0 up

echo "demo: starting ustack on TAP ust0 in namespace $NS as $STACK_IP (address conflict detection takes a few seconds)"
# ustack's counters come out on stderr when it stops.
(
    trap - INT QUIT
    exec ip netns exec "$NS" "$USTACK" serve --tap ust0 --ip4 "$STACK_IP/24" --service all "$@"
) &
pid=$!

cat <<MSG
demo: ustack is reachable from the kernel side of ust0 (10.77.0.1) once it prints "ready":
    sudo ip netns exec $NS ping $STACK_IP
    sudo ip netns exec $NS ping -s 4000 $STACK_IP        # fragmented both ways
    sudo ip netns exec $NS arping -i ust0 $STACK_IP
    sudo ip netns exec $NS socat - UDP:$STACK_IP:7        # echo
    sudo ip netns exec $NS socat - UDP:$STACK_IP:13       # daytime (press Enter)
    sudo ip netns exec $NS socat - UDP:$STACK_IP:19       # chargen (press Enter)
    sudo ip netns exec $NS nc $STACK_IP 7                 # TCP echo
    sudo ip netns exec $NS curl http://$STACK_IP/         # the stack's page: addresses, connections, counters
    sudo ip netns exec $NS curl -o /dev/null http://$STACK_IP/bytes/100000000
    sudo ip netns exec $NS iperf3 -c $STACK_IP            # also -R, -P 4
    sudo ip netns exec $NS tshark -i ust0                 # watch the traffic
demo: press Ctrl-C to stop.
MSG

rc=0
wait "$pid" || rc=$?
pid=""
echo "demo: ustack exited with status $rc"
exit "$rc"
