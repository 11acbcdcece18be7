#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bus.sh: several capture hosts on one NATS bus (bus = nats://HOST:PORT).
# A nats-server of the test's own on loopback; three capture points A, B
# and C, each a veth pair whose far end is in a network namespace of its
# own, each recorded by its own tcpdump in trigger mode with a dump_dir;
# the same traces are replayed into all three (B and C a moment after A).
#  (a) A's trigger (a TCP RST) selects the reset flows on A, and through
#      the bus on B and C: every capture's output and dump_dir hold those
#      flows whole, history first (tshark's oracle); stats count what was
#      sent and received, and B and C publish nothing back.
#  (b) flowscope-ctl --bus list names the three captures; --bus trigger
#      FILTER reaches all three and says so; --bus stats answers for each.
#  (c) malformed, oversized, other-version and wrong-subject messages
#      (fs-natspub) are refused and counted, and change nothing.
#  (d) the server killed mid-run: capture goes on, A counts the triggers
#      it could not send; restarted, triggers travel again. A trigger of
#      a flow B has not seen yet triggers it when it comes.
#  (e) a capture whose bus is down at the start captures anyway; the
#      threads the NATS client started have every signal blocked.
#  (f) a flood of list/stats requests and filter triggers: a capture
#      answers 20 and acts on 10 a second (bursts of as many), counts the
#      rest in bus_limited, and answers again a second later.
#  (g) bus_creds on a server with decentralized authentication (operator,
#      account and user JWTs that fs-natscreds makes): a capture with a
#      user's credentials joins (flowscope-ctl --creds too), one with the
#      credentials of another operator's user, or none, does not.
#  (h) tls:// with bus_ca: a server whose certificate chains to it is
#      joined (flowscope-ctl --ca too), one signed by another CA is not.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_ctl
need_tshark
need_cmd tcpreplay nats-server
NATSPUB=$FS_TOOLS/fs-natspub
[ -x "$NATSPUB" ] || fail "no $NATSPUB"
PORT=$((20000 + $$ % 20000))
URL=nats://127.0.0.1:$PORT
RST='tcp[tcpflags] & tcp-rst != 0'

# nats_start PORT LOG ARGS...: nats-server ARGS in the background
# (STARTED_PID), stopped at the end; returns once PORT takes connections
nats_start() {
	local port=$1 log=$2 i
	shift 2
	nats-server "$@" >>"$log" 2>&1 &
	STARTED_PID=$!
	at_exit kill "$STARTED_PID"
	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	fail_log "nats-server did not start on port $port" "$log"
}

# server: a nats-server on loopback, in the background (NATS_PID)
server() {
	nats_start "$PORT" "$WORK/nats.log" -a 127.0.0.1 -p "$PORT"
	NATS_PID=$STARTED_PID
}
server

declare -A IF NSN VNS
for h in a b c; do
	netns_veth_setup 1500 "$h"
	IF[$h]=$VETH_HOST
	NSN[$h]=$NS
	VNS[$h]=$VETH_NS
done

# capture H [VAR=VALUE...]: tcpdump in trigger mode on H's interface with
# a dump_dir and a control socket, on the bus; CAP_PID[H]
declare -A CAP_PID
capture() {
	local h=$1
	shift
	mkdir -p -m 0700 "$WORK/dump_$h"
	bg_start "$WORK/$h.stdout" "$WORK/$h.stderr" fs_tcpdump FLOWSCOPE_MODE=trigger \
		FLOWSCOPE_BUS="$URL" FLOWSCOPE_DUMP_DIR="$WORK/dump_$h" \
		FLOWSCOPE_CONTROL="$WORK/$h.sock" "$@" -n -i "flowscope:${IF[$h]}" \
		-w "$WORK/$h.pcap"
	CAP_PID[$h]=$BG_PID
	FS_SETTLE=0 wait_listening "$WORK/$h.stderr" "$BG_PID" 20 ||
		fail_log "tcpdump on ${IF[$h]} did not start" "$WORK/$h.stderr"
	wait_socket "$WORK/$h.sock" "$BG_PID" || fail_log "no control socket" "$WORK/$h.stderr"
}

# replay_all TRACE PPS: into A, then (0.3 s later) into B and C, and wait
replay_all() {
	local h pids=()
	for h in a b c; do
		ip netns exec "${NSN[$h]}" timeout 120 tcpreplay -q --pps="$2" \
			-i "${VNS[$h]}" "$1" >"$WORK/replay_$h.out" 2>&1 &
		pids+=($!)
		[ "$h" = a ] && sleep 0.3
	done
	for h in 0 1 2; do
		wait "${pids[$h]}" || fail_log "tcpreplay failed" "$WORK/replay_a.out"
	done
}

# stat H KEY: KEY of H's flowscope-ctl stats
stat() {
	ctl "$WORK/$1.sock" stats >"$WORK/stats_$1.out" 2>&1 ||
		fail_log "stats of $1 failed" "$WORK/stats_$1.out"
	stat_value "$WORK/stats_$1.out" "$2"
}

# wait_stat H KEY VALUE: until KEY of H's stats is VALUE (5 s at most)
wait_stat() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(stat "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	fail_log "$1: $2 is $(stat "$1" "$2"), not $3" "$WORK/stats_$1.out"
}

capture a FLOWSCOPE_TRIGGER="$RST"
capture b
capture c
for h in a b c; do
	wait_stat "$h" bus_connected 1
done

# ---- (a) -------------------------------------------------------------------
mktrace_summary rst --packets 3000 --flows 40 --proto mixed --size 128 \
	--rst-every 7 --sport 40000
oracle_flows "$WORK/rst.pcap" 'tcp.flags.reset == 1' "$WORK/rst.expected.pcap"
[ "$ORACLE_COUNT" = "$(summary_value rst rst_flow_packets)" ] ||
	fail "test bug: the oracle finds $ORACLE_COUNT packets of RST flows, fs-mktrace wrote $(summary_value rst rst_flow_packets)"
flows=$ORACLE_FLOWS
expect_trigger_matches "$WORK/rst.pcap" "$RST" "$flows"
check "(a) a RST on A triggers the $flows reset flows ($ORACLE_COUNT packets) on A, B and C"
replay_all "$WORK/rst.pcap" 1000
sleep 1
[ "$(stat a bus_sent)" = "$flows" ] || fail_log "A sent $(stat a bus_sent) triggers, not $flows" "$WORK/stats_a.out"
for h in b c; do
	[ "$(stat "$h" bus_received)" = "$flows" ] ||
		fail_log "$h received $(stat "$h" bus_received) triggers, not $flows" "$WORK/stats_$h.out"
	[ "$(stat "$h" bus_flows)" = "$flows" ] ||
		fail_log "$h triggered $(stat "$h" bus_flows) flows from the bus, not $flows" "$WORK/stats_$h.out"
	[ "$(stat "$h" bus_sent)" = 0 ] ||
		fail_log "$h published what it received" "$WORK/stats_$h.out"
done
[ "$(stat a bus_received)" = 0 ] || fail_log "A acted on a trigger of its own" "$WORK/stats_a.out"

# ---- (b) -------------------------------------------------------------------
check "(b) flowscope-ctl --bus list names the three captures"
timeout 20 "$CTL" --bus "$URL" list >"$WORK/list.out" 2>&1 ||
	fail_log "flowscope-ctl --bus list failed" "$WORK/list.out"
for h in a b c; do
	grep -q " ${IF[$h]} pid [0-9]* mode trigger uptime [0-9]*s$" "$WORK/list.out" ||
		fail_log "list does not name ${IF[$h]}" "$WORK/list.out"
done
[ "$(grep -c . "$WORK/list.out")" = 3 ] || fail_log "list does not show exactly 3 captures" "$WORK/list.out"
check "(b) flowscope-ctl --bus stats answers for each"
timeout 20 "$CTL" --bus "$URL" stats >"$WORK/bstats.out" 2>&1 ||
	fail_log "flowscope-ctl --bus stats failed" "$WORK/bstats.out"
[ "$(grep -c '^bus_connected 1$' "$WORK/bstats.out")" = 3 ] ||
	fail_log "stats does not come from 3 connected captures" "$WORK/bstats.out"
check "(b) flowscope-ctl --bus trigger reaches all three"
mktrace_summary late --packets 2000 --flows 30 --proto udp --size 100 --sport 20000
replay_all "$WORK/late.pcap" 4000
sleep 0.5
oracle_flows "$WORK/late.pcap" 'udp.srcport >= 20000 && udp.srcport <= 20009' \
	"$WORK/late.expected.pcap"
timeout 20 "$CTL" --bus "$URL" trigger udp portrange 20000-20009 >"$WORK/btrig.out" 2>&1 ||
	fail_log "flowscope-ctl --bus trigger failed" "$WORK/btrig.out"
grep -qx "answered by 3 captures: $((3 * ORACLE_FLOWS)) flows triggered" "$WORK/btrig.out" ||
	fail_log "the answer is not '3 captures, $((3 * ORACLE_FLOWS)) flows'" "$WORK/btrig.out"
[ "$(grep -c '^triggered 10 ' "$WORK/btrig.out")" = 3 ] ||
	fail_log "not every capture triggered the 10 flows" "$WORK/btrig.out"

# ---- (c) -------------------------------------------------------------------
check "(c) bad messages are refused and counted, and change nothing"
printf 'hello\n' >"$WORK/m1"
head -c 5000 /dev/zero | tr '\0' 'x' >"$WORK/m2"
printf 'flowscope-trigger 9\norigin h c 0000000000000001\ntime 5\nfilter\n' >"$WORK/m3"
printf 'flowscope-list 1\n' >"$WORK/m4"
printf 'flowscope-trigger 1\norigin h c 0000000000000001\ntime 5\nflow 4 6 10.0.0.1 1 10.0.0.2\n' >"$WORK/m5"
ft=$(stat b flows_triggered)
"$NATSPUB" "$URL" flowscope.trigger "$WORK/m1" "$WORK/m2" "$WORK/m3" "$WORK/m4" "$WORK/m5" \
	>"$WORK/pub.out" 2>&1 || fail_log "fs-natspub failed" "$WORK/pub.out"
"$NATSPUB" "$URL" flowscope.trigger.ctl "$WORK/m3" >>"$WORK/pub.out" 2>&1 ||
	fail_log "fs-natspub failed" "$WORK/pub.out"
for h in a b c; do
	wait_stat "$h" bus_refused 6
done
[ "$(stat b flows_triggered)" = "$ft" ] || fail "a refused message triggered flows"

# ---- the outputs of (a) and (b) --------------------------------------------
for h in a b c; do
	stop_tcpdump "$WORK/$h.pcap" "${CAP_PID[$h]}"
	expect_ok "$BG_RC" "tcpdump on ${IF[$h]}" "$WORK/$h.stderr"
done
check "(a) every capture's output holds the reset flows and the bus-triggered UDP flows, whole"
stock_run mergecap -F pcap -a -w "$WORK/want.pcap" "$WORK/rst.expected.pcap" \
	"$WORK/late.expected.pcap" 2>"$WORK/merge.err" ||
	fail_log "mergecap failed" "$WORK/merge.err"
for h in a b c; do
	expect_same --per-flow --bytes-only "$WORK/want.pcap" "$WORK/$h.pcap"
	[ "$(td_dropped "$WORK/$h.stderr")" = 0 ] || fail_log "$h reports drops" "$WORK/$h.stderr"
	files=("$WORK/dump_$h"/*.pcap)
	[ "${#files[@]}" = $((flows + ORACLE_FLOWS)) ] ||
		fail "dump_$h holds ${#files[@]} files, not $((flows + ORACLE_FLOWS))"
	expect_same --per-flow --bytes-only "$WORK/want.pcap" "${files[@]}"
done
say "  A, B and C: $flows reset flows and $ORACLE_FLOWS UDP flows each, in output and dump_dir"

# ---- (d) -------------------------------------------------------------------
rm -rf "$WORK/dump_a" "$WORK/dump_b" "$WORK/dump_c"
capture a FLOWSCOPE_TRIGGER="$RST"
capture b
wait_stat a bus_connected 1
wait_stat b bus_connected 1
check "(d) the server killed mid-run: A captures on and counts the $flows triggers it could not send"
kill "$NATS_PID"
wait "$NATS_PID" 2>/dev/null
wait_stat a bus_connected 0
r0=$(stat a received)
mktrace_summary rst2 --packets 3000 --flows 40 --proto mixed --size 128 \
	--rst-every 7 --sport 41000
ip netns exec "${NSN[a]}" timeout 60 tcpreplay -q --pps=1000 -i "${VNS[a]}" "$WORK/rst2.pcap" \
	>"$WORK/replay_d.out" 2>&1 || fail_log "tcpreplay failed" "$WORK/replay_d.out"
sleep 0.5
kill -0 "${CAP_PID[a]}" 2>/dev/null || fail_log "A ended when the bus went away" "$WORK/a.stderr"
[ $(($(stat a received) - r0)) -ge 3000 ] || fail "A did not go on receiving while the bus was down"
[ "$(stat a bus_unsent)" = "$flows" ] ||
	fail_log "A counts $(stat a bus_unsent) unsent triggers, not $flows" "$WORK/stats_a.out"
[ "$(stat a flows_triggered)" = "$flows" ] ||
	fail_log "A did not trigger the flows itself while the bus was down" "$WORK/stats_a.out"
check "(d) the server back: both reconnect by themselves and triggers travel again"
server
wait_stat a bus_connected 1
wait_stat b bus_connected 1
mktrace_summary rst3 --packets 3000 --flows 40 --proto mixed --size 128 \
	--rst-every 7 --sport 42000
rp=()
for h in a b; do
	ip netns exec "${NSN[$h]}" timeout 60 tcpreplay -q --pps=1000 -i "${VNS[$h]}" \
		"$WORK/rst3.pcap" >"$WORK/replay_d$h.out" 2>&1 &
	rp+=($!)
	[ "$h" = a ] && sleep 0.3
done
wait "${rp[@]}" || fail_log "tcpreplay failed" "$WORK/replay_da.out"
sleep 1
[ "$(stat a bus_sent)" = "$flows" ] || fail_log "A sent $(stat a bus_sent), not $flows" "$WORK/stats_a.out"
[ "$(stat b bus_received)" = "$flows" ] ||
	fail_log "B received $(stat b bus_received), not $flows" "$WORK/stats_b.out"

check "(d) a trigger of a flow B has not seen yet triggers it when it comes, whole"
mktrace_summary pend --packets 500 --flows 5 --proto udp --size 100 --sport 46000
read -r psrc pdst psp pdp < <(stock_run "$TSHARK" -r "$WORK/pend.pcap" -c 1 -T fields \
	-e ip.src -e ip.dst -e udp.srcport -e udp.dstport 2>/dev/null)
[ -n "$pdp" ] || fail "test bug: no flow in pend.pcap"
printf 'flowscope-trigger 1\norigin test fs-natspub 00000000000000aa\ntime 1\nflow 4 17 %s %s %s %s 0800\n' \
	"$psrc" "$psp" "$pdst" "$pdp" >"$WORK/pend.msg"
rb=$(stat b bus_received)
"$NATSPUB" "$URL" flowscope.trigger "$WORK/pend.msg" >"$WORK/pub.out" 2>&1 ||
	fail_log "fs-natspub failed" "$WORK/pub.out"
wait_stat b bus_received $((rb + 1))
ip netns exec "${NSN[b]}" timeout 60 tcpreplay -q --pps=1000 -i "${VNS[b]}" "$WORK/pend.pcap" \
	>"$WORK/replay_p.out" 2>&1 || fail_log "tcpreplay failed" "$WORK/replay_p.out"
sleep 0.5
oracle_flows "$WORK/pend.pcap" "udp.srcport == $psp" "$WORK/pend.expected.pcap"
[ "$ORACLE_FLOWS" = 1 ] || fail "test bug: the oracle finds $ORACLE_FLOWS flows of port $psp"

# ---- (e) -------------------------------------------------------------------
check "(e) the NATS client's threads have every signal blocked"
# signals 1 2 3 10 12 13 14 15 17: HUP INT QUIT USR1 USR2 PIPE ALRM TERM CHLD
tp=$(tcpdump_pid "$WORK/a.pcap")
nthreads=0
for t in /proc/"$tp"/task/*; do
	tid=${t##*/}
	[ "$tid" = "$tp" ] && continue
	blk=$(awk '$1 == "SigBlk:" { print $2 }' "$t/status")
	(( (16#$blk & 16#17a07) == 16#17a07 )) ||
		fail "thread $tid ($(cat "$t/comm")) of tcpdump does not block the application's signals (SigBlk $blk)"
	nthreads=$((nthreads + 1))
done
[ "$nthreads" -ge 3 ] || fail "tcpdump has $nthreads threads besides its own: where are the NATS client's?"
say "  $nthreads threads besides tcpdump's own, each blocking them"
for h in a b; do
	stop_tcpdump "$WORK/$h.pcap" "${CAP_PID[$h]}"
	expect_ok "$BG_RC" "tcpdump on ${IF[$h]}" "$WORK/$h.stderr"
done
expect_same --per-flow --subset --bytes-only "$WORK/pend.expected.pcap" "$WORK/b.pcap"
check "(e) a capture whose bus is down at the start captures anyway"
kill "$NATS_PID"
wait "$NATS_PID" 2>/dev/null
rm -rf "$WORK/dump_c"
capture c
[ "$(stat c bus_connected)" = 0 ] || fail "C says it is connected to a bus that is down"
ip netns exec "${NSN[c]}" timeout 60 tcpreplay -q --pps=2000 -i "${VNS[c]}" "$WORK/rst3.pcap" \
	>"$WORK/replay_e.out" 2>&1 || fail_log "tcpreplay failed" "$WORK/replay_e.out"
sleep 0.5
[ "$(stat c received)" -ge 3000 ] || fail_log "C did not capture while the bus was down" "$WORK/stats_c.out"
server
wait_stat c bus_connected 1

# ---- (f) -------------------------------------------------------------------
check "(f) a flood: 100 stats requests and 50 filter triggers at once; 20 answered, 10 acted on, the rest counted"
printf 'flowscope-stats 1\n' >"$WORK/req"
printf 'flowscope-trigger 1\norigin test fs-natspub 00000000000000ab\ntime 1\nfilter udp port 9\n' \
	>"$WORK/ftrig"
reqs=() ftrigs=()
for ((i = 0; i < 100; i++)); do reqs+=("$WORK/req"); done
for ((i = 0; i < 50; i++)); do ftrigs+=("$WORK/ftrig"); done
# a second after the capture joined, its buckets are full
sleep 1
rc0=$(stat c bus_received)
lim0=$(stat c bus_limited)
ref0=$(stat c bus_refused)
t0=$(date +%s%N)
# each flood ends with a malformed message: a subscription delivers in
# order, so once both are refused every message before them was handled
"$NATSPUB" "$URL" flowscope.trigger.ctl "${reqs[@]}" "$WORK/m1" >"$WORK/pub.out" 2>&1 ||
	fail_log "fs-natspub failed" "$WORK/pub.out"
"$NATSPUB" "$URL" flowscope.trigger "${ftrigs[@]}" "$WORK/m1" >>"$WORK/pub.out" 2>&1 ||
	fail_log "fs-natspub failed" "$WORK/pub.out"
for ((i = 0; i < 300; i++)); do
	[ "$(stat c bus_refused)" -ge $((ref0 + 2)) ] && break
	sleep 0.1
done
[ "$(stat c bus_refused)" = $((ref0 + 2)) ] ||
	fail_log "the floods' closing messages were not both refused within 30 s" "$WORK/stats_c.out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
acted=$(($(stat c bus_received) - rc0))
limited=$(($(stat c bus_limited) - lim0))
# a bucket lets through its burst, and its rate while the messages last
answered=$((100 - (limited - (50 - acted))))
[ "$acted" -ge 10 ] && [ "$acted" -le $((10 + 10 * ms / 1000 + 1)) ] ||
	fail_log "C acted on $acted of 50 filter triggers in $ms ms (10 a second, bursts of 10)" "$WORK/stats_c.out"
[ "$answered" -ge 20 ] && [ "$answered" -le $((20 + 20 * ms / 1000 + 1)) ] ||
	fail_log "C answered $answered of 100 requests in $ms ms (20 a second, bursts of 20)" "$WORK/stats_c.out"
say "  $acted of 50 filter triggers acted on, $answered of 100 requests answered, $limited limited, in $ms ms"
check "(f) a second later the capture answers again"
sleep 1
timeout 20 "$CTL" --bus "$URL" list >"$WORK/list2.out" 2>&1 ||
	fail_log "flowscope-ctl --bus list failed after the flood" "$WORK/list2.out"
grep -q " ${IF[c]} pid " "$WORK/list2.out" || fail_log "list after the flood does not name ${IF[c]}" "$WORK/list2.out"
stop_tcpdump "$WORK/c.pcap" "${CAP_PID[c]}"
expect_ok "$BG_RC" "tcpdump on ${IF[c]}" "$WORK/c.stderr"

# ---- (g) -------------------------------------------------------------------
if ! command -v openssl >/dev/null 2>&1; then
	say "no openssl: the credentials and TLS checks are skipped"
	pass
fi
check "(g) bus_creds: a user of the server's operator joins, and again after a restart of the server once tcpdump gave up root"
creds=$WORK/creds
NATSCREDS=$(dirname "$0")/../tools/fs-natscreds
python3 "$NATSCREDS" "$creds/good" alice >"$WORK/creds.out" 2>&1 &&
	python3 "$NATSCREDS" "$creds/other" mallory >>"$WORK/creds.out" 2>&1 ||
	fail_log "fs-natscreds failed" "$WORK/creds.out"
chmod 0700 "$creds"	# root's: tcpdump's own user cannot read the file
CPORT=$((PORT + 2))
# include takes a path relative to the including file
# creds_server good|other: a server with decentralized authentication,
# of the one operator or the other (CREDS_PID)
creds_server() {
	printf 'listen: 127.0.0.1:%s\ninclude %s/server.conf\n' "$CPORT" "$1" >"$creds/nats.conf"
	nats_start "$CPORT" "$WORK/nats-creds.log" -c "$creds/nats.conf"
	CREDS_PID=$STARTED_PID
}
creds_server good
URL=nats://127.0.0.1:$CPORT
# a plain tcpdump: it gives up root for user tcpdump after activation
# (its -w file must be one that user can write)
bg_start "$WORK/cr.stdout" "$WORK/cr.stderr" fs_run FLOWSCOPE_MODE=trigger FLOWSCOPE_BUS="$URL" \
	FLOWSCOPE_BUS_CREDS="$creds/good/alice.creds" FLOWSCOPE_CONTROL="$WORK/c.sock" \
	"$TCPDUMP" -n -i "flowscope:${IF[c]}" -w /dev/null
CAP_PID[c]=$BG_PID
crpid() { pgrep -o -f "^$TCPDUMP -n -i flowscope:${IF[c]} -w /dev/null\$"; }
FS_SETTLE=0 wait_listening "$WORK/cr.stderr" "$BG_PID" 20 ||
	fail_log "tcpdump with bus_creds did not start" "$WORK/cr.stderr"
wait_socket "$WORK/c.sock" "$BG_PID" || fail_log "no control socket" "$WORK/cr.stderr"
wait_stat c bus_connected 1
[ "$(ps -o user= -p "$(crpid)")" = tcpdump ] ||
	fail "tcpdump did not give up root: the check below would prove nothing"
timeout 20 "$CTL" --bus "$URL" --creds "$creds/good/alice.creds" list >"$WORK/credlist.out" 2>&1 ||
	fail_log "flowscope-ctl --bus --creds list failed" "$WORK/credlist.out"
grep -q " ${IF[c]} pid " "$WORK/credlist.out" ||
	fail_log "list with credentials does not name ${IF[c]}" "$WORK/credlist.out"
kill "$CREDS_PID"
wait "$CREDS_PID" 2>/dev/null
wait_stat c bus_connected 0
creds_server good
wait_stat c bus_connected 1
kill -INT "$(crpid)"
bg_wait "${CAP_PID[c]}" 15 || fail "tcpdump with bus_creds did not stop after SIGINT"
expect_ok "$BG_RC" "tcpdump with bus_creds" "$WORK/cr.stderr"
check "(g) another operator's user, or none, is refused; a bad credentials file is an activation error"
for bad in "$creds/other/mallory.creds" ""; do
	timeout 20 "$CTL" --bus "$URL" ${bad:+--creds "$bad"} list >"$WORK/credbad.out" 2>&1 &&
		fail_log "flowscope-ctl joined with ${bad:-no credentials}" "$WORK/credbad.out"
	grep -q "Authorization\|Authentication" "$WORK/credbad.out" ||
		fail_log "flowscope-ctl does not say why it could not join" "$WORK/credbad.out"
done
check "(g) credentials the server refuses: the capture runs unconnected, and joins once the server takes them"
kill "$CREDS_PID"
wait "$CREDS_PID" 2>/dev/null
creds_server other
capture c FLOWSCOPE_BUS_CREDS="$creds/good/alice.creds"
sleep 2.5
[ "$(stat c bus_connected)" = 0 ] || fail "joined a server of another operator"
grep -q "$(sed -n 2p "$creds/good/alice.creds" | cut -c1-40)\|SUA" "$WORK/c.stderr" "$WORK/stats_c.out" &&
	fail "the credentials appear in tcpdump's output or the stats"
kill "$CREDS_PID"
wait "$CREDS_PID" 2>/dev/null
creds_server good
wait_stat c bus_connected 1
stop_tcpdump "$WORK/c.pcap" "${CAP_PID[c]}"
expect_ok "$BG_RC" "tcpdump with refused, then accepted credentials" "$WORK/c.stderr"
grep -v SEED "$creds/good/alice.creds" >"$creds/noseed.creds"
for f in "$creds/none.creds" "$creds/noseed.creds"; do
	fs_tcpdump FLOWSCOPE_MODE=trigger FLOWSCOPE_BUS="$URL" FLOWSCOPE_BUS_CREDS="$f" \
		FLOWSCOPE_CONTROL=off -n -c 1 -i "flowscope:${IF[c]}" -w "$WORK/bad.pcap" \
		>"$WORK/bad.out" 2>&1 && fail_log "tcpdump ran with bus_creds $f" "$WORK/bad.out"
	grep -q "bus_creds.*$f" "$WORK/bad.out" ||
		fail_log "the error does not name bus_creds and $f" "$WORK/bad.out"
done

# ---- (h) -------------------------------------------------------------------
check "(h) tls:// with bus_ca: connected when the server's certificate chains to it, not otherwise"
tls=$WORK/tls
mkdir -p "$tls"
for ca in ca other; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=flowscope test $ca" \
		-keyout "$tls/$ca.key" -out "$tls/$ca.pem" >"$tls/openssl.out" 2>&1 ||
		fail_log "openssl cannot make a CA" "$tls/openssl.out"
done
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" \
	-out "$tls/server.csr" >"$tls/openssl.out" 2>&1 || fail_log "openssl req failed" "$tls/openssl.out"
printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
	-CAcreateserial -days 2 -extfile "$tls/ext" -out "$tls/server.pem" >"$tls/openssl.out" 2>&1 ||
	fail_log "openssl x509 failed" "$tls/openssl.out"
TPORT=$((PORT + 1))
nats_start "$TPORT" "$WORK/nats-tls.log" -a 127.0.0.1 -p "$TPORT" --tls \
	--tlscert "$tls/server.pem" --tlskey "$tls/server.key"
URL=tls://127.0.0.1:$TPORT
capture c FLOWSCOPE_BUS_CA="$tls/ca.pem"
wait_stat c bus_connected 1
timeout 20 "$CTL" --bus "$URL" --ca "$tls/ca.pem" list >"$WORK/tlslist.out" 2>&1 ||
	fail_log "flowscope-ctl --bus tls:// list failed" "$WORK/tlslist.out"
grep -q " ${IF[c]} pid " "$WORK/tlslist.out" || fail_log "list over TLS does not name ${IF[c]}" "$WORK/tlslist.out"
stop_tcpdump "$WORK/c.pcap" "${CAP_PID[c]}"
capture c FLOWSCOPE_BUS_CA="$tls/other.pem"
sleep 2
[ "$(stat c bus_connected)" = 0 ] || fail "connected to a server whose certificate does not chain to bus_ca"
timeout 20 "$CTL" --bus "$URL" --ca "$tls/other.pem" list >"$WORK/tlsbad.out" 2>&1 &&
	fail_log "flowscope-ctl trusted a server outside its --ca" "$WORK/tlsbad.out"
stop_tcpdump "$WORK/c.pcap" "${CAP_PID[c]}"
expect_ok "$BG_RC" "tcpdump with an untrusted bus" "$WORK/c.stderr"
pass
