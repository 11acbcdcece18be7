#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# trigger_counts.sh: in trigger mode every received packet is counted
# somewhere: received = captured + dropped + not_triggered (+ what the
# application's own filter rejected), exactly. A trace of 3000 packets in
# 40 flows, 10 of them (750 packets) ended by a RST, replayed with
# flowscope:file= in trigger mode with the RST as trigger. tcpdump writes
# into a pipe that is read only after flowscope-ctl stats was checked, so
# the capture is still there when everything has been received and
# analyzed; then tcpdump's own closing counts are checked.
#  (a) no application filter: not_triggered 2250, tcpdump 750 captured,
#      3000 received, 0 dropped;
#  (b) an application filter that rejects the 10 RST packets: 740
#      captured, the 10 are the only packets in no counter;
#  (c) max_flows = 8: packets of untracked flows are not_triggered too,
#      and the sum still holds.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_ctl

RST='tcp[tcpflags] & tcp-rst != 0'
mktrace_summary t --packets 3000 --flows 40 --proto mixed --size 1000 --rst-every 4
t=$WORK/t.pcap
total=$(summary_value t packets)
trig=$(summary_value t rst_flow_packets)
nrst=$(summary_value t rst_flows)
expect_trigger_matches "$t" "$RST" "$nrst"

# held_capture NAME [VAR=VALUE...] [-- FILTER...]: tcpdump -w - in trigger
# mode on flowscope:file=$t, its output held in a pipe until $WORK/NAME.go
# exists, then written to $WORK/NAME.pcap; tcpdump's stderr goes to
# $WORK/NAME.stderr. Returns tcpdump's exit status.
held_capture() {
	local name=$1 vars=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	fs_tcpdump FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" \
		FLOWSCOPE_CONTROL="$WORK/$name.sock" "${vars[@]}" \
		-n -i "flowscope:file=$t" -w - "$@" 2>"$WORK/$name.stderr" |
		{ until [ -e "$WORK/$name.go" ]; do sleep 0.05; done
		  cat >"$WORK/$name.pcap"; }
	return "${PIPESTATUS[0]}"
}

# counts NAME WANT_NOT_TRIGGERED [VAR=VALUE...] [-- FILTER...]: run
# held_capture, wait until stats shows all $total packets received and
# not_triggered settled (WANT_NOT_TRIGGERED, or "any"), let tcpdump go on
# and finish. Sets NT (not_triggered), CAPTURED, RECEIVED, DROPPED
# (tcpdump's closing lines) and checks the sum.
counts() {
	local name=$1 want=$2 st=$WORK/$1.stats i prev= same=0
	shift 2
	bg_start /dev/null "$WORK/$name.bgerr" held_capture "$name" "$@"
	local pid=$BG_PID
	wait_socket "$WORK/$name.sock" "$pid" ||
		fail_log "no control socket" "$WORK/$name.stderr"
	for ((i = 0; i < 100; i++)); do
		ctl "$WORK/$name.sock" stats >"$st" 2>"$WORK/$name.ctlerr" ||
			fail_log "flowscope-ctl stats failed" "$WORK/$name.ctlerr"
		NT=$(stat_value "$st" not_triggered)
		# "any": the same figure three times in a row, 100 ms apart
		if [ -n "$NT" ] && [ "$NT" = "$prev" ]; then
			same=$((same + 1))
		else
			same=0
		fi
		prev=$NT
		if [ "$(stat_value "$st" received)" = "$total" ] &&
		   { [ "$NT" = "$want" ] || { [ "$want" = any ] && [ "$same" -ge 2 ]; }; }; then
			break
		fi
		sleep 0.1
	done
	[ "$i" -lt 100 ] ||
		fail_log "stats never showed received $total and not_triggered $want" "$st"
	[[ $NT =~ ^[0-9]+$ ]] || fail_log "stats: no not_triggered figure" "$st"
	[ "$(stat_value "$st" dropped)" = 0 ] || fail_log "stats: dropped is not 0" "$st"
	kill -0 "$pid" 2>/dev/null ||
		fail_log "tcpdump ended before its output was read (output too small to hold it)" \
		"$WORK/$name.stderr"
	say "  stats: $(grep -E '^(received|dropped|delivered|not_triggered|untracked_packets|flows_triggered) ' "$st" | tr '\n' ' ')"
	touch "$WORK/$name.go"
	bg_wait "$pid" 30 || fail "tcpdump did not finish after its output was read"
	expect_ok "$BG_RC" "tcpdump in trigger mode on file=${t##*/}" "$WORK/$name.stderr"
	CAPTURED=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured$/\1/p' "$WORK/$name.stderr")
	RECEIVED=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter$/\1/p' "$WORK/$name.stderr")
	DROPPED=$(td_dropped "$WORK/$name.stderr")
	[ -n "$CAPTURED" ] && [ -n "$RECEIVED" ] ||
		fail_log "tcpdump printed no closing counts" "$WORK/$name.stderr"
	[ "$(pcap_count "$WORK/$name.pcap")" = "$CAPTURED" ] ||
		fail "${name}.pcap holds $(pcap_count "$WORK/$name.pcap") packets, tcpdump says $CAPTURED captured"
	say "  tcpdump: $CAPTURED captured, $RECEIVED received by filter, $DROPPED dropped; not_triggered $NT"
	[ "$RECEIVED" = "$total" ] || fail "tcpdump: $RECEIVED received by filter, not $total"
	[ "$DROPPED" = 0 ] || fail "tcpdump: $DROPPED dropped, not 0"
}

check "(a) trigger '$RST': received = captured + dropped + not_triggered"
counts a $((total - trig))
[ "$CAPTURED" = "$trig" ] || fail "tcpdump captured $CAPTURED, not the $trig packets of the RST flows"
[ $((CAPTURED + DROPPED + NT)) = "$RECEIVED" ] ||
	fail "$CAPTURED captured + $DROPPED dropped + $NT not_triggered != $RECEIVED received"

check "(b) and an application filter that rejects the $nrst RST packets"
counts b $((total - trig)) -- "not ($RST)"
[ "$CAPTURED" = $((trig - nrst)) ] ||
	fail "tcpdump captured $CAPTURED, not $((trig - nrst)) (the RST flows without their RSTs)"
[ $((CAPTURED + DROPPED + NT + nrst)) = "$RECEIVED" ] ||
	fail "$CAPTURED captured + $DROPPED dropped + $NT not_triggered + $nrst filtered != $RECEIVED received"

check "(c) max_flows = 8: packets of untracked flows are not_triggered"
counts c any FLOWSCOPE_MAX_FLOWS=8
untracked=$(stat_value "$WORK/c.stats" untracked_packets)
[ "$untracked" -gt 0 ] 2>/dev/null || fail_log "stats: no untracked packets with max_flows 8" "$WORK/c.stats"
[ "$NT" -ge "$untracked" ] || fail "not_triggered $NT is below untracked_packets $untracked"
[ $((CAPTURED + DROPPED + NT)) = "$RECEIVED" ] ||
	fail "$CAPTURED captured + $DROPPED dropped + $NT not_triggered != $RECEIVED received"

check "live mode: not_triggered 0, received = captured + dropped"
counts live 0 FLOWSCOPE_MODE=live
[ $((CAPTURED + DROPPED)) = "$RECEIVED" ] ||
	fail "$CAPTURED captured + $DROPPED dropped != $RECEIVED received"
pass
