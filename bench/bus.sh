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
#    against none, alternated in the same run (BENCH_ROUNDS rounds, 3),
#    and the ratio of the medians: on port dpdk0 saturated (the pcap
#    driver looping a trace) and on the generator at 2 Mpps.
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
# rate, alternated: "saturated" is the pcap driver looping a 64-byte
# trace on port dpdk0 (no generator thread) with the application reading
# and helping with the analysis: both cores are busy, and whatever the
# triggers cost on them (the server and the publishing host included)
# shows as a lower rate; "saturated-core" the same with an application
# that never reads, so that the receive core does all the analysis and
# the other core is the bus's, as on a host whose cores are not all
# taken by the capture; "2m" is the generator at 2 Mpps, a rate the capture keeps up
# with (does it still, with triggers arriving?). ROUNDS rounds of without
# and with triggers, alternated, and the ratio of the medians.
rounds=${BENCH_ROUNDS:-3}
"$top/tests/tools/fs-mktrace" -o "$work/t64.pcap" --packets 1000 --flows 1000 --size 64 >/dev/null || exit 1
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
for row in saturated saturated-core 2m; do
	how=rate
	case $row in
	saturated*) dev=flowscope:dpdk0
		extra=(FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$work/t64.pcap,infinite_rx=1")
		[ "$row" = saturated-core ] && how=rate-core ;;
	2m) dev=flowscope:gen extra=(FLOWSCOPE_GEN_FLOWS=2000 FLOWSCOPE_GEN_RATE=2m) ;;
	esac
	: >"$work/r0"
	: >"$work/r1000"
	for ((round = 1; round <= rounds; round++)); do
		for t in 0 1000; do
			out=$(env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_MODE=trigger FLOWSCOPE_BUS="$url" \
				FLOWSCOPE_CONTROL=off "${extra[@]}" \
				"$work/fs-busbench" "$how" "$url" "$dev" "$secs" "$t" 2>"$work/rate.err" | tail -n 1)
			[[ $out == recv_pps=* ]] || out="recv_pps=0 (failed: $(tail -n 1 "$work/rate.err"))"
			sed 's/recv_pps=\([0-9]*\).*/\1/' <<<"$out" >>"$work/r$t"
			echo "| $row, round $round, $t triggers/s arriving | $out |"
		done
	done
	awk -v g="$row" -v a="$(median <"$work/r0")" -v b="$(median <"$work/r1000")" 'BEGIN {
		if (a > 0) printf "| %s: median receive rate with 1000 triggers/s over without | %.3f (%.2f / %.2f Mpps) |\n", g, b / a, b / 1e6, a / 1e6 }'
done
