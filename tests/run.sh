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

# The unit tests and fuzz corpora again under ASan+UBSan and TSan.
sh tests/sanitize.sh >tests/sanitize.log 2>&1 || rc=1
cat tests/sanitize.log

# one closing line for whoever reads the log
{ find tests -name '*.trs' -exec cat {} +; cat tests/sanitize.log; } | awk '
	/^:test-result: PASS/ || /^PASS: build-/ { p++ }
	/^:test-result: (FAIL|ERROR|XPASS)/ || /^FAIL: build-/ { f++ }
	/^:test-result: SKIP/ { s++ }
	END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'
exit $rc
