#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# manpages.sh: the man pages format without a warning, describe every
# configuration key of the key table (src/config.c) and every command
# and option flowscope-ctl offers, and `make install-man` puts them
# where man looks.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_cmd groff
need_ctl
[ -n "${FS_SRCDIR:-}" ] || skip "FS_SRCDIR is not set"
page7=$FS_SRCDIR/src/flowscope.7
page1=$FS_SRCDIR/src/flowscope-ctl.1

check "groff -ww formats both pages without a warning"
for p in "$page7" "$page1"; do
	groff -ww -man -z "$p" >"$WORK/groff.err" 2>&1 ||
		fail_log "groff failed on ${p##*/}" "$WORK/groff.err"
	[ ! -s "$WORK/groff.err" ] || fail_log "groff warns about ${p##*/}" "$WORK/groff.err"
done

check "flowscope(7) and README describe every key of the key table"
grep -o '^	{ "[a-z_]*", FS_KEY_' "$FS_SRCDIR/src/config.c" |
	sed 's/^	{ "\([a-z_]*\)".*/\1/' >"$WORK/keys"
[ "$(wc -l <"$WORK/keys")" -ge 10 ] || fail_log "cannot read the key table" "$WORK/keys"
missing=
while read -r k; do
	# a key's entry: ".TP" then ".B key" (or ".BR key ..." for a group)
	awk -v k="$k" 'prev == ".TP" && ($0 == ".B " k || index($0, ".BR " k " ") == 1 ||
		index($0, ".B " k ",") == 1) { found = 1 } { prev = $0 } END { exit !found }' \
		"$page7" || missing="$missing $k(man)"
	grep -q "^| \`$k\` " "$FS_SRCDIR/README.md" || missing="$missing $k(README)"
done <"$WORK/keys"
[ -z "$missing" ] || fail "keys not described:$missing"
say "  $(wc -l <"$WORK/keys") keys, each in flowscope(7) and README"

check "flowscope-ctl(1) describes every command and option of flowscope-ctl --help"
"$CTL" --help >"$WORK/help" 2>&1 || fail_log "flowscope-ctl --help failed" "$WORK/help"
awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' \
	"$WORK/help" >"$WORK/commands"
grep -o -- '--[a-z]*' "$WORK/help" | sort -u >"$WORK/options"
[ "$(wc -l <"$WORK/commands")" -ge 5 ] || fail_log "cannot read the commands" "$WORK/help"
missing=
while read -r c; do
	grep -q -E "^\.BR? $c( |\$)" "$page1" || missing="$missing $c"
done <"$WORK/commands"
while read -r o; do
	grep -q -F -- "\\-\\${o#-}" "$page1" || missing="$missing $o"
done <"$WORK/options"
[ -z "$missing" ] || fail "not in flowscope-ctl(1):$missing"
say "  $(wc -l <"$WORK/commands") commands, $(wc -l <"$WORK/options") long options"

check "make install-man installs both pages under DESTDIR"
make -s -C "$(dirname "$FS_RUN")" install-man DESTDIR="$WORK/inst" >"$WORK/install.out" 2>&1 ||
	fail_log "make install-man failed" "$WORK/install.out"
for f in man7/flowscope.7 man1/flowscope-ctl.1; do
	got=$(find "$WORK/inst" -path "*/man/$f" | head -n 1)
	[ -n "$got" ] || fail_log "make install-man did not install $f" "$WORK/install.out"
	cmp -s "$got" "$FS_SRCDIR/src/${f#*/}" || fail "the installed $f differs from the source"
done
pass
