#!/usr/bin/env bash
# Flood ping from the kernel: 3000 echo requests, each sent as soon as the
# previous reply came back (or every 10 ms), none lost.
# shellcheck source=tests/e2e/lib.sh disable=SC2119
. "$(dirname "$0")/lib.sh"

netns_setup tap
ustack_start

ping_ok "flood of 3000" 3000 -f
ping_ok "flood of 500 x 1400 bytes" 500 -f -s 1400

ustack_stop
assert_counter_ge icmp4.echo_reply_out 3500
assert_counter_eq drop.no_buffer 0
