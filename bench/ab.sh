#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A/B of two builds of flowscope's libpcap in the same run: for each
# configuration, ROUNDS rounds of old then new (alternating, so that a
# VM that slows down or speeds up affects both alike), and the median of
# each side with the ratio new / old.
#   bash bench/ab.sh OLD_LIBDIR NEW_LIBDIR ROUNDS CONFIG...
# A LIBDIR is a copy of a build's libpcap-fs/lib. CONFIGs:
#   live      dpdk0 (pcap driver, 64-byte trace), 1 queue, delivered/s
#   trig0     trigger mode, nothing triggered, received/s
#   trigall   trigger mode, every flow triggered, delivered/s
#   t1m       trigger mode on the 10^6-flow trace, received/s, the
#             application never reads (one receive core does everything)
#   t1m-read  the same with the application reading (and helping)
#   t10m      trigger mode, flowscope's generator with 10^7 flows (the
#             pcap driver would need 10^7 mbufs), the application never
#             reads
# BENCH_SECONDS per run (default 3).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 4 ] || { echo "usage: ab.sh OLD_LIBDIR NEW_LIBDIR ROUNDS CONFIG..." >&2; exit 2; }
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) rounds=$3
shift 3
secs=${BENCH_SECONDS:-3}
work=$(mktemp -d /dev/shm/fs-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/fs-bench" "$top/bench/fs-bench.c" -lpcap || exit 1
"$top/tests/tools/fs-mktrace" -o "$work/t64.pcap" --packets 1000 --flows 1000 --size 64 || exit 1
vdev="--vdev=net_pcap0,rx_pcap=$work/t64.pcap,infinite_rx=1"

# trace FLOWS: a trace of FLOWS packets, one per flow
trace() {
	[ -f "$work/t$1.pcap" ] && return
	FLOWSCOPE_GEN_FLOWS=$1 FLOWSCOPE_GEN_PACKETS=$1 FLOWSCOPE_CONTROL=off \
		LD_LIBRARY_PATH="$new" tcpdump -q -i flowscope:gen \
		-w "$work/t$1.pcap" 2>/dev/null
}

# run LIBDIR CONFIG: one fs-bench line
run() {
	local lib=$1 cfg=$2
	set -- env LD_LIBRARY_PATH="$lib" FLOWSCOPE_CONTROL=off
	case $cfg in
	live) "$@" FLOWSCOPE_EAL="$vdev" "$work/fs-bench" flowscope:dpdk0 "$secs" ;;
	trig0) "$@" FLOWSCOPE_EAL="$vdev" FLOWSCOPE_MODE=trigger \
		"$work/fs-bench" flowscope:dpdk0 "$secs" ;;
	trigall) "$@" FLOWSCOPE_EAL="$vdev" FLOWSCOPE_MODE=trigger \
		FLOWSCOPE_TRIGGER=udp "$work/fs-bench" flowscope:dpdk0 "$secs" ;;
	t1m|t1m-read)
		local s=-s
		[ "$cfg" = t1m-read ] && s=
		trace 1000000
		"$@" FLOWSCOPE_MODE=trigger FLOWSCOPE_RX_MBUFS=1050000 \
			FLOWSCOPE_EAL="--no-huge -m 8192 --vdev=net_pcap0,rx_pcap=$work/t1000000.pcap,infinite_rx=1" \
			"$work/fs-bench" $s flowscope:dpdk0 "$secs" ;;
	t10m) "$@" FLOWSCOPE_MODE=trigger FLOWSCOPE_GEN_FLOWS=10000000 \
		FLOWSCOPE_MAX_FLOWS=12000000 "$work/fs-bench" -s flowscope:gen "$secs" ;;
	*) echo "ab.sh: unknown configuration $cfg" >&2; return 1 ;;
	esac 2>/dev/null | tail -n 1
}

# the figure a configuration is judged by
figure() {
	case $1 in
	live|trigall) sed -n 's/^pps=\([0-9]*\).*/\1/p' ;;
	*) sed -n 's/.*recv_pps=\([0-9]*\).*/\1/p' ;;
	esac
}

median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

for cfg in "$@"; do
	: >"$work/a" ; : >"$work/b"
	for ((i = 0; i < rounds; i++)); do
		run "$old" "$cfg" >"$work/line"
		figure "$cfg" <"$work/line" >>"$work/a"
		echo "ab: $cfg old: $(cat "$work/line")" >&2
		run "$new" "$cfg" >"$work/line"
		figure "$cfg" <"$work/line" >>"$work/b"
		echo "ab: $cfg new: $(cat "$work/line")" >&2
	done
	a=$(median <"$work/a") b=$(median <"$work/b")
	awk -v c="$cfg" -v a="$a" -v b="$b" -v ra="$(paste -sd/ "$work/a")" \
		-v rb="$(paste -sd/ "$work/b")" 'BEGIN {
		f = "%s: old %.2f Mpps, new %.2f Mpps (median), new/old %.3f   [old %s | new %s]\n"
		printf f, c, a / 1e6, b / 1e6, (a > 0 ? b / a : 0), ra, rb }'
done
