#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# spool_trigger.sh: a triggered flow's history reaches back into the
# spool. A 12 MB trace (60000 packets of 200 bytes) goes through a 1 MB
# ring in trigger mode; the triggered flows open the trace and send their
# RST only at its very end (fs-mktrace --late-trigger), so the ring gave
# most of their history up long before. With spool_dir, tcpdump gets
# every packet of every triggered flow, in order and once -- the part on
# disk, then the part still in RAM, no gap between them -- and ps_drop is
# 0; without it the same run counts the loss (trigger_overrun.sh). So
# does a plain tcpdump, which reads the spool back after it dropped root
# (through the privileged helper), and trigger mode on flowscope:spool=
# (offline extraction: every reset flow of a recording, whole). The
# same for dump_dir: each flow's file holds its whole flow. And through a
# recorder (flowscope-record, no application) that keeps a 1 MB ring:
# flowscope-ctl trigger dumps flows whose history is older than the ring.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_tshark

RST='tcp[tcpflags] & tcp-rst != 0'
t=$WORK/big.pcap
mktrace_summary big --packets 60000 --size 200 --flows 100 --proto tcp \
	--late-trigger --rst-every 10
want=$(summary_value big rst_flow_packets)
flows=$(summary_value big rst_flows)
oracle_flows "$t" 'tcp.flags.reset == 1' "$WORK/expected.pcap"
[ "$ORACLE_COUNT" = "$want" ] ||
	fail "test bug: the oracle finds $ORACLE_COUNT packets, fs-mktrace wrote $want"
expect_trigger_matches "$t" "$RST" "$flows"

newdir() { mkdir -m 700 "$WORK/$1" && echo "$WORK/$1"; }

check "12 MB through a 1 MB ring and a spool, $flows flows triggered at the end: every packet"
d=$(newdir s1)
out=$WORK/out.pcap
td_capture "$out" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_CONTROL=off \
	-n -i "flowscope:file=$t"
expect_same --per-flow "$WORK/expected.pcap" "$out"
dropped=$(td_dropped "$out.stderr")
[ "$dropped" = 0 ] || fail_log "ps_drop is $dropped: the history on disk was counted lost" "$out.stderr"
say "  $want packets of $flows flows, dropped $dropped"

check "trigger mode on flowscope:spool=DIR through a 1 MB ring: offline extraction of whole flows"
# s1 holds the whole trace; its reader's ring is as small
out=$WORK/offline.pcap
td_capture "$out" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$WORK/s1"
expect_same --per-flow "$WORK/expected.pcap" "$out"
dropped=$(td_dropped "$out.stderr")
[ "$dropped" = 0 ] || fail_log "ps_drop is $dropped: the history in the spool was counted lost" "$out.stderr"
check "the same with the application's own filter (tcp port 10000), which also narrows the blocks read"
out=$WORK/offline_port.pcap
td_capture "$out" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$WORK/s1" 'tcp port 10000'
stock_run "$TCPDUMP" -r "$WORK/expected.pcap" -w "$WORK/expected_port.pcap" 'tcp port 10000' \
	2>/dev/null || fail "stock tcpdump cannot filter the expected flows"
[ "$(pcap_count "$WORK/expected_port.pcap")" -gt 0 ] || fail "test bug: no expected packet on port 10000"
expect_same --per-flow "$WORK/expected_port.pcap" "$out"

if [ "$(id -u)" = 0 ] && id tcpdump >/dev/null 2>&1; then
	check "the same with a plain tcpdump, which reads the history after turning into user tcpdump"
	d=$(newdir s4)
	mkdir -m 1777 "$WORK/pub" || fail "mkdir failed"
	chmod 0755 "$WORK"
	out=$WORK/pub/plain.pcap
	fs_run FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" \
		FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_CONTROL=off \
		"$TCPDUMP" -n -i "flowscope:file=$t" -w "$out" >"$WORK/plain.stdout" \
		2>"$WORK/plain.stderr"
	expect_ok $? "tcpdump -w ${out##*/} (no -Z root)" "$WORK/plain.stderr"
	[ "$(stat -c %U "$out")" = tcpdump ] ||
		fail "tcpdump wrote ${out##*/} as $(stat -c %U "$out"), not as user tcpdump"
	! grep -q '^flowscope: ' "$WORK/plain.stderr" ||
		fail_log "flowscope reported errors" "$WORK/plain.stderr"
	expect_same --per-flow "$WORK/expected.pcap" "$out"
	[ "$(td_dropped "$WORK/plain.stderr")" = 0 ] ||
		fail_log "history was counted lost" "$WORK/plain.stderr"
else
	say "not root, or no user tcpdump: skipping the check after the privilege drop"
fi

check "the same into dump_dir (live mode): each flow's file holds its whole flow"
d=$(newdir s2)
dd=$(newdir dumps)
td_capture "$WORK/live.pcap" FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_DUMP_DIR="$dd" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
expect_count 60000 "$WORK/live.pcap"
check_dump_dir "$dd" "$flows" "$WORK/expected.pcap"

if [ -z "${FS_CTL:-}" ] || [ ! -x "$FS_CTL" ] || [ -z "${FS_RECORD:-}" ]; then
	say "FS_CTL or FS_RECORD is not set: skipping the recorder check"
	pass
fi
need_ctl
check "a recorder with a 1 MB ring: flowscope-ctl trigger tcp dumps whole flows from disk"
# flows that do not end: each is still in the flow table when triggered
"$MKTRACE" -o "$WORK/open.pcap" --packets 60000 --size 200 --flows 100 --proto tcp ||
	fail "fs-mktrace failed"
d=$(newdir s3)
dd=$(newdir rdumps)
mkdir -m 0700 "$WORK/run" || fail "mkdir failed"
sock=$WORK/run/rec.sock
bg_start "$WORK/rec.stdout" "$WORK/rec.stderr" env FLOWSCOPE_BUFFER=1m \
	FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_DUMP_DIR="$dd" \
	FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_FLOW_TIMEOUT=3600 \
	"$FS_RECORD" "file=$WORK/open.pcap"
pid=$BG_PID
wait_socket "$sock" "$pid" || fail_log "no control socket $sock" "$WORK/rec.stderr"
for ((i = 0; i < 200; i++)); do
	ctl "$sock" stats >"$WORK/stats.txt" 2>"$WORK/stats.err" ||
		fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
	[ "$(stat_value "$WORK/stats.txt" received)" = 60000 ] && break
	sleep 0.1
done
[ "$i" -lt 200 ] || fail_log "the recorder did not read the trace in 20 s" "$WORK/stats.txt"
ctl "$sock" trigger tcp >"$WORK/trig.txt" 2>"$WORK/trig.err" ||
	fail_log "flowscope-ctl trigger failed" "$WORK/trig.err"
grep -qx 'triggered 100' "$WORK/trig.txt" || fail_log "the answer is not 'triggered 100'" "$WORK/trig.txt"
for ((i = 0; i < 100; i++)); do
	ctl "$sock" stats >"$WORK/stats.txt" 2>/dev/null &&
		[ "$(stat_value "$WORK/stats.txt" dump_packets)" = 60000 ] && break
	sleep 0.1
done
lost=$(stat_value "$WORK/stats.txt" history_lost)
kill -TERM "$pid"
bg_wait "$pid" 30 || fail_log "the recorder still runs 30 s after SIGTERM" "$WORK/rec.stderr"
expect_ok "$BG_RC" "flowscope-record after SIGTERM" "$WORK/rec.stderr"
[ "$lost" = 0 ] || fail_log "history_lost is $lost" "$WORK/stats.txt"
check_dump_dir "$dd" 100 "$WORK/open.pcap"
say "  100 flows, 60000 packets, history_lost $lost"
pass
