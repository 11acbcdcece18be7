#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# window.sh: since/until cut exactly, half-open (since <= t < until), on
# file= and on spool=, compared packet by packet with what tshark's
# frame.time_epoch selects from the same trace; relative times count back
# from the activation; bad values and live sources get a clear error.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_tshark

t=$WORK/t.pcap
# 2000 packets 1 ms apart from 1700000000 on
"$MKTRACE" -o "$t" --packets 2000 --flows 20 --gap-us 1000 --start 1700000000 ||
	fail "fs-mktrace failed"
mkdir -m 700 "$WORK/spool"
td_capture "$WORK/all.pcap" FLOWSCOPE_SPOOL_DIR="$WORK/spool" FLOWSCOPE_CONTROL=off \
	-n -i "flowscope:file=$t"

# window SINCE UNTIL A B: tcpdump through file= and spool= with the window
# gives what tshark selects with A <= time < B
window() {
	local since=$1 until=$2 a=$3 b=$4 src
	"$TSHARK" -r "$t" -F pcap -w "$WORK/want.pcap" \
		-Y "frame.time_epoch >= $a && frame.time_epoch < $b" 2>/dev/null ||
		fail "tshark cannot select the window"
	for src in "file=$t" "spool=$WORK/spool"; do
		td_capture "$WORK/got.pcap" ${since:+FLOWSCOPE_SINCE=$since} \
			${until:+FLOWSCOPE_UNTIL=$until} FLOWSCOPE_CONTROL=off -n -i "flowscope:$src"
		expect_same "$WORK/want.pcap" "$WORK/got.pcap"
	done
	say "  ${since:-start}..${until:-end}: $("$PCAPCMP" --print-count "$WORK/want.pcap") packets, as tshark selects"
}

check "epoch seconds, with fractions, both ends"
window 1700000000.5 1700000001.25 1700000000.5 1700000001.25
check "a packet exactly at until is left out, one exactly at since is in"
# packet i is at 1700000000 + (i + 1) ms (+ 1 us where that would be 0)
window 1700000000.100001 1700000000.200001 1700000000.100001 1700000000.200001
check "ISO 8601 UTC, and one end only"
window 2023-11-14T22:13:21Z "" 1700000001 2000000000
window "" 2023-11-14T22:13:20.75Z 0 1700000000.75
check "relative times: a trace of the past is all before -1s and none after it"
window "" -1s 0 2000000000
td_capture "$WORK/none.pcap" FLOWSCOPE_SINCE=-1s FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
expect_count 0 "$WORK/none.pcap"

check "bad windows: a clear error naming the key, exit 1"
# bad WHAT PATTERN VAR=VALUE... DEVICE
bad() {
	local what=$1 pat=$2
	shift 2
	fs_tcpdump "$@" -w /dev/null >"$WORK/bad.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || fail_log "$what: exit $rc, not 1" "$WORK/bad.out"
	grep -q -E "$pat" "$WORK/bad.out" || fail_log "$what: no clear error" "$WORK/bad.out"
	say "  $what: $(grep -m 1 -o -E '(since|until): .*' "$WORK/bad.out")"
}
bad "not a time" "since: 'yesterday' is not a time" FLOWSCOPE_SINCE=yesterday \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
bad "until before since" "until: .* is not after since" FLOWSCOPE_SINCE=1700000001 \
	FLOWSCOPE_UNTIL=1700000000 FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
bad "a live source" "since: only file=, spool= and @NAME sources" FLOWSCOPE_SINCE=-1m \
	FLOWSCOPE_CONTROL=off -n -i flowscope:gen
pass
