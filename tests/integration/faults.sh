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
check "dump_dir on a full file system: counted, files stay valid, capture goes on"
mkdir "$WORK/small"
mount -t tmpfs -o size=64k tmpfs "$WORK/small" 2>"$WORK/mount.err" ||
	skip "cannot mount a tmpfs: $(cat "$WORK/mount.err")"
at_exit _fs_quiet umount "$WORK/small"
"$MKTRACE" -o "$WORK/big.pcap" --packets 6000 --flows 40 --size 300 || fail "fs-mktrace failed"
sock=$WORK/full.sock
fs_tcpdump FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER='udp' FLOWSCOPE_DUMP_DIR="$WORK/small" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$WORK/big.pcap" -w "$WORK/full.pcap" \
	>"$WORK/full.out" 2>&1
expect_ok $? "tcpdump with a full dump_dir" "$WORK/full.out"
expect_same --per-flow "$WORK/big.pcap" "$WORK/full.pcap"
n=0
for f in "$WORK"/small/*.pcap; do
	[ -e "$f" ] || continue
	[ "$(pcap_count "$f")" != "?" ] || fail "${f##*/} on the full file system is not a valid capture file"
	n=$((n + 1))
done
say "  $n files on the full 64 KiB file system, all valid; tcpdump got every packet"

check "dump_dir removed while capturing: counted, capture goes on"
mkdir "$WORK/gone"
fs_tcpdump FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER='udp' FLOWSCOPE_DUMP_DIR="$WORK/gone" \
	FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_GEN_RATE=300 FLOWSCOPE_GEN_FLOWS=100000 \
	-n -i flowscope:gen -w "$WORK/gone.pcap" >"$WORK/gone2.out" 2>&1 &
pid=$!
sleep 2
# new flows keep creating files while rm works: try until it is gone
for ((i = 0; i < 100; i++)); do
	rm -rf "$WORK/gone" 2>/dev/null
	[ -e "$WORK/gone" ] || break
done
[ ! -e "$WORK/gone" ] || fail "cannot remove $WORK/gone"
sleep 2
if [ -n "${FS_CTL:-}" ] && [ -x "$FS_CTL" ]; then
	"$FS_CTL" -s "$sock" stats >"$WORK/gone.stats" 2>&1 || fail_log "stats failed" "$WORK/gone.stats"
	e=$(sed -n 's/^dump_errors //p' "$WORK/gone.stats")
	[ -n "$e" ] && [ "$e" -gt 0 ] || fail_log "dump_errors is not counted" "$WORK/gone.stats"
	say "  dump_errors $e after the directory was removed"
fi
stop_tcpdump "$WORK/gone.pcap" "$pid"
n=$(pcap_count "$WORK/gone.pcap")
[ "$n" != "?" ] && [ "$n" -gt 0 ] || fail "capture stopped when the dump_dir went away ($n)"
pass
