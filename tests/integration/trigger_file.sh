#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# trigger_file.sh: trigger mode on flowscope:file=TRACE. A packet matching
# FLOWSCOPE_TRIGGER triggers its flow, and tcpdump gets exactly the packets
# of the triggered flows -- history from before the trigger packet included
# -- each flow's packets in order and once, then exits 0 by itself. The
# expected output comes from tshark (oracle_flows in lib.sh): every packet
# of every TCP/UDP stream holding a packet that matches the equivalent
# display filter. Flows: bidirectional 5-tuples through VLAN/QinQ tags,
# IPv4 and IPv6; a flow ended by RST and flow_timeout is not triggered
# again by later packets of its 5-tuple.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_tshark

RST='tcp[tcpflags] & tcp-rst != 0'
RST6='ip6 and tcp and ip6[40 + 13] & tcp-rst != 0'	# tcp[] is IPv4 only
RST_DF='tcp.flags.reset == 1'
MARKER='udp[8:4] = 0xdeadbeef'
MARKER_DF='udp.payload[0:4] == de:ad:be:ef'

# trigger_check NAME WHAT TRIGGER DISPLAY_FILTER SUMMARY_KEY [MATCHES]:
# replay $WORK/NAME.pcap in trigger mode with TRIGGER; the output must hold
# the flows the oracle finds with DISPLAY_FILTER, SUMMARY_KEY packets in all.
# TRIGGER matches MATCHES packets of each of those flows (default 1).
trigger_check() {
	local name=$1 what=$2 trigger=$3 df=$4 key=$5 per=${6:-1} t=$WORK/$1.pcap
	local exp=$WORK/$1.expected.pcap out=$WORK/$1.out.pcap want flows
	want=$(summary_value "$name" "$key")
	flows=$(summary_value "$name" "${key%_packets}s")
	oracle_flows "$t" "$df" "$exp"
	if [ "$ORACLE_COUNT" != "$want" ] || [ "$ORACLE_FLOWS" != "$flows" ]; then
		fail "test bug: the oracle finds $ORACLE_COUNT packets in $ORACLE_FLOWS flows of ${t##*/}, fs-mktrace wrote $want in $flows"
	fi
	expect_trigger_matches "$t" "$trigger" $((flows * per))
	check "$what: trigger '$trigger' on ${t##*/} delivers its $flows flows, $want packets"
	td_capture "$out" FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER="$trigger" \
		-n -i "flowscope:file=$t"
	expect_same --per-flow "$exp" "$out"
}

mktrace_summary mixed --packets 3000 --flows 40 --proto mixed --mixed --rst-every 7
trigger_check mixed "RST, IPv4, mixed sizes and protocols" "$RST" "$RST_DF" rst_flow_packets

mktrace_summary marker --packets 2000 --flows 30 --proto udp --marker-every 5
trigger_check marker "UDP payload marker in the middle of each flow (half the flow is history)" \
	"$MARKER" "$MARKER_DF" marker_flow_packets

# the client's FIN triggers; the server's FIN comes later and belongs to
# the same (bidirectional) flow
mktrace_summary fin --packets 2000 --flows 30 --proto mixed --size 128 --fin-every 4
trigger_check fin "first FIN; the other side's FIN follows" \
	'tcp[tcpflags] & tcp-fin != 0' 'tcp.flags.fin == 1' fin_flow_packets 2

mktrace_summary ipv6 --packets 3000 --flows 40 --proto mixed --size 128 --ipv6 --rst-every 7
trigger_check ipv6 "RST, IPv6" "$RST6" "$RST_DF" rst_flow_packets

mktrace_summary vlan --packets 3000 --flows 40 --proto mixed --size 128 --vlan 10 --rst-every 7
trigger_check vlan "RST inside an 802.1Q tag" "vlan and $RST" "$RST_DF" rst_flow_packets

mktrace_summary qinq --packets 3000 --flows 40 --proto mixed --size 128 --vlan 10 --qinq \
	--rst-every 7
trigger_check qinq "RST inside QinQ tags" "vlan and vlan and $RST" "$RST_DF" rst_flow_packets

t=$WORK/mixed.pcap
check "a trigger that matches nothing: an empty file, exit 0"
td_capture "$WORK/none.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_TRIGGER='host 192.0.2.1' \
	-n -i "flowscope:file=$t"
expect_count 0 "$WORK/none.pcap"

check "trigger mode without a trigger and without a control socket: an empty file, exit 0"
td_capture "$WORK/notrigger.pcap" FLOWSCOPE_MODE=trigger FLOWSCOPE_CONTROL=off \
	-n -i "flowscope:file=$t"
expect_count 0 "$WORK/notrigger.pcap"

# The same 5-tuples again 60 s (of packet time) later, without RST or
# marker: those packets belong to new flows (the old ones ended by RST and
# by flow_timeout = 30 s), which nothing triggers. (Of the triggered flows,
# RST flows 7 and 21 (TCP) and marker flows 10 and 20 (UDP) come back with
# the same 5-tuple; the even RST flows come back as UDP.)
if command -v mergecap >/dev/null 2>&1; then
	mktrace_summary first --packets 2000 --flows 30 --proto mixed --size 128 \
		--rst-every 7 --marker-every 5
	"$MKTRACE" -o "$WORK/again.pcap" --packets 2000 --flows 30 --proto mixed --size 128 \
		--seed 2 --start 1600000060 || fail "fs-mktrace failed"
	mergecap -a -F pcap -w "$WORK/twice.pcap" "$WORK/first.pcap" "$WORK/again.pcap" \
		2>"$WORK/mergecap.err" || fail_log "mergecap failed" "$WORK/mergecap.err"
	want=$(($(summary_value first rst_flow_packets) + $(summary_value first marker_flow_packets)))
	flows=$(($(summary_value first rst_flows) + $(summary_value first marker_flows)))
	oracle_flows "$WORK/first.pcap" "$RST_DF || $MARKER_DF" "$WORK/twice.expected.pcap"
	[ "$ORACLE_COUNT" = "$want" ] ||
		fail "test bug: the oracle finds $ORACLE_COUNT packets, fs-mktrace wrote $want"
	check "flows end (RST, flow_timeout): the same 5-tuples 60 s later are new, untriggered flows"
	td_capture "$WORK/twice.out.pcap" FLOWSCOPE_MODE=trigger \
		FLOWSCOPE_TRIGGER="$RST or $MARKER" -n -i "flowscope:file=$WORK/twice.pcap"
	expect_same --per-flow "$WORK/twice.expected.pcap" "$WORK/twice.out.pcap"
	say "  $flows flows, $want packets, none of the 2000 later ones"
else
	say "mergecap is not installed: skipping the flow end check"
fi

pass
