#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# dump_dir.sh: FLOWSCOPE_DUMP_DIR=D writes every triggered flow to its own
# pcap file in D, in trigger mode and in live mode: one file per flow,
# named <first packet time YYYYMMDD-HHMMSS.nnnnnnnnn>_<proto>_<addrA>_
# <portA>_<addrB>_<portB>.pcap, mode 0600, a nanosecond-precision pcap
# holding exactly that flow's packets in order with their original
# timestamps. A dump_dir that does not exist is refused at activation with
# a message naming dump_dir; a file already there (or a symlink) is never
# written over or through, and capture goes on.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_tshark

RST='tcp[tcpflags] & tcp-rst != 0'
# nanosecond timestamps (not whole microseconds), so that the files are
# seen to keep them
mktrace_summary t --packets 2000 --flows 20 --proto mixed --size 200 --nano --rst-every 4
t=$WORK/t.pcap
flows=$(summary_value t rst_flows)
oracle_flows "$t" 'tcp.flags.reset == 1' "$WORK/expected.pcap"
[ "$ORACLE_COUNT" = "$(summary_value t rst_flow_packets)" ] ||
	fail "test bug: the oracle finds $ORACLE_COUNT packets, fs-mktrace wrote $(summary_value t rst_flow_packets)"
expect_trigger_matches "$t" "$RST" "$flows"

check "trigger mode: tcpdump gets the $flows RST flows, dump_dir holds one file for each"
mkdir "$WORK/dump1" || fail "mkdir failed"
out=$WORK/trigger.pcap
td_capture "$out" TZ=UTC FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_DUMP_DIR="$WORK/dump1" --time-stamp-precision=nano -n -i "flowscope:file=$t"
expect_same --nano --per-flow "$WORK/expected.pcap" "$out"
check_dump_dir "$WORK/dump1" "$flows" "$WORK/expected.pcap"

check "live mode: tcpdump gets the whole trace, dump_dir holds one file per triggered flow"
mkdir "$WORK/dump2" || fail "mkdir failed"
out=$WORK/live.pcap
td_capture "$out" TZ=UTC FLOWSCOPE_TRIGGER="$RST" FLOWSCOPE_DUMP_DIR="$WORK/dump2" \
	--time-stamp-precision=nano -n -i "flowscope:file=$t"
expect_same --nano "$t" "$out"
check_dump_dir "$WORK/dump2" "$flows" "$WORK/expected.pcap"

check "a dump_dir that does not exist is refused at activation, naming dump_dir"
fs_tcpdump TZ=UTC FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_DUMP_DIR="$WORK/no/such/dir" -n -i "flowscope:file=$t" \
	-w "$WORK/nodir.pcap" >/dev/null 2>"$WORK/nodir.err"
rc=$?
case $rc in
0) fail_log "tcpdump accepted a dump_dir that does not exist" "$WORK/nodir.err" ;;
124 | 137) fail_log "tcpdump hung: $(describe_rc "$rc")" "$WORK/nodir.err" ;;
esac
[ "$rc" -lt 128 ] || fail_log "tcpdump crashed: $(describe_rc "$rc")" "$WORK/nodir.err"
grep -q 'dump_dir' "$WORK/nodir.err" || fail_log "the error does not name dump_dir" "$WORK/nodir.err"
[ ! -e "$WORK/no" ] || fail "flowscope created the missing dump_dir's parent"
say "  tcpdump said: $(grep -v '^Running as' "$WORK/nodir.err" | head -n 2 | tr '\n' ' ')"

# Where the first two flows' files would go: a symlink to a file outside
# and a file that exists already (both possible names of each). Neither
# may be written to; the capture goes on and the other flows are dumped.
check "a dump file is never written through a symlink or over an existing file"
mkdir "$WORK/dump3" || fail "mkdir failed"
echo precious >"$WORK/victim"
dump_names "$WORK/expected.pcap" >"$WORK/names.txt"
read -r n1 n2 < <(sed -n 1p "$WORK/names.txt")
ln -s "$WORK/victim" "$WORK/dump3/$n1" || fail "ln -s failed"
ln -s "$WORK/victim" "$WORK/dump3/$n2" || fail "ln -s failed"
read -r n3 n4 < <(sed -n 2p "$WORK/names.txt")
echo existing >"$WORK/dump3/$n3" || fail "cannot write $n3"
echo existing >"$WORK/dump3/$n4" || fail "cannot write $n4"
out=$WORK/guarded.pcap
td_capture "$out" TZ=UTC FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$RST" \
	FLOWSCOPE_DUMP_DIR="$WORK/dump3" --time-stamp-precision=nano -n -i "flowscope:file=$t"
expect_same --nano --per-flow "$WORK/expected.pcap" "$out"
[ "$(cat "$WORK/victim")" = precious ] || fail "a dump was written through a symlink into $WORK/victim"
for f in "$n3" "$n4"; do
	[ "$(cat "$WORK/dump3/$f")" = existing ] || fail "an existing file was written over: $f"
done
for f in "$n1" "$n2"; do
	[ -L "$WORK/dump3/$f" ] || fail "the symlink $f was replaced"
done
others=0
while read -r n1 n2; do
	if [ -f "$WORK/dump3/$n1" ] || [ -f "$WORK/dump3/$n2" ]; then
		others=$((others + 1))
	fi
done < <(sed 1,2d "$WORK/names.txt")
[ "$others" -eq $((flows - 2)) ] ||
	fail "the $((flows - 2)) other flows were not all dumped ($others files): $(ls "$WORK/dump3")"

pass
