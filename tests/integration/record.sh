#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# record.sh: flowscope-record (FS_RECORD), a capture with no application.
#  (a) gen in trigger mode with dump_dir and a control socket: a start
#      line; flowscope-ctl stats answers, received grows, nothing dropped
#      or delivered; "trigger host 10.0.0.5" writes that flow's file,
#      history included; SIGTERM: exit 0 within 5 s, socket gone, the file
#      complete (stock tcpdump reads it; it holds dump_packets packets of
#      that flow only), the final counters on one line.
#  (b) live mode, a 1 MiB ring and fast gen: the ring wraps, and that is
#      no drop; the default control socket comes and goes.
#  (c) a file= trace in trigger mode with an RST trigger and dump_dir:
#      after the end it keeps serving the control socket; the files are
#      exactly the RST flows (tshark's oracle); a flowscope-ctl trigger
#      after the end dumps a whole flow from the ring.
#  (d) --exit-at-end: the same trace exits 0 by itself with the same
#      files; in live mode with a ring smaller than the trace (file= waits
#      for a reader, and there is none) it does not block.
#  (e) a named capture (NAME and flowscope-NAME); bad keys, config files
#      and device names exit 1 naming the key; usage errors exit 2.
#  (f) make install puts the recorder in sbin and the systemd unit, naming
#      it, under DESTDIR; systemd-analyze verify accepts the unit.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_ctl
need_tshark
REC=${FS_RECORD:-}
[ -n "$REC" ] || skip "FS_RECORD is not set (path of flowscope-record)"
[ -x "$REC" ] || fail "FS_RECORD=$REC is not executable"
[ -n "${FS_SRCDIR:-}" ] || skip "FS_SRCDIR is not set"

# rec_start NAME [VAR=VALUE...] ARGS...: flowscope-record ARGS in the
# background (REC_PID is the recorder itself); stderr in $WORK/NAME.err
rec_start() {
	local name=$1
	shift
	bg_start "$WORK/$name.out" "$WORK/$name.err" env "$@"
	REC_PID=$BG_PID
}

# rec_stop NAME: SIGTERM; fail unless it exits 0 within 5 s
rec_stop() {
	kill -TERM "$REC_PID" 2>/dev/null || fail_log "the recorder had ended before SIGTERM" "$WORK/$1.err"
	bg_wait "$REC_PID" 5 || fail_log "the recorder still runs 5 s after SIGTERM" "$WORK/$1.err"
	expect_ok "$BG_RC" "flowscope-record after SIGTERM" "$WORK/$1.err"
}

# final_value NAME KEY: KEY's value on the recorder's closing line
final_value() {
	sed -n 's/^flowscope-record: stopped ([^)]*): //p' "$WORK/$1.err" | tail -n 1 |
		awk -v k="$2" '{ for (i = 1; i < NF; i += 2) if ($i == k) { print $(i + 1); exit } }'
}

# wait_stat SOCK KEY VALUE SECONDS: until stats shows KEY VALUE
wait_stat() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		ctl "$1" stats >"$WORK/wait.stats" 2>/dev/null &&
			[ "$(stat_value "$WORK/wait.stats" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- (a) gen, trigger mode, a flow triggered through the socket -----------

check "(a) flowscope-record gen, trigger mode, dump_dir, control socket"
mkdir -m 700 "$WORK/ctl" "$WORK/dump_a" || fail "mkdir failed"
sock=$WORK/ctl/a.sock
rec_start a FLOWSCOPE_MODE=trigger FLOWSCOPE_DUMP_DIR="$WORK/dump_a" \
	FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_GEN_RATE=2k FLOWSCOPE_GEN_FLOWS=50 "$REC" gen
wait_socket "$sock" "$REC_PID" || fail_log "no control socket at $sock" "$WORK/a.err"
grep -q "^flowscope-record: recording flowscope:gen (source gen, mode trigger, .*dump_dir $WORK/dump_a, control $sock)\$" \
	"$WORK/a.err" || fail_log "no start line naming the mode, dump_dir and socket" "$WORK/a.err"
sleep 0.5
ctl "$sock" stats >"$WORK/s1" 2>"$WORK/s.err" || fail_log "flowscope-ctl stats failed" "$WORK/s.err"
sleep 1
ctl "$sock" stats >"$WORK/s2" 2>"$WORK/s.err" || fail_log "flowscope-ctl stats failed" "$WORK/s.err"
r1=$(stat_value "$WORK/s1" received) r2=$(stat_value "$WORK/s2" received)
[ -n "$r1" ] && [ -n "$r2" ] && [ "$r2" -gt "$r1" ] ||
	fail_log "received does not grow ($r1, then $r2)" "$WORK/s1" "$WORK/s2"
for k in dropped delivered flows_triggered dump_files; do
	[ "$(stat_value "$WORK/s2" "$k")" = 0 ] || fail_log "stats: $k is not 0" "$WORK/s2"
done
[ "$(stat_value "$WORK/s2" flows_active)" = 50 ] || fail_log "stats: not the 50 flows of gen" "$WORK/s2"
say "  received $r1, then $r2 a second later"

check "(a) flowscope-ctl trigger host 10.0.0.5 writes that flow's file, with its history"
t0=$(date +%s.%N)
ctl "$sock" trigger host 10.0.0.5 >"$WORK/trig" 2>"$WORK/trig.err" ||
	fail_log "flowscope-ctl trigger failed" "$WORK/trig.err"
grep -qx 'triggered 1' "$WORK/trig" || fail_log "the answer is not 'triggered 1'" "$WORK/trig"
sleep 1.5
files=("$WORK"/dump_a/*)
[ "${#files[@]}" -eq 1 ] && [ -f "${files[0]}" ] ||
	fail "dump_a does not hold exactly one file: $(ls "$WORK/dump_a")"
f=${files[0]}
[[ ${f##*/} =~ ^[0-9]{8}-[0-9]{6}\.[0-9]{9}_udp_10\.0\.0\.5_[0-9]+_[0-9.]+_[0-9]+\.pcap$ ]] ||
	fail "${f##*/} is not named after 10.0.0.5's UDP flow"

check "(a) SIGTERM: exit 0, socket removed, the file complete, final counters"
rec_stop a
[ ! -e "$sock" ] || fail "the control socket $sock is still there"
stock_run "$TCPDUMP" -n -r "$f" -w "$WORK/a.all.pcap" 2>"$WORK/a.td" ||
	fail_log "stock tcpdump cannot read ${f##*/}" "$WORK/a.td"
stock_run "$TCPDUMP" -n -r "$f" -w "$WORK/a.other.pcap" 'not host 10.0.0.5' 2>/dev/null ||
	fail "stock tcpdump cannot filter ${f##*/}"
expect_count 0 "$WORK/a.other.pcap"
n=$(pcap_count "$f")
dp=$(final_value a dump_packets)
[ -n "$dp" ] || fail_log "no closing line with dump_packets" "$WORK/a.err"
[ "$n" = "$dp" ] || fail_log "${f##*/} holds $n packets, the final dump_packets says $dp" "$WORK/a.err"
[ "$n" -gt 0 ] || fail "${f##*/} holds no packet"
early=$(stock_run "$TCPDUMP" -n -tt -r "$f" 2>/dev/null | awk -v t0="$t0" '$1 + 0 < t0 + 0' | grep -c .)
[ "$early" -gt 0 ] || fail "no packet of ${f##*/} is from before the trigger: no history"
for k in received dropped nic_dropped delivered ring_bytes ring_packets ring_capacity \
	history_seconds flows_active flows_triggered flows_ended not_triggered dump_files; do
	[ -n "$(final_value a "$k")" ] || fail_log "the closing line has no $k" "$WORK/a.err"
done
[ "$(final_value a received)" -ge "$r2" ] || fail_log "the final received is below $r2" "$WORK/a.err"
[ "$(final_value a flows_triggered)" = 1 ] || fail_log "the final flows_triggered is not 1" "$WORK/a.err"
[ "$(final_value a dump_files)" = 1 ] || fail_log "the final dump_files is not 1" "$WORK/a.err"
grep -q '^flowscope-record: stopped (SIGTERM): received ' "$WORK/a.err" ||
	fail_log "the closing line does not say SIGTERM" "$WORK/a.err"
say "  $n packets of 10.0.0.5's flow, $early from before the trigger"

# ---- (b) live mode: a ring that wraps is no loss ----------------------------

check "(b) live mode, 1 MiB ring, gen at 50k packets/s: received > ring_packets, dropped 0"
rec_start b FLOWSCOPE_BUFFER=1m FLOWSCOPE_GEN_RATE=50k "$REC" gen
for ((i = 0; i < 100; i++)); do
	grep -q '^flowscope-record: recording' "$WORK/b.err" && break
	kill -0 "$REC_PID" 2>/dev/null || fail_log "the recorder ended" "$WORK/b.err"
	sleep 0.1
done
bsock=$(sed -n 's/^flowscope-record: recording .*, control \([^ ]*\))$/\1/p' "$WORK/b.err")
[ -n "$bsock" ] || fail_log "the start line names no control socket" "$WORK/b.err"
wait_socket "$bsock" "$REC_PID" || fail_log "no control socket at $bsock" "$WORK/b.err"
sleep 2
ctl "$bsock" stats >"$WORK/sb" 2>"$WORK/s.err" || fail_log "flowscope-ctl stats failed" "$WORK/s.err"
rb=$(stat_value "$WORK/sb" received) pb=$(stat_value "$WORK/sb" ring_packets)
[ "$rb" -gt "$pb" ] || fail_log "the ring did not wrap (received $rb, ring_packets $pb)" "$WORK/sb"
[ "$(stat_value "$WORK/sb" dropped)" = 0 ] || fail_log "the ring's wrapping counts as dropped" "$WORK/sb"
rec_stop b
[ ! -e "$bsock" ] || fail "the default socket $bsock is still there"
say "  received $rb, the ring holds $pb; socket $bsock"

# ---- (c) a trace in trigger mode, serving on after the end ----------------

RST='tcp[tcpflags] & tcp-rst != 0'
mktrace_summary t --packets 2000 --flows 20 --proto mixed --size 200 --nano --rst-every 4
t=$WORK/t.pcap
flows=$(summary_value t rst_flows)
oracle_flows "$t" 'tcp.flags.reset == 1' "$WORK/expected.pcap"
[ "$ORACLE_COUNT" = "$(summary_value t rst_flow_packets)" ] ||
	fail "test bug: the oracle finds $ORACLE_COUNT packets, fs-mktrace wrote $(summary_value t rst_flow_packets)"
expect_trigger_matches "$t" "$RST" "$flows"

check "(c) file= in trigger mode: the $flows RST flows in dump_dir; it serves on after the end"
mkdir -m 700 "$WORK/dump_c" || fail "mkdir failed"
sock=$WORK/ctl/c.sock
rec_start c FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_DUMP_DIR="$WORK/dump_c" \
	FLOWSCOPE_CONTROL="$sock" "$REC" "file=$t"
wait_socket "$sock" "$REC_PID" || fail_log "no control socket at $sock" "$WORK/c.err"
wait_stat "$sock" dump_packets "$ORACLE_COUNT" 20 ||
	fail_log "dump_packets does not reach $ORACLE_COUNT" "$WORK/wait.stats" "$WORK/c.err"
for ((i = 0; i < 50; i++)); do
	grep -q '^flowscope-record: every source ended; serving' "$WORK/c.err" && break
	sleep 0.1
done
[ "$i" -lt 50 ] || fail_log "no line saying that the source ended" "$WORK/c.err"
sleep 1
kill -0 "$REC_PID" 2>/dev/null || fail_log "the recorder exited at the end of the file" "$WORK/c.err"
ctl "$sock" stats >"$WORK/sc" 2>"$WORK/s.err" || fail_log "stats after the end failed" "$WORK/s.err"
[ "$(stat_value "$WORK/sc" received)" = 2000 ] || fail_log "received is not 2000" "$WORK/sc"
[ "$(stat_value "$WORK/sc" flows_triggered)" = "$flows" ] || fail_log "flows_triggered is not $flows" "$WORK/sc"
rec_stop c
check_dump_dir "$WORK/dump_c" "$flows" "$WORK/expected.pcap"

check "(c) after the end, flowscope-ctl trigger dumps a whole UDP flow from the ring"
"$PCAPCMP" --nano --list-flows "$t" >"$WORK/t.flows" || fail "fs-pcapcmp --list-flows failed"
host=$(awk '$2 == "udp" { print $3; exit }' "$WORK/t.flows")
[ -n "$host" ] || fail "test bug: no UDP flow in ${t##*/}"
oracle_flows "$t" "ip.addr == $host" "$WORK/expected_udp.pcap"
[ "$ORACLE_FLOWS" = 1 ] || fail "test bug: $host is in $ORACLE_FLOWS flows, not 1"
mkdir -m 700 "$WORK/dump_c2" || fail "mkdir failed"
rec_start c2 FLOWSCOPE_DUMP_DIR="$WORK/dump_c2" FLOWSCOPE_CONTROL="$sock" "$REC" "file=$t"
wait_socket "$sock" "$REC_PID" || fail_log "no control socket at $sock" "$WORK/c2.err"
wait_stat "$sock" received 2000 20 || fail_log "received does not reach 2000" "$WORK/wait.stats"
ctl "$sock" trigger host "$host" >"$WORK/trig" 2>"$WORK/trig.err" ||
	fail_log "flowscope-ctl trigger host $host failed" "$WORK/trig.err"
grep -qx 'triggered 1' "$WORK/trig" || fail_log "the answer is not 'triggered 1'" "$WORK/trig"
wait_stat "$sock" dump_packets "$ORACLE_COUNT" 10 ||
	fail_log "dump_packets does not reach $ORACLE_COUNT" "$WORK/wait.stats"
rec_stop c2
check_dump_dir "$WORK/dump_c2" 1 "$WORK/expected_udp.pcap"
say "  $ORACLE_COUNT packets of $host's flow, triggered after the end"

# ---- (d) --exit-at-end ------------------------------------------------------

check "(d) --exit-at-end: the trace in trigger mode exits 0 by itself, the same $flows files"
mkdir -m 700 "$WORK/dump_d" || fail "mkdir failed"
env FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_DUMP_DIR="$WORK/dump_d" \
	FLOWSCOPE_CONTROL=off timeout -k 5 30 "$REC" --exit-at-end "file=$t" 2>"$WORK/d.err"
expect_ok $? "flowscope-record --exit-at-end" "$WORK/d.err"
grep -q '^flowscope-record: stopped (every source ended): received 2000 ' "$WORK/d.err" ||
	fail_log "the closing line does not say 'every source ended', received 2000" "$WORK/d.err"
check_dump_dir "$WORK/dump_d" "$flows" "$WORK/expected.pcap"

check "(d) -x in live mode with a ring smaller than the trace: no wait for a reader"
mktrace_summary big --packets 20000 --flows 50 --proto mixed --size 300
env FLOWSCOPE_BUFFER=1m FLOWSCOPE_CONTROL=off timeout -k 5 30 "$REC" -x "file=$WORK/big.pcap" \
	2>"$WORK/d2.err"
expect_ok $? "flowscope-record -x in live mode" "$WORK/d2.err"
[ "$(final_value d2 received)" = 20000 ] || fail_log "received is not 20000" "$WORK/d2.err"
[ "$(final_value d2 ring_packets)" -lt 20000 ] || fail_log "the ring did not wrap" "$WORK/d2.err"
[ "$(final_value d2 dropped)" = 0 ] || fail_log "dropped is not 0" "$WORK/d2.err"

# ---- (e) named captures and errors ------------------------------------------

check "(e) a named capture: NAME and flowscope-NAME open CONF_DIR/NAME.conf"
mkdir "$WORK/conf.d" || fail "mkdir failed"
printf 'source = gen\ngen_packets = 300\ncontrol = off\n' >"$WORK/conf.d/edge.conf"
for dev in edge flowscope-edge; do
	env FLOWSCOPE_CONF_DIR="$WORK/conf.d" timeout -k 5 30 "$REC" -x "$dev" 2>"$WORK/e.err"
	expect_ok $? "flowscope-record -x $dev" "$WORK/e.err"
	grep -q "^flowscope-record: recording flowscope-edge (source gen, config $WORK/conf.d/edge.conf, " \
		"$WORK/e.err" || fail_log "$dev: the start line does not name edge.conf" "$WORK/e.err"
	[ "$(final_value e received)" = 300 ] || fail_log "$dev: received is not 300" "$WORK/e.err"
done

printf '# a mistake on line 2\nmode = sometimes\n' >"$WORK/bad.conf"
# "ARGS|VAR=VALUE|wanted text": exit 1, the text on stderr
for c in "gen|FLOWSCOPE_BUFFER=banana|FLOWSCOPE_BUFFER: buffer: 'banana'" \
	 "gen|FLOWSCOPE_GEN_RAET=5|FLOWSCOPE_GEN_RAET: unknown variable" \
	 "-c $WORK/bad.conf gen|X=1|bad.conf:2: mode: 'sometimes'" \
	 "-c $WORK/missing.conf gen|X=1|missing.conf: cannot read config file" \
	 "file=|X=1|'file=' needs a path" \
	 "nosuchname|FLOWSCOPE_CONF_DIR=$WORK/conf.d|no named capture $WORK/conf.d/nosuchname.conf" \
	 "-c $WORK/bad.conf edge|FLOWSCOPE_CONF_DIR=$WORK/conf.d|-c: the named capture edge has its config file"; do
	args=${c%%|*} rest=${c#*|}
	var=${rest%%|*} want=${rest#*|}
	check "(e) flowscope-record $args ($var): exit 1, '$want'"
	# shellcheck disable=SC2086 # ARGS are words
	env "$var" FLOWSCOPE_CONTROL="$WORK/ctl/e.sock" timeout -k 5 30 "$REC" $args \
		>"$WORK/err.out" 2>"$WORK/err.err"
	rc=$?
	[ "$rc" = 1 ] || fail_log "$(describe_rc "$rc"), not exit status 1" "$WORK/err.err"
	grep -q -F -- "flowscope-record: " "$WORK/err.err" && grep -q -F -- "$want" "$WORK/err.err" ||
		fail_log "the message does not say \"$want\"" "$WORK/err.err"
	[ ! -s "$WORK/err.out" ] || fail_log "something went to stdout" "$WORK/err.out"
	[ ! -e "$WORK/ctl/e.sock" ] || fail "a control socket was left behind"
done
for args in "" "--bogus gen" "gen gen"; do
	check "(e) flowscope-record $args: usage error, exit 2"
	# shellcheck disable=SC2086
	timeout -k 5 30 "$REC" $args >/dev/null 2>"$WORK/usage.err"
	rc=$?
	[ "$rc" = 2 ] || fail_log "$(describe_rc "$rc"), not exit status 2" "$WORK/usage.err"
	grep -q "Try 'flowscope-record --help'" "$WORK/usage.err" ||
		fail_log "no pointer to --help" "$WORK/usage.err"
done

# ---- (f) make install, the systemd unit -------------------------------------

check "(f) make install: sbin/flowscope-record and the unit naming it"
make -s -C "$(dirname "$FS_RUN")" install DESTDIR="$WORK/inst" >"$WORK/install.out" 2>&1 ||
	fail_log "make install failed" "$WORK/install.out"
bin=$(find "$WORK/inst" -path '*/sbin/flowscope-record' -type f | head -n 1)
unit=$(find "$WORK/inst" -path '*/systemd/system/flowscope-record@.service' | head -n 1)
[ -n "$bin" ] && [ -x "$bin" ] || fail_log "no sbin/flowscope-record installed" "$WORK/install.out"
[ -n "$unit" ] || fail_log "no systemd unit installed" "$WORK/install.out"
installed=${bin#"$WORK/inst"}
grep -qx "ExecStart=$installed flowscope-%i" "$unit" ||
	fail "the installed unit does not run $installed flowscope-%i: $(grep ExecStart "$unit")"
"$bin" --version | grep -q '^flowscope-record [0-9]' || fail "the installed recorder has no --version"
check "(f) make install: the tmpfiles.d entry that makes /run/flowscope-share"
tmpf=$(find "$WORK/inst" -path '*/lib/tmpfiles.d/flowscope.conf' | head -n 1)
[ -n "$tmpf" ] || fail_log "no tmpfiles.d/flowscope.conf installed" "$WORK/install.out"
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	mkdir -p "$WORK/troot/run" || fail "mkdir failed"
	systemd-tmpfiles --create --root="$WORK/troot" "$tmpf" >"$WORK/tmpfiles.out" 2>&1 ||
		fail_log "systemd-tmpfiles --create failed" "$WORK/tmpfiles.out"
	[ "$(stat -c '%a %U' "$WORK/troot/run/flowscope-share" 2>/dev/null)" = "755 root" ] ||
		fail "systemd-tmpfiles did not make run/flowscope-share 0755 root"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	check "(f) systemd-analyze verify: the unit as an instance, without a warning"
	mkdir "$WORK/units" || fail "mkdir failed"
	sed "s|^ExecStart=[^ ]*|ExecStart=$REC|" "$FS_SRCDIR/conf/flowscope-record@.service" \
		>"$WORK/units/flowscope-record@.service"
	systemd-analyze verify --man=no "$WORK/units/flowscope-record@edge.service" \
		>"$WORK/verify.out" 2>&1 || fail_log "systemd-analyze verify failed" "$WORK/verify.out"
	[ ! -s "$WORK/verify.out" ] || fail_log "systemd-analyze verify warns" "$WORK/verify.out"
else
	say "  (no systemd-analyze: the unit is not verified)"
fi
pass
