#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The benchmark (make bench): every configuration on the same 64-byte UDP
# traffic (1000 flows, like FlowScope's pktgen) from DPDK's pcap driver
# with infinite_rx=1, side by side in one run; prints a markdown table with
# packets/s at the pcap callback, ns per packet, CPU cores used and the
# ratio to the first peer. BENCH_SECONDS per configuration (default 5).
# Rows on flowscope's generator (gen) leave its threads' CPU out of the
# capture's ns/pkt and cores and show it beside them: on two cores the
# generator, the receive thread and the reader share them, and the
# generator's share says what limits such a row.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-5}
work=$(mktemp -d /dev/shm/fs-bench.XXXXXX)
senders=
trap 'for s in $senders; do kill "$s" 2>/dev/null; done; rm -rf "$work"; ip link del fsbv0 2>/dev/null; ip netns del fsbns 2>/dev/null' EXIT
cc=${CC:-gcc}
fs_lib=$top/libpcap-fs/lib
stock_dpdk=$top/bench/work/stock-dpdk

"$cc" -O2 -o "$work/fs-bench" "$top/bench/fs-bench.c" -lpcap || exit 1
"$cc" -O2 -o "$work/veth-flood" "$top/bench/veth-flood.c" -lpcap || exit 1
# shellcheck disable=SC2046
"$cc" -O2 $(pkg-config --cflags libdpdk) -o "$work/bare-dpdk" "$top/bench/bare-dpdk.c" \
	$(pkg-config --libs libdpdk) || exit 1
sh "$top/bench/build-stock-dpdk.sh" "$top" "$stock_dpdk" >/dev/null || exit 1
"$top/tests/tools/fs-mktrace" -o "$work/t64.pcap" --packets 1000 --flows 1000 --size 64 || exit 1
"$top/tests/tools/fs-mktrace" -o "$work/t1500.pcap" --packets 1000 --flows 1000 --size 1500 || exit 1

eal="--no-huge --no-pci -m 1024 --no-shconf --no-telemetry -l 0 --log-level=error"
vdev="--vdev=net_pcap0,rx_pcap=$work/t64.pcap,infinite_rx=1"
vdev2="--vdev=net_pcap0,rx_pcap=$work/t64.pcap,rx_pcap=$work/t64.pcap,infinite_rx=1"
results=()
first_pps=

# row NAME COMMAND...: run, keep "name|pps|recv|ns|cores|drop"
# (drop: ps_drop, and "/ ps_ifdrop" when that is not 0)
row() {
	local name=$1 out
	shift
	out=$("$@" 2>"$work/err" | tail -n 1)
	if [[ $out != pps=* ]]; then
		echo "bench: $name failed: $(tail -n 3 "$work/err")" >&2
		results+=("$name|failed|||||")
		return
	fi
	local pps recv ns cores drop ifdrop
	pps=$(sed 's/.*\bpps=\([0-9]*\).*/\1/' <<<"$out")
	recv=$(sed -n 's/.*recv_pps=\([0-9]*\).*/\1/p' <<<"$out")
	ns=$(sed 's/.*ns_per_pkt=\([0-9.]*\).*/\1/' <<<"$out")
	cores=$(sed 's/.* cores=\([0-9.]*\).*/\1/' <<<"$out")
	drop=$(sed -n 's/.* drop=\([0-9]*\).*/\1/p' <<<"$out")
	ifdrop=$(sed -n 's/.*ifdrop=\([0-9]*\).*/\1/p' <<<"$out")
	# flowscope's generator: its threads' cores apart from the capture's
	gen=$(sed -n 's/.*gen_cores=\([0-9.]*\).*/\1/p' <<<"$out")
	case ${gen:-0.00} in 0.00 | 0) ;; *) cores="$cores (+ $gen generator)" ;; esac
	[ "${ifdrop:-0}" = 0 ] || drop="${drop:-0} / $ifdrop"
	[ -n "$first_pps" ] || first_pps=$pps
	results+=("$name|$pps|${recv:-$pps}|$ns|$cores|${drop:-0}")
	echo "bench: $name: $out" >&2
}

fs() { env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL=off "$@"; }

row "stock libpcap DPDK module (dpdk:0)" env LD_LIBRARY_PATH="$stock_dpdk" \
	DPDK_CFG="$eal $vdev" "$work/fs-bench" dpdk:0 "$secs"
row "stock libpcap, pcap_open_offline from tmpfs" "$work/fs-bench" -r "$work/t64.pcap" "$secs"
# A kernel interface: one end of a veth pair, flooded from a namespace on
# the other end by two AF_PACKET senders (bench/veth-flood.c, the fastest
# sender here; tcpreplay --topspeed reaches about half). The kernel's
# receive work runs in the senders' context, so a reader that spins (the
# DPDK driver's receive thread) takes CPU from them and gets less. Rows:
# stock libpcap, flowscope's TPACKET_V3 rings, and the same interface
# through DPDK's af_packet driver as flowscope:IFNAME read it before.
# veth_row NAME COMMAND...: row while the senders run; their rate goes
# into the name.
veth_row() {
	local name=$1 s1 s2 sent
	shift
	ip netns exec fsbns "$work/veth-flood" fsbv1 "$work/t64.pcap" "$((secs + 3))" \
		>"$work/flood1" 2>&1 &
	s1=$!
	ip netns exec fsbns "$work/veth-flood" fsbv1 "$work/t64.pcap" "$((secs + 3))" \
		>"$work/flood2" 2>&1 &
	s2=$!
	senders="$s1 $s2"
	sleep 0.5
	row "$name" "$@"
	wait "$s1" "$s2"
	senders=
	sent=$(sed -n 's/^sent_pps=//p' "$work/flood1" "$work/flood2" |
		awk '{ s += $1 } END { printf "%.2f", s / 1e6 }')
	results[-1]="${results[-1]/|/ (senders: $sent Mpps)|}"
}
if ip netns add fsbns 2>/dev/null &&
   ip link add fsbv0 type veth peer name fsbv1 netns fsbns 2>/dev/null; then
	sysctl -qw net.ipv6.conf.fsbv0.disable_ipv6=1 2>/dev/null
	ip link set fsbv0 up; ip -n fsbns link set fsbv1 up
	veth_row "stock libpcap AF_PACKET on a veth" "$work/fs-bench" fsbv0 "$secs"
	veth_row "flowscope live, veth (TPACKET_V3 rings)" fs \
		"$work/fs-bench" flowscope:fsbv0 "$secs"
	veth_row "flowscope live, veth through DPDK's af_packet driver (before)" fs \
		FLOWSCOPE_EAL="--vdev=net_af_packet0,iface=fsbv0,blocksz=4096,framesz=2048,framecnt=4096" \
		"$work/fs-bench" flowscope:dpdk0 "$secs"
	ip link del fsbv0
fi
ip netns del fsbns 2>/dev/null
row "bare DPDK loop: rx + free only (the ceiling)" "$work/bare-dpdk" "$((secs + 1))" $eal "$vdev"
row "flowscope live, dpdk0 (same vdev), 1 queue" fs FLOWSCOPE_EAL="$vdev" \
	"$work/fs-bench" flowscope:dpdk0 "$secs"
row "flowscope live, dpdk0, rx_queues = 2 (two-queue vdev)" fs FLOWSCOPE_EAL="$vdev2" \
	FLOWSCOPE_RX_QUEUES=2 "$work/fs-bench" flowscope:dpdk0 "$secs"
row "flowscope live, gen" fs "$work/fs-bench" flowscope:gen "$secs"
row "flowscope live, gen, gen_profile = realistic (54-1514 B frames)" fs \
	FLOWSCOPE_GEN_PROFILE=realistic "$work/fs-bench" flowscope:gen "$secs"
row "flowscope trigger, dpdk0, nothing triggered (recv/s)" fs FLOWSCOPE_EAL="$vdev" \
	FLOWSCOPE_MODE=trigger "$work/fs-bench" flowscope:dpdk0 "$secs"
row "flowscope trigger, dpdk0, every flow triggered" fs FLOWSCOPE_EAL="$vdev" \
	FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER=udp "$work/fs-bench" flowscope:dpdk0 "$secs"
row "flowscope trigger, gen, 1000000 flows (recv/s)" fs FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_GEN_FLOWS=1000000 "$work/fs-bench" flowscope:gen "$secs"
# 10^6 flows on one receive core: a trace of 10^6 packets, one per flow
# (written by flowscope's generator through tcpdump), looped by the pcap
# driver in the receive thread itself; the driver keeps all of it in
# mbufs, hence the pool and memory sizes. Its own bare loop is the ceiling.
if FLOWSCOPE_GEN_FLOWS=1000000 FLOWSCOPE_GEN_PACKETS=1000000 FLOWSCOPE_CONTROL=off \
	"$top/flowscope-run" tcpdump -q -i flowscope:gen -w "$work/t1m.pcap" 2>/dev/null; then
	eal1m="--no-huge --no-pci -m 8192 --no-shconf --no-telemetry -l 0 --log-level=error"
	vdev1m="--vdev=net_pcap0,rx_pcap=$work/t1m.pcap,infinite_rx=1"
	row "bare DPDK loop on the 10^6-flow trace (its ceiling)" env BARE_MBUFS=1050000 \
		"$work/bare-dpdk" "$((secs + 1))" $eal1m "$vdev1m"
	row "flowscope trigger, dpdk0, 10^6-flow trace, 1 receive core (recv/s)" fs \
		FLOWSCOPE_MODE=trigger FLOWSCOPE_RX_MBUFS=1050000 \
		FLOWSCOPE_EAL="--no-huge -m 8192 $vdev1m" "$work/fs-bench" flowscope:dpdk0 "$secs"
	# the same with an application that never reads: the receive core
	# alone does everything, nothing is analyzed on the application's
	# thread
	row "flowscope trigger, dpdk0, 10^6-flow trace, receive core alone, application never reads (recv/s)" fs \
		FLOWSCOPE_MODE=trigger FLOWSCOPE_RX_MBUFS=1050000 \
		FLOWSCOPE_EAL="--no-huge -m 8192 $vdev1m" "$work/fs-bench" -s flowscope:dpdk0 "$secs"
	rm -f "$work/t1m.pcap"
else
	echo "bench: cannot write the 10^6-flow trace" >&2
fi

# 10^7 concurrent flows: flowscope's generator (a looped trace would need
# 10^7 mbufs), the application never reads; 10 s at least, since creating
# the 10^7 flows takes the first seconds
row "flowscope trigger, gen, 10^7 flows, application never reads (recv/s)" fs \
	FLOWSCOPE_MODE=trigger FLOWSCOPE_GEN_FLOWS=10000000 FLOWSCOPE_MAX_FLOWS=12000000 \
	"$work/fs-bench" -s flowscope:gen "$((secs > 10 ? secs : 10))"

# ring efficiency and history depth, from the control socket of a
# capture whose ring has filled
eff() {
	local size=$1 sock=$work/eff$1.sock st
	env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_MODE=trigger \
		FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$work/t$size.pcap,infinite_rx=1" \
		"$work/fs-bench" flowscope:dpdk0 6 >/dev/null 2>&1 &
	sleep 5
	st=$("$top/src/flowscope-ctl" -s "$sock" stats 2>/dev/null)
	wait
	awk -v size="$size" '
		/^ring_packets / { p = $2 } /^ring_bytes / { b = $2 }
		/^history_seconds / { h = $2 } /^ring_capacity / { c = $2 }
		END { if (b > 0) printf "| %d | %.1f %% | %.2f s (%d MiB ring) |\n",
			size, 100 * p * size / b, h, c / 1048576 }' <<<"$st"
}

echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); $secs s per configuration"
echo
echo "| configuration | delivered pkt/s | received pkt/s | ns/pkt (CPU) | cores | ratio to first peer | drops |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
	IFS='|' read -r name pps recv ns cores drop <<<"$r"
	if [ "$pps" = failed ] || [ -z "$first_pps" ]; then
		echo "| $name | failed | | | | | |"
		continue
	fi
	ratio=$(awk -v a="$pps" -v b="$first_pps" 'BEGIN { printf "%.2f", a / b }')
	printf '| %s | %.2f M | %.2f M | %s | %s | %s | %s |\n' "$name" \
		"$(awk -v x="$pps" 'BEGIN { print x / 1e6 }')" \
		"$(awk -v x="$recv" 'BEGIN { print x / 1e6 }')" "$ns" "$cores" "$ratio" "$drop"
done
echo
echo "| frame bytes | ring efficiency (packet bytes / ring bytes used) | history depth of the default ring at this rate |"
echo "|---:|---:|---:|"
eff 64
eff 1500

# the spool's rows (also on their own: bash bench/spool.sh)
BENCH_SECONDS=$secs bash "$top/bench/spool.sh"
BENCH_SECONDS=$secs bash "$top/bench/share.sh"
# triggers across hosts (also on their own: bash bench/bus.sh)
BENCH_SECONDS=$secs bash "$top/bench/bus.sh"
