#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# named.sh: named captures, for programs that split device names at ':'
# or '/' themselves (softflowd, argus): flowscope-NAME opens the capture
# that NAME.conf in the config directory (FLOWSCOPE_CONF_DIR here)
# describes with its source key; tcpdump -D lists it; a file without a
# source key, a missing file and a source key on an ordinary device name
# are clear activate errors.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools

dir=$WORK/conf.d
mkdir -p "$dir"
"$MKTRACE" -o "$WORK/t.pcap" --packets 40 --flows 4 || fail "fs-mktrace failed"
printf '# an edge tap\nsource = file=%s\ncontrol = off\n' "$WORK/t.pcap" >"$dir/edge.conf"
printf 'mode = live\n' >"$dir/nosource.conf"

check "tcpdump -i flowscope-edge replays the trace named by edge.conf"
td_capture "$WORK/edge.pcap" FLOWSCOPE_CONF_DIR="$dir" -n -i flowscope-edge
expect_same "$WORK/t.pcap" "$WORK/edge.pcap"

check "tcpdump -D lists flowscope-edge, and not a file without a source key"
"$FS_RUN" env FLOWSCOPE_CONF_DIR="$dir" timeout 10 "$TCPDUMP" -D >"$WORK/D.out" 2>&1 ||
	fail_log "tcpdump -D failed" "$WORK/D.out"
grep -q '^[0-9]*\.flowscope-edge (flowscope capture edge of file=' "$WORK/D.out" ||
	fail_log "flowscope-edge is not listed" "$WORK/D.out"
grep -q 'flowscope-nosource' "$WORK/D.out" && fail_log "flowscope-nosource is listed" "$WORK/D.out"

for c in "nosource|has no source key" "missing|missing.conf: cannot read config file" \
	 "bad/name|No such device"; do
	name=${c%%|*} want=${c#*|}
	check "flowscope-$name fails: $want"
	fs_tcpdump FLOWSCOPE_CONF_DIR="$dir" -n -c 1 -i "flowscope-$name" -w "$WORK/x.pcap" \
		>"$WORK/x.out" 2>"$WORK/x.err" && fail_log "tcpdump succeeded" "$WORK/x.err"
	grep -q -- "$want" "$WORK/x.err" || fail_log "the message does not say '$want'" "$WORK/x.err"
done

check "a source key on flowscope:gen is refused"
fs_tcpdump FLOWSCOPE_SOURCE=gen -n -c 1 -i flowscope:gen -w "$WORK/y.pcap" \
	>"$WORK/y.out" 2>"$WORK/y.err" && fail_log "tcpdump succeeded" "$WORK/y.err"
grep -q 'source: only a named capture' "$WORK/y.err" || fail_log "no clear message" "$WORK/y.err"
pass
