#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# spool.sh: spool_dir keeps what leaves the RAM ring on disk, in pcapng
# segment files that the distribution's tcpdump -r, capinfos and tshark
# read:
#   a file= trace through a 4 MiB ring: the spool holds every packet,
#     bytes and nanosecond times as in the trace
#   a paced live source whose disk keeps up: every packet on disk, and
#     flowscope-ctl stats shows the spool's figures
#   a small spool_size: the oldest segments go, the newest stay, within
#     the limit; a second capture on the same directory keeps them and
#     appends
#   SIGKILL while writing: the next capture cuts the torn segment back
#     to whole blocks and every segment reads cleanly
#   a file system that fills: counted (spool_errors, spool_dropped), the
#     capture goes on and the application gets every packet
#   each bad spool_dir gets an error naming the key; a second writer on
#     one directory is refused
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_ctl
need_cmd capinfos mergecap

# segs DIR: the segment files of DIR, oldest first
segs() { find "$1" -maxdepth 1 -name 'seg-*.pcapng' | sort; }

# spool_count DIR: packets in all of DIR's segments
spool_count() {
	local f n=0 c
	for f in $(segs "$1"); do
		c=$("$PCAPCMP" --print-count "$f") || fail "cannot read $f"
		n=$((n + c))
	done
	echo "$n"
}

# all_readable DIR: tcpdump -r reads every segment to its end
all_readable() {
	local f
	for f in $(segs "$1"); do
		"$TCPDUMP" -n -r "$f" >/dev/null 2>"$WORK/r.err" ||
			fail_log "tcpdump -r ${f##*/} fails" "$WORK/r.err"
	done
}

newdir() { mkdir -m 700 "$WORK/$1" && echo "$WORK/$1"; }

check "a file= trace through a 4 MiB ring: the spool holds all of it, exactly"
t=$WORK/t.pcap
"$MKTRACE" -o "$t" --packets 200000 --flows 500 --size 200 --proto mixed ||
	fail "fs-mktrace failed"
d=$(newdir s1)
td_capture "$WORK/s1.pcap" FLOWSCOPE_BUFFER=4m FLOWSCOPE_SPOOL_DIR="$d" \
	FLOWSCOPE_CONTROL=off -n -i "flowscope:file=$t"
expect_count 200000 "$WORK/s1.pcap"
[ "$(segs "$d" | wc -l)" -ge 1 ] || fail "no segment in $d"
mergecap -a -w "$WORK/s1-all.pcapng" $(segs "$d") 2>"$WORK/merge.err" ||
	fail_log "mergecap cannot read the segments" "$WORK/merge.err"
expect_same --nano "$t" "$WORK/s1-all.pcapng"
say "  $(segs "$d" | wc -l) segment(s), $(spool_count "$d") packets, identical to the trace"

check "flowscope:spool=DIR gives back the trace; with a filter, what tcpdump -r gives"
td_capture "$WORK/back.pcap" FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$d"
expect_same "$t" "$WORK/back.pcap"
for f in 'host 10.1.0.7' 'tcp and host 10.1.128.9 and port 30009' 'udp'; do
	"$TCPDUMP" -n -r "$t" -w "$WORK/want.pcap" "$f" 2>/dev/null || fail "tcpdump -r $f failed"
	td_capture "$WORK/got.pcap" FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$d" "$f"
	expect_same "$WORK/want.pcap" "$WORK/got.pcap"
	say "  '$f': $("$PCAPCMP" --print-count "$WORK/got.pcap") packets, as tcpdump -r gives"
done

check "segments open in tcpdump -r, capinfos and tshark; files are owner-only"
f=$(segs "$d" | head -n 1)
all_readable "$d"
capinfos -c -M "$f" >"$WORK/capinfos.out" 2>&1 ||
	fail_log "capinfos cannot read ${f##*/}" "$WORK/capinfos.out"
grep -q 'Number of packets: *[1-9]' "$WORK/capinfos.out" ||
	fail_log "capinfos counts no packets" "$WORK/capinfos.out"
"$TSHARK" -r "$f" -c 5 >"$WORK/tshark.out" 2>&1 ||
	fail_log "tshark cannot read ${f##*/}" "$WORK/tshark.out"
[ "$(stat -c %a "$f")" = 600 ] || fail "${f##*/} has mode $(stat -c %a "$f"), not 600"

check "a paced live source: every packet on disk; stats show the spool"
d=$(newdir s2)
sock=$WORK/s2.sock
bg_start "$WORK/s2.out" "$WORK/s2.err" fs_tcpdump FLOWSCOPE_SPOOL_DIR="$d" \
	FLOWSCOPE_GEN_RATE=100k FLOWSCOPE_GEN_PACKETS=300k FLOWSCOPE_CONTROL="$sock" \
	-n -i flowscope:gen -w "$WORK/s2.pcap"
pid=$BG_PID
wait_listening "$WORK/s2.err" "$pid" 30 || fail_log "tcpdump did not start" "$WORK/s2.err"
sleep 1.5
ctl "$sock" stats >"$WORK/s2.stats" 2>&1 || fail_log "stats failed" "$WORK/s2.stats"
for k in spool_bytes spool_limit spool_packets spool_written spool_write_rate \
	spool_dropped spool_errors spool_history_seconds spool_oldest; do
	grep -q "^$k " "$WORK/s2.stats" || fail_log "stats has no $k" "$WORK/s2.stats"
done
grep -q '^spool_limit 10737418240$' "$WORK/s2.stats" ||
	fail_log "spool_limit is not the default 10g" "$WORK/s2.stats"
bg_wait "$pid" 30 || fail_log "tcpdump did not end" "$WORK/s2.err"
expect_ok "$BG_RC" "tcpdump -i flowscope:gen" "$WORK/s2.err"
n=$(spool_count "$d")
[ "$n" = 300000 ] || fail "the spool holds $n of 300000 packets"
say "  300000 packets on disk; during the run: $(grep -E '^spool_(packets|write_rate)' "$WORK/s2.stats" | tr '\n' ' ')"

check "two receive lanes: spool=DIR merges them in time order"
d=$(newdir s2q)
td_capture "$WORK/s2q.pcap" FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_RX_QUEUES=2 \
	FLOWSCOPE_GEN_RATE=200k FLOWSCOPE_GEN_PACKETS=100k FLOWSCOPE_CONTROL=off \
	-n -i flowscope:gen
td_capture "$WORK/s2q-back.pcap" FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$d"
expect_count 100000 "$WORK/s2q-back.pcap"
"$TCPDUMP" -n -tt --time-stamp-precision=nano -r "$WORK/s2q-back.pcap" 2>/dev/null |
	awk '$1 ~ /^[0-9]+\.[0-9]+$/ { n++; t = $1
		if (n > 1 && t < prev) { print "packet " n " goes back in time"; exit 1 }
		prev = t }' ||
	fail "spool= did not deliver in time order"

check "spool=DIR while a capture still writes it; and a bad spool= path"
d=$(newdir s2w)
bg_start "$WORK/s2w.out" "$WORK/s2w.err" fs_tcpdump FLOWSCOPE_SPOOL_DIR="$d" \
	FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_GEN_RATE=100k FLOWSCOPE_CONTROL=off \
	-n -i flowscope:gen -w /dev/null
pid=$BG_PID
wait_listening "$WORK/s2w.err" "$pid" 30 || fail_log "tcpdump did not start" "$WORK/s2w.err"
sleep 2
td_capture "$WORK/s2w-back.pcap" FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$d"
n=$("$PCAPCMP" --print-count "$WORK/s2w-back.pcap")
[ "$n" -gt 10000 ] || fail "spool= read only $n packets of a running spool"
kill -0 "$pid" 2>/dev/null || fail_log "the writing capture ended" "$WORK/s2w.err"
kill_tree "$pid" INT
say "  $n packets read while the spool was being written"
fs_tcpdump FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$WORK/none" -w /dev/null >"$WORK/bad.out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "spool=$WORK/none: No such file" "$WORK/bad.out" ||
	fail_log "spool= on a missing directory: exit $rc, no clear error" "$WORK/bad.out"

check "tcpdump that gives up root (no -Z root): the spool goes on through the helper"
if [ "$(id -u)" = 0 ] && id tcpdump >/dev/null 2>&1; then
	d=$(newdir s2z)
	fs_run FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m \
		FLOWSCOPE_GEN_RATE=400k FLOWSCOPE_GEN_PACKETS=1200k FLOWSCOPE_CONTROL=off \
		"$TCPDUMP" -n -i flowscope:gen -w "$WORK/s2z.pcap" >"$WORK/s2z.out" 2>&1
	expect_ok $? "tcpdump -i flowscope:gen (dropping root)" "$WORK/s2z.out"
	grep -q 'cannot create' "$WORK/s2z.out" &&
		fail_log "the spool could not create its files" "$WORK/s2z.out"
	first=$(segs "$d" | head -n 1)
	[ "${first##*/}" != seg-0000000000000000.pcapng ] ||
		fail "no segment was removed after the privileges were dropped"
	[ -e "${first%.pcapng}.idx" ] || fail "${first##*/} has no index"
	[ "$(stat -c %U "$first")" = root ] || fail "${first##*/} is not root's"
	td_capture "$WORK/s2z-back.pcap" FLOWSCOPE_CONTROL=off -n -i "flowscope:spool=$d"
	n=$("$PCAPCMP" --print-count "$WORK/s2z-back.pcap")
	[ "$n" = "$(spool_count "$d")" ] || fail "spool= read $n packets, the segments hold $(spool_count "$d")"
	say "  segments created, indexed and recycled as user tcpdump; $n packets read back"
else
	say "  (not root, or no user tcpdump: skipped)"
fi

check "a small spool_size recycles its oldest segments; a restart keeps and appends"
d=$(newdir s3)
td_capture "$WORK/s3.pcap" FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m \
	FLOWSCOPE_GEN_PACKETS=1500k FLOWSCOPE_GEN_SIZE=128 FLOWSCOPE_CONTROL=off \
	-n -i flowscope:gen
# segments and their indexes, all within the limit
bytes=$(find "$d" -maxdepth 1 -name 'seg-*' -type f -print0 | xargs -0 stat -c %s |
	awk '{ s += $1 } END { print s }')
[ "$bytes" -le $((64 << 20)) ] || fail "the spool uses $bytes bytes (segments and indexes), over 64 MiB"
first=$(segs "$d" | head -n 1)
[ "${first##*/}" != seg-0000000000000000.pcapng ] ||
	fail "the oldest segment is still there: nothing was recycled"
last=$(segs "$d" | tail -n 1)
all_readable "$d"
before=$(segs "$d" | wc -l)
td_capture "$WORK/s3b.pcap" FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m \
	FLOWSCOPE_GEN_PACKETS=1000 FLOWSCOPE_CONTROL=off -n -i flowscope:gen
[ -e "$last" ] || fail "a restart removed the newest segment ${last##*/}"
newest=$(segs "$d" | tail -n 1)
[[ "${newest##*/}" > "${last##*/}" ]] || fail "a restart did not append after ${last##*/}"
say "  $before segments, $bytes bytes within 64 MiB; the restart appended ${newest##*/}"

check "SIGKILL while writing: the next capture cuts the torn tail, every segment reads"
d=$(newdir s4)
bg_start "$WORK/s4.out" "$WORK/s4.err" fs_tcpdump FLOWSCOPE_SPOOL_DIR="$d" \
	FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_BUFFER=4m FLOWSCOPE_GEN_RATE=200k \
	FLOWSCOPE_CONTROL=off -n -i flowscope:gen -w /dev/null
pid=$BG_PID
wait_listening "$WORK/s4.err" "$pid" 30 || fail_log "tcpdump did not start" "$WORK/s4.err"
sleep 2
kill_tree "$pid" KILL
wait "$pid" 2>/dev/null
n=$(segs "$d" | wc -l)
[ "$n" -ge 1 ] || fail "nothing was spooled before SIGKILL"
# what a cut-off write leaves: a block begun, not ended
printf 'torn' >>"$(segs "$d" | tail -n 1)"
td_capture "$WORK/s4b.pcap" FLOWSCOPE_SPOOL_DIR="$d" FLOWSCOPE_SPOOL_SIZE=64m \
	FLOWSCOPE_GEN_PACKETS=1000 \
	FLOWSCOPE_CONTROL=off -n -i flowscope:gen
all_readable "$d"
say "  $n segment(s) from the killed capture, all readable after the restart"

check "a file system that fills: counted, capture goes on, every packet delivered"
d=$WORK/small
mkdir -m 700 "$d"
mount -t tmpfs -o size=6m,mode=700 tmpfs "$d" 2>"$WORK/mount.err" ||
	skip "cannot mount a tmpfs: $(cat "$WORK/mount.err")"
at_exit _fs_quiet umount "$d"
sock=$WORK/s5.sock
bg_start "$WORK/s5.out" "$WORK/s5.err" fs_tcpdump FLOWSCOPE_SPOOL_DIR="$d" \
	FLOWSCOPE_SPOOL_SIZE=64m FLOWSCOPE_GEN_RATE=200k FLOWSCOPE_GEN_PACKETS=400k \
	FLOWSCOPE_CONTROL="$sock" -n -i flowscope:gen -w "$WORK/s5.pcap"
pid=$BG_PID
wait_listening "$WORK/s5.err" "$pid" 30 || fail_log "tcpdump did not start" "$WORK/s5.err"
for ((i = 0; i < 100; i++)); do
	ctl "$sock" stats >"$WORK/s5.stats" 2>/dev/null
	grep -q '^spool_errors [1-9]' "$WORK/s5.stats" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^spool_errors [1-9]' "$WORK/s5.stats" ||
	fail_log "a full file system was not counted" "$WORK/s5.stats"
grep -q '^spool_dropped [1-9]' "$WORK/s5.stats" ||
	fail_log "what could not be written is not in spool_dropped" "$WORK/s5.stats"
bg_wait "$pid" 30 || fail_log "tcpdump did not end" "$WORK/s5.err"
expect_ok "$BG_RC" "tcpdump with a full spool" "$WORK/s5.err"
expect_count 400000 "$WORK/s5.pcap"
all_readable "$d"
say "  $(grep -E '^spool_(errors|dropped)' "$WORK/s5.stats" | tr '\n' ' ')"

check "bad spool_dir values get an error naming the key"
# bad_spool WHAT PATTERN VAR=VALUE...: tcpdump exits 1 saying PATTERN
bad_spool() {
	local what=$1 pat=$2
	shift 2
	fs_tcpdump "$@" FLOWSCOPE_CONTROL=off FLOWSCOPE_GEN_PACKETS=10 -n \
		-i flowscope:gen -w /dev/null >"$WORK/bad.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || fail_log "$what: tcpdump exited $rc, not 1" "$WORK/bad.out"
	grep -q -E "$pat" "$WORK/bad.out" || fail_log "$what: no clear error" "$WORK/bad.out"
	say "  $what: $(grep -m 1 -o -E 'spool_(dir|size).*' "$WORK/bad.out")"
}
bad_spool "missing" 'spool_dir: .*No such file' FLOWSCOPE_SPOOL_DIR="$WORK/none"
: >"$WORK/plain"
bad_spool "a file" 'spool_dir: .*(not a directory|Not a directory)' FLOWSCOPE_SPOOL_DIR="$WORK/plain"
mkdir -m 755 "$WORK/open"
bad_spool "open to others" 'spool_dir: .*open to other users' FLOWSCOPE_SPOOL_DIR="$WORK/open"
bad_spool "too small" 'spool_size: ' FLOWSCOPE_SPOOL_DIR="$WORK/s1" FLOWSCOPE_SPOOL_SIZE=1m
mkdir -m 700 "$WORK/ro"
if [ "$(id -u)" != 0 ]; then
	chmod 500 "$WORK/ro"
	bad_spool "not writable" 'spool_dir: .*cannot write' FLOWSCOPE_SPOOL_DIR="$WORK/ro"
fi
d=$(newdir s6)
bg_start "$WORK/s6.out" "$WORK/s6.err" fs_tcpdump FLOWSCOPE_SPOOL_DIR="$d" \
	FLOWSCOPE_GEN_RATE=1k FLOWSCOPE_CONTROL=off -n -i flowscope:gen -w /dev/null
pid=$BG_PID
wait_listening "$WORK/s6.err" "$pid" 30 || fail_log "tcpdump did not start" "$WORK/s6.err"
bad_spool "a second writer" 'spool_dir: .*being written by another capture' \
	FLOWSCOPE_SPOOL_DIR="$d"
kill_tree "$pid" INT
pass
