#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Shared rings (part of make bench, or on its own: bash bench/share.sh):
# a recorder publishes the ring of dpdk0 (DPDK's pcap driver looping the
# 64-byte trace, infinite_rx=1) with share, alone and with 1, 2 and 4
# readers attached (fs-bench on flowscope:@bench), with a group of 2, and
# with one reader in trigger mode (its own flow tracking).
# Per row: the publisher's receive rate (its control socket's `received`
# over the interval) and the ratio to its rate alone, the CPU cores it used,
# each reader's delivered rate and ps_drop, their sum, and the readers' CPU
# per delivered packet. The last row is the in-process live reader of the
# same port, whose ns per packet an attached reader is held against.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-5}
work=$(mktemp -d /dev/shm/fs-bench-share.XXXXXX)
fs_lib=${FS_LIB:-$top/libpcap-fs/lib}	# another build to compare
rec=${FS_RECORD:-$top/src/flowscope-record}
ctl=$top/src/flowscope-ctl
pub=
trap '[ -n "$pub" ] && kill "$pub" 2>/dev/null; rm -rf "$work"' EXIT
"${CC:-gcc}" -O2 -o "$work/fs-bench" "$top/bench/fs-bench.c" -lpcap || exit 1
"$top/tests/tools/fs-mktrace" -o "$work/t64.pcap" --packets 1000 --flows 1000 --size 64 || exit 1
vdev="--vdev=net_pcap0,rx_pcap=$work/t64.pcap,infinite_rx=1"
name=bench$$

# ticks PID: utime + stime of PID, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
received() { "$ctl" -s "$work/pub.sock" stats 2>/dev/null | awk '$1 == "received" { print $2 }'; }

# share_row NAME READERS [VAR=VALUE...]: the publisher with READERS
# attached fs-bench readers (the variables go to the readers)
share_row() {
	local label=$1 n=$2 i r0 r1 t0 t1 tk pids=() line sum=0 ns rates="" drops="" cpu
	shift 2
	env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_SHARE="$name" FLOWSCOPE_CONTROL="$work/pub.sock" \
		FLOWSCOPE_EAL="$vdev" "$rec" dpdk0 >/dev/null 2>"$work/pub.err" &
	pub=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "/run/flowscope-share/$name.sock" ] && break
		sleep 0.1
	done
	for ((i = 0; i < n; i++)); do
		env LD_LIBRARY_PATH="$fs_lib" "$@" "$work/fs-bench" "flowscope:@$name" "$secs" \
			>"$work/r$i.out" 2>"$work/r$i.err" &
		pids+=($!)
	done
	sleep 1.2	# the readers' warm-up
	tk=$(getconf CLK_TCK)
	r0=$(received); t0=$(ticks "$pub"); s0=$(date +%s.%N)
	sleep "$secs"
	r1=$(received); t1=$(ticks "$pub"); s1=$(date +%s.%N)
	for p in "${pids[@]}"; do wait "$p"; done
	kill "$pub"; wait "$pub" 2>/dev/null; pub=
	rm -f "$work/pub.sock"
	cpu=0
	for ((i = 0; i < n; i++)); do
		line=$(tail -n 1 "$work/r$i.out")
		[[ $line == pps=* ]] || { echo "bench: share reader $i failed: $(tail -n 2 "$work/r$i.err")" >&2; line="pps=0 ns_per_pkt=0 cores=0 drop=0"; }
		local v d c
		v=$(sed 's/.*\bpps=\([0-9]*\).*/\1/' <<<"$line")
		d=$(sed -n 's/.* drop=\([0-9]*\).*/\1/p' <<<"$line")
		c=$(sed 's/.* cores=\([0-9.]*\).*/\1/' <<<"$line")
		sum=$((sum + v))
		cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN { print a + b }')
		rates+="${rates:+ / }$(awk -v x="$v" 'BEGIN { printf "%.2f", x / 1e6 }')"
		drops+="${drops:+ / }${d:-0}"
	done
	ns=$(awk -v c="$cpu" -v p="$sum" 'BEGIN { if (p > 0) printf "%.1f", c * 1e9 / p; else print "-" }')
	awk -v name="$label" -v r0="$r0" -v r1="$r1" -v t0="$t0" -v t1="$t1" -v tk="$tk" \
		-v s0="$s0" -v s1="$s1" -v alone="${alone:-0}" -v rates="${rates:--}" \
		-v sum="$sum" -v drops="${drops:--}" -v ns="$ns" -v cpu="$cpu" 'BEGIN {
		dt = s1 - s0; rate = (r1 - r0) / dt
		printf "| %s | %.2f M | %s | %.2f | %s | %s | %.2f M | %s | %s |\n", name,
			rate / 1e6, (alone > 0 ? sprintf("%.2f", rate / alone) : "1.00"),
			(t1 - t0) / tk / dt, rates, drops, sum / 1e6, cpu, ns }'
	[ -n "${alone:-}" ] || alone=$(awk -v r0="$r0" -v r1="$r1" -v s0="$s0" -v s1="$s1" \
		'BEGIN { printf "%.0f", (r1 - r0) / (s1 - s0) }')
}

echo
echo "Shared ring: a recorder publishing dpdk0 (the 64-byte trace looped), readers attached with fs-bench; $(nproc) cores, so readers and the publisher's receive thread share them"
echo
echo "| configuration | publisher received/s | ratio to alone | publisher cores | each reader's delivered Mpps | each reader's ps_drop | aggregate delivered | readers' cores | readers' ns/pkt (CPU) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
alone=
share_row "publisher alone" 0
share_row "publisher + 1 attached reader" 1
share_row "publisher + 2 attached readers" 2
share_row "publisher + 4 attached readers" 4
share_row "publisher + a group of 2 (steering)" 2 FLOWSCOPE_GROUP=g
share_row "publisher + 1 attached reader in trigger mode (trigger udp: every flow)" 1 \
	FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER=udp
line=$(env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL=off FLOWSCOPE_EAL="$vdev" \
	"$work/fs-bench" flowscope:dpdk0 "$secs" 2>/dev/null | tail -n 1)
echo
echo "In-process live reader of the same port, for the cost per packet (its receive thread included): $line"
line=$(env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL=off FLOWSCOPE_EAL="$vdev" \
	FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER=udp \
	"$work/fs-bench" flowscope:dpdk0 "$secs" 2>/dev/null | tail -n 1)
echo
echo "In-process trigger-mode capture of the same port (trigger udp), against the attached one in trigger mode: $line"
