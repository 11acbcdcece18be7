#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# cutoff.sh: cutoff = N keeps each flow's first N bytes as history (the
# Time Machine's connection cutoff), checked against an oracle computed
# here from the trace itself (a packet is kept when its flow's bytes
# before it, both directions, are fewer than N):
#   the spool holds exactly the kept packets, in order
#   live mode still delivers every packet
#   trigger mode: a triggered flow's history is its kept packets, then
#     everything from the trigger on (the trigger lifts the cutoff); the
#     spool holds the same
#   flowscope-ctl stats and flows count what was cut
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_tshark
need_ctl
need_cmd mergecap

# mixed sizes, 24 UDP flows; the marker packet (de ad be ef) sits in the
# middle of every fourth flow
t=$WORK/t.pcap
"$MKTRACE" -o "$t" --packets 12000 --flows 24 --mixed --marker-every 4 ||
	fail "fs-mktrace failed"
cut=20480

# oracle TRACE MODE: frame numbers of what is kept, one a line. MODE
# "history": the first cut bytes of each flow; "trigger": of the flows
# with a marker, the first cut bytes and everything from the marker on
oracle() {
	"$TSHARK" -r "$1" -T fields -e frame.number -e frame.len -e ip.src \
		-e ip.dst -e udp.srcport -e udp.dstport -e data 2>/dev/null |
		awk -v cut="$cut" -v mode="$2" '
		{ a = $3 ":" $5; b = $4 ":" $6; k = a < b ? a "-" b : b "-" a
		  keep = seen[k] < cut
		  if (substr($7, 1, 8) == "deadbeef") trig[k] = 1
		  if (mode == "trigger" && trig[k]) keep = 1
		  seen[k] += $2
		  n[NR] = $1; kk[NR] = k; kp[NR] = keep }
		END { for (i = 1; i <= NR; i++)
			if (kp[i] && (mode != "trigger" || trig[kk[i]])) print n[i] }'
}

# select TRACE LIST OUT: the frames of TRACE whose numbers LIST holds
select_frames() {
	local list
	list=$(paste -s -d, "$2")
	"$TSHARK" -r "$1" -F pcap -w "$3" -Y "frame.number in {$list}" 2>"$WORK/select.err" ||
		fail_log "tshark cannot select the expected frames" "$WORK/select.err"
}

# spool_all DIR OUT: every segment of DIR, concatenated
spool_all() {
	mergecap -a -F pcap -w "$2" $(find "$1" -name 'seg-*.pcapng' | sort) 2>"$WORK/merge.err" ||
		fail_log "mergecap cannot read the spool" "$WORK/merge.err"
}

check "cutoff = 20k: the spool holds exactly each flow's first 20 KB"
oracle "$t" history >"$WORK/kept.list"
select_frames "$t" "$WORK/kept.list" "$WORK/kept.pcap"
mkdir -m 700 "$WORK/s1"
td_capture "$WORK/live.pcap" FLOWSCOPE_CUTOFF=20k FLOWSCOPE_SPOOL_DIR="$WORK/s1" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
spool_all "$WORK/s1" "$WORK/s1.pcap"
expect_same "$WORK/kept.pcap" "$WORK/s1.pcap"
total=$("$PCAPCMP" --print-count "$t")
kept=$(wc -l <"$WORK/kept.list")
[ "$kept" -lt "$total" ] || fail "the oracle keeps every packet: the trace does not test a cutoff"
say "  $kept of $total packets kept, as the oracle says"

check "live mode delivers every packet, cut or not"
expect_same "$t" "$WORK/live.pcap"

check "trigger mode: kept history, then everything from the trigger on"
oracle "$t" trigger >"$WORK/trig.list"
select_frames "$t" "$WORK/trig.list" "$WORK/trig.pcap"
mkdir -m 700 "$WORK/s2"
td_capture "$WORK/got.pcap" FLOWSCOPE_CUTOFF=20k FLOWSCOPE_SPOOL_DIR="$WORK/s2" \
	FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER='udp[8:4] = 0xdeadbeef' \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
expect_same --per-flow "$WORK/trig.pcap" "$WORK/got.pcap"
# the spool: every flow's first 20 KB, and the triggered flows' rest
cat "$WORK/kept.list" "$WORK/trig.list" | sort -n -u >"$WORK/s2.list"
select_frames "$t" "$WORK/s2.list" "$WORK/s2-want.pcap"
spool_all "$WORK/s2" "$WORK/s2.pcap"
expect_same "$WORK/s2-want.pcap" "$WORK/s2.pcap"
say "  $(wc -l <"$WORK/trig.list") packets delivered; the spool holds $(wc -l <"$WORK/s2.list")"

check "stats and flows count what was cut"
sock=$WORK/ctl.sock
bg_start "$WORK/g.out" "$WORK/g.err" fs_tcpdump FLOWSCOPE_CUTOFF=1k \
	FLOWSCOPE_GEN_FLOWS=100 FLOWSCOPE_GEN_RATE=20k FLOWSCOPE_CONTROL="$sock" \
	-n -i flowscope:gen -w /dev/null
pid=$BG_PID
wait_listening "$WORK/g.err" "$pid" 30 || fail_log "tcpdump did not start" "$WORK/g.err"
sleep 1.5
ctl "$sock" stats >"$WORK/stats" 2>&1 || fail_log "stats failed" "$WORK/stats"
ctl "$sock" flows >"$WORK/flows" 2>&1 || fail_log "flows failed" "$WORK/flows"
kill_tree "$pid" INT
# gen: 64-byte frames, so a flow keeps 16 packets (1024 bytes) and cuts
# the rest; every flow's line says how much it cut
awk '/packets/ { for (i = 1; i < NF; i++) { v[$i] = $(i + 1) }
	if (v["packets"] - v["cut_packets"] != 16 && v["packets"] >= 16) bad++
	if (v["cut_bytes"] != v["cut_packets"] * 64) bad++ }
	END { exit bad > 0 }' "$WORK/flows" ||
	fail_log "flows does not show 16 packets kept a flow" "$WORK/flows"
c=$(awk '$1 == "cut_packets" { print $2 }' "$WORK/stats")
b=$(awk '$1 == "cut_bytes" { print $2 }' "$WORK/stats")
[ -n "$c" ] && [ "$c" -gt 0 ] && [ "$b" = $((c * 64)) ] ||
	fail_log "stats: cut_packets $c, cut_bytes $b" "$WORK/stats"
say "  cut_packets $c, cut_bytes $b; every flow kept 16 packets"
pass
