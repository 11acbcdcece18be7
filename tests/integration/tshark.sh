#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tshark.sh: tshark (through dumpcap, which waits on the handle's selectable
# file descriptor) captures from flowscope:file= and flowscope:gen, and
# tshark -D lists flowscope:gen.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
[ -x "$TSHARK" ] || skip "$TSHARK is not installed"

# dumpcap does the capturing; with file capabilities or set-uid the dynamic
# linker ignores LD_LIBRARY_PATH and it would run stock libpcap.
dumpcap=/usr/bin/dumpcap
if [ -u "$dumpcap" ] || { command -v getcap >/dev/null 2>&1 && [ -n "$(getcap "$dumpcap" 2>/dev/null)" ]; }; then
	say "warning: $dumpcap is set-uid or has file capabilities; FS_RUN may not reach it"
fi

"$MKTRACE" -o "$WORK/trace.pcap" --packets 200 --proto mixed --flows 8 ||
	fail "fs-mktrace failed"
stock_run "$TCPDUMP" -r "$WORK/trace.pcap" -c 50 -w "$WORK/first50.pcap" 2>/dev/null ||
	fail "stock tcpdump cannot cut the first 50 packets"

check "tshark -D lists flowscope:gen"
fs_run "$TSHARK" -D >"$WORK/D.out" 2>"$WORK/D.err"
expect_ok $? "tshark -D" "$WORK/D.err"
grep -Eq '^[0-9]+\. flowscope:gen( |$)' "$WORK/D.out" ||
	fail_log "tshark -D does not list flowscope:gen" "$WORK/D.out" "$WORK/D.err"

out=$WORK/file.pcapng
check "tshark -i flowscope:file=trace.pcap -c 50 -w OUT: exit 0, the first 50 packets"
fs_run "$TSHARK" -Q -i "flowscope:file=$WORK/trace.pcap" -c 50 -w "$out" \
	>"$WORK/file.out" 2>"$WORK/file.err"
expect_ok $? "tshark -i flowscope:file=..." "$WORK/file.err"
expect_count 50 "$out"
expect_same "$WORK/first50.pcap" "$out"

check "tshark -n -i flowscope:gen -c 100: 100 UDP packets of 10.0.0.0/16, ports 1234..2234"
fs_run "$TSHARK" -n -i flowscope:gen -c 100 -T fields \
	-e ip.src -e ip.dst -e udp.srcport -e udp.dstport \
	>"$WORK/gen.out" 2>"$WORK/gen.err"
expect_ok $? "tshark -i flowscope:gen -c 100" "$WORK/gen.err"
lines=$(wc -l <"$WORK/gen.out")
[ "$lines" -eq 100 ] || fail_log "tshark printed $lines packets, not 100" "$WORK/gen.out" "$WORK/gen.err"
bad=$(awk -F'\t' '
	$1 !~ /^10\.0\.[0-9]+\.[0-9]+$/ || $2 !~ /^10\.0\.[0-9]+\.[0-9]+$/ ||
	$3 !~ /^[0-9]+$/ || $4 !~ /^[0-9]+$/ ||
	$3 < 1234 || $3 > 2234 || $4 < 1234 || $4 > 2234 { print NR ": " $0; exit }' "$WORK/gen.out")
[ -z "$bad" ] || fail_log "unexpected packet $bad" "$WORK/gen.out"

pass
