#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# faults.sh: what goes wrong around a capture ends it cleanly or is
# counted: an interface that disappears or goes down (a clear pcap error,
# no hang), a damaged capture file, SIGTERM during a trigger-mode capture
# with -w and dump_dir (every file complete and valid).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_root
need_cmd ip

check "an interface that disappears ends the capture with an error"
A=fsfa$$
B=fsfb$$
ip link add "$A" type veth peer name "$B" || fail "cannot create veth pair"
at_exit _fs_quiet ip link delete "$A"
ip link set "$A" up && ip link set "$B" up || fail "cannot bring the veth pair up"
fs_tcpdump -n -i "flowscope:$A" -w "$WORK/gone.pcap" >"$WORK/gone.out" 2>&1 &
pid=$!
sleep 3
ip link delete "$A"
bg_wait "$pid" 15 || fail_log "tcpdump kept running after $A disappeared" "$WORK/gone.out"
wait "$pid"
rc=$?
[ "$rc" -eq 1 ] || fail_log "tcpdump exited $rc, not 1" "$WORK/gone.out"
grep -q "$A: the interface disappeared" "$WORK/gone.out" ||
	fail_log "no message naming the interface" "$WORK/gone.out"
say "  tcpdump said: $(grep pcap_loop "$WORK/gone.out")"

check "an interface that goes down ends the capture with an error"
ip link add "$A" type veth peer name "$B" || fail "cannot create veth pair"
ip link set "$A" up && ip link set "$B" up || fail "cannot bring the veth pair up"
fs_tcpdump -n -i "flowscope:$A" -w "$WORK/down.pcap" >"$WORK/down.out" 2>&1 &
pid=$!
sleep 3
ip link set "$A" down
bg_wait "$pid" 15 || fail_log "tcpdump kept running after $A went down" "$WORK/down.out"
grep -q "$A: the interface went down" "$WORK/down.out" ||
	fail_log "no message saying the interface went down" "$WORK/down.out"

check "a damaged capture file: the readable packets, then a clear error"
"$MKTRACE" -o "$WORK/t.pcap" --packets 100 --size 100 || fail "fs-mktrace failed"
# cut in the middle of packet 51 (24-byte file header, 116 bytes a packet)
head -c $((24 + 50 * 116 + 40)) "$WORK/t.pcap" >"$WORK/cut.pcap"
fs_tcpdump -n -i "flowscope:file=$WORK/cut.pcap" -w "$WORK/cut.out.pcap" >"$WORK/cut.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail_log "tcpdump accepted a truncated file silently" "$WORK/cut.out"
[ "$rc" -lt 128 ] || fail_log "tcpdump crashed: $(describe_rc "$rc")" "$WORK/cut.out"
grep -q 'cut.pcap' "$WORK/cut.out" || fail_log "the error does not name the file" "$WORK/cut.out"
expect_count 50 "$WORK/cut.out.pcap"
say "  tcpdump said: $(grep pcap_loop "$WORK/cut.out")"
printf 'not a capture file at all' >"$WORK/junk.pcap"
fs_tcpdump -n -i "flowscope:file=$WORK/junk.pcap" >"$WORK/junk.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail_log "tcpdump exited $rc on a junk file" "$WORK/junk.out"
grep -q 'junk.pcap' "$WORK/junk.out" || fail_log "the error does not name the file" "$WORK/junk.out"

check "SIGTERM in trigger mode with -w and dump_dir: complete, valid files"
mkdir -m 700 "$WORK/dump"
fs_tcpdump FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER='udp' FLOWSCOPE_DUMP_DIR="$WORK/dump" \
	FLOWSCOPE_GEN_RATE=50k FLOWSCOPE_GEN_FLOWS=20 FLOWSCOPE_CONTROL=off \
	-n -i flowscope:gen -w "$WORK/term.pcap" >"$WORK/term.out" 2>&1 &
pid=$!
sleep 3
tpid=$(tcpdump_pid "$WORK/term.pcap")
[ -n "$tpid" ] || fail "cannot find tcpdump"
kill -TERM "$tpid"
bg_wait "$pid" 15 || fail_log "tcpdump did not stop after SIGTERM" "$WORK/term.out"
n=$(pcap_count "$WORK/term.pcap")
[ "$n" != "?" ] && [ "$n" -gt 0 ] || fail_log "term.pcap is unreadable or empty ($n)" "$WORK/term.out"
files=0
total=0
for f in "$WORK"/dump/*.pcap; do
	[ -e "$f" ] || continue
	m=$(pcap_count "$f")
	[ "$m" != "?" ] || fail "dump file ${f##*/} is not a valid capture file"
	files=$((files + 1))
	total=$((total + m))
done
[ "$files" -eq 20 ] || fail "$files dump files, not one per flow (20)"
# tcpdump stops reading at the signal; the dumper completes what was
# delivered, so the dump files hold at least what tcpdump wrote
[ "$total" -ge "$n" ] || fail "the dump files hold $total packets, tcpdump wrote $n"
say "  tcpdump wrote $n packets; $files dump files hold $total"
pass
