#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# dump_privsep.sh: a plain tcpdump (no -Z root: it turns into user
# tcpdump right after pcap_activate) still gets everything flowscope does
# with root's privileges: every triggered flow's file in a root-owned
# 0755 dump_dir, and its control socket removed when it ends (in
# /run/flowscope, or a private directory). Also as a library user that
# drops its euid and closes and reopens a capture: the socket goes with
# each pcap_close(), the next capture's stays, no SIGCHLD. A dump_dir
# that fails (a full file system) is said on stderr while capturing, once
# and then summed up, never on stdout; capture goes on.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_ctl
id tcpdump >/dev/null 2>&1 || skip "there is no user tcpdump to drop to"

# td_plain [VAR=VALUE...] ARGS...: /usr/bin/tcpdump ARGS through fs_run,
# without -Z root: tcpdump drops to its own user after pcap_activate().
td_plain() {
	fs_run "$@"
}

# Every flow ends with a RST that triggers it, in the last round of the
# trace: each flow's whole history is copied out at once. They hold 20 MB,
# more than the 8 MiB delivery lane of a 32m buffer, so the file source
# waits for tcpdump to read, which it does only after dropping root: most
# files are created by then.
mktrace_summary t --packets 20000 --flows 40 --proto tcp --size 1000 --nano --rst-every 1
t=$WORK/t.pcap
flows=$(summary_value t rst_flows)
[ "$flows" = 40 ] || fail "test bug: fs-mktrace wrote $flows RST flows, not 40"
RST='tcp[tcpflags] & tcp-rst != 0'
expect_trigger_matches "$t" "$RST" "$flows"

check "plain tcpdump: dump_dir (root's, 0755) gets one file per triggered flow"
dump=$WORK/dump
mkdir -m 0755 "$dump" "$WORK/pub" || fail "mkdir failed"
mkdir -m 0700 "$WORK/run" || fail "mkdir failed"
chmod 0755 "$WORK"	# the dump_dir is reachable; the run directory is not
chmod 1777 "$WORK/pub"	# tcpdump's own -w file, written as user tcpdump
sock=$WORK/run/ctl.sock
out=$WORK/pub/trigger.pcap
td_plain TZ=UTC FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_BUFFER=32m \
	FLOWSCOPE_DUMP_DIR="$dump" FLOWSCOPE_CONTROL="$sock" "$TCPDUMP" \
	--time-stamp-precision=nano -n -i "flowscope:file=$t" -w "$out" \
	>"$WORK/plain.stdout" 2>"$WORK/plain.stderr"
expect_ok $? "tcpdump -w ${out##*/} (no -Z root)" "$WORK/plain.stderr"
grep -q "listening on" "$WORK/plain.stderr" ||
	fail_log "tcpdump did not start as expected" "$WORK/plain.stderr"
[ "$(stat -c %U "$out")" = tcpdump ] ||
	fail "tcpdump wrote ${out##*/} as $(stat -c %U "$out"), not as user tcpdump: it kept root"
! grep -q '^flowscope: ' "$WORK/plain.stderr" ||
	fail_log "flowscope reported errors" "$WORK/plain.stderr"
expect_same --nano --per-flow "$t" "$out"
check_dump_dir "$dump" "$flows" "$t"
say "  $(find "$dump" -type f -user root | grep -c .) files, owned by root"

check "plain tcpdump: its control socket is removed when the capture ends by itself"
[ ! -e "$sock" ] && [ ! -L "$sock" ] ||
	fail "$sock is left behind after tcpdump exited: $(ls -l "$WORK/run")"

check "plain tcpdump: its socket in /run/flowscope goes away after Ctrl-C; the helper too"
out=$WORK/pub/gen.pcap
bg_start "$WORK/gen.stdout" "$WORK/gen.stderr" td_plain FLOWSCOPE_GEN_RATE=200 \
	FLOWSCOPE_DUMP_DIR="$dump" "$TCPDUMP" -n -i flowscope:gen -w "$out"
pid=$BG_PID
wait_listening "$WORK/gen.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/gen.stderr"
tpid=$(tcpdump_pid "$out")
[ -n "$tpid" ] || fail "cannot find the tcpdump process"
gsock=/run/flowscope/$tpid-gen.sock
[ -S "$gsock" ] || fail "no control socket $gsock while tcpdump runs: $(ls /run/flowscope 2>&1 | head)"
[ "$(ps -o user= -p "$tpid")" = tcpdump ] ||
	fail "tcpdump runs as $(ps -o user= -p "$tpid"), not as user tcpdump"
helper=$(ps --ppid "$tpid" -o pid=,user=,comm= | awk '$3 == "fs-privsep" { print $1, $2 }')
[ -n "$helper" ] || fail "tcpdump has no fs-privsep child: $(ps --ppid "$tpid" -o pid=,user=,comm=)"
read -r hpid huser <<<"$helper"
[ "$huser" = root ] || fail "the helper runs as $huser"
say "  tcpdump $tpid runs as tcpdump, its helper $hpid as root, holding: $(ls "/proc/$hpid/fd" | tr '\n' ' ')"
# the helper holds the socket pair and dump_dir, nothing of tcpdump's
nfd=$(ls "/proc/$hpid/fd" | grep -c .)
[ "$nfd" -le 2 ] || fail "the helper holds $nfd descriptors: $(ls -l "/proc/$hpid/fd")"
# it takes no signal but SIGKILL and SIGSTOP (SIGINT and SIGTERM to the
# process group must not end it before it removed the socket)
blk=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$hpid/status")
for sig in HUP INT TERM USR1 CHLD PIPE; do
	n=$(kill -l "$sig")
	(( (16#$blk >> (n - 1)) & 1 )) || fail "the helper does not block SIG$sig (SigBlk $blk)"
done
say "  helper: $(grep -E '^(Seccomp|NoNewPrivs):' "/proc/$hpid/status" | tr -s '\t\n' '  ')"
answer=$(ctl "$gsock" ping 2>&1) || fail "the control socket does not answer: $answer"
stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/gen.stderr"
[ ! -e "$gsock" ] || fail "$gsock is left behind after tcpdump exited"
! kill -0 "$hpid" 2>/dev/null || fail "the helper $hpid still runs after tcpdump exited"

check "pcap_close() without privileges removes the socket; a new capture keeps its own; no SIGCHLD"
[ -x "$FS_TOOLS/fs-pcapapi" ] || fail "$FS_TOOLS/fs-pcapapi is missing"
rsock=$WORK/run/reopen.sock
fs_run FLOWSCOPE_GEN_RATE=100 FLOWSCOPE_CONTROL="$rsock" \
	"$FS_TOOLS/fs-pcapapi" --control-reopen flowscope:gen "$rsock" \
	>"$WORK/reopen.out" 2>"$WORK/reopen.err"
rc=$?
sed 's/^/  /' "$WORK/reopen.out"
[ "$rc" -eq 0 ] || fail_log "fs-pcapapi --control-reopen: $(describe_rc "$rc")" "$WORK/reopen.out" "$WORK/reopen.err"

check "a full dump_dir is said on stderr while capturing, once, then summed up; capture goes on"
full=$WORK/full
mkdir -m 0755 "$full" || fail "mkdir failed"
if ! mount -t tmpfs -o size=64k,mode=0755 fsfull "$full" 2>"$WORK/mount.err"; then
	say "  cannot mount a small tmpfs here ($(cat "$WORK/mount.err")): not checked"
	pass
fi
at_exit _fs_quiet umount -l "$full"
out=$WORK/pub/full.pcap
fsock=$WORK/run/full.sock
bg_start "$WORK/full.stdout" "$WORK/full.stderr" td_plain FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_TRIGGER=udp FLOWSCOPE_GEN_RATE=5000 FLOWSCOPE_DUMP_DIR="$full" \
	FLOWSCOPE_CONTROL="$fsock" "$TCPDUMP" -n -i flowscope:gen -w "$out"
pid=$BG_PID
wait_listening "$WORK/full.stderr" "$pid" || fail_log "tcpdump did not start" "$WORK/full.stderr"
for ((i = 0; i < 100; i++)); do
	grep -q '^flowscope: dump_dir' "$WORK/full.stderr" && break
	kill -0 "$pid" 2>/dev/null || fail_log "tcpdump ended" "$WORK/full.stderr"
	sleep 0.1
done
line=$(grep '^flowscope: dump_dir' "$WORK/full.stderr" | head -n 1)
[ -n "$line" ] || fail_log "no line about the full dump_dir on stderr after 10 s" "$WORK/full.stderr"
say "  tcpdump said: $line"
kill -0 "$pid" 2>/dev/null || fail_log "tcpdump ended instead of capturing on" "$WORK/full.stderr"
for want in "dump_dir $full:" '\.pcap: No space left on device' 'capture goes on' 'dump_errors'; do
	grep -q -- "$want" <<<"$line" || fail "the line does not say '$want': $line"
done
sleep 2
ctl "$fsock" stats >"$WORK/full.stats" 2>&1 || fail_log "flowscope-ctl stats failed" "$WORK/full.stats"
errors=$(stat_value "$WORK/full.stats" dump_errors)
lines=$(grep -c '^flowscope: dump_dir' "$WORK/full.stderr")
[ "${errors:-0}" -gt 1 ] || fail_log "dump_errors is '$errors', not more than 1" "$WORK/full.stats"
[ "$lines" -eq 1 ] || fail_log "$lines lines for $errors errors within 10 s, not 1" "$WORK/full.stderr"
say "  dump_errors $errors, $lines line so far"
stop_tcpdump "$out" "$pid"
expect_ok "$BG_RC" "tcpdump after SIGINT" "$WORK/full.stderr"
[ "$(pcap_count "$out")" -gt 0 ] || fail "tcpdump captured nothing"
! grep -q '^flowscope: ' "$WORK/full.stdout" || fail "flowscope wrote to stdout"
grep -q '^flowscope: dump_dir .* more dump error' "$WORK/full.stderr" ||
	fail_log "the errors after the first are not summed up at the end" "$WORK/full.stderr"
# what was written stays readable
for f in "$full"/*; do
	[ -e "$f" ] || continue
	stock_run "$TCPDUMP" -r "$f" -w /dev/null 2>"$WORK/read.err" ||
		fail_log "${f##*/} in the full dump_dir is not a readable capture" "$WORK/read.err"
done

pass
