#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# file_replay.sh: tcpdump -i flowscope:file=TRACE writes back exactly TRACE
# (timestamps, lengths, bytes, count) and exits 0 by itself at the file's end;
# two files aggregate; -c stops early; caplen and snaplen cut packets.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

# mktrace NAME OPTIONS...: write $WORK/NAME.pcap with fs-mktrace.
mktrace() {
	local name=$1
	shift
	"$MKTRACE" -o "$WORK/$name.pcap" "$@" 2>"$WORK/mktrace.err" ||
		fail_log "fs-mktrace $*" "$WORK/mktrace.err"
}

# replay NAME: replay NAME.pcap through flowscope into NAME.out.pcap and
# compare the two.
replay() {
	local name=$1 t=$WORK/$1.pcap o=$WORK/$1.out.pcap
	check "flowscope:file=${t##*/} gives back the same packets ($(pcap_count "$t") packets)"
	td_capture "$o" -n -i "flowscope:file=$t"
	expect_same "$t" "$o"
}

mktrace plain --packets 1000
mktrace nano --packets 1000 --nano --proto tcp --flows 7
mktrace mixed --packets 1000 --mixed --proto mixed --flows 13 --seed 7
mktrace vlan --packets 500 --vlan 100
mktrace qinq --packets 500 --vlan 200 --qinq=300 --ipv6 --proto mixed --size 128
mktrace ipv6 --packets 1000 --ipv6 --proto mixed --flows 20 --size 96
mktrace big --packets 100000 --flows 1000 --gap-us 3
mktrace other --packets 700 --flows 7 --proto tcp --gap-us 13 --sport 40000 --dport 50000

for name in plain nano mixed vlan qinq ipv6 big; do
	replay "$name"
done

t=$WORK/nano.pcap
check "--time-stamp-precision=nano keeps nanosecond timestamps of ${t##*/}"
td_capture "$WORK/nano.ns.pcap" --time-stamp-precision=nano -n -i "flowscope:file=$t"
expect_same --nano "$t" "$WORK/nano.ns.pcap"

a=$WORK/plain.pcap b=$WORK/other.pcap o=$WORK/agg.pcap
check "flowscope:file=A:file=B delivers all 1000 + 700 packets, each file's in order"
td_capture "$o" -n -i "flowscope:file=$a:file=$b"
expect_count 1700 "$o"
expect_same --subset "$a" "$o"
expect_same --subset "$b" "$o"

check "-c 10 stops after the first 10 packets of a 100000-packet file with exit 0"
stock_run "$TCPDUMP" -r "$WORK/big.pcap" -c 10 -w "$WORK/first10.pcap" 2>/dev/null ||
	fail "stock tcpdump cannot cut the first 10 packets"
td_capture "$WORK/c10.pcap" -n -c 10 -i "flowscope:file=$WORK/big.pcap"
expect_same "$WORK/first10.pcap" "$WORK/c10.pcap"

t=$WORK/mixed.pcap
check "FLOWSCOPE_CAPLEN=100: caplen = min(len, 100), len kept"
td_capture "$WORK/caplen.pcap" FLOWSCOPE_CAPLEN=100 -n -i "flowscope:file=$t"
expect_same --caplen 100 "$t" "$WORK/caplen.pcap"

check "tcpdump -s 80 (the application's snaplen): caplen = min(len, 80), len kept"
td_capture "$WORK/snap.pcap" -n -s 80 -i "flowscope:file=$t"
expect_same --caplen 80 "$t" "$WORK/snap.pcap"

pass
