#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Build flowscope's libpcap: the distribution's libpcap source (Debian's
# source package of the installed libpcap, with Debian's own patches, so
# the result has the same soname and ABI as the system library) or a
# source tree given with --src, plus our module and the small patch that
# registers it.
#
#   build.sh --module DIR --include DIR --engine LIBFLOWSCOPE.a
#            --libs "LIBS" --work DIR --out DIR [--src DIR]
set -eu

module= include= engine= libs= work= out= src=
while [ $# -gt 0 ]; do
	case "$1" in
	--module) module=$2 ;;
	--include) include=$2 ;;
	--engine) engine=$2 ;;
	--libs) libs=$2 ;;
	--work) work=$2 ;;
	--out) out=$2 ;;
	--src) src=$2 ;;
	*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
for v in module include engine work out; do
	eval "val=\${$v}"
	[ -n "$val" ] || { echo "build.sh: --$v is required" >&2; exit 2; }
done

mkdir -p "$work" "$out"
tree="$work/libpcap"

# Fetch the source package of the installed libpcap through a private apt
# configuration whose deb-src entries are derived from the system's own
# deb entries; the system's apt state is not touched.
fetch_debian_source() {
	ver=$(dpkg-query -W -f='${source:Version}' libpcap0.8 2>/dev/null) || {
		echo "build.sh: libpcap0.8 is not installed; install it or give" \
		     "configure --with-libpcap-src=DIR" >&2
		exit 1
	}
	dsc="$work/libpcap_$(echo "$ver" | sed 's/^[0-9]*://').dsc"
	if [ ! -f "$dsc" ]; then
		apt="$work/apt"
		mkdir -p "$apt/sources.list.d" "$apt/lists/partial" \
			 "$apt/cache/archives/partial"
		: > "$apt/sources.list"
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			sed 's/^Types:.*/Types: deb-src/' "$f" \
				> "$apt/sources.list.d/$(basename "$f")"
		done
		if [ -f /etc/apt/sources.list ]; then
			sed -n 's/^deb /deb-src /p' /etc/apt/sources.list \
				>> "$apt/sources.list"
		fi
		set -- -o Dir::Etc::SourceList="$apt/sources.list" \
		       -o Dir::Etc::SourceParts="$apt/sources.list.d" \
		       -o Dir::State::Lists="$apt/lists" \
		       -o Dir::Cache="$apt/cache" -q
		echo "build.sh: fetching the source package libpcap=$ver"
		apt-get "$@" update >"$work/apt-update.log" 2>&1 || {
			cat "$work/apt-update.log" >&2
			echo "build.sh: apt-get update failed" >&2
			exit 1
		}
		(cd "$work" && apt-get "$@" source --download-only "libpcap=$ver") \
			>"$work/apt-source.log" 2>&1 || {
			cat "$work/apt-source.log" >&2
			echo "build.sh: cannot fetch libpcap's source package;" \
			     "give configure --with-libpcap-src=DIR instead" >&2
			exit 1
		}
	fi
	rm -rf "$tree"
	dpkg-source -x "$dsc" "$tree" >"$work/dpkg-source.log" 2>&1 || {
		cat "$work/dpkg-source.log" >&2
		exit 1
	}
}

patch_sum=$(cat "$module/flowscope.patch" | cksum | cut -d' ' -f1)
stamp="$tree/.flowscope-configured"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$patch_sum:$src" ]; then
	if [ -n "$src" ]; then
		[ -f "$src/pcap.c" ] || {
			echo "build.sh: $src is not a libpcap source tree" >&2
			exit 1
		}
		rm -rf "$tree"
		cp -a "$src" "$tree"
	else
		fetch_debian_source
	fi
	(cd "$tree" && patch -p1 --forward --silent) < "$module/flowscope.patch"
	cp "$module/pcap-flowscope.c" "$module/pcap-flowscope.h" "$tree/"
	multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
		    gcc -print-multiarch)
	# configured as Debian configures it (debian/rules + dh_auto_configure),
	# so that the library matches the system's
	(cd "$tree" &&
	 CFLAGS="$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo -O2 -g)" \
	 CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS 2>/dev/null || true)" \
	 LDFLAGS="$(dpkg-buildflags --get LDFLAGS 2>/dev/null || true)" \
	 with_pcap=linux \
	 ./configure --prefix=/usr --libdir="/usr/lib/$multiarch" \
		--disable-rdma --without-dpdk --without-libnl \
		>"$work/configure.log" 2>&1) || {
		tail -20 "$work/configure.log" >&2
		echo "build.sh: libpcap's configure failed" >&2
		exit 1
	}
	echo "$patch_sum:$src" > "$stamp"
fi

cp "$module/pcap-flowscope.c" "$module/pcap-flowscope.h" "$tree/"
# pcap-flowscope.c appends to pcap.c's private device list, declared so
awk '/^struct pcap_if_list \{$/ { getline a; getline b;
	ok = a ~ /^[ \t]*pcap_if_t \*beginning;$/ && b == "};" } END { exit !ok }' \
	"$tree/pcap.c" || {
	echo "build.sh: this libpcap's struct pcap_if_list is not the one" \
	     "pcap-flowscope.c knows" >&2
	exit 1
}
# relink whenever the engine changed
rm -f "$tree"/libpcap.so*
(cd "$tree" && make -j"$(nproc 2>/dev/null || echo 2)" shared \
	FLOWSCOPE_SRC=pcap-flowscope.c \
	FLOWSCOPE_DEFS="-DPCAP_SUPPORT_FLOWSCOPE -I$include" \
	FLOWSCOPE_LIBS="$engine $libs" >"$work/make.log" 2>&1) || {
	grep -E ': error|undefined reference' "$work/make.log" | head -30 >&2
	echo "build.sh: building libpcap failed (see $work/make.log)" >&2
	exit 1
}
rm -f "$out"/libpcap.so*
for f in "$tree"/libpcap.so.*.*; do
	case "$f" in *.so.*.*.*) cp "$f" "$out/" ;; esac
done
real=$(cd "$out" && ls libpcap.so.*.*.* | head -n 1)
ln -sf "$real" "$out/libpcap.so.0.8"
echo "build.sh: built $out/$real (soname libpcap.so.0.8)"
