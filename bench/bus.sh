#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Triggers across hosts (part of make bench, or on its own: bash
# bench/bus.sh): a nats-server on loopback; fs-busbench opens
# flowscope:gen in trigger mode on the bus, as a capture host, and plays
# the host that triggers.
#  - latency: 1000 triggers of flows the capture tracks, each from the
#    publish to the first packet of its flow out of pcap_dispatch
#    (median, 99th percentile, worst);
#  - rate: the capture's receive rate with 1000 triggers/s arriving
#    against none, alternated in the same run (two rounds), and the ratio.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-5}
work=$(mktemp -d /dev/shm/fs-bench-bus.XXXXXX)
chmod 700 "$work"
fs_lib=$top/libpcap-fs/lib
ctl=$top/src/flowscope-ctl
port=$((30000 + $$ % 20000))
url=nats://127.0.0.1:$port
ns=
trap '[ -n "$ns" ] && kill "$ns" 2>/dev/null; rm -rf "$work"' EXIT
command -v nats-server >/dev/null || { echo "bench: no nats-server: bus rows skipped"; exit 0; }
"${CC:-gcc}" -O2 -I "$top/src" -o "$work/fs-busbench" "$top/bench/fs-busbench.c" \
	"$top/src/busmsg.c" "$top/src/flowkey.c" -lpcap -lnats -lpthread || exit 1
nats-server -a 127.0.0.1 -p "$port" >"$work/nats.log" 2>&1 &
ns=$!
sleep 0.5

echo
echo "Triggers across hosts: fs-busbench on flowscope:gen (trigger mode, 2000 flows) and a nats-server on loopback; $(nproc) cores"
echo
# latency
env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUS="$url" \
	FLOWSCOPE_CONTROL="$work/lat.sock" FLOWSCOPE_GEN_FLOWS=2000 FLOWSCOPE_GEN_RATE=200k \
	"$work/fs-busbench" latency "$url" flowscope:gen "$work/keys" 1000 \
	>"$work/lat.out" 2>"$work/lat.err" &
lat=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$work/lat.sock" ] && break
	sleep 0.1
done
sleep 1
"$ctl" -s "$work/lat.sock" flows udp 2>/dev/null | awk '$1 == "udp" {
	n = split($2, a, ":"); m = split($4, b, ":")
	printf "flow 4 17 %s %s %s %s 0800\n", a[1], a[2], b[1], b[2] }' >"$work/keys.tmp"
mv "$work/keys.tmp" "$work/keys"
wait "$lat"
echo "| measure | figure |"
echo "|---|---|"
line=$(tail -n 1 "$work/lat.out")
[[ $line == triggers=* ]] || { echo "bench: bus latency failed: $(tail -n 3 "$work/lat.err")" >&2; line="-"; }
echo "| publish to first delivered packet, 1000 triggers | $line |"
# rate, alternated: the generator as fast as it goes (the two cores are
# then the limit, and whatever else runs takes from it: the trigger
# handling, the publisher's thread, nats-server itself), and at a rate
# the capture keeps up with (does it still, with triggers arriving?)
for gen in unlimited 2m; do
	for round in 1 2; do
		for t in 0 1000; do
			out=$(env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUS="$url" \
				FLOWSCOPE_CONTROL=off FLOWSCOPE_GEN_FLOWS=2000 FLOWSCOPE_GEN_RATE=$gen \
				"$work/fs-busbench" rate "$url" flowscope:gen "$secs" "$t" 2>"$work/rate.err" | tail -n 1)
			[[ $out == recv_pps=* ]] || out="recv_pps=0 (failed: $(tail -n 1 "$work/rate.err"))"
			eval "r_${round}_$t=\$(sed 's/recv_pps=\([0-9]*\).*/\1/' <<<\"\$out\")"
			echo "| gen_rate $gen, round $round, $t triggers/s arriving | $out |"
		done
	done
	awk -v g="$gen" -v a="$r_1_0" -v b="$r_1_1000" -v c="$r_2_0" -v d="$r_2_1000" 'BEGIN {
		if (a + c > 0) printf "| gen_rate %s: receive rate with 1000 triggers/s over without (both rounds) | %.3f |\n", g, (b + d) / (a + c) }'
done
