#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Install what building and testing flowscope needs on Debian 12 (root).
set -eu
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (apt-get install)" >&2
	exit 1
fi
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential autoconf automake libtool pkg-config dpkg-dev debhelper groff-base strace \
	patch flex bison \
	dpdk dpdk-dev libdpdk-dev uthash-dev check libpcap-dev libnats-dev nats-server \
	libbluetooth-dev libdbus-1-dev \
	tcpdump tshark tcpreplay iproute2 python3 ca-certificates \
	ngrep p0f darkstat arpwatch softflowd tcpflow python3-scapy pmacct \
	argus-server argus-client iftop
