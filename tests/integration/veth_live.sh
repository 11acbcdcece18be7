#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# veth_live.sh: live capture on a kernel interface, flowscope:VETH, while
# tcpreplay sends a known trace into the other end of a veth pair from a
# private network namespace: every packet arrives, in order, byte for byte;
# and with a BPF filter (pcap_setfilter) exactly the matching half; VLAN
# and QinQ tags as they were on the wire; with rx_queues = 2 every packet,
# each flow in order; and each packet with the kernel's own timestamp, as
# stock libpcap sees it on the same interface at the same time.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_cmd tcpreplay
netns_veth_setup 1500

# 500 packets of 500 distinct UDP flows, locally administered MACs that no
# host owns, so the kernel answers none of them.
"$MKTRACE" -o "$WORK/distinct.pcap" --packets 500 --flows 500 ||
	fail "fs-mktrace failed"
# 500 packets of 10 interleaved flows; the even ones (source ports 10000,
# 10002, ... 10008) make the filtered half.
"$MKTRACE" -o "$WORK/ten.pcap" --packets 500 --flows 10 --size 100 ||
	fail "fs-mktrace failed"
half='udp port 10000 or udp port 10002 or udp port 10004 or udp port 10006 or udp port 10008'
stock_run "$TCPDUMP" -r "$WORK/ten.pcap" -w "$WORK/half.pcap" "$half" 2>/dev/null ||
	fail "stock tcpdump cannot filter ten.pcap"
expect_count 250 "$WORK/half.pcap"

# live NAME TRACE EXPECTED COUNT FILTER: capture COUNT packets matching
# FILTER on flowscope:$VETH_HOST while TRACE is sent from the namespace;
# they must be EXPECTED's packets (bytes; timestamps are new).
live() {
	local name=$1 trace=$2 expected=$3 count=$4 filter=$5
	local out=$WORK/$name.out.pcap err=$WORK/$name.err pid
	check "flowscope:$VETH_HOST -c $count '$filter' gets ${expected##*/} sent by tcpreplay"
	bg_start "$WORK/$name.stdout" "$err" \
		fs_tcpdump -n -i "flowscope:$VETH_HOST" -c "$count" -w "$out" "$filter"
	pid=$BG_PID
	wait_listening "$err" "$pid" 30 ||
		fail_log "tcpdump on flowscope:$VETH_HOST did not start listening" "$err"
	ip netns exec "$NS" timeout 30 tcpreplay -q --pps=5000 -i "$VETH_NS" "$trace" \
		>"$WORK/$name.replay" 2>&1 ||
		fail_log "tcpreplay into $VETH_NS failed" "$WORK/$name.replay"
	if ! bg_wait "$pid" 15; then
		kill_tree "$pid" INT
		fail_log "tcpdump did not get $count packets within 15 s of the replay" \
			"$err" "$WORK/$name.replay"
	fi
	expect_ok "$BG_RC" "tcpdump -i flowscope:$VETH_HOST" "$err"
	expect_count "$count" "$out"
	expect_same --bytes-only "$expected" "$out"
}

live all "$WORK/distinct.pcap" "$WORK/distinct.pcap" 500 udp
live half "$WORK/ten.pcap" "$WORK/half.pcap" 250 "$half"

# the receiving veth moves the (outer) tag into the packet's metadata;
# it must come back into the frame, with its TPID
"$MKTRACE" -o "$WORK/vlan.pcap" --packets 200 --flows 10 --vlan 100 ||
	fail "fs-mktrace failed"
"$MKTRACE" -o "$WORK/qinq.pcap" --packets 200 --flows 10 --vlan 200 --qinq ||
	fail "fs-mktrace failed"
live vlan "$WORK/vlan.pcap" "$WORK/vlan.pcap" 200 ''
live qinq "$WORK/qinq.pcap" "$WORK/qinq.pcap" 200 ''

check "rx_queues = 2: every packet, each flow in order (fanout by flow)"
"$MKTRACE" -o "$WORK/many.pcap" --packets 2000 --flows 200 --proto mixed ||
	fail "fs-mktrace failed"
bg_start "$WORK/q2.stdout" "$WORK/q2.err" \
	fs_tcpdump FLOWSCOPE_RX_QUEUES=2 -n -i "flowscope:$VETH_HOST" -c 2000 \
	-w "$WORK/q2.pcap" 'udp or tcp'
pid=$BG_PID
wait_listening "$WORK/q2.err" "$pid" 30 || fail_log "tcpdump with rx_queues = 2 did not start" "$WORK/q2.err"
ip netns exec "$NS" timeout 30 tcpreplay -q --pps=10000 -i "$VETH_NS" "$WORK/many.pcap" \
	>"$WORK/q2.replay" 2>&1 || fail_log "tcpreplay failed" "$WORK/q2.replay"
bg_wait "$pid" 15 || fail_log "tcpdump with rx_queues = 2 did not get 2000 packets" "$WORK/q2.err"
expect_ok "$BG_RC" "tcpdump with rx_queues = 2" "$WORK/q2.err"
expect_same --per-flow --bytes-only "$WORK/many.pcap" "$WORK/q2.pcap"

check "per-packet kernel timestamps: 2000 packets at 20 kpps, flowscope beside stock tcpdump"
need_tshark
"$MKTRACE" -o "$WORK/ts.pcap" --packets 2000 --flows 100 || fail "fs-mktrace failed"
bg_start "$WORK/ts-fs.stdout" "$WORK/ts-fs.err" \
	fs_tcpdump -n --time-stamp-precision=nano -i "flowscope:$VETH_HOST" -c 2000 \
	-w "$WORK/ts-fs.pcap" udp
fpid=$BG_PID
bg_start "$WORK/ts-stock.stdout" "$WORK/ts-stock.err" \
	stock_run "$TCPDUMP" -Z root -n --time-stamp-precision=nano -i "$VETH_HOST" -c 2000 \
	-w "$WORK/ts-stock.pcap" udp
spid=$BG_PID
wait_listening "$WORK/ts-fs.err" "$fpid" 30 || fail_log "flowscope's tcpdump did not start" "$WORK/ts-fs.err"
wait_listening "$WORK/ts-stock.err" "$spid" 30 || fail_log "stock tcpdump did not start" "$WORK/ts-stock.err"
ip netns exec "$NS" timeout 30 tcpreplay -q --pps=20000 -i "$VETH_NS" "$WORK/ts.pcap" \
	>"$WORK/ts.replay" 2>&1 || fail_log "tcpreplay failed" "$WORK/ts.replay"
bg_wait "$fpid" 15 || fail_log "flowscope's tcpdump did not get 2000 packets" "$WORK/ts-fs.err"
bg_wait "$spid" 15 || fail_log "stock tcpdump did not get 2000 packets" "$WORK/ts-stock.err"
for w in fs stock; do
	stock_run "$TSHARK" -n -r "$WORK/ts-$w.pcap" -T fields -e frame.time_epoch \
		>"$WORK/ts-$w.times" 2>"$WORK/ts-$w.tshark" ||
		fail_log "tshark cannot read ts-$w.pcap" "$WORK/ts-$w.tshark"
done
nfs=$(sort -u "$WORK/ts-fs.times" | grep -c .)
nstock=$(sort -u "$WORK/ts-stock.times" | grep -c .)
say "  distinct timestamps: flowscope $nfs, stock libpcap $nstock (of 2000)"
[ "$nfs" -ge $((nstock - 10)) ] ||
	fail "flowscope gave $nfs distinct timestamps, stock libpcap $nstock"
# the same packets in the same order: each pair at most 5 ms apart
paste "$WORK/ts-stock.times" "$WORK/ts-fs.times" | awk '
	NF != 2 { bad = "the captures differ in length"; exit }
	{ d = $2 - $1; if (d < 0) d = -d; if (d > max) max = d }
	END { if (bad != "") { print bad; exit 1 }
	      printf "%.6f\n", max; exit (max > 0.005) }' >"$WORK/ts.max" ||
	fail "flowscope's timestamps are up to $(cat "$WORK/ts.max") s from stock libpcap's"
say "  largest difference to stock libpcap: $(cat "$WORK/ts.max") s"

check "two processes on flowscope:$VETH_HOST at once each get every packet"
bg_start "$WORK/p1.stdout" "$WORK/p1.err" \
	fs_tcpdump -n -i "flowscope:$VETH_HOST" -c 500 -w "$WORK/p1.pcap" udp
p1=$BG_PID
bg_start "$WORK/p2.stdout" "$WORK/p2.err" \
	fs_tcpdump -n -i "flowscope:$VETH_HOST" -c 500 -w "$WORK/p2.pcap" udp
p2=$BG_PID
wait_listening "$WORK/p1.err" "$p1" 30 || fail_log "first tcpdump did not start" "$WORK/p1.err"
wait_listening "$WORK/p2.err" "$p2" 30 || fail_log "second tcpdump did not start" "$WORK/p2.err"
ip netns exec "$NS" timeout 30 tcpreplay -q --pps=5000 -i "$VETH_NS" "$WORK/distinct.pcap" \
	>"$WORK/two.replay" 2>&1 || fail_log "tcpreplay failed" "$WORK/two.replay"
bg_wait "$p1" 15 || fail_log "first tcpdump did not get 500 packets" "$WORK/p1.err"
bg_wait "$p2" 15 || fail_log "second tcpdump did not get 500 packets" "$WORK/p2.err"
expect_same --bytes-only "$WORK/distinct.pcap" "$WORK/p1.pcap"
expect_same --bytes-only "$WORK/distinct.pcap" "$WORK/p2.pcap"

pass
