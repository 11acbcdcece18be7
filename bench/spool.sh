#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The spool's benchmark (part of make bench, or on its own): the spool's
# write rate against the disk's own ceiling (dd with O_DIRECT, same file
# system, same run), and the capture rate with the spool against without
# it, on the generator's 1500-byte frames. BENCH_SPOOL_DIR (default
# /var/tmp) must be on a real disk: tmpfs takes no O_DIRECT.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-5}
work=$(mktemp -d /dev/shm/fs-bench-spool.XXXXXX)
fs_lib=$top/libpcap-fs/lib
spool_base=${BENCH_SPOOL_DIR:-/var/tmp}
sdir=$(mktemp -d "$spool_base/fs-bench-spool.XXXXXX")
trap 'rm -rf "$work" "$sdir"' EXIT
chmod 700 "$sdir"
"${CC:-gcc}" -O2 -o "$work/fs-bench" "$top/bench/fs-bench.c" -lpcap || exit 1
fs() { env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL=off "$@"; }
ceiling=$(dd if=/dev/zero of="$sdir/ceiling" bs=4M count=512 oflag=direct 2>&1 |
	awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i - 1)
		if (t > 0) printf "%.0f", $1 / t }')
rm -f "$sdir/ceiling"
nospool=$(fs FLOWSCOPE_GEN_SIZE=1500 "$work/fs-bench" flowscope:gen "$secs" 2>/dev/null |
	tail -n 1 | sed 's/.*\bpps=\([0-9]*\).*/\1/')
# spool_row NAME VARS...: gen of 1500-byte frames for secs seconds with the
# spool; its figures from the control socket half a second before the end
spool_row() {
	local name=$1 sock=$work/spool.sock out
	shift
	rm -f "$sdir"/seg-*
	env LD_LIBRARY_PATH="$fs_lib" FLOWSCOPE_CONTROL="$sock" FLOWSCOPE_GEN_SIZE=1500 \
		FLOWSCOPE_SPOOL_DIR="$sdir" FLOWSCOPE_SPOOL_SIZE=8g "$@" \
		"$work/fs-bench" flowscope:gen "$secs" >"$work/spool.out" 2>/dev/null &
	sleep "$(awk -v s="$secs" 'BEGIN { print s - 0.5 }')"
	"$top/src/flowscope-ctl" -s "$sock" stats >"$work/spool.stats" 2>/dev/null
	wait
	out=$(tail -n 1 "$work/spool.out")
	awk -v name="$name" -v ceil="${ceiling:-0}" -v base="${nospool:-0}" \
		-v secs="$secs" -v out="$out" '
		/^spool_written / { w = $2 } /^spool_dropped / { d = $2 }
		END { n = split(out, f, /[ =]/)
			for (i = 1; i < n; i += 2) v[f[i]] = f[i + 1]
			rate = w / (secs - 0.5)
			printf "| %s | %.2f M | %.2f | %.0f MB/s | %.2f | %d |\n", name,
				v["pps"] / 1e6, (base > 0 ? v["pps"] / base : 0),
				rate / 1e6, (ceil > 0 ? rate / ceil : 0), d }' "$work/spool.stats"
}
echo
echo "Disk ceiling (dd oflag=direct, 2 GiB in 4 MiB writes, $spool_base): $(awk -v c="${ceiling:-0}" 'BEGIN { printf "%.0f MB/s", c / 1e6 }')"
echo
echo "| gen, 1500-byte frames | delivered pkt/s | ratio to without the spool | spool write rate | ratio to the disk ceiling | spool_dropped |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| without the spool | $(awk -v x="${nospool:-0}" 'BEGIN { printf "%.2f M", x / 1e6 }') | 1.00 | | | |"
spool_row "with the spool, as fast as it goes"
spool_row "with the spool, gen_rate 20k (240 Mbit/s)" FLOWSCOPE_GEN_RATE=20k
