#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# ctl_crowd.sh: silent clients do not hold up the control socket. A live
# capture of flowscope:gen under tcpdump; 30 connections that send nothing
# (tests/tools/fs-silent), then flowscope-ctl ping and stats must each
# answer within 1 s (a server that gives each silent client its 2 s in
# turn would take a minute). The silent ones are dropped after about 2 s,
# all together. Then 100 of them, more than the server serves at once
# (FS_CTL_CONN_MAX = 64): ping still answers within 1 s.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_ctl
SILENT=$FS_TOOLS/fs-silent
[ -x "$SILENT" ] || fail "$SILENT is missing or not executable"

sock=$WORK/c.sock
out=$WORK/gen.pcap
bg_start "$WORK/gen.stdout" "$WORK/gen.stderr" fs_tcpdump FLOWSCOPE_CONTROL="$sock" \
	FLOWSCOPE_GEN_RATE=1k -n -i flowscope:gen -w "$out"
pid=$BG_PID
wait_listening "$WORK/gen.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/gen.stderr"
wait_socket "$sock" "$pid" || fail_log "no control socket at $sock" "$WORK/gen.stderr"

ms() { echo $(($(date +%s%N) / 1000000)); }

# crowd N: N silent clients in the background; waits until all connected
crowd() {
	local n=$1 f=$WORK/silent$1 i
	bg_start "$f.out" "$f.err" "$SILENT" "$sock" "$n" 20
	SILENT_PID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		grep -q "^connected $n\$" "$f.out" && return 0
		kill -0 "$SILENT_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail_log "fs-silent did not connect $n clients" "$f.err" "$f.out"
}

# timed WHAT MAX_MS CMD...: run CMD, fail unless it succeeds within MAX_MS
timed() {
	local what=$1 max=$2 t0 t1 rc
	shift 2
	t0=$(ms)
	"$@" >"$WORK/timed.out" 2>"$WORK/timed.err"
	rc=$?
	t1=$(ms)
	expect_ok "$rc" "$what" "$WORK/timed.err" "$WORK/timed.out"
	[ $((t1 - t0)) -le "$max" ] ||
		fail_log "$what took $((t1 - t0)) ms, more than $max ms" "$WORK/timed.out"
	say "  $what: $((t1 - t0)) ms"
}

check "30 silent clients connected: ping and stats answer within 1 s"
crowd 30
timed "flowscope-ctl ping" 1000 ctl "$sock" ping
grep -qx pong "$WORK/timed.out" || fail_log "ping did not answer pong" "$WORK/timed.out"
timed "flowscope-ctl stats" 1000 ctl "$sock" stats
[ "$(stat_value "$WORK/timed.out" received)" -gt 0 ] 2>/dev/null ||
	fail_log "stats: nothing received" "$WORK/timed.out"

check "the 30 silent clients are dropped together, about 2 s after they connected"
bg_wait "$SILENT_PID" 25 || fail "fs-silent did not end"
read -r _ closed after <<<"$(grep '^closed ' "$WORK/silent30.out")"
[ "$closed" = 30 ] || fail_log "the server closed $closed of the 30 silent clients" "$WORK/silent30.out"
awk -v a="$after" 'BEGIN { exit !(a >= 1.5 && a <= 4.0) }' ||
	fail "the last silent client was closed after $after s, not about 2 s"
say "  all 30 closed within $after s"

check "100 silent clients (more than the 64 served at once): ping answers within 1 s"
crowd 100
timed "flowscope-ctl ping" 1000 ctl "$sock" ping
grep -qx pong "$WORK/timed.out" || fail_log "ping did not answer pong" "$WORK/timed.out"
kill_tree "$SILENT_PID"

stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/gen.stderr"
pass
