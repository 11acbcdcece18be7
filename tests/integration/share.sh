#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# share.sh: one recording, many applications (share = NAME, flowscope:@NAME).
# flowscope-record records a veth interface and publishes its ring while
# tcpreplay sends known traces into the other end from a namespace.
#  (a) three tcpdumps attached at once each write every packet sent, byte
#      for byte; one stops with -c while the others go on; the publisher's
#      `readers` and flowscope-ctl list show them all, stats counts them.
#  (b) four more, with group = g, at the same time: together they hold
#      the full reader's packets exactly once, each flow within one member
#      (the flow counts of the members add up to the trace's), and every
#      member has some.
#  (c) a reader SIGSTOPped while more than the ring passes: the other
#      reader loses nothing; after SIGCONT the stopped one reports its
#      losses, and captured + dropped is what was sent.
#  (d) a reader SIGKILLed leaves nothing: its slot goes from `readers`,
#      the publisher's mappings and /dev/shm are as before, and no control
#      socket of the reader is left in /run/flowscope.
#  (e) since = -5s: history from 5 s back, then live, with no gap and no
#      duplicate at the seam (the packets' own sequence numbers).
#  (j) since = -6s on a publisher whose 1 MiB ring holds less than that
#      and whose spool_dir holds the rest: the spool's part, the ring's,
#      then live, with no gap and no duplicate at either seam.
#  (k) trigger mode on that publisher: RST flows four times longer than
#      the ring come whole, their start from the spool (the oracle).
#  (f) another uid is refused with a message naming share_group; a member
#      of share_group (its primary group) is admitted.
#  (g) the publisher ends (SIGTERM): readers end within a second, exit 0;
#      it is killed (SIGKILL): readers end within a second, exit 1, with
#      a message naming it; attaching then says the publisher is gone.
#  (h) bad requests: a name nobody publishes, group without @NAME, keys
#      of the publisher's, a second publisher of a taken name: clear
#      errors. The published interface is refused to another process, and
#      to a second publisher, naming the publisher and the @NAME; it is
#      free again once the publisher is gone (the later publishers).
#  (i) trigger mode on attached readers, checked with tshark's oracle: a
#      RST trigger delivers exactly the RST flows, history first, to a
#      reader and to a group of two (each flow in one member); a reader
#      that attaches after a trace was sent and triggers through its own
#      control socket gets those flows whole, from before it attached.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_ctl
need_tshark
need_cmd tcpreplay setpriv
REC=${FS_RECORD:-}
[ -n "$REC" ] || skip "FS_RECORD is not set (path of flowscope-record)"
netns_veth_setup 1500
NAME=fsshare$$
# a publisher killed on purpose leaves its socket (nobody may remove it
# for a process that is gone); the test does
at_exit rm -f "/run/flowscope-share/$NAME.sock"

# publisher NAME [VAR=VALUE...]: flowscope-record on VETH_HOST publishing
# the ring as $NAME, with a control socket of its own; REC_PID, REC_SOCK
publisher() {
	local n=$1
	shift
	REC_SOCK=$WORK/$n.sock
	bg_start "$WORK/$n.out" "$WORK/$n.err" env FLOWSCOPE_SHARE="$NAME" \
		FLOWSCOPE_CONTROL="$REC_SOCK" "$@" "$REC" "$VETH_HOST"
	REC_PID=$BG_PID
	wait_socket "$REC_SOCK" "$REC_PID" 20 ||
		fail_log "the publisher did not start" "$WORK/$n.err"
	# the share socket is published beside the control socket, not
	# necessarily before it (slow under the sanitizers)
	for _ in $(seq 1 100); do
		[ -S "/run/flowscope-share/$NAME.sock" ] && break
		sleep 0.1
	done
	[ -S "/run/flowscope-share/$NAME.sock" ] ||
		fail_log "no share socket /run/flowscope-share/$NAME.sock" "$WORK/$n.err"
}

# reader OUT [VAR=VALUE...] [tcpdump args]: tcpdump -w OUT on @NAME in the
# background until it is listening; RD_PID is its job
reader() {
	local out=$1
	shift
	local vars=()
	while [ $# -gt 0 ] && _fs_is_assign "$1"; do
		vars+=("$1")
		shift
	done
	bg_start "$out.stdout" "$out.stderr" fs_tcpdump "${vars[@]}" -n \
		-i "flowscope:@$NAME" -w "$out" "$@"
	RD_PID=$BG_PID
	FS_SETTLE=0 wait_listening "$out.stderr" "$RD_PID" 20 ||
		fail_log "tcpdump on flowscope:@$NAME did not start" "$out.stderr"
}

# replay TRACE PPS: tcpreplay TRACE into the namespace's end
replay() {
	ip netns exec "$NS" timeout 120 tcpreplay -q --pps="$2" -i "$VETH_NS" "$1" \
		>"$WORK/replay.out" 2>&1 || fail_log "tcpreplay failed" "$WORK/replay.out"
}

# ended_within PID TENTHS: PID ends within TENTHS tenths of a second;
# its status in BG_RC
ended_within() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && return 1
	wait "$1"
	BG_RC=$?
	return 0
}

# seq_check NAME T0 BACK LAST: $WORK/NAME.pcap holds the packets of a
# trace whose UDP payloads number them, from BACK seconds before T0 to
# packet LAST, each once and none missing
seq_check() {
	local name=$1 t0=$2 back=$3 last=$4
	stock_run "$TSHARK" -r "$WORK/$name.pcap" -T fields -e frame.time_epoch -e udp.payload \
		>"$WORK/$name.fields" 2>"$WORK/$name.terr" ||
		fail_log "tshark cannot read $name.pcap" "$WORK/$name.terr"
	awk -v t0="$t0" -v back="$back" -v last="$last" '
		function hex(h,   v, k) {
			v = 0
			for (k = 1; k <= length(h); k++)
				v = v * 16 + index("0123456789abcdef", substr(h, k, 1)) - 1
			return v
		}
		{ i = hex(substr($2, 9, 8)); ts = $1 + 0 }
		NR == 1 { first = i; fts = ts }
		NR > 1 && i != prev + 1 { printf "gap or duplicate: %d after %d\n", i, prev; bad = 1 }
		{ prev = i }
		END {
			printf "first %d at %.3f (attach %.3f), last %d, %d packets\n", first, fts, t0, prev, NR
			if (prev != last) { print "the last packet is not the last sent"; bad = 1 }
			if (fts < t0 - back - 0.2 || fts > t0 - back + 0.4) {
				printf "the first packet is not from %s s before\n", back; bad = 1 }
			exit bad
		}' "$WORK/$name.fields" >"$WORK/$name.check" 2>&1 ||
		fail_log "since=-${back}s" "$WORK/$name.check"
	say "  $(tail -n 1 "$WORK/$name.check")"
}

# ---- (a), (b) --------------------------------------------------------------
# 3000 packets of 300 UDP flows
"$MKTRACE" -o "$WORK/t.pcap" --packets 3000 --flows 300 --size 200 ||
	fail "fs-mktrace failed"
nflows=$("$PCAPCMP" --count-flows "$WORK/t.pcap")
stock_run "$TCPDUMP" -r "$WORK/t.pcap" -c 500 -w "$WORK/t500.pcap" 2>/dev/null ||
	fail "stock tcpdump cannot cut t.pcap"

publisher pub FLOWSCOPE_BUFFER=64m
check "three tcpdumps and a group of four attach to flowscope:@$NAME"
reader "$WORK/a.pcap"; pa=$RD_PID
reader "$WORK/b.pcap"; pb=$RD_PID
reader "$WORK/c.pcap" -c 500; pc=$RD_PID
gp=()
for g in 1 2 3 4; do
	reader "$WORK/g$g.pcap" FLOWSCOPE_GROUP=g
	gp+=("$RD_PID")
done
ctl "$REC_SOCK" readers >"$WORK/readers.out" 2>&1 || fail_log "readers failed" "$WORK/readers.out"
[ "$(grep -c '^reader pid ' "$WORK/readers.out")" = 7 ] ||
	fail_log "the publisher does not list 7 readers" "$WORK/readers.out"
[ "$(grep -c ' group g ' "$WORK/readers.out")" = 4 ] ||
	fail_log "the publisher does not list 4 readers of group g" "$WORK/readers.out"
grep -q ' program tcpdump mode live ' "$WORK/readers.out" ||
	fail_log "readers does not name program and mode" "$WORK/readers.out"
FLOWSCOPE_CTL_DIR=$WORK timeout 10 "$CTL" list >"$WORK/list.out" 2>&1 ||
	fail_log "flowscope-ctl list failed" "$WORK/list.out"
[ "$(grep -c '^    reader pid [0-9]* program tcpdump mode live group . rate [0-9]* pkt/s delivered [0-9]* drops 0$' "$WORK/list.out")" = 7 ] ||
	fail_log "flowscope-ctl list does not show the 7 readers under the publisher" "$WORK/list.out"
ctl "$REC_SOCK" stats >"$WORK/stats.out" 2>&1 || fail_log "stats failed" "$WORK/stats.out"
[ "$(stat_value "$WORK/stats.out" readers)" = 7 ] ||
	fail_log "stats does not count 7 readers" "$WORK/stats.out"
replay "$WORK/t.pcap" 3000
sleep 1
ended_within "$pc" 50 || fail_log "tcpdump -c 500 did not stop by itself" "$WORK/c.pcap.stderr"
expect_ok "$BG_RC" "tcpdump -c 500 on @$NAME" "$WORK/c.pcap.stderr"
kill -0 "$pa" 2>/dev/null || fail_log "a reader ended when another stopped" "$WORK/a.pcap.stderr"
for f in a b; do
	stop_tcpdump "$WORK/$f.pcap" "$([ $f = a ] && echo "$pa" || echo "$pb")"
	expect_ok "$BG_RC" "tcpdump $f on @$NAME" "$WORK/$f.pcap.stderr"
	check "reader $f holds every packet sent, byte for byte"
	expect_same --bytes-only "$WORK/t.pcap" "$WORK/$f.pcap"
	[ "$(td_dropped "$WORK/$f.pcap.stderr")" = 0 ] ||
		fail_log "reader $f reports drops" "$WORK/$f.pcap.stderr"
done
check "the reader with -c 500 holds the first 500"
expect_same --bytes-only "$WORK/t500.pcap" "$WORK/c.pcap"
for g in 1 2 3 4; do
	stop_tcpdump "$WORK/g$g.pcap" "${gp[$((g - 1))]}"
	expect_ok "$BG_RC" "group member $g" "$WORK/g$g.pcap.stderr"
done
check "the group holds every packet exactly once, each flow in one member"
expect_same --per-flow "$WORK/a.pcap" "$WORK/g1.pcap" "$WORK/g2.pcap" \
	"$WORK/g3.pcap" "$WORK/g4.pcap"
sum=0
for g in 1 2 3 4; do
	n=$("$PCAPCMP" --count-flows "$WORK/g$g.pcap")
	[ "$n" -gt 0 ] || fail "group member $g got no flow"
	say "member $g: $n flows, $(pcap_count "$WORK/g$g.pcap") packets"
	sum=$((sum + n))
done
[ "$sum" = "$nflows" ] || fail "the members hold $sum flows between them, the trace $nflows: a flow was split"
sleep 0.5
ctl "$REC_SOCK" stats >"$WORK/stats2.out" 2>&1
[ "$(stat_value "$WORK/stats2.out" group_joins)" = 4 ] &&
	[ "$(stat_value "$WORK/stats2.out" group_leaves)" = 4 ] ||
	fail_log "stats does not count 4 joins and 4 leaves" "$WORK/stats2.out"

# ---- (i) -----------------------------------------------------------------
RST='tcp[tcpflags] & tcp-rst != 0'
mktrace_summary rst --packets 3000 --flows 40 --proto mixed --size 128 \
	--rst-every 7 --sport 40000
oracle_flows "$WORK/rst.pcap" 'tcp.flags.reset == 1' "$WORK/rst.expected.pcap"
[ "$ORACLE_COUNT" = "$(summary_value rst rst_flow_packets)" ] ||
	fail "test bug: the oracle finds $ORACLE_COUNT packets of RST flows, fs-mktrace wrote $(summary_value rst rst_flow_packets)"
expect_trigger_matches "$WORK/rst.pcap" "$RST" "$(summary_value rst rst_flows)"
check "(i) trigger mode on @$NAME: trigger '$RST' delivers the $ORACLE_FLOWS RST flows, $ORACLE_COUNT packets"
reader "$WORK/tr.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST"; ptr=$RD_PID
reader "$WORK/tg1.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_GROUP=t; ptg1=$RD_PID
reader "$WORK/tg2.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_GROUP=t; ptg2=$RD_PID
ctl "$REC_SOCK" readers >"$WORK/treaders.out" 2>&1
[ "$(grep -c ' mode trigger ' "$WORK/treaders.out")" = 3 ] ||
	fail_log "the publisher does not list 3 readers in trigger mode" "$WORK/treaders.out"
replay "$WORK/rst.pcap" 3000
sleep 1
stop_tcpdump "$WORK/tr.pcap" "$ptr"
expect_ok "$BG_RC" "tcpdump in trigger mode on @$NAME" "$WORK/tr.pcap.stderr"
expect_same --per-flow --bytes-only "$WORK/rst.expected.pcap" "$WORK/tr.pcap"
[ "$(td_dropped "$WORK/tr.pcap.stderr")" = 0 ] ||
	fail_log "the trigger-mode reader reports drops" "$WORK/tr.pcap.stderr"
check "(i) a group of two in trigger mode: the same flows between them, each in one member"
stop_tcpdump "$WORK/tg1.pcap" "$ptg1"
stop_tcpdump "$WORK/tg2.pcap" "$ptg2"
expect_same --per-flow --bytes-only "$WORK/rst.expected.pcap" "$WORK/tg1.pcap" "$WORK/tg2.pcap"
sum=0
for g in 1 2; do
	n=$("$PCAPCMP" --count-flows "$WORK/tg$g.pcap")
	say "member $g: $n flows"
	sum=$((sum + n))
done
[ "$sum" = "$ORACLE_FLOWS" ] || fail "the members hold $sum flows between them, the oracle $ORACLE_FLOWS: a flow was split"
check "(i) a reader that attaches afterwards triggers flows sent before it came, whole"
mktrace_summary late --packets 2000 --flows 30 --proto udp --size 100 --sport 20000
replay "$WORK/late.pcap" 4000
sleep 0.5
oracle_flows "$WORK/late.pcap" 'udp.srcport >= 20000 && udp.srcport <= 20009' \
	"$WORK/late.expected.pcap"
lsock=$WORK/late.sock
reader "$WORK/late.out.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_CONTROL="$lsock"; plate=$RD_PID
wait_socket "$lsock" "$plate" || fail_log "no control socket at $lsock" "$WORK/late.out.pcap.stderr"
sleep 0.5
ctl "$lsock" trigger 'udp portrange 20000-20009' >"$WORK/late.trig" 2>&1 ||
	fail_log "flowscope-ctl trigger failed" "$WORK/late.trig"
grep -qx "triggered $ORACLE_FLOWS" "$WORK/late.trig" ||
	fail_log "the answer is not 'triggered $ORACLE_FLOWS'" "$WORK/late.trig"
sleep 0.5
stop_tcpdump "$WORK/late.out.pcap" "$plate"
expect_ok "$BG_RC" "the late trigger-mode reader" "$WORK/late.out.pcap.stderr"
expect_same --per-flow --bytes-only "$WORK/late.expected.pcap" "$WORK/late.out.pcap"
say "  $ORACLE_COUNT packets of $ORACLE_FLOWS flows, all from before it attached"

# ---- (d) -----------------------------------------------------------------
check "a reader SIGKILLed leaves nothing behind"
maps_before=$(grep -c memfd "/proc/$REC_PID/maps")
# (other tests may run beside this one: only what could be the reader's)
shm_before=$(ls -A /dev/shm | grep -i flowscope | sort | tr '\n' ' ')
reader "$WORK/k.pcap"
kpid=$(tcpdump_pid "$WORK/k.pcap")
ctl "$REC_SOCK" readers | grep -q "^reader pid $kpid " || fail "the reader to kill is not listed"
kill -KILL "$kpid"
for ((i = 0; i < 20; i++)); do
	ctl "$REC_SOCK" readers | grep -q "^reader pid $kpid " || break
	sleep 0.1
done
ctl "$REC_SOCK" readers | grep -q "^reader pid $kpid " && fail "the killed reader is still listed after 2 s"
[ "$(grep -c memfd "/proc/$REC_PID/maps")" = "$maps_before" ] || fail "the publisher's mappings changed"
[ "$(ls -A /dev/shm | grep -i flowscope | sort | tr '\n' ' ')" = "$shm_before" ] ||
	fail "/dev/shm changed"
compgen -G "/run/flowscope/$kpid-*" >/dev/null &&
	fail "the killed reader left a file in /run/flowscope"

# ---- (h) -----------------------------------------------------------------
# bad NAME VAR=VALUE... -- DEVICE MESSAGE: tcpdump on DEVICE fails naming it
bad() {
	local what=$1 msg=$3 dev=$2
	shift 3
	check "$what"
	fs_run "$@" "$TCPDUMP" -c 1 -w /dev/null -i "$dev" >"$WORK/bad.out" 2>&1 &&
		fail_log "tcpdump -i $dev $* succeeded" "$WORK/bad.out"
	grep -q -- "$msg" "$WORK/bad.out" || fail_log "no message '$msg'" "$WORK/bad.out"
}
bad "a name nobody publishes" "flowscope:@nobody$$" "no capture publishes 'nobody$$'"
bad "a publisher's key on an attached reader" "flowscope:@$NAME" "dump_dir: an attached reader" FLOWSCOPE_DUMP_DIR=/tmp
bad "group without @NAME" "flowscope:$VETH_HOST" "group: only an attached reader" FLOWSCOPE_GROUP=x
bad "a bad group id" "flowscope:@$NAME" "group: '../x' is not a name" FLOWSCOPE_GROUP=../x
bad "the published interface, opened by another process" "flowscope:$VETH_HOST" \
	"$VETH_HOST: recorded by pid $REC_PID (flowscope-recor[a-z]*), which publishes it: attach to flowscope:@$NAME instead"
check "a second publisher of the interface is refused, naming the first"
FLOWSCOPE_SHARE=other$$ FLOWSCOPE_CONTROL=off timeout 20 "$REC" "$VETH_HOST" >"$WORK/dup2.out" 2>&1 &&
	fail_log "a second publisher of $VETH_HOST started" "$WORK/dup2.out"
grep -q "$VETH_HOST: recorded by pid $REC_PID (flowscope-recor[a-z]*), which publishes it: attach to flowscope:@$NAME" "$WORK/dup2.out" ||
	fail_log "the refusal does not name the publisher and @$NAME" "$WORK/dup2.out"
check "a second publisher of the name is refused, naming the first"
FLOWSCOPE_SHARE=$NAME FLOWSCOPE_CONTROL=off FLOWSCOPE_GEN_RATE=1k timeout 20 "$REC" gen >"$WORK/dup.out" 2>&1 &&
	fail_log "a second publisher of $NAME started" "$WORK/dup.out"
grep -q "published already, by pid $REC_PID" "$WORK/dup.out" ||
	fail_log "the refusal does not name the publisher" "$WORK/dup.out"

# ---- (f) -----------------------------------------------------------------
check "another uid is refused"
setpriv --reuid=65534 --regid=65534 --clear-groups "$FS_RUN" timeout 20 \
	"$TCPDUMP" -c 1 -w /dev/null -i "flowscope:@$NAME" >"$WORK/uid.out" 2>&1 &&
	fail_log "nobody attached to root's ring" "$WORK/uid.out"
grep -q "may not attach: only root" "$WORK/uid.out" ||
	fail_log "the refusal does not say who may attach" "$WORK/uid.out"
kill_tree "$REC_PID"

# ---- (c) -----------------------------------------------------------------
# 8000 packets of 1000 bytes through a 1 MiB ring; a share_group for (f)
"$MKTRACE" -o "$WORK/big.pcap" --packets 8000 --flows 50 --size 1000 ||
	fail "fs-mktrace failed"
gname=$(getent group 65534 | cut -d: -f1)
publisher pub2 FLOWSCOPE_BUFFER=1m FLOWSCOPE_SHARE_GROUP="$gname"
check "a member of share_group $gname is admitted"
setpriv --reuid=65534 --regid=65534 --clear-groups "$FS_RUN" timeout 20 \
	"$TCPDUMP" -c 1 -w /dev/null -i "flowscope:@$NAME" >"$WORK/gid.out" 2>&1 &
gid_job=$!
FS_SETTLE=0 wait_listening "$WORK/gid.out" "$gid_job" 20 ||
	fail_log "a member of $gname was not admitted" "$WORK/gid.out"
check "a SIGSTOPped reader drops only its own"
reader "$WORK/o.pcap"; po=$RD_PID
reader "$WORK/s.pcap"; ps_=$RD_PID
spid=$(tcpdump_pid "$WORK/s.pcap")
kill -STOP "$spid"
replay "$WORK/big.pcap" 8000
sleep 1
kill -CONT "$spid"
sleep 1
wait "$gid_job" || fail_log "the share_group member's tcpdump failed" "$WORK/gid.out"
stop_tcpdump "$WORK/o.pcap" "$po"
stop_tcpdump "$WORK/s.pcap" "$ps_"
expect_same --bytes-only "$WORK/big.pcap" "$WORK/o.pcap"
[ "$(td_dropped "$WORK/o.pcap.stderr")" = 0 ] || fail_log "the running reader reports drops" "$WORK/o.pcap.stderr"
sd=$(td_dropped "$WORK/s.pcap.stderr")
sc=$(pcap_count "$WORK/s.pcap")
say "stopped reader: $sc captured, $sd dropped"
[ "$sd" -gt 0 ] || fail_log "the stopped reader reports no drops" "$WORK/s.pcap.stderr"
[ $((sc + sd)) = 8000 ] || fail_log "the stopped reader: $sc captured + $sd dropped is not 8000" "$WORK/s.pcap.stderr"
expect_same --bytes-only --subset "$WORK/s.pcap" "$WORK/big.pcap"
kill_tree "$REC_PID"

# ---- (e) -----------------------------------------------------------------
check "since = -5s: the last 5 s, then live, no gap, no duplicate"
"$MKTRACE" -o "$WORK/seq.pcap" --packets 2400 --flows 7 --size 100 ||
	fail "fs-mktrace failed"
publisher pub3 FLOWSCOPE_BUFFER=64m
ip netns exec "$NS" timeout 60 tcpreplay -q --pps=200 -i "$VETH_NS" "$WORK/seq.pcap" \
	>"$WORK/replay3.out" 2>&1 &
rp=$!
sleep 8
t0=$(date +%s.%N)
reader "$WORK/since.pcap" FLOWSCOPE_SINCE=-5s
wait "$rp" || fail_log "tcpreplay failed" "$WORK/replay3.out"
sleep 1
stop_tcpdump "$WORK/since.pcap" "$RD_PID"
expect_ok "$BG_RC" "tcpdump since=-5s" "$WORK/since.pcap.stderr"
seq_check since "$t0" 5 2399

# ---- (j) -----------------------------------------------------------------
check "since = -6s, further back than a 1 MiB ring: the spool's part, then the ring's, then live, no gap, no duplicate"
"$MKTRACE" -o "$WORK/seq2.pcap" --packets 3000 --flows 7 --size 1000 ||
	fail "fs-mktrace failed"
kill_tree "$REC_PID"
mkdir -m 0700 "$WORK/spool"
publisher pub5 FLOWSCOPE_BUFFER=1m FLOWSCOPE_SPOOL_DIR="$WORK/spool"
ip netns exec "$NS" timeout 60 tcpreplay -q --pps=300 -i "$VETH_NS" "$WORK/seq2.pcap" \
	>"$WORK/replay5.out" 2>&1 &
rp=$!
sleep 8
ctl "$REC_SOCK" stats >"$WORK/stats5.out" 2>&1 || fail_log "stats failed" "$WORK/stats5.out"
t0=$(date +%s.%N)
reader "$WORK/deep.pcap" FLOWSCOPE_SINCE=-6s
hs=$(stat_value "$WORK/stats5.out" history_seconds)
say "  the ring holds ${hs} s"
awk -v h="$hs" 'BEGIN { exit !(h < 5) }' || fail "test bug: the ring holds $hs s, the spool is not needed"
wait "$rp" || fail_log "tcpreplay failed" "$WORK/replay5.out"
sleep 1
stop_tcpdump "$WORK/deep.pcap" "$RD_PID"
expect_ok "$BG_RC" "tcpdump since=-6s" "$WORK/deep.pcap.stderr"
[ "$(td_dropped "$WORK/deep.pcap.stderr")" = 0 ] ||
	fail_log "the reader reports drops" "$WORK/deep.pcap.stderr"
seq_check deep "$t0" 6 2999
check "the same, with the reader held up 1.5 s between activation and its first read: no drop, no gap"
ip netns exec "$NS" timeout 60 tcpreplay -q --pps=300 -i "$VETH_NS" "$WORK/seq2.pcap" \
	>"$WORK/replay6.out" 2>&1 &
rp=$!
sleep 6
ctl "$REC_SOCK" stats >"$WORK/stats6.out" 2>&1 || fail_log "stats failed" "$WORK/stats6.out"
hs=$(stat_value "$WORK/stats6.out" history_seconds)
awk -v h="$hs" 'BEGIN { exit !(h < 3.5) }' ||
	fail "test bug: the ring holds $hs s, more than since = -4s needs the spool for"
# tcpdump writes its first line to stderr after pcap_activate(); into a
# pipe that is already full, it waits there until the pipe is read. Our
# descriptor 7 (read and write: opening it waits for nobody) fills it;
# no child inherits it, so that the pipe ends when tcpdump's stderr does.
mkfifo "$WORK/hold"
exec 7<>"$WORK/hold"
cap=$(python3 -c 'import fcntl, sys; print(fcntl.fcntl(7, 1032))' 2>/dev/null) || cap=65536
head -c "$cap" /dev/zero >&7
t0=$(date +%s.%N)
{
	bg_start "$WORK/held.pcap.stdout" "$WORK/hold" fs_tcpdump FLOWSCOPE_SINCE=-4s -n \
		-i "flowscope:@$NAME" -w "$WORK/held.pcap"
} 7<&-
RD_PID=$BG_PID
sleep 1.5
tp=$(tcpdump_pid "$WORK/held.pcap")
[ -n "$tp" ] && [[ $(cat "/proc/$tp/wchan" 2>/dev/null) == *pipe_write ]] ||
	fail "test bug: tcpdump is not held up writing to the pipe (wchan $(cat "/proc/$tp/wchan" 2>/dev/null))"
{ dd bs="$cap" count=1 iflag=fullblock of=/dev/null 2>/dev/null; cat; } \
	<"$WORK/hold" 7<&- >"$WORK/held.pcap.stderr" &
drain=$!
exec 7<&-
wait "$rp" || fail_log "tcpreplay failed" "$WORK/replay6.out"
sleep 1
stop_tcpdump "$WORK/held.pcap" "$RD_PID"
expect_ok "$BG_RC" "tcpdump since=-4s, held up" "$WORK/held.pcap.stderr"
# everything tcpdump wrote is through once its stderr is closed
bg_wait "$drain" 10 || fail "the pipe of tcpdump's stderr did not end"
grep -q "listening on" "$WORK/held.pcap.stderr" ||
	fail_log "test bug: tcpdump's stderr did not come through the pipe" "$WORK/held.pcap.stderr"
[ "$(td_dropped "$WORK/held.pcap.stderr")" = 0 ] ||
	fail_log "the held-up reader reports drops" "$WORK/held.pcap.stderr"
seq_check held "$t0" 4 2999

# ---- (k) -----------------------------------------------------------------
mktrace_summary long --packets 4000 --flows 8 --proto mixed --size 1000 \
	--rst-every 4 --sport 50000
oracle_flows "$WORK/long.pcap" 'tcp.flags.reset == 1' "$WORK/long.expected.pcap"
[ "$ORACLE_COUNT" = "$(summary_value long rst_flow_packets)" ] ||
	fail "test bug: the oracle finds $ORACLE_COUNT packets of RST flows, fs-mktrace wrote $(summary_value long rst_flow_packets)"
check "(k) trigger mode on the 1 MiB ring and its spool: $ORACLE_FLOWS RST flows of $ORACLE_COUNT packets, longer than the ring, whole"
reader "$WORK/long.out.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST"
replay "$WORK/long.pcap" 1000
sleep 1
stop_tcpdump "$WORK/long.out.pcap" "$RD_PID"
expect_ok "$BG_RC" "the trigger-mode reader of the spooled ring" "$WORK/long.out.pcap.stderr"
expect_same --per-flow --bytes-only "$WORK/long.expected.pcap" "$WORK/long.out.pcap"
[ "$(td_dropped "$WORK/long.out.pcap.stderr")" = 0 ] ||
	fail_log "the reader reports drops (history lost)" "$WORK/long.out.pcap.stderr"

# ---- (g) -----------------------------------------------------------------
check "the publisher ends: readers end within a second, exit 0"
reader "$WORK/e1.pcap"; p1=$RD_PID
reader "$WORK/e2.pcap"; p2=$RD_PID
kill -TERM "$REC_PID"
for p in "$p1" "$p2"; do
	ended_within "$p" 15 || fail "a reader still runs 1.5 s after the publisher ended"
	[ "$BG_RC" = 0 ] || fail "a reader exited $BG_RC when the publisher ended"
done
bg_wait "$REC_PID" 5 || fail "the publisher did not stop"
check "the publisher is killed: readers end within a second, exit 1, naming it"
publisher pub4
reader "$WORK/d1.pcap"; p1=$RD_PID
reader "$WORK/d2.pcap"; p2=$RD_PID
kill -KILL "$REC_PID"
for p in "$p1" "$p2"; do
	ended_within "$p" 15 || fail "a reader still runs 1.5 s after the publisher was killed"
	[ "$BG_RC" = 1 ] || fail "a reader exited $BG_RC when the publisher was killed"
done
grep -q "the publisher (pid $REC_PID, flowscope-recor.*) is gone" "$WORK/d1.pcap.stderr" ||
	fail_log "the reader does not say the publisher is gone" "$WORK/d1.pcap.stderr"
bad "attaching after the publisher died" "flowscope:@$NAME" "is gone (stale socket"
pass
