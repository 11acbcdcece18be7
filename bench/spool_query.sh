#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The spool's query and cutoff benchmark (make bench-query, or on its
# own; not part of make bench: it writes BENCH_QUERY_GB of disk, 20 by
# default, which takes minutes).
#   queries: flowscope-record records the generator's realistic profile
#     into a spool of BENCH_QUERY_GB; then, each time with a cold page
#     cache (drop_caches), tcpdump -i flowscope:spool=DIR -w /dev/null
#     with one host, with one 5-tuple, and with no filter (a full scan),
#     against the disk's read ceiling in the same run (dd iflag=direct
#     over the same segment files)
#   cutoff 20k: a realistic trace (fs-mktrace --profile realistic)
#     recorded with and without cutoff = 20k: the fraction of bytes kept,
#     and the hours of such traffic 100 GB of spool hold at 1 and 10
#     Gbit/s
# BENCH_SPOOL_DIR (default /var/tmp) must be on a real disk.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
gb=${BENCH_QUERY_GB:-20}
fs_lib=$top/libpcap-fs/lib
base=${BENCH_SPOOL_DIR:-/var/tmp}
work=$(mktemp -d /dev/shm/fs-bench-query.XXXXXX)
sdir=$(mktemp -d "$base/fs-bench-query.XXXXXX")
trap 'kill "$rec" 2>/dev/null; rm -rf "$work" "$sdir"' EXIT
chmod 700 "$sdir"
ctl=$top/src/flowscope-ctl
rec=
TCPDUMP=${TCPDUMP:-$(command -v tcpdump)}

stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }

# ---- a spool of gb GB of realistic traffic ----
sock=$work/rec.sock
env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_GEN_PROFILE=realistic \
	FLOWSCOPE_BUFFER=256m FLOWSCOPE_SPOOL_DIR="$sdir" FLOWSCOPE_SPOOL_SIZE="$((gb + 4))g" \
	"$top/src/flowscope-record" gen >"$work/rec.out" 2>"$work/rec.err" &
rec=$!
t0=$(now)
want=$((gb * 1000000000))
while :; do
	sleep 2
	kill -0 "$rec" 2>/dev/null || { cat "$work/rec.err"; exit 1; }
	"$ctl" -s "$sock" stats >"$work/stats" 2>/dev/null || continue
	[ "$(stat_of "$work/stats" spool_bytes)" -ge "$want" ] 2>/dev/null && break
done
kill -TERM "$rec"
wait "$rec"
rec=
t1=$(now)
written=$(du -sb "$sdir" | cut -f1)
segs=$(find "$sdir" -name 'seg-*.pcapng' | wc -l)
# a host and a 5-tuple of the middle of the recording
mid=$(find "$sdir" -name 'seg-*.pcapng' | sort | sed -n "$((segs / 2 + 1))p")
"$TCPDUMP" -n -r "$mid" -c 20000 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0' \
	2>/dev/null | awk 'NR == 10000 { print $3, $5; exit }' | tr -d : >"$work/pick"
read -r src dst <"$work/pick"
host=${src%.*}
sport=${src##*.} daddr=${dst%.*} dport=${dst##*.}
tuple="tcp and host $host and port $sport and host $daddr and port $dport"

# query NAME FILTER...: seconds and packets of tcpdump over the whole
# spool, cold
query() {
	local name=$1 t s e n
	shift
	cold
	s=$(now)
	env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL=off "$TCPDUMP" -Z root -n \
		-i "flowscope:spool=$sdir" -w /dev/null "$@" 2>"$work/q.err" || {
		cat "$work/q.err"; return; }
	e=$(now)
	n=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured$/\1/p' "$work/q.err")
	t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')
	echo "$name|$t|$n"
}
query "one host ($host)" host "$host" >"$work/q1"
query "one 5-tuple" "$tuple" >"$work/q2"
query "full scan (no filter)" >"$work/q3"
# the disk's read ceiling over the same files, cold: the better of
# direct reads (dd iflag=direct, 4 MiB) and buffered ones with the
# kernel's read-ahead (cat), which is how the spool is read
seg_bytes=$(find "$sdir" -name 'seg-*.pcapng' -print0 | du -cb --files0-from=- | tail -n 1 | cut -f1)
cold
s=$(now)
find "$sdir" -name 'seg-*.pcapng' -print0 | sort -z |
	xargs -0 -n 1 sh -c 'dd if="$0" of=/dev/null bs=4M iflag=direct 2>/dev/null'
e=$(now)
direct=$(awk -v b="$seg_bytes" -v s="$s" -v e="$e" 'BEGIN { printf "%.0f", b / (e - s) }')
cold
s=$(now)
find "$sdir" -name 'seg-*.pcapng' -print0 | sort -z | xargs -0 cat >/dev/null
e=$(now)
buffered=$(awk -v b="$seg_bytes" -v s="$s" -v e="$e" 'BEGIN { printf "%.0f", b / (e - s) }')
ceiling=$((direct > buffered ? direct : buffered))

echo
echo "Spool of $(awk -v b="$written" 'BEGIN { printf "%.1f GB", b / 1e9 }') ($segs segments, gen_profile realistic, recorded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f s", b - a }')); disk read ceiling over the segments, cold: $(awk -v c="$ceiling" -v d="$direct" -v b="$buffered" 'BEGIN { printf "%.0f MB/s (dd iflag=direct %.0f, cat %.0f)", c / 1e6, d / 1e6, b / 1e6 }')"
echo
echo "| query, cold page cache | seconds | packets | read rate | ratio to the read ceiling |"
echo "|---|---:|---:|---:|---:|"
for f in "$work/q1" "$work/q2"; do
	IFS='|' read -r name t n <"$f"
	echo "| $name | $t | $n | | |"
done
IFS='|' read -r name t n <"$work/q3"
awk -v name="$name" -v t="$t" -v n="$n" -v b="$seg_bytes" -v c="$ceiling" 'BEGIN {
	printf "| %s | %s | %s | %.0f MB/s | %.2f |\n", name, t, n, b / t / 1e6,
		(c > 0 ? b / t / c : 0) }'

# ---- cutoff 20k on the realistic profile ----
"$top/tests/tools/fs-mktrace" -o "$work/real.pcap" --profile realistic --packets 4000000 --flows 256 \
	>/dev/null || { echo "fs-mktrace failed (make check builds it)"; exit 1; }
wire=$(capinfos -M -d "$work/real.pcap" 2>/dev/null | awk -F: '/Data size/ { gsub(/[^0-9]/, "", $2); print $2 }')
cut_row() {
	local name=$1 d=$work/cut
	shift
	rm -rf "$d"
	mkdir -m 700 "$d"
	env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL=off FLOWSCOPE_SPOOL_DIR="$d" \
		FLOWSCOPE_SPOOL_SIZE=64g "$@" "$top/src/flowscope-record" -x \
		"file=$work/real.pcap" >/dev/null 2>"$work/cut.err"
	sed -n 's/^flowscope-record: stopped ([^)]*): //p' "$work/cut.err" |
		awk -v name="$name" -v wire="$wire" '{
			for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
			kept = (wire - v["cut_bytes"]) / wire
			disk = v["spool_written"] / wire	# spool bytes per byte of traffic
			printf "| %s | %.1f %% | %.2f | %.1f | %.1f |\n", name, 100 * kept, disk,
				100e9 / (disk * 125e6) / 3600, 100e9 / (disk * 1250e6) / 3600 }'
}
echo
echo "Realistic trace: 4 M packets of 256 connections at a time (most end inside the trace), $(awk -v w="$wire" 'BEGIN { printf "%.2f GB", w / 1e9 }') on the wire"
echo
echo "| realistic profile | bytes kept | spool bytes per byte of traffic | hours per 100 GB at 1 Gbit/s | at 10 Gbit/s |"
echo "|---|---:|---:|---:|---:|"
cut_row "no cutoff"
cut_row "cutoff = 20k" FLOWSCOPE_CUTOFF=20k
