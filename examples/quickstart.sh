#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# First look at flowscope from a fresh clone: install dependencies, build,
# and let the distribution's tcpdump read the built-in generator.
set -eu
cd "$(dirname "$0")/.."
sh tests/install-deps.sh
autoreconf -fi
./configure
make -j"$(nproc)"
exec ./flowscope-run tcpdump -Z root -n -c "${COUNT:-20}" -i flowscope:gen
