#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# dumpcap_iface.sh: dumpcap (what tshark and Wireshark run) on a kernel
# interface, flowscope:VETH, with its defaults and the default 8 MiB
# RLIMIT_MEMLOCK: the capture locks no memory and starts no DPDK, and
# gets every packet tcpreplay sends into the veth.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_tools
need_cmd tcpreplay dumpcap
netns_veth_setup 1500

"$MKTRACE" -o "$WORK/in.pcap" --packets 300 --flows 10 --size 100 ||
	fail "fs-mktrace failed"

# threads PID: the names of PID's threads, on one line
threads() { cat /proc/"$1"/task/*/comm 2>/dev/null | tr '\n' ' '; }

check "dumpcap with ulimit -l 8192 captures flowscope:$VETH_HOST"
out=$WORK/dumpcap.pcapng
(
	ulimit -l 8192 || exit 99
	exec "$FS_RUN" timeout -k 5 "$FS_TIMEOUT" dumpcap -q -i "flowscope:$VETH_HOST" \
		-a duration:6 -w "$out"
) >"$WORK/dumpcap.stdout" 2>"$WORK/dumpcap.err" &
pid=$!
at_exit kill_tree "$pid"
n=0
until [ -s "$out" ]; do
	kill -0 "$pid" 2>/dev/null || break
	n=$((n + 1))
	[ "$n" -lt 100 ] || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail_log "dumpcap on flowscope:$VETH_HOST failed ($(describe_rc $?))" "$WORK/dumpcap.err"; }
sleep 1
dpid=
for p in $(_fs_tree "$pid"); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = dumpcap ] && dpid=$p
done
[ -n "$dpid" ] || fail "cannot find the dumpcap process"
t=$(threads "$dpid")
say "  dumpcap's threads: $t"
case " $t " in
*" fs-tp0.0 "*) ;;
*) fail "dumpcap has no receive thread fs-tp0.0 for the interface" ;;
esac
case $t in
*eal-* | *rte_* | *rte-* | *dpdk-*) fail "a capture of an interface started DPDK (threads: $t)" ;;
esac
ip netns exec "$NS" timeout 30 tcpreplay -q --pps=2000 -i "$VETH_NS" "$WORK/in.pcap" \
	>"$WORK/replay.dc" 2>&1 || fail_log "tcpreplay into $VETH_NS failed" "$WORK/replay.dc"
bg_wait "$pid" 30 || fail_log "dumpcap did not stop after -a duration:6" "$WORK/dumpcap.err"
expect_ok "$BG_RC" "dumpcap -i flowscope:$VETH_HOST under ulimit -l 8192" "$WORK/dumpcap.err"
expect_same --bytes-only "$WORK/in.pcap" "$out"

pass
