#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# manpages.sh: the man pages format without a warning, describe every
# configuration key of the key table (src/config.c), every command and
# option flowscope-ctl offers and every option of flowscope-record
# (whose --help, man page and README agree), and `make install-man` puts
# them where man looks.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_cmd groff
need_ctl
[ -n "${FS_SRCDIR:-}" ] || skip "FS_SRCDIR is not set"
page7=$FS_SRCDIR/src/flowscope.7
page1=$FS_SRCDIR/src/flowscope-ctl.1
page8=$FS_SRCDIR/src/flowscope-record.8
REC=${FS_RECORD:-}
[ -x "$REC" ] || skip "FS_RECORD is not set to the built flowscope-record"

check "groff -ww formats every page without a warning"
for p in "$page7" "$page1" "$page8"; do
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

check "flowscope-record(8) and README describe every option of flowscope-record --help"
"$REC" --help >"$WORK/rhelp" 2>&1 || fail_log "flowscope-record --help failed" "$WORK/rhelp"
# "  -c, --config FILE ..." lines: the short and the long name
sed -n 's/^  \(-[a-zA-Z]\), \(--[a-z-]*\).*/\1 \2/p' "$WORK/rhelp" >"$WORK/roptions"
[ "$(wc -l <"$WORK/roptions")" -ge 5 ] || fail_log "cannot read the options" "$WORK/rhelp"
# the README's section, up to the next one of its level
sed -n '/^## Recorder$/,/^## [^#]/p' "$FS_SRCDIR/README.md" >"$WORK/readme.rec"
[ -s "$WORK/readme.rec" ] || fail "README has no Recorder section"
missing=
while read -r short long; do
	# the man page: .BR -x ", " --exit-at-end, every '-' written '\-'
	# (as a regular expression, '\\-')
	esc=${long//-/\\\\-}
	grep -q -E -- "^\.BR \\\\${short} \", \" ${esc}( |\$)" "$page8" ||
		missing="$missing $short/$long(man)"
	grep -q -F -- "| \`$short\`, \`$long" "$WORK/readme.rec" || missing="$missing $short/$long(README)"
done <"$WORK/roptions"
[ -z "$missing" ] || fail "options not described:$missing"
# and nothing more: the man page's OPTIONS and the README's table list
# no option --help lacks
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$page8" | sed -n 's/^\.BR \\\(-[a-zA-Z]\).*/\1/p' |
	sort >"$WORK/man.short"
grep -o '^| `-[a-zA-Z]`' "$WORK/readme.rec" | tr -d '|` ' | sort >"$WORK/readme.short"
cut -d' ' -f1 "$WORK/roptions" | sort >"$WORK/help.short"
cmp -s "$WORK/help.short" "$WORK/man.short" ||
	fail "flowscope-record(8) lists options $(tr '\n' ' ' <"$WORK/man.short"), --help $(tr '\n' ' ' <"$WORK/help.short")"
cmp -s "$WORK/help.short" "$WORK/readme.short" ||
	fail "README lists options $(tr '\n' ' ' <"$WORK/readme.short"), --help $(tr '\n' ' ' <"$WORK/help.short")"
# the synopsis of --help is the man page's
grep -q -F "usage: flowscope-record [-c FILE] [-p] [-x] DEVICE" "$WORK/rhelp" ||
	fail_log "--help has another synopsis" "$WORK/rhelp"
for w in '\-c' '\-p' '\-x'; do
	sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$page8" | grep -q -F -- "$w" ||
		fail "the man page's synopsis lacks $w"
done
say "  $(wc -l <"$WORK/roptions") options, each in --help, flowscope-record(8) and README"

check "make install-man installs every page under DESTDIR"
make -s -C "$(dirname "$FS_RUN")" install-man DESTDIR="$WORK/inst" >"$WORK/install.out" 2>&1 ||
	fail_log "make install-man failed" "$WORK/install.out"
for f in man7/flowscope.7 man1/flowscope-ctl.1 man8/flowscope-record.8; do
	got=$(find "$WORK/inst" -path "*/man/$f" | head -n 1)
	[ -n "$got" ] || fail_log "make install-man did not install $f" "$WORK/install.out"
	cmp -s "$got" "$FS_SRCDIR/src/${f#*/}" || fail "the installed $f differs from the source"
done
pass
