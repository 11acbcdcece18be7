#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The peer "stock libpcap's DPDK module": the same libpcap source the
# build fetched (libpcap-fs/work/libpcap), configured --with-dpdk. Its
# pcap-dpdk.c predates DPDK 22.11's renames of a few ETH_* constants;
# they are renamed here (and a removed rxmode field dropped), in this
# copy only.
#   build-stock-dpdk.sh TOP_BUILDDIR OUTDIR
set -eu
top=$1 out=$2
src=$top/libpcap-fs/work/libpcap
[ -f "$src/pcap-dpdk.c" ] || { echo "run make first (no $src)" >&2; exit 1; }
if [ -f "$out/libpcap.so.0.8" ]; then exit 0; fi
rm -rf "$out/src" && mkdir -p "$out" && cp -a "$src" "$out/src"
cd "$out/src"
rm -f .flowscope-configured
sed -i -e 's/\bETH_MQ_TX_NONE\b/RTE_ETH_MQ_TX_NONE/g' \
       -e 's/\bETH_LINK_UP\b/RTE_ETH_LINK_UP/g' \
       -e 's/\bETH_LINK_FULL_DUPLEX\b/RTE_ETH_LINK_FULL_DUPLEX/g' \
       -e 's/\bDEV_TX_OFFLOAD_MBUF_FAST_FREE\b/RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE/g' \
       -e '/\.split_hdr_size *= *0,/d' pcap-dpdk.c
make distclean >/dev/null 2>&1 || true
with_pcap=linux ./configure --with-dpdk --disable-rdma --without-libnl \
	>"$out/configure.log" 2>&1 || { tail "$out/configure.log"; exit 1; }
grep -q 'PCAP_SUPPORT_DPDK 1' config.h || { echo "configure found no DPDK" >&2; exit 1; }
make -j"$(nproc)" shared >"$out/make.log" 2>&1 || { grep -E ': error' "$out/make.log" | head; exit 1; }
cp libpcap.so.*.*.* "$out/"
ln -sf "$(basename "$(ls "$out"/libpcap.so.*.*.* | head -n 1)")" "$out/libpcap.so.0.8"
echo "built $out/libpcap.so.0.8 with libpcap's DPDK module"
