#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# dump_many.sh: dump files never exhaust the process's descriptors. 3000
# flows triggered at once, each writing on while the others do, under
# `ulimit -n 256` (a plain tcpdump, so through the privileged helper):
# every flow gets one complete file (checked against the trace), the
# dumper closes and reopens files for appending as it needs to, and the
# control socket answers `flowscope-ctl stats` throughout. Then the same
# for an unprivileged user (no helper: the dumper reopens by itself)
# under `ulimit -n 64`.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_ctl
id tcpdump >/dev/null 2>&1 || skip "there is no user tcpdump to drop to"

FLOWS=3000
LIMIT=256
# 20 packets per flow in round-robin order; each flow's middle packet
# carries the marker that triggers it, so the flows are triggered one
# after the other with half their packets as history, then all of them
# write their second half side by side. 13 MB for the dumper, more than
# the 4 MiB delivery lane of a 16m buffer: the file source waits for the
# dumper, so the dumping happens while tcpdump captures.
mktrace_summary t --packets $((FLOWS * 20)) --flows $FLOWS --proto udp --marker-every 1 \
	--size 200 --nano
t=$WORK/t.pcap
[ "$(summary_value t marker_flows)" = $FLOWS ] || fail "test bug: not $FLOWS marker flows"
MARK='udp[8:4] = 0xdeadbeef'
expect_trigger_matches "$t" "$MARK" $FLOWS

# limited [VAR=VALUE...] PROGRAM ARGS...: fs_run under ulimit -n LIMIT.
limited() {
	ulimit -n $LIMIT || fail "ulimit -n $LIMIT failed"
	fs_run "$@"
}

check "$FLOWS triggered flows under ulimit -n $LIMIT: one complete file each, stats answer throughout"
dump=$WORK/dump
mkdir -m 0755 "$dump" "$WORK/pub" || fail "mkdir failed"
mkdir -m 0700 "$WORK/run" || fail "mkdir failed"
chmod 0755 "$WORK"
chmod 1777 "$WORK/pub"
sock=$WORK/run/ctl.sock
out=$WORK/pub/out.pcap
bg_start "$WORK/td.stdout" "$WORK/td.stderr" limited TZ=UTC FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=16m \
	FLOWSCOPE_TRIGGER="$MARK" FLOWSCOPE_DUMP_DIR="$dump" FLOWSCOPE_CONTROL="$sock" \
	"$TCPDUMP" --time-stamp-precision=nano -n -i "flowscope:file=$t" -w "$out"
pid=$BG_PID
wait_socket "$sock" "$pid" 20 || fail_log "no control socket $sock" "$WORK/td.stderr"
answers=0
while kill -0 "$pid" 2>/dev/null; do
	if ! ctl "$sock" stats >"$WORK/stats.txt" 2>&1; then
		# the capture may have ended between the look and the ask
		! kill -0 "$pid" 2>/dev/null || grep -q 'packets captured' "$WORK/td.stderr" && break
		fail_log "flowscope-ctl stats got no answer while tcpdump ran ($answers answers before)" \
			"$WORK/stats.txt" "$WORK/td.stderr"
	fi
	grep -q '^dump_files ' "$WORK/stats.txt" || fail_log "stats without dump counters" "$WORK/stats.txt"
	answers=$((answers + 1))
	[ "$answers" -gt 1 ] || cp "$WORK/stats.txt" "$WORK/stats.first"
	cp "$WORK/stats.txt" "$WORK/stats.last"
	sleep 0.1
done
bg_wait "$pid" 5 || fail "tcpdump did not end"
expect_ok "$BG_RC" "tcpdump (ulimit -n $LIMIT)" "$WORK/td.stderr"
# answers while the dumper had files left to write, not only at the end
[ "$answers" -ge 2 ] || fail "flowscope-ctl stats was answered $answers times only"
first=$(stat_value "$WORK/stats.first" dump_files)
[ "${first:-0}" -lt $FLOWS ] ||
	fail "the first stats answer came after all $FLOWS files were created: the test proves little"
! grep -q '^flowscope: ' "$WORK/td.stderr" || fail_log "flowscope reported errors" "$WORK/td.stderr"
say "  stats answered $answers times; the first: files $first; the last: files $(stat_value "$WORK/stats.last" dump_files)," \
	"reopened $(stat_value "$WORK/stats.last" dump_reopened), errors $(stat_value "$WORK/stats.last" dump_errors)"
expect_same --nano --per-flow "$t" "$out"
check_dump_dir "$dump" $FLOWS "$t"
[ ! -e "$sock" ] || fail "$sock is left behind"

if ! command -v setpriv >/dev/null 2>&1; then
	say "setpriv is not installed: the unprivileged run is not checked"
	pass
fi
check "the same as user nobody (no privileged helper) under ulimit -n 64"
LIMIT=64
mine=$WORK/nobody
mkdir -m 0755 "$mine" "$mine/dump" || fail "mkdir failed"
chown -R 65534:65534 "$mine" || fail "chown failed"
chmod 0644 "$t"
limited TZ=UTC FLOWSCOPE_MODE=trigger FLOWSCOPE_BUFFER=16m FLOWSCOPE_TRIGGER="$MARK" \
	FLOWSCOPE_DUMP_DIR="$mine/dump" FLOWSCOPE_CONTROL="$mine/run/ctl.sock" \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$TCPDUMP" --time-stamp-precision=nano -n -i "flowscope:file=$t" -w "$mine/out.pcap" \
	>"$WORK/nobody.stdout" 2>"$WORK/nobody.stderr"
expect_ok $? "tcpdump as nobody (ulimit -n $LIMIT)" "$WORK/nobody.stderr"
! grep -q '^flowscope: ' "$WORK/nobody.stderr" || fail_log "flowscope reported errors" "$WORK/nobody.stderr"
[ "$(find "$mine/dump" -type f -user 65534 | grep -c .)" -eq $FLOWS ] ||
	fail "not all $FLOWS files belong to nobody"
expect_same --nano --per-flow "$t" "$mine/out.pcap"
check_dump_dir "$mine/dump" $FLOWS "$t"
[ ! -e "$mine/run/ctl.sock" ] || fail "$mine/run/ctl.sock is left behind"

pass
