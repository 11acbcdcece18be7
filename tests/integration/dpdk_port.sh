#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# dpdk_port.sh: dpdkN sources are ports the EAL probed from the eal key,
# here DPDK's pcap driver on a trace; with rx_queues = 2 both queues of a
# two-queue port are read, each by its own thread into its own lane.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

"$MKTRACE" -o "$WORK/a.pcap" --packets 800 --flows 16 || fail "fs-mktrace failed"
"$MKTRACE" -o "$WORK/b.pcap" --packets 600 --flows 9 --ipv6 --start 1600000100 ||
	fail "fs-mktrace failed"

check "flowscope:dpdk0 with eal = --vdev=net_pcap0,rx_pcap=a.pcap gets every packet"
td_capture "$WORK/out.pcap" FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$WORK/a.pcap" \
	-n -c 800 -i flowscope:dpdk0
expect_same --bytes-only "$WORK/a.pcap" "$WORK/out.pcap"

check "rx_queues = 2 on a two-queue port: all packets of both queues"
td_capture "$WORK/out2.pcap" FLOWSCOPE_RX_QUEUES=2 \
	FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$WORK/a.pcap,rx_pcap=$WORK/b.pcap" \
	-n -c 1400 -i flowscope:dpdk0
expect_same --bytes-only --subset "$WORK/a.pcap" "$WORK/out2.pcap"
expect_same --bytes-only --subset "$WORK/b.pcap" "$WORK/out2.pcap"

check "rx_queues beyond what the port has is a clear error"
fs_tcpdump FLOWSCOPE_RX_QUEUES=4 \
	FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$WORK/a.pcap" -n -c 1 \
	-i flowscope:dpdk0 >/dev/null 2>"$WORK/q.err"
rc=$?
[ "$rc" -ne 0 ] || fail "tcpdump accepted rx_queues = 4 on a one-queue port"
grep -q 'rx_queues' "$WORK/q.err" || fail_log "the error does not name rx_queues" "$WORK/q.err"
say "  tcpdump said: $(head -n 2 "$WORK/q.err" | tr '\n' ' ')"
check "eal with --no-huge -m: net_pcap with infinite_rx=1 needs rx_mbufs for its file"
"$MKTRACE" -o "$WORK/c.pcap" --packets 9000 --flows 30 || fail "fs-mktrace failed"
loop="--no-huge -m 1024 --vdev=net_pcap0,rx_pcap=$WORK/c.pcap,infinite_rx=1"
fs_tcpdump FLOWSCOPE_EAL="$loop" -n -c 1 -i flowscope:dpdk0 -w /dev/null \
	>/dev/null 2>"$WORK/m.err"
[ $? -ne 0 ] || fail "9000 packets fit a pool sized for 4096 descriptors"
grep -q 'rx_mbufs' "$WORK/m.err" || fail_log "the error does not name rx_mbufs" "$WORK/m.err"
say "  tcpdump said: $(head -n 2 "$WORK/m.err" | tr '\n' ' ')"
td_capture "$WORK/loop.pcap" FLOWSCOPE_RX_MBUFS=12000 FLOWSCOPE_EAL="$loop" \
	-n -c 20000 -i flowscope:dpdk0
got=$(pcap_count "$WORK/loop.pcap")
[ "$got" -eq 20000 ] || fail "rx_mbufs = 12000: $got packets, not 20000"
pass
