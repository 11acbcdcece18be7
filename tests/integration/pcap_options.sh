#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# pcap_options.sh: what a pcap program asks for through the libpcap API
# reaches the capture. pcap_set_buffer_size() (tcpdump -B KiB) sizes the
# ring when the buffer key is not configured; a configured buffer wins;
# sizes up to libpcap's 2 MiB default (dumpcap passes that unasked) keep
# the 256 MiB default.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools
need_ctl

# ring_capacity WHAT [VAR=VALUE...] [tcpdump options]: start a capture of
# gen, put its ring_capacity from flowscope-ctl stats in CAP, stop it
n=0
ring_capacity() {
	local what=$1 vars=() sock pid
	shift
	while [ $# -gt 0 ] && _fs_is_assign "$1"; do
		vars+=("$1")
		shift
	done
	n=$((n + 1))
	sock=$WORK/c$n.sock
	bg_start "$WORK/o$n.stdout" "$WORK/o$n.stderr" fs_tcpdump "${vars[@]}" \
		FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_GEN_RATE=1k "$@" -n -i flowscope:gen -w "$WORK/o$n.pcap"
	pid=$BG_PID
	wait_socket "$sock" "$pid" || fail_log "$what: no control socket" "$WORK/o$n.stderr"
	ctl "$sock" stats >"$WORK/s$n.txt" 2>&1 || fail_log "$what: stats failed" "$WORK/s$n.txt"
	stop_tcpdump "$WORK/o$n.pcap" "$pid"
	CAP=$(stat_value "$WORK/s$n.txt" ring_capacity)
	[ -n "$CAP" ] || fail_log "$what: no ring_capacity" "$WORK/s$n.txt"
}

# within MIB CAP: CAP is MIB MiB, less at most 10 % of chunk rounding
within() {
	local want=$(($1 << 20))
	[ "$2" -le "$want" ] && [ "$2" -ge $((want - want / 10)) ]
}

check "tcpdump -B 65536 makes a 64 MiB ring"
ring_capacity "-B 65536" -B 65536
within 64 "$CAP" || fail "ring_capacity is $CAP, not about 64 MiB"

check "FLOWSCOPE_BUFFER=32m wins over -B 65536"
ring_capacity "buffer and -B" FLOWSCOPE_BUFFER=32m -B 65536
within 32 "$CAP" || fail "ring_capacity is $CAP, not about 32 MiB"

check "-B 2048 (libpcap's default) keeps the 256 MiB default"
ring_capacity "-B 2048" -B 2048
within 256 "$CAP" || fail "ring_capacity is $CAP, not about 256 MiB"
pass
