#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# ctl.sh: the control socket and flowscope-ctl (FS_CTL).
#  (a) a live trigger-mode capture of flowscope:gen: "trigger host 10.0.0.5"
#      answers "triggered 1"; tcpdump then gets that flow only, its history
#      from before the command included, in order, each packet once.
#  (b) a known trace replayed by DPDK's pcap driver (flowscope:dpdk0; the
#      port stays up afterwards): stats, flows [FILTER], top N and
#      trigger FILTER tell the truth; bad commands and filters exit 1 and
#      change nothing; socket mode 0600 in a directory of mode 0700 that
#      flowscope creates; the socket goes away with the capture.
#  (c) flowscope-ctl list shows a capture's default socket under
#      /run/flowscope (root only).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_ctl
need_tshark

# ---- (a) trigger a live flow through the socket ---------------------------

sock=$WORK/c.sock
out=$WORK/gen.pcap
check "(a) trigger-mode capture of flowscope:gen, then flowscope-ctl trigger host 10.0.0.5"
bg_start "$WORK/gen.stdout" "$WORK/gen.stderr" fs_tcpdump FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_GEN_RATE=20k FLOWSCOPE_GEN_FLOWS=50 \
	-n -i flowscope:gen -w "$out"
pid=$BG_PID
wait_listening "$WORK/gen.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/gen.stderr"
wait_socket "$sock" "$pid" || fail_log "no control socket at $sock" "$WORK/gen.stderr"
sleep 1
ctl "$sock" flows 'host 10.0.0.5' >"$WORK/flows5.txt" 2>"$WORK/flows5.err" ||
	fail_log "flowscope-ctl flows 'host 10.0.0.5' failed" "$WORK/flows5.err"
[ "$(grep -c . "$WORK/flows5.txt")" -eq 1 ] ||
	fail_log "flows 'host 10.0.0.5' does not list exactly one flow" "$WORK/flows5.txt"
t0=$(date +%s.%N)
ctl "$sock" trigger host 10.0.0.5 >"$WORK/trig.txt" 2>"$WORK/trig.err" ||
	fail_log "flowscope-ctl trigger host 10.0.0.5 failed" "$WORK/trig.err" "$WORK/trig.txt"
grep -qx 'triggered 1' "$WORK/trig.txt" ||
	fail_log "flowscope-ctl trigger host 10.0.0.5 did not answer 'triggered 1'" "$WORK/trig.txt"
sleep 1
stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/gen.stderr"
n=$(pcap_count "$out")
if [ "$n" = "?" ] || [ "$n" -eq 0 ]; then
	fail_log "tcpdump wrote no packets ($n)" "$WORK/gen.stderr"
fi
stock_run "$TCPDUMP" -n -r "$out" -w "$WORK/other.pcap" 'not host 10.0.0.5' 2>/dev/null ||
	fail "stock tcpdump cannot read ${out##*/}"
expect_count 0 "$WORK/other.pcap"
[ "$("$PCAPCMP" --count-flows "$out")" = 1 ] || fail "${out##*/} holds more than one flow"
# the generator's payload starts with the packet number (host order, 64
# bits): strictly increasing within the flow means in order and no packet
# twice; timestamps never go back
stock_run "$TSHARK" -n -r "$out" -T fields -e frame.time_epoch -e udp.payload \
	>"$WORK/gen.fields" 2>/dev/null || fail "tshark cannot read ${out##*/}"
bad=$(awk -v t0="$t0" '
	{ p = $2; gsub(":", "", p); s = 0
	  for (k = 7; k >= 0; k--) s = s * 256 + index("0123456789abcdef", substr(p, 2 * k + 1, 1)) * 16 - 16 + index("0123456789abcdef", substr(p, 2 * k + 2, 1)) - 1
	  if (NR > 1 && s <= last) { print "packet " NR ": number " s " after " last; exit }
	  if (NR > 1 && $1 + 0 < lt + 0) { print "packet " NR ": time " $1 " before " lt; exit }
	  last = s; lt = $1; if ($1 + 0 < t0 + 0) early++ }
	END { if (early + 0 == 0) print "no packet is older than the trigger command (" t0 "): no history" }' \
	"$WORK/gen.fields")
[ -z "$bad" ] || fail_log "${out##*/}: $bad" "$WORK/gen.fields"
early=$(awk -v t0="$t0" '$1 + 0 < t0 + 0' "$WORK/gen.fields" | grep -c .)
say "  $n packets of 10.0.0.5's flow, $early from before the trigger"

# ---- (b) stats, flows, top, trigger on a known trace ----------------------

mktrace_summary known --packets 2000 --flows 13 --proto mixed --size 200
t=$WORK/known.pcap
nflows=$("$PCAPCMP" --count-flows "$t")
[ "$nflows" = 13 ] || fail "test bug: fs-pcapcmp --count-flows finds $nflows flows in ${t##*/}, not 13"
ntcp=$(summary_value known tcp_flows)
nudp=$(summary_value known udp_flows)
stock_run "$TCPDUMP" -n -r "$t" -w "$WORK/known.tcp.pcap" tcp 2>/dev/null ||
	fail "stock tcpdump cannot pick the TCP packets"
sock=$WORK/ctl/c.sock
out=$WORK/known.out.pcap
check "(b) ${t##*/} (2000 packets, 13 flows) replayed through flowscope:dpdk0, nothing triggered"
bg_start "$WORK/known.stdout" "$WORK/known.stderr" fs_tcpdump FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_TRIGGER='host 192.0.2.1' FLOWSCOPE_CONTROL="$sock" \
	FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$t" -n -i flowscope:dpdk0 -w "$out"
pid=$BG_PID
wait_listening "$WORK/known.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/known.stderr"
wait_socket "$sock" "$pid" || fail_log "no control socket at $sock" "$WORK/known.stderr"
st=$WORK/stats.txt
for ((i = 0; i < 100; i++)); do
	ctl "$sock" stats >"$st" 2>"$WORK/stats.err" ||
		fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
	[ "$(stat_value "$st" received)" = 2000 ] && break
	sleep 0.1
done
[ "$i" -lt 100 ] || fail_log "after 10 s stats does not show 'received 2000'" "$st"

check "socket mode 0600, its directory (made by flowscope) mode 0700"
mode=$(stat -c %a "$sock")
[ "$mode" = 600 ] || fail "$sock has mode $mode, not 600"
mode=$(stat -c %a "$WORK/ctl")
[ "$mode" = 700 ] || fail "$WORK/ctl has mode $mode, not 700"

check "stats: every figure there; received 2000, 13 flows active, none triggered, nothing dropped"
sleep 0.5
ctl "$sock" stats >"$st" 2>"$WORK/stats.err" || fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
for k in received dropped nic_dropped ring_bytes ring_packets history_seconds flows_active \
	flows_triggered flows_ended history_lost; do
	v=$(stat_value "$st" "$k")
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail_log "stats: '$k' is missing or not a number ('$v')" "$st"
done
# expect_stat NAME VALUE
expect_stat() {
	[ "$(stat_value "$st" "$1")" = "$2" ] || fail_log "stats: $1 is not $2" "$st"
}
expect_stat received 2000
expect_stat dropped 0
expect_stat nic_dropped 0
expect_stat flows_active "$nflows"
expect_stat flows_triggered 0
expect_stat flows_ended 0
expect_stat history_lost 0
expect_stat ring_packets 2000
[ "$(stat_value "$st" ring_bytes)" -ge $((2000 * 200)) ] ||
	fail_log "stats: ring_bytes is below the 400000 bytes of the 2000 packets" "$st"
say "  $(tr '\n' ' ' <"$st")"

check "flows: one line per flow, 'PROTO A <> B ... packets N ... bytes N', as in the trace"
ctl "$sock" flows >"$WORK/flows.txt" 2>"$WORK/flows.err" ||
	fail_log "flowscope-ctl flows failed" "$WORK/flows.err"
# norm_flows: "proto lower-endpoint higher-endpoint packets bytes" lines
norm_flows() {
	awk '{ p = ""; b = ""
	       for (k = 5; k < NF; k++) { if ($k == "packets") p = $(k + 1); if ($k == "bytes") b = $(k + 1) }
	       if ($3 != "<>" || p == "" || b == "") { print "BAD " $0; next }
	       print $1, ($2 < $4 ? $2 " " $4 : $4 " " $2), p, b }' "$1" | sort
}
norm_flows "$WORK/flows.txt" >"$WORK/flows.norm"
"$PCAPCMP" --list-flows "$t" |
	awk '{ a = $3 ":" $4; b = $5 ":" $6; print $2, (a < b ? a " " b : b " " a), $7, $8 }' |
	sort >"$WORK/flows.want"
if ! cmp -s "$WORK/flows.want" "$WORK/flows.norm"; then
	diff "$WORK/flows.want" "$WORK/flows.norm" >"$WORK/flows.diff"
	fail_log "flows does not list the trace's flows (< expected, > flowscope-ctl flows)" \
		"$WORK/flows.diff" "$WORK/flows.txt"
fi
! grep -qw triggered "$WORK/flows.txt" || fail_log "a flow is 'triggered' already" "$WORK/flows.txt"
sum=$(awk '{ s += $4 } END { print s + 0 }' "$WORK/flows.norm")
[ "$sum" -eq 2000 ] || fail "flows: the packet counts add up to $sum, not 2000"

# (the pcap driver stamps packets as they arrive: times of this run)
check "flows: first and last times are UTC dates with nanoseconds, of this run"
now=$(date +%s)
awk '{ for (k = 1; k < NF; k++) if ($k == "first" || $k == "last") print $(k + 1) }' \
	"$WORK/flows.txt" >"$WORK/times.txt"
[ "$(grep -c . "$WORK/times.txt")" -eq $((2 * nflows)) ] ||
	fail_log "not a first and a last time for each flow" "$WORK/flows.txt"
while read -r when; do
	[[ $when =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$ ]] ||
		fail_log "'$when' is not YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" "$WORK/flows.txt"
	s=$(date -d "$when" +%s) || fail "date(1) cannot read '$when'"
	[ $((now - s)) -lt 300 ] && [ $((s - now)) -lt 5 ] ||
		fail_log "'$when' is not a time of this run" "$WORK/flows.txt"
done <"$WORK/times.txt"

check "flows udp: the $nudp UDP flows only"
ctl "$sock" flows udp >"$WORK/flows.udp" 2>"$WORK/flows.err" ||
	fail_log "flowscope-ctl flows udp failed" "$WORK/flows.err"
[ "$(grep -c . "$WORK/flows.udp")" -eq "$nudp" ] ||
	fail_log "flows udp does not print $nudp lines" "$WORK/flows.udp"
! grep -qv '^udp ' "$WORK/flows.udp" || fail_log "flows udp prints a non-UDP flow" "$WORK/flows.udp"

check "top 3: at most 3 lines"
ctl "$sock" top 3 >"$WORK/top.txt" 2>"$WORK/top.err" || fail_log "flowscope-ctl top 3 failed" "$WORK/top.err"
[ "$(grep -c . "$WORK/top.txt")" -le 3 ] || fail_log "top 3 prints more than 3 lines" "$WORK/top.txt"
ctl "$sock" top >"$WORK/top.txt" 2>"$WORK/top.err" || fail_log "flowscope-ctl top failed" "$WORK/top.err"

check "--json stats, flows and top: JSON that says what the text says"
for c in stats flows top; do
	ctl "$sock" --json "$c" >"$WORK/$c.json" 2>"$WORK/$c.jerr" ||
		fail_log "flowscope-ctl --json $c failed" "$WORK/$c.jerr"
done
ctl "$sock" stats >"$WORK/stats.now" 2>/dev/null || fail "flowscope-ctl stats failed"
python3 - "$WORK" "$nflows" >"$WORK/json.out" 2>&1 <<'EOF' || fail_log "the JSON answers are not right" "$WORK/json.out"
import json, sys
w, nflows = sys.argv[1], int(sys.argv[2])
stats = json.load(open(w + "/stats.json"))
text = dict(l.split() for l in open(w + "/stats.now") if l.strip())
assert set(stats) == set(text), (sorted(stats), sorted(text))
assert stats["received"] == 2000, stats
assert isinstance(stats["history_seconds"], float), stats
flows = json.load(open(w + "/flows.json"))
assert len(flows) == nflows, flows
assert sum(f["packets"] for f in flows) == 2000, flows
for f in flows:
    assert f["proto"] in ("tcp", "udp"), f
    assert f["first"].endswith("Z") and f["last"].endswith("Z"), f
    assert f["triggered"] is False and f["closed"] is False, f
top = json.load(open(w + "/top.json"))
assert isinstance(top, list), top
print("ok: %d stats, %d flows, %d top" % (len(stats), len(flows), len(top)))
EOF

check "top --watch refreshes every interval; with --json one object per line"
timeout 2.7 "$CTL" -s "$sock" --watch -i 0.5 top 3 >"$WORK/watch.txt" 2>"$WORK/watch.err"
n=$(grep -c '^received [0-9]* (' "$WORK/watch.txt")
[ "$n" -ge 3 ] || fail_log "top --watch refreshed $n times in 2.7 s, not at least 3" "$WORK/watch.txt" "$WORK/watch.err"
grep -q '^history .* flows 13 active' "$WORK/watch.txt" || fail_log "no history and flows line" "$WORK/watch.txt"
timeout 1.8 "$CTL" -s "$sock" --json --watch -i 0.5 top >"$WORK/watch.json" 2>"$WORK/watch.err"
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) >= 2, lines
assert all(l["stats"]["received"] == 2000 and isinstance(l["top"], list) for l in lines), lines
' "$WORK/watch.json" 2>"$WORK/watch.py" || fail_log "top --json --watch is not one JSON object per line" "$WORK/watch.py" "$WORK/watch.json"

# expect_refused WHAT CODES ARGS...: flowscope-ctl ARGS exits with one of
# CODES ("1", or "1|2" where the client may call it a usage error) and a
# message; nothing changes.
expect_refused() {
	local what=$1 codes=$2 rc
	shift 2
	check "$what: flowscope-ctl $* exits ${codes//|/ or } with a message, nothing changes"
	ctl "$sock" "$@" >"$WORK/bad.out" 2>"$WORK/bad.err"
	rc=$?
	[[ $rc =~ ^($codes)$ ]] ||
		fail_log "flowscope-ctl $*: $(describe_rc "$rc"), not exit status ${codes//|/ or }" \
		"$WORK/bad.err" "$WORK/bad.out"
	[ -s "$WORK/bad.err" ] || fail "flowscope-ctl $*: no message on stderr"
	say "  it said: $(head -n 1 "$WORK/bad.err")"
	ctl "$sock" stats >"$st" 2>"$WORK/stats.err" ||
		fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
	expect_stat flows_triggered 0
	expect_stat flows_active "$nflows"
}
expect_refused "an unknown command" '1|2' bogus
expect_refused "a bad filter" 1 flows 'not a filter((('
expect_refused "a bad trigger filter" 1 trigger 'not a filter((('
expect_refused "a bad top count" '1|2' top many

check "trigger tcp: 'triggered $ntcp', then stats flows_triggered $ntcp and tcpdump gets the TCP flows"
ctl "$sock" trigger tcp >"$WORK/trig.txt" 2>"$WORK/trig.err" ||
	fail_log "flowscope-ctl trigger tcp failed" "$WORK/trig.err"
grep -qx "triggered $ntcp" "$WORK/trig.txt" ||
	fail_log "flowscope-ctl trigger tcp did not answer 'triggered $ntcp'" "$WORK/trig.txt"
ctl "$sock" stats >"$st" 2>"$WORK/stats.err" || fail_log "flowscope-ctl stats failed" "$WORK/stats.err"
expect_stat flows_triggered "$ntcp"
ctl "$sock" flows tcp >"$WORK/flows.tcp" 2>"$WORK/flows.err" ||
	fail_log "flowscope-ctl flows tcp failed" "$WORK/flows.err"
[ "$(grep -cw triggered "$WORK/flows.tcp")" -eq "$ntcp" ] ||
	fail_log "flows tcp does not mark all $ntcp TCP flows 'triggered'" "$WORK/flows.tcp"
ctl "$sock" flows udp >"$WORK/flows.udp" 2>"$WORK/flows.err" ||
	fail_log "flowscope-ctl flows udp failed" "$WORK/flows.err"
! grep -qw triggered "$WORK/flows.udp" || fail_log "a UDP flow is 'triggered'" "$WORK/flows.udp"
sleep 1
stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/known.stderr"
# all of the TCP flows' packets were history; timestamps are the port's
expect_same --bytes-only --per-flow "$WORK/known.tcp.pcap" "$out"
[ ! -e "$sock" ] || fail "the socket $sock is still there after the capture ended"

# ---- (c) flowscope-ctl list with the default socket path ------------------

if [ "$(id -u)" -ne 0 ]; then
	say "not root: skipping the default socket under /run/flowscope"
	pass
fi
check "(c) flowscope-ctl list shows a capture's default socket under /run/flowscope"
out=$WORK/list.pcap
bg_start "$WORK/list.stdout" "$WORK/list.stderr" fs_tcpdump FLOWSCOPE_GEN_RATE=1k \
	-n -i flowscope:gen -w "$out"
pid=$BG_PID
wait_listening "$WORK/list.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/list.stderr"
tpid=$(tcpdump_pid "$out")
[ -n "$tpid" ] || fail "cannot find the tcpdump process"
sock=
for ((i = 0; i < 50; i++)); do
	timeout -k 2 10 "$CTL" list >"$WORK/list.txt" 2>"$WORK/list.err" ||
		fail_log "flowscope-ctl list failed" "$WORK/list.err"
	sock=$(grep -o "/run/flowscope/$tpid-[^[:space:]]*\.sock" "$WORK/list.txt" | head -n 1)
	[ -n "$sock" ] && break
	sleep 0.1
done
[ -n "$sock" ] || fail_log "flowscope-ctl list shows no /run/flowscope/$tpid-*.sock" "$WORK/list.txt"
say "  $sock"
[ -S "$sock" ] || fail "$sock is not a socket"
mode=$(stat -c %a "$sock")
[ "$mode" = 600 ] || fail "$sock has mode $mode, not 600"
mode=$(stat -c %a /run/flowscope)
[ $((8#$mode & 8#077)) -eq 0 ] || fail "/run/flowscope has mode $mode: others can enter"
ctl "$sock" stats >"$st" 2>"$WORK/stats.err" || fail_log "flowscope-ctl -s $sock stats failed" "$WORK/stats.err"
[ "$(stat_value "$st" received)" -gt 0 ] 2>/dev/null || fail_log "stats: nothing received" "$st"
stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/list.stderr"
[ ! -e "$sock" ] || fail "$sock is still there after the capture ended"
timeout -k 2 10 "$CTL" list >"$WORK/list.txt" 2>"$WORK/list.err"
! grep -q "$sock" "$WORK/list.txt" || fail_log "flowscope-ctl list still shows $sock" "$WORK/list.txt"

pass
