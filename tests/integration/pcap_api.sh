#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# pcap_api.sh: the libpcap API on flowscope devices as applications use it
# (fs-pcapapi: handles side by side, reopen, non-blocking mode, timeout,
# breakloop from another thread, selectable fd, stats, end of file=), and
# two processes capturing at once.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
API=$FS_TOOLS/fs-pcapapi
[ -x "$API" ] || fail "$API is missing"

"$MKTRACE" -o "$WORK/t.pcap" --packets 3000 --flows 20 --mixed || fail "fs-mktrace failed"

check "fs-pcapapi on flowscope:file= and flowscope:gen"
fs_run "$API" "$WORK/t.pcap" 3000 >"$WORK/api.out" 2>&1
rc=$?
cat "$WORK/api.out"
[ "$rc" -eq 0 ] || fail "fs-pcapapi: $(describe_rc "$rc")"

check "pcap_dispatch returns at its timeout under traffic that is never delivered (trigger mode; a filter that rejects all)"
# a looped trace at full speed in trigger mode, nothing triggered: the
# reader is woken again and again to help analyze, and delivers nothing
"$MKTRACE" -o "$WORK/small.pcap" --packets 1000 --flows 100 --size 64 ||
	fail "fs-mktrace failed"
fs_run env FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$WORK/small.pcap,infinite_rx=1" \
	"$API" --quiet flowscope:dpdk0 >"$WORK/quiet.out" 2>&1
rc=$?
cat "$WORK/quiet.out"
[ "$rc" -eq 0 ] || fail "fs-pcapapi --quiet: $(describe_rc "$rc")"
# live, and the application's filter rejects every packet
fs_run env FLOWSCOPE_EAL="--vdev=net_pcap0,rx_pcap=$WORK/small.pcap,infinite_rx=1" \
	"$API" --quiet flowscope:dpdk0 "greater 2000" >"$WORK/quiet2.out" 2>&1
rc=$?
cat "$WORK/quiet2.out"
[ "$rc" -eq 0 ] || fail "fs-pcapapi --quiet with a filter: $(describe_rc "$rc")"

check "two tcpdump processes capture at once, each gets its own complete copy"
fs_tcpdump -n -i "flowscope:file=$WORK/t.pcap" -w "$WORK/p1.pcap" 2>"$WORK/p1.err" &
p1=$!
fs_tcpdump -n -i "flowscope:file=$WORK/t.pcap" -w "$WORK/p2.pcap" 2>"$WORK/p2.err" &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
expect_ok "$r1" "first tcpdump" "$WORK/p1.err"
expect_ok "$r2" "second tcpdump" "$WORK/p2.err"
expect_same "$WORK/t.pcap" "$WORK/p1.pcap"
expect_same "$WORK/t.pcap" "$WORK/p2.pcap"

check "SIGINT stops a live capture: exit 0, a complete file, statistics printed"
fs_tcpdump -n -i flowscope:gen -w "$WORK/int.pcap" 2>"$WORK/int.err" &
pid=$!
# tcpdump takes SIGINT as its own once it is listening (under a
# sanitizer, activation alone may take seconds)
FS_SETTLE=1 wait_listening "$WORK/int.err" "$pid" 60 ||
	fail_log "tcpdump on flowscope:gen did not start" "$WORK/int.err"
# the signal goes to tcpdump itself, as a Ctrl-C would
tpid=$(pgrep -o -f "^$TCPDUMP .*$WORK/int.pcap")
[ -n "$tpid" ] || fail "cannot find the tcpdump process"
kill -INT "$tpid"
wait "$pid"
rc=$?
expect_ok "$rc" "tcpdump after SIGINT" "$WORK/int.err"
grep -q 'packets captured' "$WORK/int.err" || fail_log "no statistics after SIGINT" "$WORK/int.err"
n=$(pcap_count "$WORK/int.pcap")
[ "$n" != "?" ] && [ "$n" -gt 0 ] || fail "the file written before SIGINT is unreadable or empty ($n)"
say "  $n packets before SIGINT"
pass
