#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# errors.sh: bad configuration and bad device names make pcap_activate() fail
# with a message naming the problem (tcpdump exits non-zero, no hang, no
# crash, no DPDK text), and stock libpcap still works afterwards.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

n=0
# expect_failure WHAT [VAR=VALUE...] DEVICE: tcpdump -i DEVICE must fail by
# itself; its stderr is left in $ERR for expect_stderr.
expect_failure() {
	local what=$1 vars=() rc
	shift
	while [ $# -gt 0 ] && _fs_is_assign "$1"; do
		vars+=("$1")
		shift
	done
	n=$((n + 1))
	ERR=$WORK/err$n.txt
	check "$what: ${vars[*]}${vars[*]:+ }tcpdump -i '$1' fails"
	fs_tcpdump "${vars[@]}" -n -c 1 -i "$1" -w "$WORK/err$n.pcap" >"$WORK/err$n.out" 2>"$ERR"
	rc=$?
	case $rc in
	0) fail_log "tcpdump succeeded" "$ERR" ;;
	124 | 137) fail_log "tcpdump hung: $(describe_rc "$rc")" "$ERR" ;;
	esac
	[ "$rc" -lt 128 ] || fail_log "tcpdump crashed: $(describe_rc "$rc")" "$ERR"
	if grep -q -E '^EAL:|^Usage:' "$ERR"; then
		fail_log "DPDK printed over the application" "$ERR"
	fi
	say "  tcpdump said: $(grep -v '^Running as' "$ERR" | head -n 3 | tr '\n' ' ')"
}

# expect_stderr ERE DESCRIPTION [grep option]: the last failure's message
# must match ERE.
expect_stderr() {
	grep -Eq ${3:+"$3"} -- "$1" "$ERR" || fail_log "the message does not contain $2" "$ERR"
}

expect_failure "bad value" FLOWSCOPE_BUFFER=abc flowscope:gen
expect_stderr 'buffer' "'buffer'" -i

expect_failure "unknown variable" FLOWSCOPE_BOGUS=1 flowscope:gen
expect_stderr 'FLOWSCOPE_BOGUS' "'FLOWSCOPE_BOGUS'"

expect_failure "bad mode" FLOWSCOPE_MODE=sideways flowscope:gen
expect_stderr 'mode' "'mode'" -i

expect_failure "bad trigger filter" FLOWSCOPE_MODE=trigger "FLOWSCOPE_TRIGGER=port port" flowscope:gen
expect_stderr 'trigger' "'trigger'"

expect_failure "missing dump_dir" FLOWSCOPE_DUMP_DIR=/nonexistent/dir flowscope:gen
expect_stderr 'dump_dir' "'dump_dir'"

expect_failure "bad EAL argument" FLOWSCOPE_EAL=--no-such-eal-option flowscope:gen
expect_stderr 'eal.*DPDK failed to start' "'eal' and 'DPDK failed to start'"

# options after which DPDK would end the program, before DPDK sees them
for opt in -h --help -v "--log-level=help" "-l 0 --hel" "--proc-type=secondary"; do
	expect_failure "EAL option '$opt'" FLOWSCOPE_EAL="$opt" flowscope:gen
	expect_stderr 'eal: .* it is not passed to DPDK' "'eal: ... it is not passed to DPDK'"
done

# a config file that is a FIFO is refused at once (FS_TIMEOUT would
# report a hang otherwise)
mkfifo "$WORK/fifo.conf" || fail "mkfifo failed"
start=$(date +%s)
expect_failure "a FIFO as config file" "flowscope/$WORK/fifo.conf:gen"
expect_stderr 'fifo\.conf: not a regular file' "'fifo.conf: not a regular file'"
[ $(($(date +%s) - start)) -le 10 ] || fail "refusing the FIFO took $(($(date +%s) - start)) s"

# a name of 10,000 bytes: the reason still fits the error buffer
long=flowscope
for i in $(seq 17); do long="$long:file=/$i$(printf 'a%.0s' $(seq 580))"; done
expect_failure "a 10,000-byte device name with 17 sources" "$long"
expect_stderr 'too many sources' "'too many sources'"

expect_failure "dpdkN without such a port" flowscope:dpdk7
expect_stderr 'dpdk7: no such DPDK port' "'dpdk7: no such DPDK port'"

conf=$WORK/bad.conf
cat >"$conf" <<'EOF'
# flowscope test configuration: line 3 holds an unknown key
mode = live
no_such_key = 1
EOF
expect_failure "unknown key on line 3 of a config file" "flowscope/$conf:gen"
expect_stderr 'bad\.conf' "the file name bad.conf"
expect_stderr ':3([^0-9]|$)' "the line ':3'"
expect_stderr 'no_such_key' "the key no_such_key"

expect_failure "FLOWSCOPE_CONFIG names a missing file" \
	FLOWSCOPE_CONFIG="$WORK/missing.conf" flowscope:gen
expect_stderr 'missing\.conf' "the file name missing.conf"

expect_failure "missing interface" flowscope:nosuchif0
expect_stderr 'nosuchif0' "'nosuchif0'"

expect_failure "device name without a source" flowscope:
expect_stderr 'source|device|empty' "'source', 'device' or 'empty'" -i

missing=/nonexistent.pcap
[ ! -e "$missing" ] || missing=$WORK/nonexistent.pcap
expect_failure "missing file" "flowscope:file=$missing"
expect_stderr "${missing//./\\.}" "the path $missing"

"$MKTRACE" -o "$WORK/trace.pcap" --packets 20 || fail "fs-mktrace failed"

check "stock libpcap still reads a file (tcpdump -r through FS_RUN)"
fs_run "$TCPDUMP" -n -r "$WORK/trace.pcap" >"$WORK/read.out" 2>"$WORK/read.err"
expect_ok $? "tcpdump -n -r trace.pcap" "$WORK/read.err"
lines=$(wc -l <"$WORK/read.out")
[ "$lines" -eq 20 ] || fail_log "tcpdump -r printed $lines lines, not 20" "$WORK/read.out"

# The same in one process: failed flowscope activations, each closed, then
# a stock pcap_open_offline() that must read every packet.
py=
for c in /usr/bin/python3 python3; do
	if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import ctypes' 2>/dev/null; then
		py=$c
		break
	fi
done
if [ -z "$py" ]; then
	say "python3 with ctypes not found: skipping the one-process check"
	pass
fi
check "in one process: failed flowscope activations, then pcap_open_offline() works"
cat >"$WORK/oneproc.py" <<'EOF'
import ctypes, sys
from ctypes import c_char_p, c_int, c_void_p, POINTER, byref
lib = ctypes.CDLL("libpcap.so.0.8")
lib.pcap_create.restype = c_void_p
lib.pcap_create.argtypes = [c_char_p, c_char_p]
lib.pcap_activate.argtypes = [c_void_p]
lib.pcap_geterr.restype = c_char_p
lib.pcap_geterr.argtypes = [c_void_p]
lib.pcap_close.argtypes = [c_void_p]
lib.pcap_open_offline.restype = c_void_p
lib.pcap_open_offline.argtypes = [c_char_p, c_char_p]
lib.pcap_next_ex.argtypes = [c_void_p, POINTER(c_void_p), POINTER(c_void_p)]
errbuf = ctypes.create_string_buffer(512)
for dev in sys.argv[2:]:
    p = lib.pcap_create(dev.encode(), errbuf)
    if not p:
        print("%s: pcap_create: %s" % (dev, errbuf.value.decode(errors="replace")))
        continue
    rc = lib.pcap_activate(p)
    msg = lib.pcap_geterr(p).decode(errors="replace")
    lib.pcap_close(p)
    if rc >= 0:
        print("%s: pcap_activate succeeded (%d), expected a failure" % (dev, rc))
        sys.exit(1)
    print("%s: pcap_activate %d: %s" % (dev, rc, msg))
p = lib.pcap_open_offline(sys.argv[1].encode(), errbuf)
if not p:
    print("pcap_open_offline: %s" % errbuf.value.decode(errors="replace"))
    sys.exit(1)
hdr, data, n = c_void_p(), c_void_p(), 0
while True:
    rc = lib.pcap_next_ex(p, byref(hdr), byref(data))
    if rc != 1:
        break
    n += 1
lib.pcap_close(p)
print("read %d packets (last pcap_next_ex %d)" % (n, rc))
sys.exit(0 if rc == -2 else 1)
EOF
fs_run "$py" "$WORK/oneproc.py" "$WORK/trace.pcap" \
	"flowscope/$conf:gen" flowscope:nosuchif0 "flowscope:file=$missing" flowscope: \
	>"$WORK/oneproc.out" 2>&1
expect_ok $? "python3 ctypes check" "$WORK/oneproc.out"
grep -q '^read 20 packets' "$WORK/oneproc.out" ||
	fail_log "pcap_open_offline() did not read 20 packets" "$WORK/oneproc.out"
sed 's/^/  /' "$WORK/oneproc.out"

check "in one process: eal = -h is refused and the program goes on to read a file"
fs_run FLOWSCOPE_EAL=-h "$py" "$WORK/oneproc.py" "$WORK/trace.pcap" flowscope:gen \
	>"$WORK/help.out" 2>&1
expect_ok $? "python3 ctypes check with FLOWSCOPE_EAL=-h" "$WORK/help.out"
grep -q '^read 20 packets' "$WORK/help.out" ||
	fail_log "the program did not go on after eal = -h" "$WORK/help.out"
grep -q "'-h' would make DPDK print its usage" "$WORK/help.out" ||
	fail_log "no message about -h" "$WORK/help.out"

check "in one process: a failed DPDK start is named again by the next capture"
fs_run FLOWSCOPE_EAL=--no-such-eal-option "$py" "$WORK/oneproc.py" "$WORK/trace.pcap" \
	flowscope:gen flowscope:gen >"$WORK/again.out" 2>&1
expect_ok $? "python3 ctypes check with a bad EAL option twice" "$WORK/again.out"
grep -q 'failed to start earlier in this process.*no-such-eal-option' "$WORK/again.out" ||
	fail_log "the second capture does not say that DPDK failed earlier, and why" "$WORK/again.out"
sed 's/^/  /' "$WORK/again.out"

pass
