#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite from a fresh clone: install dependencies, build
# from scratch, run the unit and integration tests (make check).
set -eu
cd "$(dirname "$0")/.."
sh tests/install-deps.sh
autoreconf -fi
./configure --enable-werror
make -j"$(nproc)"
rc=0
make -j"$(nproc)" check VERBOSE=1 || rc=$?
# one closing line for whoever reads the log
find tests -name '*.trs' -exec cat {} + | awk '
	/^:test-result: PASS/ { p++ }
	/^:test-result: (FAIL|ERROR|XPASS)/ { f++ }
	/^:test-result: SKIP/ { s++ }
	END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'
exit $rc
