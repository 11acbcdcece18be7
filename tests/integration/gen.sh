#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# gen.sh: the built-in generator, flowscope:gen: UDP flows in 10.0.0.0/16 with
# ports 1234..2234, and the gen_flows, gen_packets and gen_size keys.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

# check_lines FILE N: FILE holds N tcpdump -n -q lines, each a UDP packet
# between 10.0.0.0/16 addresses with both ports in 1234..2234.
check_lines() {
	local file=$1 want=$2 lines bad
	lines=$(wc -l <"$file")
	[ "$lines" -eq "$want" ] || fail_log "tcpdump printed $lines lines, not $want" "$file"
	bad=$(awk '
		{ if (match($0, /^[0-9:.]+ IP 10\.0\.[0-9]+\.[0-9]+\.[0-9]+ > 10\.0\.[0-9]+\.[0-9]+\.[0-9]+: UDP, length [0-9]+$/) == 0) { print NR ": " $0; exit }
		  n = split($3, s, "."); sp = s[n] + 0; split($5, d, "."); dp = d[5] + 0
		  if (sp < 1234 || sp > 2234 || dp < 1234 || dp > 2234) { print NR ": " $0; exit } }' "$file")
	[ -z "$bad" ] || fail_log "unexpected line $bad" "$file"
}

out=$WORK/gen.txt
check "tcpdump -n -q -i flowscope:gen -c 1000: 1000 UDP lines, 10.0.0.0/16, ports 1234..2234"
fs_tcpdump -n -q -i flowscope:gen -c 1000 >"$out" 2>"$WORK/gen.err"
expect_ok $? "tcpdump -i flowscope:gen -c 1000" "$WORK/gen.err"
check_lines "$out" 1000
say "sample: $(sed -n 500p "$out")"

out=$WORK/flows5.txt
check "FLOWSCOPE_GEN_FLOWS=5: exactly 5 distinct 5-tuples in 1000 packets"
fs_tcpdump FLOWSCOPE_GEN_FLOWS=5 -n -q -i flowscope:gen -c 1000 >"$out" 2>"$WORK/flows5.err"
expect_ok $? "FLOWSCOPE_GEN_FLOWS=5 tcpdump -i flowscope:gen -c 1000" "$WORK/flows5.err"
check_lines "$out" 1000
# both directions of a flow are one flow: order the two endpoints
flows=$(awk '{ a = $3; b = $5; sub(/:$/, "", b); print (a < b ? a " " b : b " " a) }' "$out" |
	sort -u | wc -l)
[ "$flows" -eq 5 ] || fail_log "$flows distinct flows, not 5" "$out"

out=$WORK/p300.pcap
check "FLOWSCOPE_GEN_PACKETS=300: the capture ends by itself (exit 0) with 300 packets"
td_capture "$out" FLOWSCOPE_GEN_PACKETS=300 -n -i flowscope:gen
expect_count 300 "$out"

out=$WORK/s200.pcap
check "FLOWSCOPE_GEN_SIZE=200: 200-byte frames, captured whole"
td_capture "$out" FLOWSCOPE_GEN_SIZE=200 -n -c 50 -i flowscope:gen
expect_count 50 "$out"
stock_run "$TCPDUMP" -n -e -r "$out" >"$WORK/s200.txt" 2>/dev/null || fail "cannot read $out"
bad=$(grep -v -m1 ', length 200: ' "$WORK/s200.txt")
[ -z "$bad" ] || fail_log "a frame is not 200 bytes long: $bad" "$WORK/s200.txt"
if [ -x "$TSHARK" ]; then
	lens=$(stock_run "$TSHARK" -r "$out" -T fields -e frame.len -e frame.cap_len 2>/dev/null |
		sort -u | tr '\t\n' ',,')
	[ "$lens" = "200,200," ] || fail "frame len,caplen pairs are '$lens', not '200,200,'"
fi

pass
