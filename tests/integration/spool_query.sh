#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# spool_query.sh: flowscope:spool=DIR with the application's filter reads
# only the blocks the segment index says can hold a matching packet (the
# module analyses the filter's BPF code for its hosts), and gives exactly
# what tcpdump -r gives with that filter. The spool holds an IPv4 trace
# followed by an IPv6 one, so an IPv4 host query can skip the IPv6 half,
# and a 5-tuple query reads only that flow's blocks, not all of its hosts';
# block reads are counted with strace (reads of 64 KiB or more).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_cmd strace mergecap

"$MKTRACE" -o "$WORK/a4.pcap" --packets 50000 --flows 50 --size 300 --start 1700000000 &&
	"$MKTRACE" -o "$WORK/a6.pcap" --packets 50000 --flows 50 --size 300 --ipv6 \
		--start 1700000010 || fail "fs-mktrace failed"
# and, at the end, 300 packets of one more flow between the hosts of the
# first IPv4 flow (another source port): a 5-tuple query needs only its
# blocks, an address query all of the IPv4 part
"$MKTRACE" -o "$WORK/late.pcap" --packets 300 --flows 1 --size 300 --sport 40000 \
	--start 1700000020 || fail "fs-mktrace failed"
mergecap -a -F pcap -w "$WORK/t.pcap" "$WORK/a4.pcap" "$WORK/a6.pcap" "$WORK/late.pcap" ||
	fail "mergecap failed"
mkdir -m 700 "$WORK/spool"
td_capture "$WORK/rec.pcap" FLOWSCOPE_BUFFER=4m FLOWSCOPE_SPOOL_DIR="$WORK/spool" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$WORK/t.pcap"
[ -e "$WORK/spool/seg-0000000000000000.idx" ] || fail "the segment has no index"

# query NAME FILTER...: block reads of a spool= capture with FILTER, in
# READS; its output must be what tcpdump -r gives
query() {
	local name=$1
	shift
	"$TCPDUMP" -n -r "$WORK/t.pcap" -w "$WORK/want.pcap" "$@" 2>/dev/null ||
		fail "tcpdump -r $* failed"
	FLOWSCOPE_CONTROL=off strace -f -qq -e trace=pread64 -o "$WORK/strace.log" \
		"$FS_RUN" "$TCPDUMP" -Z root -n -i "flowscope:spool=$WORK/spool" \
		-w "$WORK/got.pcap" "$@" >"$WORK/q.out" 2>&1 ||
		fail_log "tcpdump -i flowscope:spool= $* failed" "$WORK/q.out"
	expect_same "$WORK/want.pcap" "$WORK/got.pcap"
	READS=$(grep -c 'pread64([0-9]*, .*, [0-9]\{5,\}, ' "$WORK/strace.log")
	say "  $name: $READS block reads, $("$PCAPCMP" --print-count "$WORK/got.pcap") packets as tcpdump -r gives"
}

check "without a filter every block is read"
query "no filter"
all=$READS
[ "$all" -ge 20 ] || fail "only $all block reads for the whole spool"

check "one host, two hosts, a host and port: only the blocks that can hold them"
for f in 'host 10.1.0.7' 'host 10.1.0.7 or host 10.1.128.9' 'src host 10.1.0.7 and udp port 10007'; do
	# shellcheck disable=SC2086
	query "'$f'" $f
	[ "$READS" -le $((all * 6 / 10)) ] ||
		fail "'$f' read $READS of $all blocks: the IPv6 half was not skipped"
done
query "'ip6 host fd00::1:7'" ip6 host fd00::1:7
[ "$READS" -le $((all * 6 / 10)) ] || fail "an IPv6 host read $READS of $all blocks"

check "one 5-tuple: only the blocks of that flow (the flow index), not all of its hosts'"
query "host 10.1.0.0" host 10.1.0.0
hosts=$READS
tuple='udp and host 10.1.0.0 and port 40000 and host 10.1.128.0 and port 30000'
# shellcheck disable=SC2086
query "'$tuple'" $tuple
[ "$(pcap_count "$WORK/got.pcap")" = 300 ] || fail "the 5-tuple query did not give the flow's 300 packets"
[ "$READS" -le 2 ] && [ "$hosts" -ge 10 ] ||
	fail "'$tuple' read $READS blocks (its hosts: $hosts): not by the flow index"

check "a filter the index cannot narrow reads everything, still exactly"
query "'udp port 30007'" udp port 30007
[ "$READS" -ge "$all" ] || fail "'udp port 30007' read $READS of $all blocks"
pass
