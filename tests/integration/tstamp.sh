#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tstamp.sh: timestamps and the pcap time stamp type API. tcpdump -J lists
# for flowscope:gen and file= what stock libpcap lists for a savefile-like
# source (host), for flowscope:VETH what stock tcpdump lists for the same
# veth, and for flowscope:dpdk0 host plus a hardware type exactly when the
# port offers DPDK's rx timestamp offload (as dpdk-testpmd reports it).
# tcpdump -j with a type the device does not offer is warned about and
# the capture goes on, word for word as stock tcpdump on the veth. A
# dpdk0 port (DPDK's pcap driver on a trace with nanosecond timestamps)
# delivers the trace's timestamps when the offload is offered, else
# host time of the capture; nanosecond precision survives both ways.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
netns_veth_setup

"$MKTRACE" -o "$WORK/nano.pcap" --packets 400 --flows 8 --nano ||
	fail "fs-mktrace failed"

# types DEVICE [RUNNER]: the time stamp type names tcpdump -J lists (on
# stderr) for DEVICE, one a line, sorted; RUNNER is fs_run (default) or
# stock_run.
types() {
	local dev=$1 run=${2:-fs_run}
	"$run" "$TCPDUMP" -J -i "$dev" >"$WORK/J.err" 2>&1
	sed -n 's/^  \([a-z_]*\) (.*/\1/p' "$WORK/J.err" | sort
}

# stamps FILE: the timestamps of FILE as tcpdump prints them with
# nanosecond precision (seconds.nanoseconds), one a line.
stamps() {
	stock_run "$TCPDUMP" -r "$1" --time-stamp-precision=nano -tt -n 2>/dev/null |
		awk '{ print $1 }'
}

# expect_types DEVICE EXPECTED...: tcpdump -J on DEVICE lists EXPECTED.
expect_types() {
	local dev=$1 got want
	shift
	got=$(types "$dev" | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] ||
		fail_log "tcpdump -J -i $dev lists '$got', not '$want'" "$WORK/J.err"
	say "  $dev: $got"
}

check "tcpdump -J: host only for flowscope:gen and flowscope:file="
expect_types flowscope:gen host
expect_types "flowscope:file=$WORK/nano.pcap" host

check "tcpdump -J -i flowscope:$VETH_HOST lists what stock tcpdump lists for $VETH_HOST"
stock=$(types "$VETH_HOST" stock_run | tr '\n' ' ')
[ -n "$stock" ] || fail_log "stock tcpdump -J -i $VETH_HOST lists nothing" "$WORK/J.err"
# shellcheck disable=SC2086 # one name a word
expect_types "flowscope:$VETH_HOST" $stock

# warn_of RUNNER DEVICE TYPE [VAR=VALUE...]: set WARN to what tcpdump
# -j TYPE -i DEVICE (run 3 s by RUNNER, fs_run or stock_run, with the
# variables) warns about the type, DEVICE written as DEV so that two
# devices' words compare; fail unless it went on to capture.
warn_of() {
	local run=$1 dev=$2 type=$3 err=$WORK/warn.err
	shift 3
	"$run" env "$@" timeout 3 "$TCPDUMP" -Z root -j "$type" -i "$dev" -n \
		-w /dev/null >/dev/null 2>"$err"
	grep -q "listening on $dev," "$err" ||
		fail_log "tcpdump -j $type -i $dev did not capture" "$err"
	WARN=$(grep 'timestamp type' "$err" | sed "s|$dev|DEV|g")
}

check "tcpdump -j adapter on flowscope:gen: warned like stock tcpdump on $VETH_HOST, captures anyway"
warn_of stock_run "$VETH_HOST" adapter
stock_warn=$WARN
[ -n "$stock_warn" ] || fail "stock tcpdump -j adapter on $VETH_HOST did not warn"
warn_of fs_run flowscope:gen adapter
fs_warn=$WARN
[ "$fs_warn" = "$stock_warn" ] || fail "flowscope:gen said '$fs_warn', stock '$stock_warn'"
td_capture "$WORK/gen_j.pcap" FLOWSCOPE_GEN_PACKETS=50 -j adapter -n -i flowscope:gen
expect_count 50 "$WORK/gen_j.pcap"
say "  both: $fs_warn"

check "tcpdump -j host on flowscope:gen is taken without a word"
td_capture "$WORK/gen_h.pcap" FLOWSCOPE_GEN_PACKETS=50 -j host -n -i flowscope:gen
! grep -q 'timestamp type' "$WORK/gen_h.pcap.stderr" ||
	fail_log "tcpdump warned about -j host" "$WORK/gen_h.pcap.stderr"
expect_count 50 "$WORK/gen_h.pcap"

check "nanosecond precision: flowscope:file= delivers the trace's timestamps to the nanosecond"
td_capture "$WORK/file.pcap" --time-stamp-precision=nano -n -i "flowscope:file=$WORK/nano.pcap"
stamps "$WORK/nano.pcap" >"$WORK/nano.ts"
stamps "$WORK/file.pcap" >"$WORK/file.ts"
[ "$(wc -l <"$WORK/nano.ts")" -eq 400 ] || fail "tcpdump -r nano.pcap printed no 400 stamps"
cmp -s "$WORK/nano.ts" "$WORK/file.ts" ||
	fail "file= timestamps differ from the trace's: $(diff "$WORK/nano.ts" "$WORK/file.ts" | head -n 3 | tr '\n' ' ')"

# Does DPDK's pcap driver offer the rx timestamp offload? dpdk-testpmd
# (DPDK's own test application) shows the port's capabilities.
eal="--vdev=net_pcap0,rx_pcap=$WORK/nano.pcap"
offload=unknown
if command -v dpdk-testpmd >/dev/null 2>&1; then
	printf 'show port 0 rx_offload capabilities\nquit\n' >"$WORK/testpmd.cmd"
	stock_run dpdk-testpmd --no-huge -m 512 --no-pci --no-shconf \
		--vdev "net_pcap0,rx_pcap=$WORK/nano.pcap" -- -i \
		--total-num-mbufs=2048 --cmdline-file="$WORK/testpmd.cmd" \
		>"$WORK/testpmd.out" 2>&1
	sed -n '/Rx Offloading Capabilities of port 0/,/Read CLI/p' \
		"$WORK/testpmd.out" >"$WORK/capa.txt"
	if [ -s "$WORK/capa.txt" ]; then
		if grep -qw TIMESTAMP "$WORK/capa.txt"; then offload=yes; else offload=no; fi
	fi
fi
say "dpdk-testpmd: net_pcap offers the rx timestamp offload: $offload"

check "tcpdump -J -i flowscope:dpdk0 (net_pcap) follows the offload"
got=$(FLOWSCOPE_EAL=$eal types flowscope:dpdk0 | tr '\n' ' ')
case $offload in
no) [ "$got" = "host " ] ||
	fail_log "dpdk0 without the offload lists '$got'" "$WORK/J.err" ;;
yes) [ "$got" = "adapter host " ] || [ "$got" = "adapter_unsynced host " ] ||
	fail_log "dpdk0 with the offload lists '$got'" "$WORK/J.err" ;;
*) [[ $got == *host* ]] || fail_log "dpdk0 lists '$got'" "$WORK/J.err" ;;
esac
say "  flowscope:dpdk0: $got"

check "flowscope:dpdk0 timestamps, nanosecond precision"
before=$(date +%s%N)
td_capture "$WORK/dpdk.pcap" FLOWSCOPE_EAL="$eal" --time-stamp-precision=nano \
	-n -c 400 -i flowscope:dpdk0
after=$(date +%s%N)
expect_same --bytes-only "$WORK/nano.pcap" "$WORK/dpdk.pcap"
stamps "$WORK/dpdk.pcap" >"$WORK/dpdk.ts"
[ "$(wc -l <"$WORK/dpdk.ts")" -eq 400 ] || fail "tcpdump -r dpdk.pcap printed no 400 stamps"
if [ "$offload" = yes ] || [[ $got == *adapter* ]]; then
	cmp -s "$WORK/nano.ts" "$WORK/dpdk.ts" ||
		fail "the NIC's stamps differ from the trace's: $(diff "$WORK/nano.ts" "$WORK/dpdk.ts" | head -n 3 | tr '\n' ' ')"
	say "  the trace's own timestamps, to the nanosecond"
else
	# host time of this run, in order, with digits below the microsecond
	prev=0 fine=0
	while IFS=. read -r s ns; do
		t=$((10#$s * 1000000000 + 10#$ns))
		[ "$t" -ge "$before" ] && [ "$t" -le "$after" ] ||
			fail "stamp $s.$ns is not of the run ($before..$after ns)"
		[ "$t" -ge "$prev" ] || fail "stamp $s.$ns is earlier than the one before"
		[ $((10#$ns % 1000)) -ne 0 ] && fine=$((fine + 1))
		prev=$t
	done <"$WORK/dpdk.ts"
	[ "$fine" -gt 0 ] || fail "no stamp has digits below the microsecond"
	say "  host time of the run, $fine of 400 with digits below the microsecond"
fi

check "tcpdump -j adapter_unsynced on flowscope:$VETH_HOST (and dpdk0 without the offload): as stock tcpdump on $VETH_HOST"
warn_of stock_run "$VETH_HOST" adapter_unsynced
stock_warn=$WARN
warn_of fs_run "flowscope:$VETH_HOST" adapter_unsynced
fs_warn=$WARN
[ "$fs_warn" = "$stock_warn" ] ||
	fail "flowscope:$VETH_HOST said '$fs_warn', stock '$stock_warn'"
say "  ${stock_warn:-no warning: the veth stamps in hardware}"
if [ "$offload" = no ] && [ -n "$stock_warn" ]; then
	warn_of fs_run flowscope:dpdk0 adapter_unsynced FLOWSCOPE_EAL="$eal"
	fs_warn=$WARN
	[ "$fs_warn" = "$stock_warn" ] ||
		fail "flowscope:dpdk0 said '$fs_warn', stock '$stock_warn'"
	td_capture "$WORK/dpdk_u.pcap" FLOWSCOPE_EAL="$eal" -j adapter_unsynced \
		-n -c 400 -i flowscope:dpdk0
	expect_count 400 "$WORK/dpdk_u.pcap"
fi
pass
