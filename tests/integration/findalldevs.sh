#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# findalldevs.sh: tcpdump -D through flowscope's libpcap lists flowscope:gen
# and flowscope:IFNAME for the interfaces that are up, keeps the stock
# entries, and answers within 5 s without starting DPDK.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

out=$WORK/D.out err=$WORK/D.err

check "tcpdump -D exits 0 within 5 s"
t0=$(date +%s%N)
"$FS_RUN" timeout -k 2 10 "$TCPDUMP" -D >"$out" 2>"$err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect_ok "$rc" "tcpdump -D" "$err" "$out"
[ "$ms" -lt 5000 ] || fail_log "tcpdump -D took $ms ms (limit 5000)" "$out"
say "tcpdump -D took $ms ms"

# listed NAME: true when tcpdump -D printed an entry called NAME.
listed() {
	awk -v n="$1" '{ sub(/^[0-9]+\./, ""); sub(/ .*/, "") } $0 == n { f = 1 } END { exit !f }' "$out"
}

check "no DPDK (EAL) output"
if grep -q 'EAL' "$out" "$err"; then
	fail_log "tcpdump -D printed EAL text: DPDK was started or talked" "$out" "$err"
fi

for name in flowscope:gen flowscope:lo lo; do
	check "$name is listed"
	listed "$name" || fail_log "tcpdump -D does not list $name" "$out"
done

check "stock entries are still listed (any and every interface stock libpcap lists)"
stock_run "$TCPDUMP" -D >"$WORK/stock.out" 2>/dev/null || fail "stock tcpdump -D failed"
sed -E 's/^[0-9]+\.([^ ]+).*/\1/' "$WORK/stock.out" >"$WORK/stock.names"
while read -r name; do
	case $name in
	fs[hn][0-9]*) continue ;;	# veth of a concurrent veth_live.sh run
	esac
	listed "$name" && continue
	if [ "$name" = any ] || [ -e "/sys/class/net/$name" ]; then
		fail_log "stock entry $name is missing" "$out" "$WORK/stock.out"
	fi
	# bluetooth, dbus, usbmon, ...: optional features of the libpcap build
	say "warning: stock pseudo-device $name is missing (rebuilt libpcap lacks its support?)"
done <"$WORK/stock.names"

check "flowscope:IFNAME is listed for each interface that is up"
for dir in /sys/class/net/*; do
	name=${dir##*/}
	case $name in
	fs[hn][0-9]*) continue ;;
	esac
	flags=$(cat "$dir/flags" 2>/dev/null) || continue
	[ $((flags & 1)) -eq 1 ] || continue	# IFF_UP
	listed "flowscope:$name" || fail_log "flowscope:$name is not listed" "$out"
done

# Scripts say `tcpdump -i 4`: the stock devices keep their numbers, and the
# flowscope ones come after them. An interface that comes or goes between
# the two listings (another test's veth) moves numbers, so try again.
check "stock devices keep their numbers; flowscope devices come after them"
for try in 1 2 3; do
	stock_run "$TCPDUMP" -D >"$WORK/stock.out" 2>/dev/null
	"$FS_RUN" timeout -k 2 10 "$TCPDUMP" -D >"$out" 2>"$err"
	n=$(wc -l <"$WORK/stock.out")
	if head -n "$n" "$out" | cmp -s - "$WORK/stock.out" &&
	   ! tail -n +"$((n + 1))" "$out" | grep -vq '^[0-9]*\.flowscope:'; then
		break
	fi
	[ "$try" -lt 3 ] || fail_log "the first $n entries are not stock's, in stock's order, or a stock entry comes after the flowscope ones" "$out" "$WORK/stock.out"
	sleep 1
done

# arpwatch, ngrep and iftop ask for the device's network first; stock
# libpcap answers 0/0 for "any", and so for flowscope devices
check "pcap_lookupnet() on flowscope devices answers 0/0"
cat >"$WORK/lookupnet.py" <<'EOF'
import ctypes, sys
lib = ctypes.CDLL("libpcap.so.0.8")
net, mask = ctypes.c_uint32(7), ctypes.c_uint32(7)
err = ctypes.create_string_buffer(512)
for dev in sys.argv[1:]:
    rc = lib.pcap_lookupnet(dev.encode(), ctypes.byref(net), ctypes.byref(mask), err)
    print("%s: %d %d %d %s" % (dev, rc, net.value, mask.value, err.value.decode()))
    if rc != 0 or net.value or mask.value:
        sys.exit(1)
EOF
"$FS_RUN" python3 "$WORK/lookupnet.py" flowscope:gen flowscope:lo flowscope//etc/x.conf:gen \
	>"$WORK/lookupnet.out" 2>&1 || fail_log "pcap_lookupnet() failed" "$WORK/lookupnet.out"

pass
