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

# The Debian package last: it takes over the system's libpcap while it
# runs, and gives it back.
bash tests/deb.sh >tests/deb.log 2>&1 || rc=1
cat tests/deb.log

# one closing line for whoever reads the log
{ find tests -name '*.trs' -exec cat {} +; cat tests/sanitize.log tests/deb.log; } | awk '
	/^:test-result: PASS/ || /^PASS: build-/ || /^PASS: deb$/ { p++ }
	/^:test-result: (FAIL|ERROR|XPASS)/ || /^FAIL: build-/ || /^FAIL: deb$/ { f++ }
	/^:test-result: SKIP/ { s++ }
	END { printf "%d passed, %d failed, %d skipped\n", p, f, s }'
exit $rc
