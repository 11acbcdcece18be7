#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# ctl_user.sh: a capture by a user other than root gets a control socket
# of its own without any setting. tcpdump on flowscope:gen runs as nobody
# (setpriv), with XDG_RUNTIME_DIR naming a directory of nobody's:
#  (a) the socket is $XDG_RUNTIME_DIR/flowscope/<pid>-gen.sock, mode 0600,
#      in a directory of nobody's of mode 0700 that flowscope made, and
#      flowscope-ctl run as nobody finds it (list; stats with no socket
#      argument);
#  (b) without XDG_RUNTIME_DIR: /run/user/UID/flowscope when that exists,
#      else /tmp/flowscope-UID, and flowscope-ctl finds that one too;
#  (c) a secure-execution flowscope-ctl (a copy with a file capability)
#      ignores XDG_RUNTIME_DIR and so does not see the socket of (a)
#      (skipped where file capabilities cannot be set).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_ctl
need_cmd setpriv
id nobody >/dev/null 2>&1 || skip "no user nobody"
uid=$(id -u nobody)
gid=$(id -g nobody)

# as_user CMD...: CMD as nobody, without root's groups or capabilities
as_user() {
	setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
}
as_user test -x "$FS_RUN" -a -x "$CTL" -a -r "$(dirname "$FS_RUN")" ||
	skip "nobody cannot run $FS_RUN and $CTL (build directory not open to others)"

# nobody's own scratch: $WORK is root's and private
home=$(mktemp -d /tmp/fs-ctl-user.XXXXXX) || fail "mktemp failed"
at_exit rm -rf -- "$home"
chown "$uid:$gid" "$home"
run=$home/run
as_user mkdir -m 0700 "$run" || fail "nobody cannot create $run"

# user_capture NAME [VAR=VALUE...]: tcpdump -w $home/NAME.pcap on
# flowscope:gen as nobody, in the background (BG_PID); waits until it
# listens and sets TPID to its pid
user_capture() {
	local name=$1 i
	shift
	bg_start "$WORK/$name.stdout" "$WORK/$name.stderr" as_user env "$@" \
		FLOWSCOPE_GEN_RATE=1k "$FS_RUN" timeout -k 5 "$FS_TIMEOUT" \
		"$TCPDUMP" -n -i flowscope:gen -w "$home/$name.pcap"
	wait_listening "$WORK/$name.stderr" "$BG_PID" ||
		fail_log "tcpdump as nobody did not start" "$WORK/$name.stderr"
	TPID=$(tcpdump_pid "$home/$name.pcap")
	[ -n "$TPID" ] || fail "cannot find the tcpdump writing $name.pcap"
}

# expect_private_socket SOCKET: a socket of nobody's, mode 0600, in a
# directory of nobody's, mode 0700
expect_private_socket() {
	local s=$1 d=${1%/*}
	[ -S "$s" ] || fail "no socket $s ($(ls -la "$d" 2>&1 | tr '\n' ' '))"
	[ "$(stat -c '%u %a' "$s")" = "$uid 600" ] ||
		fail "$s: owner and mode $(stat -c '%u %a' "$s"), not $uid 600"
	[ "$(stat -c '%u %a' "$d")" = "$uid 700" ] ||
		fail "$d: owner and mode $(stat -c '%u %a' "$d"), not $uid 700"
}

# user_ctl_finds SOCKET [VAR=VALUE...]: flowscope-ctl list, as nobody
# with the variables, shows SOCKET; stats without -s answers from it
user_ctl_finds() {
	local s=$1
	shift
	as_user env "$@" timeout -k 2 10 "$CTL" list >"$WORK/list.txt" 2>"$WORK/list.err" ||
		fail_log "flowscope-ctl list as nobody failed" "$WORK/list.err"
	grep -q "^$s " "$WORK/list.txt" ||
		fail_log "flowscope-ctl list as nobody does not show $s" "$WORK/list.txt" "$WORK/list.err"
	as_user env "$@" timeout -k 2 10 "$CTL" stats >"$WORK/stats.txt" 2>"$WORK/stats.err" ||
		fail_log "flowscope-ctl stats as nobody failed" "$WORK/stats.err"
	[ "$(stat_value "$WORK/stats.txt" received)" -gt 0 ] 2>/dev/null ||
		fail_log "stats: nothing received" "$WORK/stats.txt"
	say "  flowscope-ctl as nobody: $(head -n 1 "$WORK/list.txt"); received $(stat_value "$WORK/stats.txt" received)"
}

check "(a) tcpdump as nobody with XDG_RUNTIME_DIR=$run: the socket is in $run/flowscope"
user_capture xdg XDG_RUNTIME_DIR="$run"
pid_a=$BG_PID
sock_a=$run/flowscope/$TPID-gen.sock
for ((i = 0; i < 50; i++)); do
	[ -S "$sock_a" ] && break
	sleep 0.1
done
expect_private_socket "$sock_a"
user_ctl_finds "$sock_a" XDG_RUNTIME_DIR="$run"

check "(b) without XDG_RUNTIME_DIR: /run/user/$uid/flowscope or /tmp/flowscope-$uid"
if [ -d "/run/user/$uid" ] && [ "$(stat -c %u "/run/user/$uid")" = "$uid" ]; then
	dir_b=/run/user/$uid/flowscope
else
	dir_b=/tmp/flowscope-$uid
fi
[ -e "$dir_b" ] || at_exit _fs_quiet rmdir "$dir_b"
user_capture plain -u XDG_RUNTIME_DIR
pid_b=$BG_PID
sock_b=$dir_b/$TPID-gen.sock
for ((i = 0; i < 50; i++)); do
	[ -S "$sock_b" ] && break
	sleep 0.1
done
expect_private_socket "$sock_b"
user_ctl_finds "$sock_b" -u XDG_RUNTIME_DIR
as_user env XDG_RUNTIME_DIR="$run" timeout -k 2 10 "$CTL" list >"$WORK/list.txt" 2>&1
! grep -q "$sock_b" "$WORK/list.txt" ||
	fail_log "flowscope-ctl with XDG_RUNTIME_DIR set lists $sock_b as well" "$WORK/list.txt"

check "(c) secure execution: flowscope-ctl with a file capability ignores XDG_RUNTIME_DIR"
capctl=$home/flowscope-ctl-cap
cp "$CTL" "$capctl" && chmod 755 "$capctl"
if command -v setcap >/dev/null 2>&1 &&
   setcap cap_net_bind_service+ep "$capctl" 2>"$WORK/setcap.err"; then
	as_user env XDG_RUNTIME_DIR="$run" timeout -k 2 10 "$capctl" list \
		>"$WORK/caplist.txt" 2>&1
	! grep -q "$sock_a" "$WORK/caplist.txt" ||
		fail_log "a secure-execution flowscope-ctl trusted XDG_RUNTIME_DIR" "$WORK/caplist.txt"
	grep -q "^$sock_b " "$WORK/caplist.txt" ||
		fail_log "a secure-execution flowscope-ctl does not look in $dir_b" "$WORK/caplist.txt"
	say "  it lists $sock_b, not $sock_a"
else
	say "  cannot set a file capability here: skipped ($(head -n 1 "$WORK/setcap.err" 2>/dev/null))"
fi

for p in "$pid_a:$home/xdg.pcap" "$pid_b:$home/plain.pcap"; do
	stop_tcpdump "${p#*:}" "${p%%:*}"
	expect_ok "$BG_RC" "tcpdump as nobody after SIGINT" "$WORK/xdg.stderr" "$WORK/plain.stderr"
done
[ ! -e "$sock_a" ] || fail "$sock_a is still there after the capture ended"
[ ! -e "$sock_b" ] || fail "$sock_b is still there after the capture ended"
pass
