#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The unit tests, the fuzz corpora and the integration tests once more
# under AddressSanitizer + UndefinedBehaviorSanitizer, and the threaded
# unit tests and the integration tests under ThreadSanitizer.
# Any sanitizer report fails. Run from the top of the tree:
#   sh tests/sanitize.sh
set -u
cd "$(dirname "$0")/.."
CC=${CC:-gcc}
base="-std=gnu11 -O1 -g -fno-omit-frame-pointer -Isrc -Iinclude"
check="$(pkg-config --cflags --libs check)"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS="halt_on_error=1 history_size=7 suppressions=$(pwd)/tests/tsan.supp"
export CK_FORK=no	# leaks and races are seen in the test process itself
pass=0 fail=0

# build NAME FLAGS SOURCES... (libraries after --)
build() {
	out=$1 flags=$2
	shift 2
	srcs= libs=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do srcs="$srcs $1"; shift; done
	[ $# -gt 0 ] && shift
	libs="$*"
	# shellcheck disable=SC2086
	$CC $base $flags -o "$out" $srcs $libs
}

run() {
	name=$1
	shift
	if "$@" >"$dir/$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "PASS: $dir/$name"
	else
		fail=$((fail + 1))
		echo "FAIL: $dir/$name"
		tail -n 40 "$dir/$name.log"
	fi
}

units() {
	dir=$1 flags=$2
	mkdir -p "$dir"
	build "$dir/check_ring" "$flags" tests/check_ring.c src/ring.c -- $check -lpthread &&
	build "$dir/check_flow" "$flags" tests/check_flow.c src/flow.c src/flowkey.c \
		src/analyzer.c src/ring.c -- $check -lpcap &&
	build "$dir/check_control" "$flags" tests/check_control.c src/control.c src/thread.c \
		src/control_dir.c -- \
		$check -lpcap -lpthread &&
	build "$dir/check_privsep" "$flags" tests/check_privsep.c src/privsep.c -- \
		$check -lpthread &&
	# shellcheck disable=SC2046
	build "$dir/check_spool" "$flags $(pkg-config --cflags libdpdk)" \
		tests/check_spool.c src/spool.c src/spool_index.c src/ring.c src/thread.c \
		src/spool_hist.c src/analyzer.c src/flow.c \
		src/flowkey.c src/privsep.c src/crc32c.c -- $check -lpcap -lpthread \
		$(pkg-config --libs libdpdk) || return 1
	run check_ring "$dir/check_ring"
	run check_flow "$dir/check_flow"
	FS_CTL=$(pwd)/src/flowscope-ctl run check_control "$dir/check_control"
	run check_privsep "$dir/check_privsep"
	run check_spool "$dir/check_spool"
}

# ASan + UBSan: every unit test and every fuzz corpus
dir=build-asan
asan="-fsanitize=address,undefined -fno-sanitize-recover=all"
units build-asan "$asan" || fail=$((fail + 1))
build "$dir/check_config" "$asan" tests/check_config.c src/config.c src/eal_args.c src/timewin.c \
	src/devname.c -- $check -lpcap &&
	run check_config "$dir/check_config"
build "$dir/check_devname" "$asan" tests/check_devname.c src/devname.c -- $check &&
	run check_devname "$dir/check_devname"
build "$dir/check_flowkey" "$asan" tests/check_flowkey.c src/flowkey.c -- $check -lpcap &&
	run check_flowkey "$dir/check_flowkey"
build "$dir/check_timewin" "$asan" tests/check_timewin.c src/timewin.c -- $check &&
	run check_timewin "$dir/check_timewin"
build "$dir/check_bpfhint" "$asan" tests/check_bpfhint.c src/bpfhint.c src/flowkey.c \
	-- $check -lpcap &&
	run check_bpfhint "$dir/check_bpfhint"
build "$dir/check_busmsg" "$asan" tests/check_busmsg.c src/busmsg.c src/flowkey.c -- $check &&
	run check_busmsg "$dir/check_busmsg"
for t in flowkey:src/flowkey.c "config:src/config.c src/eal_args.c src/devname.c src/timewin.c" \
	 devname:src/devname.c \
	 "control:src/control.c src/control_dir.c src/thread.c" \
	 "pcapfile:src/analyzer.c src/flow.c src/flowkey.c src/ring.c" \
	 "busmsg:src/busmsg.c src/flowkey.c"; do
	name=${t%%:*}
	# shellcheck disable=SC2086
	build "$dir/replay_$name" "$asan" tests/fuzz/replay.c "tests/fuzz/fuzz_$name.c" \
		${t#*:} -- -lpcap -lpthread &&
		run "fuzz_$name" "$dir/replay_$name" "tests/fuzz/corpus/$name"
done

# TSan: the tests with threads (ring writer against reader, control
# server against clients, analyzer mailbox, the helper forked from a
# threaded process)
units build-tsan "-fsanitize=thread" || fail=$((fail + 1))

# engine DIR FLAGS RUNTIMES ENV: libflowscope built with FLAGS and linked
# into its own copy of the patched libpcap in DIR/lib; DIR/run runs a
# command against it with the sanitizer RUNTIMES (library names) preloaded
# and the variables ENV (VAR=value words) set.
engine() {
	local lib=$1 flags=$2 runtimes=$3 env=$4 dsc preload= rt
	dsc=$(ls libpcap-fs/work/libpcap_*.dsc 2>/dev/null | head -n 1)
	[ -n "$dsc" ] || return 2
	mkdir -p "$lib/obj"
	# the engine's sources as Makefile.am lists them, so that none is
	# ever left out here
	for f in $(awk '/^src_libflowscope_la_SOURCES/,/_CFLAGS/' Makefile.am |
		   grep -o 'src/[a-z0-9_]*\.c'); do
		# shellcheck disable=SC2046
		$CC $base $flags -fPIC $(pkg-config --cflags libdpdk) -c "$f" \
			-o "$lib/obj/$(basename "$f" .c).o" || return 1
	done
	rm -f "$lib/libflowscope.a"
	ar rcs "$lib/libflowscope.a" "$lib"/obj/*.o || return 1
	rm -rf "$lib/src" && dpkg-source -x "$dsc" "$lib/src" >/dev/null || return 1
	sh libpcap-fs/build.sh --module "$(pwd)/libpcap-fs" --include "$(pwd)/include" \
		--engine "$(pwd)/$lib/libflowscope.a" \
		--libs "$flags $(pkg-config --libs libdpdk) -lrte_net_ring -lrte_bus_vdev -lnats -lpthread" \
		--work "$(pwd)/$lib/work" --out "$(pwd)/$lib/lib" --src "$(pwd)/$lib/src" \
		>"$lib/build.log" 2>&1 || { cat "$lib/build.log"; return 1; }
	for rt in $runtimes; do
		preload=${preload:+$preload:}$($CC -print-file-name="$rt")
	done
	printf '#!/bin/sh\nLD_LIBRARY_PATH=%s LD_PRELOAD=%s %s exec "$@"\n' \
		"$(pwd)/$lib/lib" "$preload" "$env" >"$lib/run" &&
		chmod +x "$lib/run"
}

# integration SANITIZER DIR PATTERN TESTS...: the integration tests run
# through DIR/run; a log line matching PATTERN is a sanitizer report.
integration() {
	local san=$1 lib=$2/libpcap pattern=$3 t
	dir=$2
	shift 3
	for t in "$@"; do
		FS_RUN=$(pwd)/$lib/run FS_TOOLS=$(pwd)/tests/tools \
			FS_CTL=$(pwd)/src/flowscope-ctl FS_SRCDIR=$(pwd) \
			FS_RECORD=$(pwd)/src/flowscope-record \
			run "integration_$t" bash "tests/integration/$t.sh"
		if grep -q -E "$pattern" "$dir/integration_$t.log"; then
			echo "FAIL: $san report in integration_$t"
			fail=$((fail + 1))
		fi
	done
}

if ! [ -x src/flowscope-ctl ] || ! [ -x tests/tools/fs-mktrace ]; then
	echo "SKIP: integration tests under sanitizers (build the tree first)"
elif ! ls libpcap-fs/work/libpcap_*.dsc >/dev/null 2>&1; then
	echo "SKIP: integration tests under sanitizers (no libpcap source package in libpcap-fs/work)"
else
	# ASan + UBSan, with the runtimes preloaded into tcpdump (leak checking
	# off: tcpdump's own exit paths leak). tshark is left out: dumpcap
	# and the extcap helpers link libp11-kit, whose constructor runs
	# before a preloaded sanitizer runtime has started; the runtime then
	# starts inside glibc's newlocale() and unbalances glibc's locale
	# lock, and once anything has called strerror() (dumpcap does when
	# pcap_lookupnet() finds no address) they hang in exit().
	if engine build-asan/libpcap "$asan" "libasan.so libubsan.so" \
		"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"; then
		integration ASan build-asan 'AddressSanitizer|runtime error' \
			file_replay gen errors pcap_api dpdk_port trigger_file \
			trigger_overrun dump_dir ctl faults limits veth_live ctl_crowd ctl_user \
			trigger_counts gen_rate pcap_options named dump_privsep dump_many \
			spool cutoff spool_query spool_trigger share bus
	else
		echo "FAIL: building the engine under ASan"; fail=$((fail + 1))
	fi
	# TSan: the engine's threads (receive, feeder, dumper, control and
	# the application's) in the same integration tests. The feeder's
	# hand-off through DPDK's ring device is annotated (src/tsan.h).
	# limits is left out: it needs a consumer slower than the source, and
	# under TSan the source is the slower one.
	if engine build-tsan/libpcap -fsanitize=thread libtsan.so \
		"TSAN_OPTIONS=halt_on_error=1:exitcode=66:history_size=7:suppressions=$(pwd)/tests/tsan.supp"; then
		integration TSan build-tsan 'ThreadSanitizer' \
			file_replay gen errors pcap_api dpdk_port trigger_file \
			trigger_overrun dump_dir ctl faults veth_live ctl_crowd ctl_user \
			trigger_counts dump_privsep dump_many spool cutoff spool_trigger \
			share bus
	else
		echo "FAIL: building the engine under TSan"; fail=$((fail + 1))
	fi
fi

echo "sanitizers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
