#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# gen_profile.sh: gen_profile = realistic. FLOWSCOPE_GEN_PROFILE=realistic
# FLOWSCOPE_GEN_PACKETS=N tcpdump -i flowscope:gen writes N packets that
# tshark decodes without a malformed packet, a bad checksum or a TCP
# analysis complaint: TCP connections with handshakes, data both ways and
# FIN or RST ends, UDP exchanges, many connections at once, interleaved.
# Their sizes have the heavy tail asked for: 12-15 % of the connections
# carry more than 20 KB (20480 bytes of frames) and these carry at least
# 85 % of the bytes, as tshark counts them in the capture and as fs-mktrace
# --profile realistic --summary counts them over some 100000 connections.
# fs-mktrace writes the same frames as the generator for the same seed and
# connections; it is deterministic. Bad values are refused naming the key.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_tshark
need_cmd cmp

# tshark with every checksum verified
tsk() {
	stock_run "$TSHARK" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
		-o udp.check_checksum:TRUE "$@"
}

# decodes_clean FILE N: tshark reads N packets of FILE, every one an IPv4
# packet whose IP and TCP or UDP checksums it verified as good; its expert
# information has no error and no warning but TCP's "Connection reset",
# and no packet carries a TCP analysis flag (retransmission, out of order,
# unseen segment, window full...).
decodes_clean() {
	local f=$1 n=$2 name=${1##*/} bad
	tsk -r "$f" -T fields -e ip.checksum.status -e tcp.checksum.status \
		-e udp.checksum.status -e tcp.analysis.flags -e _ws.malformed \
		>"$f.status" 2>"$f.tshark.err" || fail_log "tshark cannot read $name" "$f.tshark.err"
	bad=$(awk -F '\t' -v n="$n" '
		$1 != 1 || ($2 != 1 && $3 != 1) || ($2 == 1 && $3 != "") ||
		    $4 != "" || $5 != "" { print "packet " NR ": ip/tcp/udp checksum status " \
			$1 "/" $2 "/" $3 " (1: good), analysis flags \"" $4 "\", malformed \"" $5 "\""; bad = 1; exit }
		END { if (NR != n && !bad) print "tshark read " NR " packets, not " n }' "$f.status")
	[ -z "$bad" ] || fail "$name: $bad"
	tsk -r "$f" -q -z expert >"$f.expert" 2>"$f.tshark.err" ||
		fail_log "tshark -z expert cannot read $name" "$f.tshark.err"
	grep -q '^Errors (' "$f.expert" && fail_log "$name: tshark reports errors" "$f.expert"
	bad=$(awk '/^Warns \(/ { w = 1; next } /^[A-Z][a-z]+ \(/ { w = 0 }
		w && $1 ~ /^[0-9]+$/ && !/Sequence +TCP +Connection reset \(RST\)$/ { print; exit }' "$f.expert")
	[ -z "$bad" ] || fail_log "$name: tshark warns: $bad" "$f.expert"
	return 0
}

# conn_stats FILE: tshark's view of FILE's connections (tcp.stream and
# udp.stream, frame bytes, TCP completeness after both passes) as the
# "name value" lines of fs-mktrace --summary, into FILE.stats, plus
# "concurrent N": connections with packets both before and after the
# middle packet (flows that interleave rather than follow each other).
conn_stats() {
	local f=$1
	tsk -2 -r "$f" -T fields -e tcp.stream -e udp.stream -e frame.len \
		-e tcp.completeness >"$f.fields" 2>"$f.tshark.err" ||
		fail_log "tshark -2 cannot read ${f##*/}" "$f.tshark.err"
	awk -F '\t' -v large=20480 '
		{ k = $1 != "" ? "t" $1 : $2 != "" ? "u" $2 : "?"; b[k] += $3
		  if (!(k in first)) first[k] = NR; last[k] = NR
		  if ($1 != "") { tcp[k] = 1; c = $4 + 0
		    # tcp.completeness bits: 1 SYN, 2 SYN-ACK, 4 ACK, 16 FIN, 32 RST
		    if (c % 8 == 7) hs[k] = 1
		    if (int(c / 16) % 2) fin[k] = 1
		    if (int(c / 32) % 2) rst[k] = 1 } }
		END { mid = int(NR / 2)
		  for (k in b) { n++; tot += b[k]; if (b[k] > large) { L++; lb += b[k] }
		    nt += k in tcp; h += k in hs; fi += k in fin; r += k in rst
		    if (first[k] < mid && last[k] > mid) conc++ }
		  printf "packets %d\nflows %d\ntcp_flows %d\nudp_flows %d\nbytes %d\n", NR, n, nt, n - nt, tot
		  printf "large_flows %d\nlarge_bytes %d\nhandshakes %d\nfin_flows %d\nrst_flows %d\n", L, lb, h, fi, r
		  printf "concurrent %d\nunknown %d\n", conc, ("?" in b) }' "$f.fields" >"$f.stats"
}

# value FILE KEY: KEY's value in FILE ("name value" lines).
value() {
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' "$1" ||
		fail "no '$2' in ${1##*/}"
}

# within_bounds STATS WHAT: large_flows / flows in [12 %, 15 %] and
# large_bytes / bytes >= 85 %; TCP connections with handshakes, FINs and
# RSTs, UDP ones too.
within_bounds() {
	local s=$1 what=$2 flows large bytes lbytes pc pb
	flows=$(value "$s" flows)
	large=$(value "$s" large_flows)
	bytes=$(value "$s" bytes)
	lbytes=$(value "$s" large_bytes)
	pc=$(awk -v a="$large" -v b="$flows" 'BEGIN { printf "%.2f", 100 * a / b }')
	pb=$(awk -v a="$lbytes" -v b="$bytes" 'BEGIN { printf "%.2f", 100 * a / b }')
	say "$what: $flows connections, $pc % over 20 KB carrying $pb % of $bytes bytes;" \
		"$(value "$s" tcp_flows) TCP ($(value "$s" handshakes) handshakes," \
		"$(value "$s" fin_flows) FIN, $(value "$s" rst_flows) RST), $(value "$s" udp_flows) UDP"
	awk -v c="$pc" 'BEGIN { exit !(c >= 12 && c <= 15) }' ||
		fail "$what: $pc % of the connections are over 20 KB, not 12-15 %"
	awk -v c="$pb" 'BEGIN { exit !(c >= 85) }' ||
		fail "$what: the connections over 20 KB carry $pb % of the bytes, not 85 % or more"
	awk -v h="$(value "$s" handshakes)" -v t="$(value "$s" tcp_flows)" \
		-v f="$(value "$s" fin_flows)" -v r="$(value "$s" rst_flows)" \
		-v u="$(value "$s" udp_flows)" -v n="$flows" 'BEGIN {
		exit !(h >= 0.9 * t && f >= 0.6 * t && r >= 0.05 * t && r <= 0.2 * t &&
		       u >= 0.1 * n && t >= 0.6 * n) }' ||
		fail "$what: an unlikely mix of handshakes, FIN and RST ends, TCP and UDP: $(tr '\n' ' ' <"$s")"
}

# ---- the generator ----------------------------------------------------------

N=200000
g=$WORK/gen.pcap
check "FLOWSCOPE_GEN_PROFILE=realistic FLOWSCOPE_GEN_FLOWS=100 FLOWSCOPE_GEN_PACKETS=$N: $N packets, decoded cleanly"
td_capture "$g" FLOWSCOPE_GEN_PROFILE=realistic FLOWSCOPE_GEN_FLOWS=100 \
	FLOWSCOPE_GEN_PACKETS=$N -n -i flowscope:gen
expect_count "$N" "$g"
decodes_clean "$g" "$N"

check "its connections as tshark counts them: heavy tail, handshakes, FIN and RST ends, interleaved"
conn_stats "$g"
[ "$(value "$g.stats" unknown)" = 0 ] || fail "a packet of ${g##*/} is neither TCP nor UDP"
within_bounds "$g.stats" "flowscope:gen"
[ "$(value "$g.stats" concurrent)" -ge 80 ] ||
	fail "only $(value "$g.stats" concurrent) connections span the middle of the capture; 100 run at once"
# (-c counts packets read, not packets shown: the first 2000 are plenty)
stock_run "$TSHARK" -r "$g" -c 2000 -Y 'tcp.flags == 0x002' -T fields -e tcp.options.mss_val \
	>"$WORK/mss.txt" 2>/dev/null
[ "$(sort -u "$WORK/mss.txt")" = 1460 ] || fail "SYNs do not carry an MSS option of 1460"
stock_run "$TSHARK" -r "$g" -c 2000 -Y 'dns.flags.response == 1 && dns.count.answers > 0' \
	>"$WORK/dns.txt" 2>/dev/null
grep -q 'Standard query response' "$WORK/dns.txt" || fail "no DNS answer among the UDP exchanges"

# ---- fs-mktrace, the same frames ---------------------------------------------

m=$WORK/mktrace.pcap
check "fs-mktrace --profile realistic --flows 100 --packets $N: the generator's frames, byte for byte"
mktrace_summary mktrace --profile realistic --flows 100 --packets $N
expect_same --bytes-only "$m" "$g"
check "fs-mktrace --summary counts what tshark counts"
for k in packets flows tcp_flows udp_flows bytes large_flows large_bytes handshakes \
	fin_flows rst_flows; do
	[ "$(summary_value mktrace "$k")" = "$(value "$g.stats" "$k")" ] ||
		fail "$k: fs-mktrace --summary says $(summary_value mktrace "$k"), tshark $(value "$g.stats" "$k")"
done

check "FLOWSCOPE_RX_QUEUES=2: each connection on one queue, its packets in order"
td_capture "$WORK/q2.pcap" FLOWSCOPE_GEN_PROFILE=realistic FLOWSCOPE_GEN_FLOWS=100 \
	FLOWSCOPE_GEN_PACKETS=$N FLOWSCOPE_RX_QUEUES=2 -n -i flowscope:gen
expect_same --per-flow --bytes-only "$m" "$WORK/q2.pcap"

check "fs-mktrace is deterministic: the same seed the same file, another seed another"
"$MKTRACE" --profile realistic --packets 50000 --seed 7 -o "$WORK/s7a.pcap" 2>"$WORK/mk.err" &&
	"$MKTRACE" --profile realistic --packets 50000 --seed 7 -o "$WORK/s7b.pcap" 2>>"$WORK/mk.err" &&
	"$MKTRACE" --profile realistic --packets 50000 --seed 8 -o "$WORK/s8.pcap" 2>>"$WORK/mk.err" ||
	fail_log "fs-mktrace --seed" "$WORK/mk.err"
cmp -s "$WORK/s7a.pcap" "$WORK/s7b.pcap" || fail "two runs with --seed 7 differ"
cmp -s "$WORK/s7a.pcap" "$WORK/s8.pcap" && fail "--seed 7 and --seed 8 wrote the same file"

check "fs-mktrace --profile realistic with its default 1000 connections: decoded cleanly"
mktrace_summary d1000 --profile realistic --packets 100000 --nano
decodes_clean "$WORK/d1000.pcap" 100000
[ "$(summary_value d1000 flows)" -gt 5000 ] || fail "only $(summary_value d1000 flows) connections in 100000 packets"

check "some 100000 connections (fs-mktrace --summary): the figures hold at scale"
"$MKTRACE" --profile realistic --packets 2500000 -o /dev/null --summary \
	>"$WORK/scale.summary" 2>"$WORK/mk.err" || fail_log "fs-mktrace --packets 2500000" "$WORK/mk.err"
[ "$(value "$WORK/scale.summary" flows)" -ge 90000 ] ||
	fail "2500000 packets hold only $(value "$WORK/scale.summary" flows) connections"
within_bounds "$WORK/scale.summary" "fs-mktrace, 2500000 packets"

# ---- the uniform profile, refusals --------------------------------------------

check "FLOWSCOPE_GEN_PROFILE=uniform: the default traffic, byte for byte"
td_capture "$WORK/u1.pcap" FLOWSCOPE_GEN_PACKETS=3000 -n -i flowscope:gen
td_capture "$WORK/u2.pcap" FLOWSCOPE_GEN_PROFILE=uniform FLOWSCOPE_GEN_PACKETS=3000 -n -i flowscope:gen
expect_same --bytes-only "$WORK/u1.pcap" "$WORK/u2.pcap"

# refused TEXT [VAR=VALUE...]: tcpdump -i flowscope:gen fails by itself
# and says TEXT.
refused() {
	local text=$1 rc
	shift
	check "$* is refused: $text"
	fs_tcpdump "$@" -n -c 10 -i flowscope:gen -w "$WORK/refused.pcap" >/dev/null \
		2>"$WORK/refused.err" && fail_log "tcpdump accepted it" "$WORK/refused.err"
	rc=$?
	[ "$rc" -lt 124 ] || fail_log "tcpdump: $(describe_rc "$rc")" "$WORK/refused.err"
	grep -qF -- "$text" "$WORK/refused.err" ||
		fail_log "the message does not say '$text'" "$WORK/refused.err"
}
refused "FLOWSCOPE_GEN_PROFILE: gen_profile: 'heavy' is not a profile (uniform or realistic)" \
	FLOWSCOPE_GEN_PROFILE=heavy
refused "gen_size: not taken with gen_profile = realistic" \
	FLOWSCOPE_GEN_PROFILE=realistic FLOWSCOPE_GEN_SIZE=128
check "fs-mktrace refuses a bad profile and the uniform profile's options"
"$MKTRACE" --profile heavy -o "$WORK/x.pcap" 2>"$WORK/mk.err" && fail "fs-mktrace --profile heavy succeeded"
grep -q "profile: 'heavy' is not uniform or realistic" "$WORK/mk.err" || fail_log "fs-mktrace --profile heavy" "$WORK/mk.err"
"$MKTRACE" --profile realistic --vlan 5 -o "$WORK/x.pcap" 2>"$WORK/mk.err" && fail "fs-mktrace --vlan with realistic succeeded"
grep -q -- "--vlan: not taken with --profile realistic" "$WORK/mk.err" || fail_log "fs-mktrace --vlan" "$WORK/mk.err"

pass
