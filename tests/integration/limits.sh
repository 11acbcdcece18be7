#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# limits.sh: overload is counted, never fatal. A consumer slower than the
# source loses the oldest undelivered packets, and received = delivered +
# dropped; a flow table at max_flows refuses new flows (counted) while
# every packet is still captured.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

check "ring overrun in live mode: drops counted, received = captured + dropped"
fs_tcpdump FLOWSCOPE_BUFFER=1m FLOWSCOPE_GEN_PACKETS=1m FLOWSCOPE_CONTROL=off \
	-n -v -i flowscope:gen >"$WORK/slow.txt" 2>"$WORK/slow.err"
expect_ok $? "a slow tcpdump on a 1 MiB ring" "$WORK/slow.err"
captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$WORK/slow.err")
received=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$WORK/slow.err")
dropped=$(td_dropped "$WORK/slow.err")
say "  captured $captured, received $received, dropped $dropped"
[ "$received" -eq 1000000 ] || fail "received $received, not the 1000000 generated"
[ "$dropped" -gt 0 ] || fail "no drops: the consumer was not slower than the source"
[ $((captured + dropped)) -eq "$received" ] ||
	fail "captured + dropped = $((captured + dropped)) != received $received"
lines=$(grep -c '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]* IP ' "$WORK/slow.txt")
[ "$lines" -eq "$captured" ] || fail "$lines packets printed, tcpdump says $captured"

check "max_flows: flows beyond it are not tracked, their packets counted and still captured"
[ -n "${FS_CTL:-}" ] && [ -x "$FS_CTL" ] || skip "FS_CTL is not set"
sock=$WORK/lim.sock
fs_tcpdump FLOWSCOPE_MAX_FLOWS=10 FLOWSCOPE_GEN_FLOWS=100 FLOWSCOPE_GEN_RATE=5k \
	FLOWSCOPE_GEN_PACKETS=15000 FLOWSCOPE_CONTROL="$sock" \
	-n -i flowscope:gen -w "$WORK/lim.pcap" >"$WORK/lim.out" 2>&1 &
pid=$!
for ((i = 0; i < 50; i++)); do
	[ -S "$sock" ] && break
	sleep 0.1
done
sleep 1
"$FS_CTL" -s "$sock" stats >"$WORK/lim.stats" 2>&1 || fail_log "stats failed" "$WORK/lim.stats"
active=$(sed -n 's/^flows_active //p' "$WORK/lim.stats")
refused=$(sed -n "s/^untracked_packets //p" "$WORK/lim.stats")
[ "$active" -eq 10 ] || fail_log "flows_active $active, not 10" "$WORK/lim.stats"
[ "$refused" -gt 0 ] || fail_log "packets of untracked flows are not counted" "$WORK/lim.stats"
bg_wait "$pid" 30 || fail "tcpdump did not end after the generator's 15000 packets"
wait "$pid"
expect_ok $? "tcpdump at max_flows" "$WORK/lim.out"
expect_count 15000 "$WORK/lim.pcap"
say "  flows_active $active, untracked_packets $refused, all 15000 packets captured"
pass
