#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# trigger_overrun.sh: history that the ring has already overwritten cannot
# be delivered, and it is counted. A 12 MB trace (60000 packets of 200
# bytes) goes through a 1 MB ring (FLOWSCOPE_BUFFER=1m) in trigger mode;
# the triggered flows open the trace and send their RST only at its very
# end (fs-mktrace --late-trigger), so most of their history is gone by
# then. tcpdump must exit 0; what it gets must be packets of the triggered
# flows, each flow's in order, without duplicates, the newest part of each
# flow (the ring forgets oldest first); and delivered + ps_drop ("packets
# dropped by kernel") must be exactly the triggered flows' packets, with
# ps_drop > 0. With FS_CTL, the same through a DPDK port (the capture
# stays up), where flowscope-ctl stats must show history_lost > 0.
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
# the RSTs are the last packets of the trace: nothing can overwrite them
stock_run "$TCPDUMP" -n -r "$t" -w "$WORK/rsts.pcap" "$RST" 2>/dev/null ||
	fail "stock tcpdump cannot pick the RST packets"

# check_delivery OUT DROPPED: OUT holds newest parts of the triggered flows
# and OUT's count + DROPPED is the flows' whole count.
check_delivery() {
	local out=$1 dropped=$2 got
	got=$(pcap_count "$out")
	[ "$got" != "?" ] || fail "${out##*/} is unreadable"
	say "  delivered $got, dropped $dropped, triggered flows hold $want packets"
	expect_same --per-flow --subset "$out" "$WORK/expected.pcap"
	expect_same --per-flow --suffix "$out" "$WORK/expected.pcap"
	[ $((got + dropped)) -eq "$want" ] ||
		fail "delivered $got + dropped $dropped = $((got + dropped)), not the $want packets of the triggered flows"
	[ "$dropped" -gt 0 ] ||
		fail "nothing was dropped: the 1 MB ring cannot have held the whole history of a 12 MB trace"
	expect_same --per-flow --subset "$WORK/rsts.pcap" "$out"
}

check "12 MB through FLOWSCOPE_BUFFER=1m, $flows flows triggered at the end of the trace"
out=$WORK/out.pcap
td_capture "$out" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" \
	-n -i "flowscope:file=$t"
check_delivery "$out" "$(td_dropped "$out.stderr")"

if [ -z "${FS_CTL:-}" ] || [ ! -x "$FS_CTL" ]; then
	say "FS_CTL is not set: skipping the flowscope-ctl stats check"
	pass
fi
need_ctl
check "the same from a DPDK port: flowscope-ctl stats shows history_lost"
out=$WORK/port.pcap
sock=$WORK/port.sock
bg_start "$WORK/port.stdout" "$WORK/port.stderr" fs_tcpdump FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_BUFFER=1m FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_CONTROL="$sock" \
	FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$t" -n -i flowscope:dpdk0 -w "$out"
pid=$BG_PID
wait_listening "$WORK/port.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/port.stderr"
wait_socket "$sock" "$pid" || fail_log "no control socket $sock" "$WORK/port.stderr"
# all 60000 packets received and the triggered flows ended (by their RST)
for ((i = 0; i < 200; i++)); do
	ctl "$sock" stats >"$WORK/stats.txt" 2>"$WORK/stats.err" ||
		fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
	[ "$(stat_value "$WORK/stats.txt" received)" = 60000 ] &&
		[ "$(stat_value "$WORK/stats.txt" flows_ended)" -ge "$flows" ] 2>/dev/null && break
	sleep 0.1
done
[ "$i" -lt 200 ] || fail_log "after 20 s the stats do not show 60000 packets received and $flows flows ended" "$WORK/stats.txt"
sleep 1
ctl "$sock" stats >"$WORK/stats.txt" 2>"$WORK/stats.err" ||
	fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
lost=$(stat_value "$WORK/stats.txt" history_lost)
[ -n "$lost" ] || fail_log "flowscope-ctl stats shows no history_lost" "$WORK/stats.txt"
stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/port.stderr"
dropped=$(td_dropped "$WORK/port.stderr")
say "  history_lost $lost"
[ "$lost" -gt 0 ] || fail_log "history_lost is $lost" "$WORK/stats.txt"
[ "$lost" -le "$dropped" ] ||
	fail "history_lost $lost is more than tcpdump's $dropped packets dropped by kernel"
# the pcap driver's timestamps are not the file's: compare without them
got=$(pcap_count "$out")
expect_same --bytes-only --per-flow --subset "$out" "$WORK/expected.pcap"
expect_same --bytes-only --per-flow --suffix "$out" "$WORK/expected.pcap"
[ $((got + dropped)) -eq "$want" ] ||
	fail "delivered $got + dropped $dropped = $((got + dropped)), not the $want packets of the triggered flows"
pass
