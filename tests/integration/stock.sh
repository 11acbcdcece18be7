#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# stock.sh: through the rebuilt libpcap, stock behaviour is unchanged: file
# reading, filters and writing match the system libpcap, a live capture on lo
# works, and FS_RUN really loads a libpcap.so.0.8 other than the system's.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

"$MKTRACE" -o "$WORK/mixed.pcap" --packets 300 --mixed --proto mixed --flows 9 ||
	fail "fs-mktrace failed"
"$MKTRACE" -o "$WORK/qinq6.pcap" --packets 100 --ipv6 --vlan 10 --qinq --proto mixed --size 200 ||
	fail "fs-mktrace failed"
"$MKTRACE" -o "$WORK/nano.pcap" --packets 100 --nano --snaplen 50 ||
	fail "fs-mktrace failed"

# same_text NAME ARGS...: tcpdump ARGS prints the same with both libraries.
same_text() {
	local name=$1
	shift
	check "tcpdump $* prints the same text with both libraries"
	stock_run "$TCPDUMP" "$@" >"$WORK/$name.stock" 2>"$WORK/$name.stock.err" ||
		fail_log "stock tcpdump $*" "$WORK/$name.stock.err"
	fs_run "$TCPDUMP" "$@" >"$WORK/$name.fs" 2>"$WORK/$name.fs.err"
	expect_ok $? "tcpdump $* through FS_RUN" "$WORK/$name.fs.err"
	[ -s "$WORK/$name.stock" ] || fail "stock tcpdump $* printed nothing"
	if ! diff -u "$WORK/$name.stock" "$WORK/$name.fs" >"$WORK/$name.diff"; then
		fail_log "output differs from the system libpcap's" "$WORK/$name.diff"
	fi
}

same_text read -n -r "$WORK/mixed.pcap"
same_text read_v -nn -e -vv -tt -r "$WORK/qinq6.pcap"
same_text read_nano -n -tt --time-stamp-precision=nano -r "$WORK/nano.pcap"
same_text filter -n -r "$WORK/mixed.pcap" 'tcp and src port 10003 or udp and dst port 30004'
same_text filter_vlan -n -e -r "$WORK/qinq6.pcap" 'vlan 10 and vlan 11 and ip6 and tcp'
same_text dump -d -r "$WORK/mixed.pcap" 'udp portrange 10000-10004'

check "tcpdump -r T -w OUT through FS_RUN rewrites T exactly"
fs_tcpdump -r "$WORK/mixed.pcap" -w "$WORK/rewrite.pcap" 2>"$WORK/rewrite.err"
expect_ok $? "tcpdump -r mixed.pcap -w rewrite.pcap" "$WORK/rewrite.err"
expect_same "$WORK/mixed.pcap" "$WORK/rewrite.pcap"
fs_tcpdump --time-stamp-precision=nano -r "$WORK/nano.pcap" -w "$WORK/rewrite-nano.pcap" \
	2>"$WORK/rewrite-nano.err"
expect_ok $? "tcpdump --time-stamp-precision=nano -r nano.pcap -w ..." "$WORK/rewrite-nano.err"
expect_same --nano "$WORK/nano.pcap" "$WORK/rewrite-nano.pcap"

if [ "$(id -u)" -ne 0 ]; then
	say "not root: skipping the live capture on lo"
else
	# a port of our own so parallel runs do not see each other's datagrams
	port=$((20000 + $$ % 10000))
	out=$WORK/lo.pcap err=$WORK/lo.err
	check "tcpdump -i lo -c 5 'udp port $port' gets 5 datagrams sent to 127.0.0.1:$port"
	bg_start "$WORK/lo.stdout" "$err" fs_tcpdump -n -i lo -c 5 -w "$out" "udp port $port"
	pid=$BG_PID
	wait_listening "$err" "$pid" 30 || fail_log "tcpdump -i lo did not start listening" "$err"
	for i in 1 2 3 4 5; do
		printf 'flowscope stock test %d\n' "$i" >"/dev/udp/127.0.0.1/$port" ||
			fail "cannot send to udp 127.0.0.1:$port"
		sleep 0.05
	done
	if ! bg_wait "$pid" 15; then
		kill_tree "$pid" INT
		fail_log "tcpdump -i lo did not get 5 packets within 15 s" "$err"
	fi
	expect_ok "$BG_RC" "tcpdump -i lo -c 5" "$err"
	expect_count 5 "$out"
fi

check "FS_RUN resolves libpcap.so.0.8 to a library other than the system's"
# "libpcap.so.0.8 => PATH", or "PATH (0x...)" when FS_RUN uses LD_PRELOAD
# shellcheck disable=SC2016 # awk's fields, not the shell's
pcap_path='$1 == "libpcap.so.0.8" && $2 == "=>" { print $3; exit } $1 ~ /\/libpcap\.so\.0\.8$/ { print $1; exit }'
sys_lib=$(ldd "$TCPDUMP" | awk "$pcap_path")
fs_lib=$("$FS_RUN" sh -c "ldd $TCPDUMP" | awk "$pcap_path")
say "system: ${sys_lib:-?}  FS_RUN: ${fs_lib:-?}"
if [ -z "$fs_lib" ] || [ ! -e "$fs_lib" ]; then
	fail "ldd through FS_RUN does not resolve libpcap.so.0.8 for $TCPDUMP to a file"
fi
if [ "$(readlink -f "$fs_lib")" = "$(readlink -f "$sys_lib")" ]; then
	fail "FS_RUN loads the system's libpcap ($fs_lib): these tests do not exercise flowscope's library"
fi

pass
