#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Soak run (make soak; minutes, not part of make check): the generator at
# full rate with flows churning: SOAK_FLOWS (4 million) flows in turn, each
# idle longer than flow_timeout (1 s) between its packets at a few Mpps,
# so every packet creates a flow and an older one expires: millions of
# flows created and expired, tracked, written by tcpdump. Checks that memory stays flat once
# the ring is full and that the counters add up at the end:
# received = captured + dropped.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
RUN=${FS_RUN:-$top/flowscope-run}
PACKETS=${SOAK_PACKETS:-150m}
FLOWS=${SOAK_FLOWS:-4000000}
work=$(mktemp -d /tmp/fs-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "soak: $PACKETS packets over $FLOWS flows, flow_timeout 1 s"
"$RUN" env FLOWSCOPE_GEN_PACKETS="$PACKETS" FLOWSCOPE_GEN_FLOWS="$FLOWS" \
	FLOWSCOPE_FLOW_TIMEOUT=1 FLOWSCOPE_MAX_FLOWS=$((FLOWS + FLOWS / 4)) \
	FLOWSCOPE_CONTROL="$work/c.sock" \
	/usr/bin/tcpdump -Z root -n -i flowscope:gen -w /dev/null udp \
	2>"$work/err" &
pid=$!
samples=()
while kill -0 "$pid" 2>/dev/null; do
	sleep 5
	tpid=$(pgrep -o -f "^/usr/bin/tcpdump -Z root -n -i flowscope:gen")
	[ -n "$tpid" ] || continue
	rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$tpid/status" 2>/dev/null)
	[ -n "$rss" ] || continue
	samples+=("$rss")
	st=$("$top/src/flowscope-ctl" -s "$work/c.sock" stats 2>/dev/null |
		awk '/^(received|flows_active|flows_ended|dropped) / { printf "%s %s  ", $1, $2 }')
	echo "soak: rss ${rss} kB  $st"
done
wait "$pid"
rc=$?
cat "$work/err"
[ "$rc" -eq 0 ] || { echo "soak: FAIL: tcpdump exited $rc"; exit 1; }
captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$work/err")
received=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$work/err")
dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$work/err")
if [ $((captured + dropped)) -ne "$received" ]; then
	echo "soak: FAIL: captured $captured + dropped $dropped != received $received"
	exit 1
fi
# flat: the last samples within 10 % of the highest after the first third
n=${#samples[@]}
if [ "$n" -ge 6 ]; then
	first=${samples[$((n / 3))]}
	last=${samples[$((n - 1))]}
	if [ "$last" -gt $((first * 11 / 10)) ]; then
		echo "soak: FAIL: memory grew from $first kB to $last kB"
		exit 1
	fi
fi
echo "soak: PASS: received $received = captured $captured + dropped $dropped; rss ${samples[*]:-} kB"
