#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# direction.sh: pcap_setdirection on a kernel interface, flowscope:VETH,
# with traffic in both directions: tcpdump -Q in / out / inout get
# exactly the received, the sent or all packets, and so do -Q in / out
# on a spool recorded from it (flowscope:spool=); a source that cannot
# tell in from out refuses in and out with the reason and takes inout;
# pmacctd, which sets the direction before it captures, starts and
# prints the flows.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_cmd tcpreplay
netns_veth_setup 1500

# 300 packets the interface receives (sent from the namespace) and 200 it
# sends (tcpreplay on it), told apart by their source ports.
"$MKTRACE" -o "$WORK/in.pcap" --packets 300 --flows 10 --size 100 --sport 10000 ||
	fail "fs-mktrace failed"
"$MKTRACE" -o "$WORK/out.pcap" --packets 200 --flows 10 --size 120 --sport 20000 ||
	fail "fs-mktrace failed"

# send_both: the received half from the namespace, then the sent half
send_both() {
	ip netns exec "$NS" timeout 30 tcpreplay -q --pps=2000 -i "$VETH_NS" \
		"$WORK/in.pcap" >"$WORK/replay.in" 2>&1 ||
		fail_log "tcpreplay into $VETH_NS failed" "$WORK/replay.in"
	timeout 30 tcpreplay -q --pps=2000 -i "$VETH_HOST" "$WORK/out.pcap" \
		>"$WORK/replay.out" 2>&1 ||
		fail_log "tcpreplay on $VETH_HOST failed" "$WORK/replay.out"
}

# direction Q COUNT EXPECTED...: tcpdump -Q Q -c COUNT while both halves
# are sent gets exactly the EXPECTED traces' packets, in that order (by
# count alone when there are several and mergecap is missing)
direction() {
	local q=$1 count=$2 o=$WORK/q-$1.pcap err=$WORK/q-$1.err pid
	shift 2
	check "tcpdump -Q $q on flowscope:$VETH_HOST gets $count packets: ${*##*/}"
	bg_start "$WORK/q-$q.stdout" "$err" \
		fs_tcpdump -n -Q "$q" -i "flowscope:$VETH_HOST" -c "$count" -w "$o" udp
	pid=$BG_PID
	wait_listening "$err" "$pid" 30 ||
		fail_log "tcpdump -Q $q did not start listening" "$err"
	send_both
	if ! bg_wait "$pid" 15; then
		kill_tree "$pid" INT
		fail_log "tcpdump -Q $q did not get $count packets" "$err"
	fi
	expect_ok "$BG_RC" "tcpdump -Q $q -i flowscope:$VETH_HOST" "$err"
	if [ $# -gt 1 ] && ! command -v mergecap >/dev/null 2>&1; then
		say "  (mergecap is not installed: checked by count only)"
		expect_count "$count" "$o"
	elif [ $# -gt 1 ]; then
		mergecap -a -F pcap -w "$WORK/q-$q.expected.pcap" "$@" ||
			fail "mergecap cannot concatenate $*"
		expect_same --bytes-only "$WORK/q-$q.expected.pcap" "$o"
	else
		expect_same --bytes-only "$1" "$o"
	fi
}
direction in 300 "$WORK/in.pcap"
direction out 200 "$WORK/out.pcap"
direction inout 500 "$WORK/in.pcap" "$WORK/out.pcap"

check "a spool of flowscope:$VETH_HOST keeps the direction: -Q in / out on flowscope:spool= split it again"
mkdir -m 700 "$WORK/spool" || fail "mkdir failed"
bg_start "$WORK/rec.stdout" "$WORK/rec.err" fs_tcpdump FLOWSCOPE_SPOOL_DIR="$WORK/spool" \
	-n -i "flowscope:$VETH_HOST" -c 500 -w "$WORK/rec.pcap" udp
pid=$BG_PID
wait_listening "$WORK/rec.err" "$pid" 30 || fail_log "tcpdump did not start listening" "$WORK/rec.err"
send_both
if ! bg_wait "$pid" 15; then
	kill_tree "$pid" INT
	fail_log "tcpdump did not get 500 packets" "$WORK/rec.err"
fi
expect_ok "$BG_RC" "tcpdump with spool_dir" "$WORK/rec.err"
for q in in out; do
	td_capture "$WORK/sq-$q.pcap" FLOWSCOPE_CONTROL=off -n -Q "$q" \
		-i "flowscope:spool=$WORK/spool" udp
	expect_same --bytes-only "$WORK/$q.pcap" "$WORK/sq-$q.pcap"
done

check "-Q in on a source that cannot tell is refused and says why; -Q inout works"
fs_tcpdump -n -Q in -i flowscope:gen -c 1 >"$WORK/gen-in.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail_log "tcpdump -Q in -i flowscope:gen exited $rc, not 1" "$WORK/gen-in.out"
grep -q 'direction: gen sources cannot tell in from out' "$WORK/gen-in.out" ||
	fail_log "the error does not say why" "$WORK/gen-in.out"
say "  tcpdump said: $(grep -m 1 direction "$WORK/gen-in.out")"
td_capture "$WORK/gen-inout.pcap" FLOWSCOPE_GEN_PACKETS=50 FLOWSCOPE_CONTROL=off \
	-n -Q inout -i flowscope:gen
expect_count 50 "$WORK/gen-inout.pcap"

check "pmacctd -i flowscope:$VETH_HOST -P print starts and prints the flows"
if ! command -v pmacctd >/dev/null 2>&1; then
	say "  (pmacctd is not installed: skipped)"
else
	bg_start "$WORK/pmacctd.out" "$WORK/pmacctd.err" \
		"$FS_RUN" timeout -s INT -k 5 12 pmacctd -i "flowscope:$VETH_HOST" \
		-P print -r 1 -c src_host,dst_host,src_port,dst_port,proto
	pid=$BG_PID
	sleep 2
	kill -0 "$pid" 2>/dev/null ||
		fail_log "pmacctd ended at once" "$WORK/pmacctd.out" "$WORK/pmacctd.err"
	ip netns exec "$NS" timeout 30 tcpreplay -q --pps=1000 -i "$VETH_NS" "$WORK/in.pcap" \
		>"$WORK/replay.pm" 2>&1 || fail_log "tcpreplay into $VETH_NS failed" "$WORK/replay.pm"
	# the print plugin writes its table once a second
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c -E '^10\.1\.0\.[0-9]+ +10\.1\.128\.[0-9]+ +1[0-9]+ +3[0-9]+ +udp' \
			"$WORK/pmacctd.out")" -ge 10 ] && break
		sleep 0.1
	done
	flows=$(grep -E '^10\.1\.0\.[0-9]+ +10\.1\.128\.[0-9]+ +1[0-9]+ +3[0-9]+ +udp' \
		"$WORK/pmacctd.out" | awk '{ print $1, $2, $3, $4 }' | sort -u | grep -c .)
	[ "$flows" -eq 10 ] ||
		fail_log "pmacctd printed $flows of the 10 flows" "$WORK/pmacctd.out" "$WORK/pmacctd.err"
	say "  pmacctd printed all 10 flows"
	kill_tree "$pid" INT
fi

pass
