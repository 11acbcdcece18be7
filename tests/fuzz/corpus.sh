#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Replays every fuzz target over its seed corpus and the crashes found so
# far (tests/fuzz/corpus/TARGET), with the plain replay driver.
set -u
dir=$(dirname "$0")
bin=${FS_FUZZ_BIN:-$dir}
rc=0
for t in flowkey config devname control pcapfile busmsg; do
	if ! "$bin/replay_$t" "$dir/corpus/$t"; then
		echo "corpus: replay_$t failed" >&2
		rc=1
	fi
done
exit $rc
