#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# live_programs.sh: programs that look at the interface themselves, run
# on a kernel interface through flowscope beside the same program on the
# stock interface, with the same traffic, and compared:
#   argus   through a named capture whose name the interface also carries
#           as an altname (argus asks the kernel for the flags of the
#           name it captures on): the same flows with the same counts
#   iftop   (text mode) on flowscope:VETH: every flow, with its bytes
#           (traffic goes on until both end: iftop ends on a packet)
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_ctl
need_cmd tcpreplay
netns_veth_setup 1500

# 1000 packets, 200 for each of 5 flows, sent into VETH_HOST
"$MKTRACE" -o "$WORK/t.pcap" --packets 1000 --flows 5 --size 200 ||
	fail "fs-mktrace failed"
send() {
	ip netns exec "$NS" timeout 30 tcpreplay -q --pps=1000 -i "$VETH_NS" \
		"$WORK/t.pcap" >"$WORK/replay.out" 2>&1 ||
		fail_log "tcpreplay into $VETH_NS failed" "$WORK/replay.out"
}

# flows FILE.arg: "proto saddr.sport daddr.dport packets" a line a flow
flows() {
	racluster -n -r "$1" -m proto saddr sport daddr dport \
		-s proto saddr sport daddr dport pkts - udp 2>/dev/null |
		awk 'NR > 1 { print $1, $2, $3, $4 }' | sort
}

if ! command -v argus >/dev/null 2>&1 || ! command -v racluster >/dev/null 2>&1; then
	say "argus or racluster is not installed: skipped"
else
	check "argus -i flowscope-NAME records what argus -i $VETH_HOST records"
	name=a$((RANDOM % 10000))
	ip link property add dev "$VETH_HOST" altname "flowscope-$name" ||
		fail "cannot give $VETH_HOST the altname flowscope-$name"
	mkdir "$WORK/conf.d"
	printf 'source = %s\ncontrol = %s\n' "$VETH_HOST" "$WORK/ctl.sock" \
		>"$WORK/conf.d/$name.conf"
	bg_start "$WORK/argus-stock.out" "$WORK/argus-stock.err" \
		timeout -s INT -k 5 60 argus -i "$VETH_HOST" -w "$WORK/stock.arg"
	stock=$BG_PID
	bg_start "$WORK/argus-fs.out" "$WORK/argus-fs.err" \
		env FLOWSCOPE_CONF_DIR="$WORK/conf.d" "$FS_RUN" \
		timeout -s INT -k 5 60 argus -i "flowscope-$name" -w "$WORK/fs.arg"
	fs=$BG_PID
	for ((i = 0; i < 200; i++)); do
		"$CTL" -s "$WORK/ctl.sock" ping >/dev/null 2>&1 && break
		kill -0 "$fs" 2>/dev/null ||
			fail_log "argus on flowscope-$name ended at once" "$WORK/argus-fs.err"
		sleep 0.1
	done
	[ "$i" -lt 200 ] || fail_log "the capture of argus did not start" "$WORK/argus-fs.err"
	sleep 1
	send
	sleep 2
	kill_tree "$stock" INT
	kill_tree "$fs" INT
	bg_wait "$stock" 15 || fail "stock argus did not stop on SIGINT"
	bg_wait "$fs" 15 || fail_log "argus on flowscope-$name did not stop on SIGINT" "$WORK/argus-fs.err"
	flows "$WORK/stock.arg" >"$WORK/stock.flows"
	flows "$WORK/fs.arg" >"$WORK/fs.flows"
	[ "$(wc -l <"$WORK/stock.flows")" = 5 ] ||
		fail_log "stock argus recorded $(wc -l <"$WORK/stock.flows") flows, not 5" "$WORK/stock.flows"
	awk '$4 != 200 { exit 1 }' "$WORK/stock.flows" ||
		fail_log "stock argus did not count 200 packets a flow" "$WORK/stock.flows"
	cmp -s "$WORK/stock.flows" "$WORK/fs.flows" ||
		fail_log "argus through flowscope recorded other flows than stock argus" \
			"$WORK/fs.flows" "$WORK/stock.flows" "$WORK/argus-fs.err"
	say "  both recorded 5 flows of 200 packets"
fi

if ! command -v iftop >/dev/null 2>&1; then
	say "iftop is not installed: skipped"
else
	check "iftop -t on flowscope:$VETH_HOST shows every flow, as on $VETH_HOST"
	bg_start "$WORK/iftop-stock.out" "$WORK/iftop-stock.err" \
		timeout -k 5 60 iftop -t -s 6 -n -N -P -i "$VETH_HOST"
	stock=$BG_PID
	bg_start "$WORK/iftop-fs.out" "$WORK/iftop-fs.err" \
		env FLOWSCOPE_CONTROL=off "$FS_RUN" timeout -k 5 60 \
		iftop -t -s 6 -n -N -P -i "flowscope:$VETH_HOST"
	fs=$BG_PID
	# iftop looks at its clock only when a packet comes: keep sending
	# until both have ended
	bg_start "$WORK/replay-loop.out" "$WORK/replay-loop.err" \
		ip netns exec "$NS" timeout 60 tcpreplay -q --pps=500 --loop=0 \
		-i "$VETH_NS" "$WORK/t.pcap"
	replay=$BG_PID
	at_exit kill_tree "$replay"
	bg_wait "$stock" 20 || fail "stock iftop did not end after 6 s"
	bg_wait "$fs" 20 || fail_log "iftop on flowscope did not end after 6 s" "$WORK/iftop-fs.err"
	# the receiving lines: "10.1.0.F:1000F <= 2s 10s 40s cumulative"
	for f in 0 1 2 3 4; do
		for o in stock fs; do
			grep -q "10\.1\.0\.$f:1000$f .*<= .*[1-9][0-9.]*KB\$" "$WORK/iftop-$o.out" ||
				fail_log "iftop ($o) shows no bytes received from 10.1.0.$f" \
					"$WORK/iftop-$o.out" "$WORK/iftop-$o.err"
		done
	done
	kill_tree "$replay"
	grep -q '^Total receive rate' "$WORK/iftop-fs.out" ||
		fail_log "iftop on flowscope printed no totals" "$WORK/iftop-fs.out"
	say "  both show the 5 flows with their bytes"
fi

pass
