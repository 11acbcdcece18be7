#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# gen_rate.sh: the generator paces packet by packet at low rates instead
# of sending bursts of 32 at once.
#  (a) gen_rate=5, gen_packets=10: tcpdump gets 10 packets whose
#      timestamps are about 200 ms apart (each gap 100-350 ms, 1.8 s in
#      all), and exits by itself;
#  (b) gen_rate=2k, gen_packets=2000: about 1 s in all, in at least 400
#      receive bursts (packets of a burst share a timestamp), where bursts
#      of 32 would make 63. (Not all of them small: a generator that fell
#      behind, on a busy machine, catches up at once.)
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

# times FILE: the packets' timestamps (seconds, microseconds), one a line
times() {
	stock_run "$TCPDUMP" -tt -n -r "$1" 2>/dev/null | awk '{ print $1 }'
}

check "(a) gen_rate=5 gen_packets=10: one packet about every 200 ms"
out=$WORK/slow.pcap
td_capture "$out" FLOWSCOPE_GEN_RATE=5 FLOWSCOPE_GEN_PACKETS=10 FLOWSCOPE_CONTROL=off \
	-n -i flowscope:gen
expect_count 10 "$out"
times "$out" >"$WORK/slow.times"
bad=$(awk 'NR > 1 { d = $1 - last; if (d < 0.1 || d > 0.35) printf "packet %d comes %.3f s after the one before; ", NR, d }
	{ last = $1 } NR == 1 { first = $1 }
	END { span = last - first; if (span < 1.5 || span > 2.5) printf "10 packets span %.3f s, not about 1.8 s", span }' \
	"$WORK/slow.times")
[ -z "$bad" ] || fail_log "$bad" "$WORK/slow.times"
say "  gaps: $(awk 'NR > 1 { printf "%.3f ", $1 - last } { last = $1 }' "$WORK/slow.times")"

check "(b) gen_rate=2k gen_packets=2000: about 1 s, at least 400 distinct timestamps"
out=$WORK/mid.pcap
td_capture "$out" FLOWSCOPE_GEN_RATE=2k FLOWSCOPE_GEN_PACKETS=2000 FLOWSCOPE_CONTROL=off \
	-n -i flowscope:gen
expect_count 2000 "$out"
times "$out" >"$WORK/mid.times"
span=$(awk 'NR == 1 { first = $1 } { last = $1 } END { printf "%.3f", last - first }' "$WORK/mid.times")
distinct=$(uniq "$WORK/mid.times" | grep -c .)
awk -v s="$span" 'BEGIN { exit !(s >= 0.9 && s <= 1.6) }' ||
	fail "2000 packets at 2000/s span $span s, not about 1 s"
[ "$distinct" -ge 400 ] ||
	fail "2000 packets have only $distinct distinct timestamps: sent in bursts, not paced"
say "  2000 packets over $span s, $distinct distinct timestamps"
pass
