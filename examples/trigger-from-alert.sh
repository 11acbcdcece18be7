#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Called by an IDS or any alerting tool with the offending host (and an
# optional port): asks every running flowscope capture to deliver the
# matching flows, including what they sent before the alert.
#   trigger-from-alert.sh 192.0.2.7 443
set -eu
host=$1
filter="host $host"
[ $# -ge 2 ] && filter="$filter and port $2"
flowscope-ctl list | while read -r sock _; do
	flowscope-ctl -s "$sock" trigger "$filter"
done
