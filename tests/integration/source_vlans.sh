#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# source_vlans.sh: FLOWSCOPE_SOURCE_VLANS pushes one 802.1Q tag per source.
# Two traces of the same flows, aggregated as flowscope:file=A:file=B: with
# 10,0 every packet of A carries VLAN 10 (TPID 0x8100, priority 0) and B's
# are untouched; with 10,20 B's carry VLAN 20. Behind the tag each packet is
# byte for byte the original (fs-pcapcmp --pushed-vlan), len and caplen 4
# more; a tagged trace gets the new tag outermost; snaplen and caplen count
# the tag; the flow tracker sees the tag (a trigger on VLAN 20 takes B's
# flow and not A's flow of the same 5-tuple). Wrong counts and ids out of
# range make tcpdump exit 1 with a message naming source_vlans. As root with
# tcpreplay, also a kernel interface (TPACKET_V3), whose own VLAN tag (which
# the kernel moves into metadata) comes back inside the pushed one.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

# mktrace NAME OPTIONS...: write $WORK/NAME.pcap with fs-mktrace.
mktrace() {
	local name=$1
	shift
	"$MKTRACE" -o "$WORK/$name.pcap" "$@" 2>"$WORK/mktrace.err" ||
		fail_log "fs-mktrace $*" "$WORK/mktrace.err"
}

# select_pkts OUT FILTER NAME: the packets of OUT that FILTER matches, read
# by the distribution's tcpdump, into $WORK/NAME.pcap; prints their count.
select_pkts() {
	stock_run "$TCPDUMP" -r "$1" -w "$WORK/$3.pcap" "$2" 2>"$WORK/$3.err" ||
		fail_log "tcpdump -r ${1##*/} '$2' failed" "$WORK/$3.err"
	pcap_count "$WORK/$3.pcap"
}

# expect_tags OUT VID N: tcpdump -e -r OUT 'vlan VID' prints N packets,
# each with an 802.1Q (0x8100) tag of VLAN VID and priority 0 outermost.
expect_tags() {
	local out=$1 vid=$2 want=$3 n good
	stock_run "$TCPDUMP" -nn -e -r "$out" "vlan $vid" >"$WORK/tags.txt" 2>"$WORK/tags.err" ||
		fail_log "tcpdump -e -r ${out##*/} 'vlan $vid' failed" "$WORK/tags.err"
	n=$(grep -c . "$WORK/tags.txt")
	[ "$n" = "$want" ] ||
		fail "tcpdump -e -r ${out##*/} 'vlan $vid' prints $n packets, not $want"
	good=$(grep -c -E "ethertype 802\.1Q \(0x8100\), length [0-9]+: vlan $vid, p 0, " "$WORK/tags.txt")
	[ "$good" = "$want" ] ||
		fail_log "only $good of the $want packets have an outer 802.1Q tag 'vlan $vid, p 0'" "$WORK/tags.txt"
}

# A: sizes up to 9000 bytes (mbuf chains); B: the same 10 flows, fewer
# packets at other times; Q: the same flows already tagged with VLAN 5.
mktrace a --packets 300 --flows 10 --mixed --seed 3
mktrace b --packets 200 --flows 10 --gap-us 7 --start 1600000100
mktrace q --packets 100 --flows 10 --vlan 5 --size 100 --start 1600000200
A=$WORK/a.pcap B=$WORK/b.pcap Q=$WORK/q.pcap
na=$(pcap_count "$A") nb=$(pcap_count "$B") nq=$(pcap_count "$Q")
[ "$(select_pkts "$A" vlan a-tagged)" = 0 ] && [ "$(select_pkts "$B" vlan b-tagged)" = 0 ] ||
	fail "test bug: a.pcap or b.pcap already holds tagged packets"
[ "$(select_pkts "$A" 'udp port 10000' a-f0)" = 30 ] && [ "$(select_pkts "$B" 'udp port 10000' b-f0)" = 20 ] ||
	fail "test bug: flow 0 (udp port 10000) is not 30 packets of a.pcap and 20 of b.pcap"

check "FLOWSCOPE_SOURCE_VLANS=10,0: A's $na packets tagged 10, B's $nb untouched"
o=$WORK/v10-0.pcap
td_capture "$o" FLOWSCOPE_SOURCE_VLANS=10,0 -n -i "flowscope:file=$A:file=$B"
expect_count $((na + nb)) "$o"
expect_tags "$o" 10 "$na"
[ "$(select_pkts "$o" 'vlan 10' v10-0.a)" = "$na" ] || fail "'vlan 10' does not select A's $na packets"
[ "$(select_pkts "$o" 'not vlan' v10-0.b)" = "$nb" ] ||
	fail "'not vlan' selects $(pcap_count "$WORK/v10-0.b.pcap") packets, not B's $nb"
expect_same --pushed-vlan 10 "$A" "$WORK/v10-0.a.pcap"
expect_same "$B" "$WORK/v10-0.b.pcap"

check "FLOWSCOPE_SOURCE_VLANS=10,20: A's packets tagged 10, B's 20, none untagged"
o=$WORK/v10-20.pcap
td_capture "$o" FLOWSCOPE_SOURCE_VLANS=10,20 -n -i "flowscope:file=$A:file=$B"
expect_count $((na + nb)) "$o"
expect_tags "$o" 10 "$na"
expect_tags "$o" 20 "$nb"
[ "$(select_pkts "$o" 'not vlan' v10-20.none)" = 0 ] || fail "untagged packets in the output"
select_pkts "$o" 'vlan 10' v10-20.a >/dev/null
select_pkts "$o" 'vlan 20' v10-20.b >/dev/null
expect_same --pushed-vlan 10 "$A" "$WORK/v10-20.a.pcap"
expect_same --pushed-vlan 20 "$B" "$WORK/v10-20.b.pcap"

check "a tagged source gets the new tag outermost: VLAN 10 around Q's VLAN 5"
o=$WORK/stack.pcap
td_capture "$o" FLOWSCOPE_SOURCE_VLANS=10,0 -n -i "flowscope:file=$Q:file=$B"
expect_tags "$o" 10 "$nq"
[ "$(select_pkts "$o" 'vlan 10 and vlan 5' stack.q)" = "$nq" ] ||
	fail "'vlan 10 and vlan 5' does not select Q's $nq packets"
expect_same --pushed-vlan 10 "$Q" "$WORK/stack.q.pcap"

check "tcpdump -s 40: the tag counts in the snaplen (caplen min(len + 4, 40))"
o=$WORK/snap.pcap
td_capture "$o" FLOWSCOPE_SOURCE_VLANS=10,20 -n -s 40 -i "flowscope:file=$A:file=$B"
select_pkts "$o" 'vlan 10' snap.a >/dev/null
select_pkts "$o" 'vlan 20' snap.b >/dev/null
expect_same --pushed-vlan 10 --caplen 40 "$A" "$WORK/snap.a.pcap"
expect_same --pushed-vlan 20 --caplen 40 "$B" "$WORK/snap.b.pcap"

check "one source, FLOWSCOPE_CAPLEN=14: addresses and half the tag are kept"
o=$WORK/cap14.pcap
td_capture "$o" FLOWSCOPE_SOURCE_VLANS=10 FLOWSCOPE_CAPLEN=14 -n -i "flowscope:file=$A"
expect_same --pushed-vlan 10 --caplen 14 "$A" "$o"

check "trigger 'vlan 20 and udp port 10000': B's flow 0 (20 packets), not A's flow of the same 5-tuple"
o=$WORK/trig.pcap
td_capture "$o" FLOWSCOPE_SOURCE_VLANS=10,20 FLOWSCOPE_MODE=trigger \
	FLOWSCOPE_TRIGGER='vlan 20 and udp port 10000' -n -i "flowscope:file=$A:file=$B"
expect_same --pushed-vlan 20 "$WORK/b-f0.pcap" "$o"

# bad values: tcpdump exits 1 by itself with a message naming the key
n=0
expect_error() {
	local ere=$1 rc
	shift
	n=$((n + 1))
	check "${*: -1}: ${*:1:$#-1} fails with '$ere'"
	fs_tcpdump "${@:1:$#-1}" -n -w "$WORK/bad$n.pcap" -i "${@: -1}" \
		>"$WORK/bad$n.out" 2>"$WORK/bad$n.err"
	rc=$?
	[ "$rc" = 1 ] || fail_log "tcpdump: $(describe_rc "$rc"), not exit status 1" "$WORK/bad$n.err"
	grep -Eq -- "$ere" "$WORK/bad$n.err" || fail_log "the message does not say '$ere'" "$WORK/bad$n.err"
	say "  tcpdump said: $(grep -v '^Running as' "$WORK/bad$n.err" | head -n 2 | tr '\n' ' ')"
}
dev="flowscope:file=$A:file=$B"
expect_error 'source_vlans: 1 VLAN id for 2 sources' FLOWSCOPE_SOURCE_VLANS=10 "$dev"
expect_error 'source_vlans: 3 VLAN ids for 2 sources' FLOWSCOPE_SOURCE_VLANS=10,20,30 "$dev"
expect_error 'source_vlans: 2 VLAN ids for 1 source;' FLOWSCOPE_SOURCE_VLANS=10,20 "flowscope:file=$A"
expect_error 'FLOWSCOPE_SOURCE_VLANS: source_vlans: VLAN id 4096 is out of range \(0 to 4095\)' \
	FLOWSCOPE_SOURCE_VLANS=10,4096 "$dev"
expect_error "source_vlans: '10,-1' is not a list of VLAN ids" FLOWSCOPE_SOURCE_VLANS=10,-1 "$dev"
printf 'source_vlans = 4096, 20\n' >"$WORK/bad.conf"
expect_error 'bad\.conf:1: source_vlans: VLAN id 4096 is out of range' \
	"flowscope/$WORK/bad.conf:file=$A:file=$B"
printf '# two ids\nsource_vlans = 10, 20\n' >"$WORK/good.conf"
expect_error 'source_vlans: 2 VLAN ids for 3 sources' \
	"flowscope/$WORK/good.conf:file=$A:file=$B:file=$Q"

check "the ids of a config file apply (10, 20 from good.conf)"
o=$WORK/conf.pcap
td_capture "$o" -n -i "flowscope/$WORK/good.conf:file=$A:file=$B"
expect_tags "$o" 10 "$na"
expect_tags "$o" 20 "$nb"

# a source whose frames have no Ethernet header is refused, tags or not
if command -v editcap >/dev/null 2>&1 &&
   editcap -T rawip "$B" "$WORK/raw.pcap" 2>/dev/null; then
	expect_error 'link type RAW.*Ethernet' FLOWSCOPE_SOURCE_VLANS=10,20 \
		"flowscope:file=$A:file=$WORK/raw.pcap"
else
	say "editcap cannot write a raw-IP file: non-Ethernet source not checked"
fi

# ---- a kernel interface: TPACKET_V3 ----
if [ "$(id -u)" -ne 0 ] || ! command -v tcpreplay >/dev/null 2>&1; then
	say "not root or no tcpreplay: the kernel interface path is not checked"
	pass
fi
netns_veth_setup 1500

# live NAME TRACE: capture TRACE's packets on flowscope:$VETH_HOST with
# source_vlans = 30 while tcpreplay sends them from the namespace; behind
# the tag they must be TRACE's packets (bytes; timestamps are new).
live() {
	local name=$1 trace=$2 out=$WORK/$1.live.pcap err=$WORK/$1.live.err pid count
	count=$(pcap_count "$trace")
	check "flowscope:$VETH_HOST with FLOWSCOPE_SOURCE_VLANS=30 gets ${trace##*/} tagged 30"
	bg_start "$WORK/$name.live.out" "$err" \
		fs_tcpdump FLOWSCOPE_SOURCE_VLANS=30 -n -i "flowscope:$VETH_HOST" -c "$count" \
		-w "$out" 'vlan 30 and (udp or (vlan and udp))'
	pid=$BG_PID
	wait_listening "$err" "$pid" 30 ||
		fail_log "tcpdump on flowscope:$VETH_HOST did not start listening" "$err"
	ip netns exec "$NS" timeout 30 tcpreplay -q --pps=5000 -i "$VETH_NS" "$trace" \
		>"$WORK/$name.replay" 2>&1 ||
		fail_log "tcpreplay into $VETH_NS failed" "$WORK/$name.replay"
	if ! bg_wait "$pid" 15; then
		kill_tree "$pid" INT
		fail_log "tcpdump did not get $count packets within 15 s of the replay" "$err"
	fi
	expect_ok "$BG_RC" "tcpdump -i flowscope:$VETH_HOST" "$err"
	expect_tags "$out" 30 "$count"
	expect_same --bytes-only --pushed-vlan 30 "$trace" "$out"
}
live plain "$B"
# the receiving veth takes VLAN 5 off into the packet's metadata; it must
# come back inside the pushed tag
live tagged "$Q"

pass
