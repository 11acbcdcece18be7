#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# memory.sh: a buffer larger than what the machine can give (MemAvailable),
# or than what the process's memory cgroup allows, is a clean activate
# error that names what is available: tcpdump exits 1 at once, nobody is
# killed by the kernel's OOM killer, and a buffer that fits still works in
# the same cgroup.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools

oom_kills() {
	dmesg 2>/dev/null | grep -c -i -E 'out of memory|oom-kill' || true
}
kills_before=$(oom_kills)

# run_td OUT [VAR=VALUE...]: a 3-packet capture of gen; status in $RC
run_td() {
	local out=$1
	shift
	fs_tcpdump "$@" FLOWSCOPE_GEN_PACKETS=3 -n -i flowscope:gen -w "$out.pcap" \
		>"$out.out" 2>"$out.err"
	RC=$?
}

avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
[ -n "$avail_kb" ] || skip "no MemAvailable in /proc/meminfo"
big=$((avail_kb / 1024 / 1024 + 2))g
check "buffer = $big (MemAvailable is $((avail_kb / 1024)) MiB) is refused at once"
start=$(date +%s)
run_td "$WORK/big" FLOWSCOPE_BUFFER="$big"
took=$(($(date +%s) - start))
[ "$RC" = 1 ] || fail_log "tcpdump did not exit 1: $(describe_rc "$RC")" "$WORK/big.err"
grep -q 'buffer: cannot reserve .* can be had (MemAvailable' "$WORK/big.err" ||
	fail_log "the error does not name what is available" "$WORK/big.err"
[ "$took" -le 20 ] || fail "refusing took $took s"
say "  tcpdump said: $(head -n 1 "$WORK/big.err")"

# a memory cgroup of our own with a 1 GiB limit, v2 or v1
cg=
self=$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ -n "$self" ] && [ -f "/sys/fs/cgroup$self/cgroup.controllers" ] &&
   grep -qw memory "/sys/fs/cgroup$self/cgroup.subtree_control" 2>/dev/null; then
	cg=/sys/fs/cgroup$self/fs-memory-$$
	limit_file=memory.max
else
	v1=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)/\3/p' /proc/self/cgroup)
	if [ -n "$v1" ] && [ -d "/sys/fs/cgroup/memory$v1" ]; then
		cg=/sys/fs/cgroup/memory${v1%/}/fs-memory-$$
		limit_file=memory.limit_in_bytes
	fi
fi
if [ -z "$cg" ] || ! mkdir "$cg" 2>/dev/null; then
	say "no memory cgroup of our own can be made here: skipping the cgroup checks"
else
	at_exit rmdir "$cg"
	echo $((1 << 30)) >"$cg/$limit_file" || fail "cannot set $cg/$limit_file"

	check "buffer = 2g in a cgroup limited to 1 GiB is refused, naming the cgroup"
	(echo "$BASHPID" >"$cg/cgroup.procs" && run_td "$WORK/cg" FLOWSCOPE_BUFFER=2g && exit "$RC")
	RC=$?
	[ "$RC" = 1 ] || fail_log "tcpdump did not exit 1: $(describe_rc "$RC")" "$WORK/cg.err"
	grep -q 'buffer: cannot reserve .* (memory cgroup .*fs-memory-' "$WORK/cg.err" ||
		fail_log "the error does not name the cgroup" "$WORK/cg.err"
	say "  tcpdump said: $(head -n 1 "$WORK/cg.err")"

	check "buffer = 64m in the same cgroup works"
	(echo "$BASHPID" >"$cg/cgroup.procs" && run_td "$WORK/small" FLOWSCOPE_BUFFER=64m && exit "$RC")
	expect_ok $? "tcpdump with buffer = 64m in the cgroup" "$WORK/small.err"
	expect_count 3 "$WORK/small.pcap"
fi

check "nobody was killed by the OOM killer"
[ "$(oom_kills)" = "$kills_before" ] || fail "the kernel log shows a new out-of-memory kill"
pass
