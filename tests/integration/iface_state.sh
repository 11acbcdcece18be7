#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# iface_state.sh: a capture leaves the interface as it found it. Opening
# flowscope:VETH (tcpdump -L) and a -p capture leave promiscuity at 0; a
# capture without -p makes it 1 while it runs (a membership of its
# socket) and 0 again after; a promiscuous flag the administrator set
# stays set through -p and other captures; flags, MAC address and MTU are
# byte for byte what they were, and during a -p capture the kernel
# reports no change of the link at all (ip monitor).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_cmd tcpreplay
netns_veth_setup 1500

"$MKTRACE" -o "$WORK/t.pcap" --packets 100 --flows 10 || fail "fs-mktrace failed"

promiscuity() {
	ip -d link show "$VETH_HOST" | grep -o 'promiscuity [0-9]*' | cut -d' ' -f2
}

# snapshot NAME: what ip -d link show says about the interface (flags,
# state, MAC address, MTU, promiscuity, ...)
snapshot() { ip -d link show "$VETH_HOST" >"$WORK/$1.link"; }

# same_as NAME WHEN: fail unless the interface looks as in snapshot NAME
same_as() {
	snapshot now
	diff "$WORK/$1.link" "$WORK/now.link" >"$WORK/link.diff" ||
		fail_log "$VETH_HOST changed $2" "$WORK/link.diff"
}

# capture NAME WANT [TCPDUMP ARGS...]: a capture of 100 packets sent
# from the namespace; promiscuity must be WANT while it runs
capture() {
	local name=$1 want=$2 err=$WORK/$1.err pid p
	shift 2
	bg_start "$WORK/$name.stdout" "$err" \
		fs_tcpdump -n "$@" -i "flowscope:$VETH_HOST" -c 100 -w "$WORK/$name.pcap"
	pid=$BG_PID
	wait_listening "$err" "$pid" 30 || fail_log "tcpdump $* did not start listening" "$err"
	p=$(promiscuity)
	[ "$p" = "$want" ] || fail "promiscuity is $p during tcpdump $*, not $want"
	ip netns exec "$NS" timeout 30 tcpreplay -q --pps=2000 -i "$VETH_NS" "$WORK/t.pcap" \
		>"$WORK/$name.replay" 2>&1 || fail_log "tcpreplay failed" "$WORK/$name.replay"
	bg_wait "$pid" 15 || fail_log "tcpdump $* did not get 100 packets" "$err"
	expect_ok "$BG_RC" "tcpdump $* -i flowscope:$VETH_HOST" "$err"
	expect_same --bytes-only "$WORK/t.pcap" "$WORK/$name.pcap"
}

ip link set "$VETH_HOST" promisc off || fail "cannot clear the promiscuous flag"
snapshot before
[ "$(promiscuity)" = 0 ] || fail "promiscuity is $(promiscuity) before any capture"

check "tcpdump -L on flowscope:$VETH_HOST leaves promiscuity at 0"
fs_tcpdump -i "flowscope:$VETH_HOST" -L >"$WORK/L.out" 2>&1 ||
	fail_log "tcpdump -L failed" "$WORK/L.out"
same_as before "after tcpdump -L"

check "a -p capture never touches the interface (ip monitor link sees nothing)"
ip monitor link dev "$VETH_HOST" >"$WORK/monitor" 2>&1 &
mon=$!
at_exit kill_tree "$mon"
sleep 0.3
capture p 0 -p
sleep 0.3
kill_tree "$mon"
grep -q "$VETH_HOST" "$WORK/monitor" &&
	fail_log "the kernel reported a change of $VETH_HOST during a -p capture" "$WORK/monitor"
same_as before "after a -p capture"

check "without -p promiscuity is 1 during the capture and 0 after"
capture promisc 1
same_as before "after a promiscuous capture"

check "the administrator's promiscuous flag survives -p and other captures"
ip link set "$VETH_HOST" promisc on || fail "cannot set the promiscuous flag"
snapshot admin
grep -q 'PROMISC' "$WORK/admin.link" || fail "ip link shows no PROMISC flag after promisc on"
capture admin_p 1 -p
same_as admin "after a -p capture (PROMISC set by the administrator)"
capture admin_promisc 2
same_as admin "after a promiscuous capture (PROMISC set by the administrator)"
ip link set "$VETH_HOST" promisc off || fail "cannot clear the promiscuous flag"
same_as before "after promisc off"

pass
