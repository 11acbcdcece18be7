#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# programs.sh: Debian's pcap programs on a capture that ends (file=), each
# compared with what it does on the same trace through stock libpcap:
# they end by themselves, quietly, with complete output, or, for those
# that never end on their own (softflowd, scapy), sit idle instead of
# spinning and stop cleanly when told.
#   tcpdump  exit 0, exactly the lines of tcpdump -r (no extra blank line)
#   ngrep    exit 0, every packet (it loops while pcap_loop() is non-zero)
#   tshark   exit 0, every packet; dumpcap exit 0, every packet
#   darkstat exit 0, ends by itself
#   arpwatch exit 0, ends by itself (pcap_lookupnet answers 0/0)
#   tcpflow  exit 0, the same flow files as tcpflow -r
#   p0f      ends by itself after complete output ("interface is down":
#            p0f cannot tell the end of a live capture from a failure)
#   softflowd / scapy: idle after the end; SIGTERM / the timeout ends them
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

t=$WORK/t.pcap
"$MKTRACE" -o "$t" --packets 300 --flows 12 --proto mixed || fail "fs-mktrace failed"
dev="flowscope:file=$t"
# the same capture by a name without ':' or '/' (softflowd splits at ':')
mkdir "$WORK/conf.d"
printf 'source = file=%s\ncontrol = off\n' "$t" >"$WORK/conf.d/t.conf"
export FLOWSCOPE_CONF_DIR=$WORK/conf.d FLOWSCOPE_CONTROL=off

# run NAME SECONDS CMD...: CMD under flowscope; status in RC, output in
# $WORK/NAME.out (stdout and stderr)
run() {
	local name=$1 secs=$2
	shift 2
	(cd "$WORK" && "$FS_RUN" timeout -k 5 "$secs" "$@") >"$WORK/$name.out" 2>&1
	RC=$?
	[ "$RC" != 124 ] && [ "$RC" != 137 ] ||
		fail_log "$name did not end by itself within $secs s" "$WORK/$name.out"
}

# cpu_ticks PID: user + system clock ticks the process has used
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

check "tcpdump: exit 0 and exactly the lines tcpdump -r prints"
"$TCPDUMP" -n -r "$t" >"$WORK/stock.txt" 2>/dev/null || fail "tcpdump -r failed"
"$FS_RUN" timeout -k 5 60 "$TCPDUMP" -n -i "$dev" >"$WORK/td.txt" 2>"$WORK/td.err"
expect_ok $? "tcpdump -i $dev" "$WORK/td.err"
cmp -s "$WORK/stock.txt" "$WORK/td.txt" ||
	fail_log "tcpdump -i printed other lines than tcpdump -r ($(wc -l <"$WORK/td.txt") vs $(wc -l <"$WORK/stock.txt"))" "$WORK/td.txt"

if command -v ngrep >/dev/null; then
	check "ngrep: ends with exit 0 and every packet"
	run ngrep 60 ngrep -q -d "$dev" ''
	[ "$RC" = 0 ] || fail_log "ngrep exited $RC" "$WORK/ngrep.out"
	n=$(grep -c '^[TUI] ' "$WORK/ngrep.out")
	want=$(ngrep -q -I "$t" '' 2>/dev/null | grep -c '^[TUI] ')
	[ "$n" = "$want" ] || fail_log "ngrep printed $n packets, $want from the file" "$WORK/ngrep.out"
else
	say "ngrep is not installed: skipped"
fi

need_tshark
check "dumpcap: exit 0, every packet"
run dumpcap 60 dumpcap -q -i "$dev" -w "$WORK/dc.pcapng"
expect_ok "$RC" "dumpcap -i $dev" "$WORK/dumpcap.out"
expect_count 300 "$WORK/dc.pcapng"
grep -qi 'error' "$WORK/dumpcap.out" && fail_log "dumpcap reported an error" "$WORK/dumpcap.out"

check "tshark: exit 0, every packet"
run tshark 60 tshark -n -i "$dev"
expect_ok "$RC" "tshark -i $dev" "$WORK/tshark.out"
grep -q '^300 packets captured' "$WORK/tshark.out" ||
	fail_log "tshark did not capture 300 packets" "$WORK/tshark.out"

if command -v darkstat >/dev/null; then
	check "darkstat: ends by itself with exit 0"
	mkdir -m 755 "$WORK/dk"
	run darkstat 60 darkstat -i "$dev" --no-daemon --chroot "$WORK/dk" -p 0 --export db
	[ "$RC" = 0 ] || fail_log "darkstat exited $RC" "$WORK/darkstat.out"
	grep -q 'the capture ended' "$WORK/darkstat.out" ||
		fail_log "darkstat's last word does not say the capture ended" "$WORK/darkstat.out"
fi

if command -v arpwatch >/dev/null; then
	check "arpwatch: runs (pcap_lookupnet answers) and ends by itself with exit 0"
	: >"$WORK/arp.dat"
	run arpwatch 60 arpwatch -d -i "$dev" -f "$WORK/arp.dat"
	[ "$RC" = 0 ] || fail_log "arpwatch exited $RC" "$WORK/arpwatch.out"
fi

if command -v tcpflow >/dev/null; then
	check "tcpflow: exit 0, the same flow files as tcpflow -r"
	mkdir "$WORK/tf.live" "$WORK/tf.file"
	(cd "$WORK/tf.file" && tcpflow -r "$t" >/dev/null 2>&1) || fail "tcpflow -r failed"
	run tcpflow 60 tcpflow -o "$WORK/tf.live" -i "$dev"
	[ "$RC" = 0 ] || fail_log "tcpflow exited $RC" "$WORK/tcpflow.out"
	diff <(cd "$WORK/tf.file" && ls | grep -v report.xml) \
	     <(cd "$WORK/tf.live" && ls | grep -v report.xml) >"$WORK/tf.diff" ||
		fail_log "tcpflow wrote other flow files" "$WORK/tf.diff"
fi

if command -v p0f >/dev/null; then
	check "p0f: ends by itself after every packet"
	run p0f 60 p0f -i "$dev"
	grep -q 'Packet capture interface is down' "$WORK/p0f.out" ||
		fail_log "p0f ended for another reason" "$WORK/p0f.out"
fi

if command -v softflowd >/dev/null; then
	check "softflowd on flowscope-t: idle after the end, SIGTERM ends it as on a stock device"
	bg_start "$WORK/sf.out" "$WORK/sf.err" "$FS_RUN" softflowd -d -i flowscope-t -n 127.0.0.1:9
	sleep 3
	sf=$(pgrep -o -x softflowd)
	[ -n "$sf" ] || fail_log "softflowd is not running" "$WORK/sf.err"
	a=$(cpu_ticks "$sf")
	sleep 2
	b=$(cpu_ticks "$sf")
	[ $((b - a)) -le 20 ] || fail "softflowd used $((b - a)) ticks in 2 s after the end: it spins"
	kill -TERM "$sf"
	bg_wait "$BG_PID" 10 || fail "softflowd did not stop on SIGTERM"
	# softflowd 1.1.0 dies of the signal (143) on stock devices too
	[ "$BG_RC" = 0 ] || [ "$BG_RC" = 143 ] || fail_log "softflowd exited $BG_RC" "$WORK/sf.err"
fi

if /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	check "scapy sniff() with libpcap: every packet, then idle until its timeout"
	cat >"$WORK/sniff.py" <<'EOF'
import sys, time
from scapy.all import conf, sniff
conf.use_pcap = True
t0, c0 = time.time(), time.process_time()
p = sniff(iface=sys.argv[1], timeout=4)
print("packets %d wall %.1f cpu %.2f" % (len(p), time.time() - t0, time.process_time() - c0))
EOF
	run scapy 60 /usr/bin/python3 "$WORK/sniff.py" flowscope-t
	[ "$RC" = 0 ] || fail_log "scapy exited $RC" "$WORK/scapy.out"
	read -r _ n _ wall _ cpu < <(grep '^packets' "$WORK/scapy.out")
	[ "${n:-0}" = 300 ] || fail_log "sniff() got ${n:-no} packets, not 300" "$WORK/scapy.out"
	awk -v c="${cpu:-9}" 'BEGIN { exit !(c < 2.5) }' ||
		fail_log "sniff() used $cpu s of CPU in $wall s: it spins" "$WORK/scapy.out"
fi
pass
