#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# deb.sh: the Debian package (make deb) takes over the system's libpcap
# and gives it back. Installed: `ldd /usr/bin/tcpdump` names flowscope's
# library, a plain tcpdump (no flowscope-run) captures flowscope:gen,
# flowscope-ctl, flowscope-run, flowscope-record and its systemd unit, the
# man pages and the example configs are there, and the installed recorder
# records flowscope:gen. Purged: tcpdump loads the system's library again, which is byte
# for byte what it was, and nothing of the package is left.
# Changes the machine's libpcap while it runs: not part of make check;
# tests/run.sh runs it last. Run from the build directory, as root.
# Prints PASS: deb or FAIL: deb (and why) as its last line.
set -u
export DEBIAN_FRONTEND=noninteractive
say() { printf 'deb: %s\n' "$*"; }
fail() {
	say "FAIL: $*"
	dpkg -s flowscope >/dev/null 2>&1 && dpkg --purge flowscope >/dev/null 2>&1
	echo "FAIL: deb"
	exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root (it installs a package)"

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
syslib=$(readlink -f "/usr/lib/$multiarch/libpcap.so.0.8")
[ -f "$syslib" ] || fail "no system libpcap.so.0.8"
sum_before=$(sha256sum "$syslib" | cut -d' ' -f1)
# the library's path only: ldd also prints a load address, new each run
pcap_path() { ldd /usr/bin/tcpdump | awk '/libpcap/ { print $3 }'; }
ldd_before=$(pcap_path)

say "building the package (make deb)"
rm -f flowscope_*.deb flowscope-dbgsym_*.deb
make deb >deb-build.log 2>&1 || { tail -30 deb-build.log; fail "make deb failed"; }
deb=$(ls flowscope_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "make deb made no flowscope_*.deb"

say "installing $deb"
apt-get install -y -q "./$deb" >deb-install.log 2>&1 ||
	{ tail -20 deb-install.log; fail "apt-get install ./$deb failed"; }
lib=/usr/lib/$multiarch/flowscope/libpcap.so.0.8
ldd /usr/bin/tcpdump | grep -q "libpcap.so.0.8 => $lib" ||
	fail "tcpdump does not load $lib: $(ldd /usr/bin/tcpdump | grep libpcap)"
for f in /usr/bin/flowscope-ctl /usr/bin/flowscope-run /usr/sbin/flowscope-record \
	 /lib/systemd/system/flowscope-record@.service \
	 /usr/lib/tmpfiles.d/flowscope.conf \
	 /usr/share/doc/flowscope/examples/flowscope.conf \
	 /usr/share/doc/flowscope/examples/record-example.conf; do
	[ -e "$f" ] || fail "$f is not installed"
done
grep -qx 'ExecStart=/usr/sbin/flowscope-record flowscope-%i' \
	/lib/systemd/system/flowscope-record@.service ||
	fail "the unit does not run /usr/sbin/flowscope-record"
for page in flowscope.7 flowscope-ctl.1 flowscope-record.8; do
	dpkg -L flowscope | grep -q "/man/.*/$page" || fail "the man page $page is not installed"
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
FLOWSCOPE_GEN_PACKETS=5 FLOWSCOPE_CONTROL=off timeout 60 tcpdump -Z root -n \
	-i flowscope:gen -w "$out/gen.pcap" >"$out/td.out" 2>&1 ||
	fail "a plain tcpdump could not capture flowscope:gen: $(cat "$out/td.out")"
[ "$(tcpdump -r "$out/gen.pcap" 2>/dev/null | wc -l)" = 5 ] ||
	fail "the capture does not hold 5 packets"
FLOWSCOPE_GEN_PACKETS=5 FLOWSCOPE_CONTROL=off timeout 60 flowscope-record -x gen \
	>"$out/rec.out" 2>&1 || fail "flowscope-record -x gen failed: $(cat "$out/rec.out")"
grep -q '^flowscope-record: stopped (every source ended): received 5 ' "$out/rec.out" ||
	fail "flowscope-record did not record 5 packets: $(cat "$out/rec.out")"
say "installed: tcpdump loads $lib and captures flowscope:gen; flowscope-record records it"

say "purging"
apt-get purge -y -q flowscope >deb-purge.log 2>&1 ||
	{ tail -20 deb-purge.log; fail "apt-get purge flowscope failed"; }
[ "$(pcap_path)" = "$ldd_before" ] ||
	fail "after purge tcpdump loads $(pcap_path), not the system's ($ldd_before)"
[ "$(sha256sum "$syslib" | cut -d' ' -f1)" = "$sum_before" ] ||
	fail "the system library $syslib changed"
for f in /etc/ld.so.conf.d/00-flowscope.conf "/usr/lib/$multiarch/flowscope" \
	 /usr/bin/flowscope-ctl /usr/sbin/flowscope-record \
	 /lib/systemd/system/flowscope-record@.service /usr/lib/tmpfiles.d/flowscope.conf; do
	[ ! -e "$f" ] || fail "$f is still there after purge"
done
tcpdump -i flowscope:gen -c 1 -w /dev/null >"$out/stock.out" 2>&1 &&
	fail "after purge the system's tcpdump still opens flowscope:gen"
say "purged: the system's library is back, byte for byte"
echo "PASS: deb"
