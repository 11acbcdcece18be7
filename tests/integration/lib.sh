# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# lib.sh: helpers shared by flowscope's integration tests, sourced by each
# test (bash). Exit status follows automake: 0 pass, 1 fail, 77 skip.
#
# Environment (set by the test harness):
#   FS_RUN      wrapper that runs a command with flowscope's libpcap:
#               "$FS_RUN" /usr/bin/tcpdump -i flowscope:gen ...
#   FS_TOOLS    directory holding the built fs-mktrace and fs-pcapcmp
#   FS_TMP      optional scratch directory; each test makes its own
#               subdirectory there (kept when the test fails), else one
#               under ${TMPDIR:-/tmp} (always removed)
#   FS_TIMEOUT  seconds any one tcpdump/tshark run may take (default 60)
#   FS_KEEP=1   keep the scratch directory in any case
#
# Sourcing this file creates the scratch directory $WORK and an EXIT trap
# that runs everything registered with at_exit (last registered first):
# background captures, network namespaces, the scratch directory.

# shellcheck disable=SC2034 # used by the tests that source this file
TCPDUMP=/usr/bin/tcpdump
# shellcheck disable=SC2034
TSHARK=/usr/bin/tshark
FS_TIMEOUT=${FS_TIMEOUT:-60}
TEST_NAME=${0##*/}
TEST_NAME=${TEST_NAME%.sh}

# ---- messages and results ------------------------------------------------

say() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

# check WHAT: announce the next check.
check() { say "checking: $*"; }

fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

skip() {
	printf '%s: SKIP: %s\n' "$TEST_NAME" "$*"
	exit 77
}

pass() {
	say "PASS"
	exit 0
}

# show_file FILE...: print the first lines of each non-empty FILE to stderr.
show_file() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || continue
		printf '  --- %s (first 30 lines):\n' "${f##*/}" >&2
		head -n 30 "$f" | sed 's/^/  | /' >&2
	done
}

# fail_log MESSAGE FILE...: fail, showing the files (stderr of the run).
fail_log() {
	local m=$1
	shift
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$m" >&2
	show_file "$@"
	exit 1
}

# describe_rc RC: a status in words (timeout(1)'s 124/137 included).
describe_rc() {
	case $1 in
	0) echo "exit status 0" ;;
	124) echo "timed out after ${FS_TIMEOUT}s and was killed" ;;
	137) echo "timed out and needed SIGKILL" ;;
	*) if [ "$1" -gt 128 ]; then
		echo "killed by signal $(($1 - 128)) ($(kill -l "$1" 2>/dev/null))"
	   else
		echo "exit status $1"
	   fi ;;
	esac
}

# expect_ok RC WHAT [LOGFILE...]: fail unless RC is 0.
expect_ok() {
	local rc=$1 what=$2
	shift 2
	[ "$rc" -eq 0 ] || fail_log "$what: $(describe_rc "$rc")" "$@"
}

# ---- cleanup -------------------------------------------------------------

_FS_CLEANUP=()

# at_exit CMD [ARGS...]: run CMD when the test exits (last registered first).
at_exit() {
	local c
	printf -v c '%q ' "$@"
	_FS_CLEANUP+=("$c")
}

_fs_on_exit() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	FS_EXIT_RC=$rc
	for ((i = ${#_FS_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${_FS_CLEANUP[i]}"
	done
	exit "$rc"
}

# _fs_rm_work: remove $WORK unless FS_KEEP=1 or a failed test ran in FS_TMP.
_fs_rm_work() {
	local rc=${FS_EXIT_RC:-1}
	if [ "${FS_KEEP:-0}" = 1 ] ||
	   { [ -n "${FS_TMP:-}" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
		say "scratch directory kept: $WORK"
	else
		rm -rf -- "$WORK"
	fi
}

# _fs_quiet CMD...: run CMD, ignoring its errors (for cleanup).
_fs_quiet() { "$@" >/dev/null 2>&1 || true; }

trap _fs_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- prerequisites -------------------------------------------------------

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# need_cmd CMD...: skip unless every CMD is installed.
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

# need_tools: set MKTRACE and PCAPCMP from FS_TOOLS.
need_tools() {
	[ -n "${FS_TOOLS:-}" ] || fail "FS_TOOLS is not set (directory of fs-mktrace and fs-pcapcmp)"
	MKTRACE=$FS_TOOLS/fs-mktrace
	PCAPCMP=$FS_TOOLS/fs-pcapcmp
	[ -x "$MKTRACE" ] || fail "$MKTRACE is missing or not executable"
	[ -x "$PCAPCMP" ] || fail "$PCAPCMP is missing or not executable"
}

[ -n "${FS_RUN:-}" ] ||
	fail "FS_RUN is not set (wrapper that runs a command with flowscope's libpcap)"
command -v "$FS_RUN" >/dev/null 2>&1 || fail "FS_RUN=$FS_RUN is not executable"
[ -x "$TCPDUMP" ] || skip "$TCPDUMP is not installed"
need_cmd timeout

# ---- scratch directory ---------------------------------------------------

if [ -n "${FS_TMP:-}" ]; then
	mkdir -p -- "$FS_TMP" || fail "cannot create FS_TMP=$FS_TMP"
	WORK=$(mktemp -d "$FS_TMP/$TEST_NAME.XXXXXX") || fail "mktemp in $FS_TMP failed"
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/fs-$TEST_NAME.XXXXXX") || fail "mktemp failed"
fi
at_exit _fs_rm_work
case $WORK in
*:* | *' '*) fail "scratch directory '$WORK' holds ':' or a blank; device names cannot carry it" ;;
esac

# ---- running programs ----------------------------------------------------

_fs_is_assign() { [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; }

# fs_run [VAR=VALUE...] PROGRAM ARGS...: run PROGRAM with flowscope's
# libpcap, the variables set, under timeout FS_TIMEOUT. Returns its status.
fs_run() {
	local vars=()
	while [ $# -gt 0 ] && _fs_is_assign "$1"; do
		vars+=("$1")
		shift
	done
	"$FS_RUN" env "${vars[@]}" timeout -k 5 "$FS_TIMEOUT" "$@"
}

# stock_run PROGRAM ARGS...: the same with the system's libpcap.
stock_run() {
	timeout -k 5 "$FS_TIMEOUT" "$@"
}

# fs_tcpdump [VAR=VALUE...] ARGS...: /usr/bin/tcpdump -Z root ARGS through
# fs_run (-Z root: tcpdump would drop to its own user otherwise and could
# not write into the private scratch directory).
fs_tcpdump() {
	local vars=()
	while [ $# -gt 0 ] && _fs_is_assign "$1"; do
		vars+=("$1")
		shift
	done
	fs_run "${vars[@]}" "$TCPDUMP" -Z root "$@"
}

# td_capture OUT [VAR=VALUE...] ARGS...: fs_tcpdump -w OUT ARGS (put the
# filter expression last in ARGS); fail unless tcpdump exits 0 by itself.
# Its stdout and stderr go to OUT.stdout and OUT.stderr.
td_capture() {
	local out=$1 vars=() rc
	shift
	while [ $# -gt 0 ] && _fs_is_assign "$1"; do
		vars+=("$1")
		shift
	done
	fs_tcpdump "${vars[@]}" -w "$out" "$@" >"$out.stdout" 2>"$out.stderr"
	rc=$?
	expect_ok "$rc" "${vars[*]}${vars[*]:+ }tcpdump -w ${out##*/} $*" "$out.stderr"
}

# pcap_count FILE: print the number of packets in FILE ("?" if unreadable).
pcap_count() {
	"$PCAPCMP" --print-count "$1" 2>/dev/null || echo "?"
}

# expect_count N FILE: fail unless FILE holds exactly N packets.
expect_count() {
	"$PCAPCMP" --count-only "$1" "$2" 2>"$WORK/count.err" ||
		fail_log "${2##*/} does not hold $1 packets" "$WORK/count.err"
}

# expect_same [fs-pcapcmp options] A B: fail unless fs-pcapcmp agrees.
expect_same() {
	"$PCAPCMP" "$@" 2>"$WORK/cmp.err" ||
		fail_log "fs-pcapcmp $*: differ" "$WORK/cmp.err"
}

# ---- background processes ------------------------------------------------

# _fs_tree PID: PID and all its descendants, parents first.
_fs_tree() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1" 2>/dev/null); do
		_fs_tree "$c"
	done
}

# kill_tree PID [SIGNAL]: signal PID and its descendants (default TERM, so
# tcpdump still writes what it has), SIGKILL what is left after 5 s.
kill_tree() {
	local pid=$1 sig=${2:-TERM} pids p i
	kill -0 "$pid" 2>/dev/null || return 0
	pids=$(_fs_tree "$pid")
	for p in $pids; do
		kill -s "$sig" "$p" 2>/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	wait "$pid" 2>/dev/null
	return 0
}

# bg_start STDOUT STDERR CMD...: run CMD in the background; BG_PID is its
# pid. It is killed (with its children) when the test exits.
bg_start() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" &
	BG_PID=$!
	at_exit kill_tree "$BG_PID"
}

# bg_wait PID SECONDS: wait for PID to end; its status goes to BG_RC.
# Returns 1 if it still runs after SECONDS.
bg_wait() {
	local pid=$1 n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
	wait "$pid"
	# shellcheck disable=SC2034 # read by the caller
	BG_RC=$?
	return 0
}

# wait_listening STDERR PID [SECONDS]: wait until the tcpdump writing
# STDERR says "listening on" (pcap_activate() has succeeded), then give it
# FS_SETTLE seconds (default 1) more. Returns 1 if it died or took too long.
wait_listening() {
	local err=$1 pid=$2 n=$((${3:-20} * 10))
	until grep -q 'listening on' "$err" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || return 1
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
	sleep "${FS_SETTLE:-1}"
}

# ---- network namespace and veth pair ------------------------------------

# netns_veth_setup [MTU [TAG]]: a namespace NS with one end of a veth pair,
# VETH_NS, and the other end, VETH_HOST, in this namespace; both up, IPv6
# off (no router solicitations, DAD or MLD reports), no addresses. Names
# carry $$ (and TAG, for several pairs) so parallel runs do not clash;
# everything goes away at exit.
# Skips when namespaces cannot be created here.
netns_veth_setup() {
	local mtu=${1:-} tag=${2:-} i
	need_root
	need_cmd ip sysctl
	NS=fsns$$$tag
	VETH_HOST=fsh$$$tag
	VETH_NS=fsn$$$tag
	ip netns add "$NS" 2>"$WORK/netns.err" ||
		skip "cannot create a network namespace: $(cat "$WORK/netns.err")"
	at_exit _fs_quiet ip netns delete "$NS"
	ip link add "$VETH_HOST" type veth peer name "$VETH_NS" netns "$NS" 2>"$WORK/veth.err" ||
		fail_log "cannot create veth pair $VETH_HOST/$VETH_NS" "$WORK/veth.err"
	at_exit _fs_quiet ip link delete "$VETH_HOST"
	# before the links come up, so they never send anything
	_fs_quiet sysctl -w "net.ipv6.conf.$VETH_HOST.disable_ipv6=1"
	_fs_quiet ip netns exec "$NS" sysctl -w "net.ipv6.conf.$VETH_NS.disable_ipv6=1"
	if [ -n "$mtu" ]; then
		ip link set "$VETH_HOST" mtu "$mtu" || fail "cannot set MTU $mtu on $VETH_HOST"
		ip -n "$NS" link set "$VETH_NS" mtu "$mtu" || fail "cannot set MTU $mtu on $VETH_NS"
	fi
	ip link set "$VETH_HOST" up || fail "cannot bring $VETH_HOST up"
	ip -n "$NS" link set lo up || fail "cannot bring lo up in $NS"
	ip -n "$NS" link set "$VETH_NS" up || fail "cannot bring $VETH_NS up in $NS"
	for ((i = 0; i < 50; i++)); do
		[ "$(cat "/sys/class/net/$VETH_HOST/operstate" 2>/dev/null)" = up ] && return 0
		sleep 0.1
	done
	fail "$VETH_HOST did not come up"
}

# ---- trigger mode: the expected output (oracle) ---------------------------

# need_tshark: skip unless tshark is installed.
need_tshark() {
	[ -x "$TSHARK" ] || skip "$TSHARK is not installed"
}

# oracle_flows TRACE DISPLAY_FILTER OUT: write to OUT every packet of TRACE
# that belongs to a flow holding at least one packet that matches the
# Wireshark DISPLAY_FILTER, in TRACE's order and timestamp precision (pcap,
# or nanosecond pcap) -- what trigger mode must deliver when the trigger is
# the pcap-filter equivalent of DISPLAY_FILTER. tshark finds the flows by
# itself: tcp.stream and udp.stream; other IP packets by addresses and
# protocol. Sets ORACLE_COUNT (packets in OUT) and ORACLE_FLOWS (flows).
# Only right for traces in which no flow is split by flow_timeout or has
# packets after its RST or second FIN (tshark knows no flow ends).
oracle_flows() {
	local t=$1 df=$2 out=$3 fmt=pcap sel
	need_tshark
	stock_run "$TSHARK" -n -r "$t" -Y "$df" -T fields \
		-e tcp.stream -e udp.stream -e ip.src -e ip.dst -e ip.proto \
		-e ipv6.src -e ipv6.dst -e ipv6.nxt \
		>"$WORK/oracle.fields" 2>"$WORK/oracle.err" ||
		fail_log "oracle: tshark -Y '$df' cannot read ${t##*/}" "$WORK/oracle.err"
	# one display filter term per flow: tcp.stream == N, udp.stream == N, or
	# the addresses and protocol of anything else
	sel=$(awk -F '\t' '
		$1 != "" { k = "tcp.stream == " $1 }
		$1 == "" && $2 != "" { k = "udp.stream == " $2 }
		$1 == "" && $2 == "" && $3 != "" {
			k = "(ip.addr == " $3 " && ip.addr == " $4 " && ip.proto == " $5 " && !tcp && !udp)" }
		$1 == "" && $2 == "" && $3 == "" && $6 != "" {
			k = "(ipv6.addr == " $6 " && ipv6.addr == " $7 " && ipv6.nxt == " $8 " && !tcp && !udp)" }
		$1 == "" && $2 == "" && $3 == "" && $6 == "" { k = "" }
		k != "" && !(k in seen) { seen[k] = 1; n++; printf "%s%s", (n > 1 ? " || " : ""), k }
		END { if (n == 0) printf "frame.number == 0" }' "$WORK/oracle.fields")
	ORACLE_FLOWS=$(awk -F '\t' '
		$1 != "" { print "t" $1; next }
		$2 != "" { print "u" $2; next }
		{ a = $3 $6; b = $4 $7; print (a < b ? a " " b : b " " a), $5 $8 }' \
		"$WORK/oracle.fields" | sort -u | grep -c .)
	case $(od -An -tx1 -N4 "$t" | tr -d ' \n') in
	4d3cb2a1 | a1b23c4d) fmt=nsecpcap ;;
	esac
	stock_run "$TSHARK" -n -r "$t" -Y "$sel" -w "$out" -F "$fmt" 2>"$WORK/oracle.err" ||
		fail_log "oracle: tshark cannot write the flows of ${t##*/} to ${out##*/}" "$WORK/oracle.err"
	ORACLE_COUNT=$(pcap_count "$out")
	[ "$ORACLE_COUNT" != "?" ] || fail "oracle: ${out##*/} is unreadable"
}

# expect_trigger_matches TRACE FILTER N: the pcap filter FILTER matches
# exactly N packets of TRACE with stock libpcap (checks the test itself:
# the trigger expression means what the test thinks it does).
expect_trigger_matches() {
	local t=$1 filter=$2 want=$3 n
	stock_run "$TCPDUMP" -n -r "$t" -w "$WORK/trigger-matches.pcap" "$filter" \
		2>"$WORK/trigger-matches.err" ||
		fail_log "stock tcpdump -r ${t##*/} '$filter' failed" "$WORK/trigger-matches.err"
	n=$(pcap_count "$WORK/trigger-matches.pcap")
	[ "$n" = "$want" ] ||
		fail "test bug: trigger '$filter' matches $n packets of ${t##*/} with stock libpcap, not $want"
}

# mktrace_summary NAME OPTIONS...: fs-mktrace -o $WORK/NAME.pcap OPTIONS
# --summary; the "name value" lines go to $WORK/NAME.summary.
mktrace_summary() {
	local name=$1
	shift
	"$MKTRACE" -o "$WORK/$name.pcap" "$@" --summary >"$WORK/$name.summary" \
		2>"$WORK/mktrace.err" || fail_log "fs-mktrace $*" "$WORK/mktrace.err"
}

# summary_value NAME KEY: KEY's value in $WORK/NAME.summary.
summary_value() {
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' \
		"$WORK/$1.summary" || fail "no '$2' in $1.summary"
}

# td_dropped STDERR: the N of tcpdump's closing "N packets dropped by
# kernel" line (ps_drop); fails when tcpdump printed none.
td_dropped() {
	local n
	n=$(sed -n 's/^\([0-9][0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$1" | tail -n 1)
	[ -n "$n" ] || fail_log "tcpdump printed no 'packets dropped by kernel' line" "$1"
	echo "$n"
}

# tcpdump_pid OUT: the pid of the tcpdump process writing OUT (-w OUT),
# the process a Ctrl-C would signal (not the wrappers around it).
# The oldest match, not the lowest pid: the privileged helper flowscope forks
# carries tcpdump's command line, and once the pid counter wraps its pid can
# be the lower one.
tcpdump_pid() {
	pgrep -o -f "^$TCPDUMP .*-w $1( |\$)"
}

# stop_tcpdump OUT PID [SECONDS]: SIGINT to the tcpdump writing OUT, whose
# wrapper is the background job PID; wait for it (default 15 s). Its exit
# status goes to BG_RC; fails if it cannot be found or does not stop.
stop_tcpdump() {
	local out=$1 pid=$2 tpid
	tpid=$(tcpdump_pid "$out")
	[ -n "$tpid" ] || fail "cannot find the tcpdump process writing ${out##*/}"
	kill -INT "$tpid"
	bg_wait "$pid" "${3:-15}" || fail "tcpdump (writing ${out##*/}) did not stop after SIGINT"
}

# ---- control socket -------------------------------------------------------

# need_ctl: skip unless FS_CTL names the flowscope-ctl client; sets CTL.
need_ctl() {
	[ -n "${FS_CTL:-}" ] || skip "FS_CTL is not set (path of the flowscope-ctl client)"
	[ -x "$FS_CTL" ] || skip "FS_CTL=$FS_CTL is not executable"
	CTL=$FS_CTL
}

# ctl SOCKET COMMAND [ARGS...]: flowscope-ctl -s SOCKET COMMAND ARGS with a
# 10 s timeout; its answer goes to stdout, its messages to stderr.
ctl() {
	local sock=$1
	shift
	timeout -k 2 10 "$CTL" -s "$sock" "$@"
}

# wait_socket PATH PID [SECONDS]: wait until PATH is a socket (default 10 s),
# failing early when PID ends.
wait_socket() {
	local path=$1 pid=$2 n=$((${3:-10} * 10))
	until [ -S "$path" ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# stat_value FILE NAME: the value of NAME in FILE, the output of
# flowscope-ctl stats ("name value" lines); empty when missing.
stat_value() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}

# ---- dump_dir files ---------------------------------------------------------

# _fs_dump_names LIST: for each line of LIST (fs-pcapcmp --nano
# --list-flows output, with or without the FILE column), the two names
# (either endpoint first) a dump file of that flow would have, and the
# FILE if there was one: "NAME1 NAME2 [FILE]". One date(1) for all lines.
_fs_dump_names() {
	local list=$1 stamp ts proto a pa b pb pk by file
	awk '{ split($1, t, "."); print "@" t[1] }' "$list" |
		TZ=UTC date -f - +%Y%m%d-%H%M%S >"$list.stamps" 2>"$list.err" ||
		fail_log "date cannot convert the flows' times" "$list.err"
	paste -d ' ' "$list.stamps" "$list" |
	while read -r stamp ts proto a pa b pb pk by file; do
		stamp=$stamp.${ts#*.}
		a=${a//:/.}
		b=${b//:/.}
		echo "${stamp}_${proto}_${a}_${pa}_${b}_${pb}.pcap ${stamp}_${proto}_${b}_${pb}_${a}_${pa}.pcap${file:+ $file}"
	done
}

# dump_names FILE: the two names (either endpoint first) a dump file of
# each flow of FILE would have, one flow per line: "NAME1 NAME2".
dump_names() {
	"$PCAPCMP" --nano --list-flows "$1" >"$WORK/flows.txt" 2>"$WORK/flows.err" ||
		fail_log "fs-pcapcmp --list-flows ${1##*/}" "$WORK/flows.err"
	_fs_dump_names "$WORK/flows.txt"
}

# check_dump_dir DIR N EXPECTED: DIR holds one file for each of the N
# triggered flows, each right: a regular file (not a symlink) of mode
# 0600, a nanosecond-precision pcap holding exactly one flow, named
# <first packet time YYYYMMDD-HHMMSS.nnnnnnnnn>_<proto>_<addrA>_<portA>_
# <addrB>_<portB>.pcap after that flow and its first packet; together
# they are EXPECTED, each flow in order. A few processes whatever N is.
check_dump_dir() {
	local dir=$1 n=$2 expected=$3 f name n1 n2 file magic mode files=()
	for f in "$dir"/*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		files+=("$f")
	done
	[ "${#files[@]}" -eq "$n" ] ||
		fail "${dir##*/} holds ${#files[@]} files, not one for each of the $n triggered flows: $(ls -l "$dir" | head -n 20)"
	for f in "${files[@]}"; do
		name=${f##*/}
		if [ ! -f "$f" ] || [ -L "$f" ]; then
			fail "$name is not a regular file"
		fi
		[[ $name =~ ^[0-9]{8}-[0-9]{6}\.[0-9]{9}_[a-z0-9]+_[0-9a-f.]+_[0-9]+_[0-9a-f.]+_[0-9]+\.pcap$ ]] ||
			fail "$name is not named <YYYYMMDD-HHMMSS.nnnnnnnnn>_<proto>_<addrA>_<portA>_<addrB>_<portB>.pcap"
		LC_ALL=C IFS= read -r -d '' -N 4 magic <"$f"
		case $magic in
		$'\x4d\x3c\xb2\xa1' | $'\xa1\xb2\x3c\x4d') ;;
		*) fail "$name is not a nanosecond-precision pcap file (magic $(od -An -tx1 -N4 "$f" | tr -d ' \n'))" ;;
		esac
	done
	stat -c '%a %n' -- "${files[@]}" >"$WORK/modes.txt" || fail "stat failed"
	while read -r mode f; do
		[ "$mode" = 600 ] || fail "${f##*/} has mode $mode, not 600"
	done <"$WORK/modes.txt"
	# (with one file, fs-pcapcmp does not add its name to the lines)
	"$PCAPCMP" --count-flows "${files[@]}" >"$WORK/nflows.txt" 2>"$WORK/nflows.err" ||
		fail_log "fs-pcapcmp --count-flows cannot read the files" "$WORK/nflows.err"
	while read -r n1 f; do
		f=${f:-${files[0]}}
		[ "$n1" = 1 ] ||
			fail "${f##*/} does not hold exactly one flow: $("$PCAPCMP" --list-flows "$f" 2>&1 | head -n 3)"
	done <"$WORK/nflows.txt"
	"$PCAPCMP" --nano --list-flows "${files[@]}" >"$WORK/dflows.txt" 2>"$WORK/nflows.err" ||
		fail_log "fs-pcapcmp --list-flows cannot read the files" "$WORK/nflows.err"
	_fs_dump_names "$WORK/dflows.txt" >"$WORK/dnames.txt"
	while read -r n1 n2 file; do
		file=${file:-${files[0]}}
		name=${file##*/}
		[ "$name" = "$n1" ] || [ "$name" = "$n2" ] ||
			fail "$name: the name should be $n1 (or $n2) after its first packet and flow"
	done <"$WORK/dnames.txt"
	[ "$(grep -c . "$WORK/dnames.txt")" -eq "$n" ] ||
		fail "fs-pcapcmp --list-flows named $(grep -c . "$WORK/dnames.txt") flows in the $n files"
	# each file holds one flow, so each file is exactly its flow
	expect_same --nano --per-flow "$expected" "${files[@]}"
}
