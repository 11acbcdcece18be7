#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# privileged.sh: a pcap program with file capabilities (as Debian installs
# dumpcap for non-root capture), run by an unprivileged user, takes nothing
# from that user that could run code or read files with its privileges:
# FLOWSCOPE_* variables (FLOWSCOPE_EAL='-d evil.so', FLOWSCOPE_CONFIG)
# are refused, a config file the user could write is refused, and an error
# never shows a line of a file the user could not read. A marker file that
# the shared object's constructor would write stays absent. A config file
# of root's in root's directories is taken.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd setcap
need_cmd setpriv
need_cmd gcc
id nobody >/dev/null 2>&1 || skip "no user nobody"

lib=$(sed -n 's/^LD_LIBRARY_PATH="\([^$"]*\).*/\1/p' "$FS_RUN")
[ -f "$lib/libpcap.so.0.8" ] || fail "cannot find the library flowscope-run uses (got '$lib')"

# Everything the unprivileged user runs lives in a directory of root's,
# open to all for reading, with the attacker's own directory inside it.
top=$(mktemp -d /tmp/fs-priv.XXXXXX) || fail "mktemp failed"
at_exit rm -rf "$top"
chmod 755 "$top"
mkdir -p "$top/lib" "$top/etc" "$top/att"
cp -P "$lib"/libpcap.so* "$top/lib/"
chmod -R a+rX "$top/lib" "$top/etc"
chown nobody "$top/att"

cat >"$WORK/open.c" <<'EOF'
#include <pcap/pcap.h>
#include <stdio.h>
/* open argv[1], read up to 5 packets; 0 when that worked */
int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const unsigned char *d;
	int n = 0, rc;
	pcap_t *p = argc > 1 ? pcap_create(argv[1], err) : NULL;

	if (p == NULL)
		return 2;
	if (pcap_activate(p) < 0) {
		printf("activate: %s\n", pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	while (n < 5 && (rc = pcap_next_ex(p, &h, &d)) >= 0)
		n += rc;
	printf("read %d packets\n", n);
	pcap_close(p);
	return 0;
}
EOF
gcc -o "$top/open" "$WORK/open.c" -lpcap -Wl,-rpath,"$top/lib" 2>"$WORK/cc.err" ||
	fail_log "cannot build the test program" "$WORK/cc.err"
setcap cap_net_raw,cap_net_admin+ep "$top/open" 2>"$WORK/setcap.err" ||
	skip "setcap does not work here: $(cat "$WORK/setcap.err")"

cat >"$WORK/evil.c" <<EOF
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void)
{
	int fd = open("$top/att/marker", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}
EOF
gcc -shared -fPIC -o "$top/att/evil.so" "$WORK/evil.c" 2>"$WORK/cc.err" ||
	fail_log "cannot build the shared object" "$WORK/cc.err"
printf 'eal = -d %s/att/evil.so\ncontrol = off\n' "$top" >"$top/att/x.conf"
chown nobody "$top/att/x.conf" "$top/att/evil.so"

# as_nobody ENV... DEVICE: the capability program as nobody, output in $OUT
n=0
as_nobody() {
	n=$((n + 1))
	OUT=$WORK/out$n.txt
	(cd "$top/att" && timeout -k 5 60 setpriv --reuid=nobody --regid=nogroup \
		--clear-groups env -i PATH=/usr/bin:/bin "$@" "$top/open" "${DEVICE}") \
		>"$OUT" 2>&1
}

expect_refused() {
	local what=$1 rc
	shift
	check "$what"
	as_nobody "$@"
	rc=$?
	[ "$rc" = 1 ] || fail_log "the program did not fail to activate: $(describe_rc "$rc")" "$OUT"
	[ ! -e "$top/att/marker" ] || fail_log "evil.so was loaded into the privileged program" "$OUT"
	say "  it said: $(head -n 2 "$OUT" | tr '\n' ' ')"
}

DEVICE=flowscope:gen
expect_refused "FLOWSCOPE_EAL='-d evil.so' is refused" FLOWSCOPE_EAL="-d $top/att/evil.so"
grep -q 'FLOWSCOPE_EAL: not taken by a privileged program' "$OUT" ||
	fail_log "the message does not say why" "$OUT"

expect_refused "FLOWSCOPE_CONFIG naming the user's file is refused" FLOWSCOPE_CONFIG="$top/att/x.conf"
grep -q 'FLOWSCOPE_CONFIG: not taken' "$OUT" || fail_log "the message does not say why" "$OUT"

DEVICE="flowscope/$top/att/x.conf:gen"
expect_refused "a config file in the user's own directory is refused"
grep -q "not taken by a privileged program.*directory $top/att is not root's alone" "$OUT" ||
	fail_log "the message does not say why" "$OUT"

# the same file moved into root's directory, but writable by its owner
cp "$top/att/x.conf" "$top/etc/user.conf"
chown nobody "$top/etc/user.conf"
DEVICE="flowscope/$top/etc/user.conf:gen"
expect_refused "a config file owned by the user is refused even in root's directory"
grep -q "it is not root's alone (owner uid 65534" "$OUT" || fail_log "the message does not say why" "$OUT"

# root's file, but with the code-loading option: refused still
cp "$top/att/x.conf" "$top/etc/root-d.conf"
chmod 644 "$top/etc/root-d.conf"
DEVICE="flowscope/$top/etc/root-d.conf:gen"
expect_refused "eal = -d in a config file of root's is refused in a privileged program"
grep -q "'-d' loads a shared object" "$OUT" || fail_log "the message does not say why" "$OUT"

if [ -r /etc/shadow ] && [ -s /etc/shadow ]; then
	DEVICE=flowscope//etc/shadow:gen
	expect_refused "flowscope//etc/shadow:gen is refused without showing the file"
	first=$(head -n 1 /etc/shadow | cut -d: -f1-2)
	if grep -qF -- "$first" "$OUT"; then
		fail_log "the error shows the first line of /etc/shadow" "$OUT"
	fi
	grep -q 'shadow: cannot read config file: Permission denied' "$OUT" ||
		fail_log "the message does not say the user cannot read it" "$OUT"
fi

check "a config file of root's, in root's directories, is taken"
printf 'gen_packets = 5\ncontrol = off\n' >"$top/etc/ok.conf"
chmod 644 "$top/etc/ok.conf"
DEVICE="flowscope/$top/etc/ok.conf:gen"
as_nobody
rc=$?
if [ "$rc" = 0 ]; then
	grep -q '^read 5 packets' "$OUT" || fail_log "the capture did not deliver 5 packets" "$OUT"
else
	# the file was taken if the failure is about something after it
	grep -q 'not taken\|not root' "$OUT" && fail_log "root's config file was refused" "$OUT"
	say "  the capture itself failed as nobody (not part of this test): $(head -n 1 "$OUT")"
fi

check "the same program run by root takes FLOWSCOPE_* variables as usual"
DEVICE=flowscope:gen
(cd "$top" && timeout -k 5 60 env FLOWSCOPE_GEN_PACKETS=5 FLOWSCOPE_CONTROL=off "$top/open" flowscope:gen) \
	>"$WORK/root.txt" 2>&1 || true
grep -q 'not taken' "$WORK/root.txt" && fail_log "root was treated as untrusted" "$WORK/root.txt"
[ ! -e "$top/att/marker" ] || fail "evil.so was loaded"
pass
