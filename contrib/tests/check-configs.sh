#!/bin/sh
# Checks the shipped configuration examples with `gotd -n`:
#   * contrib/gotd.conf.sample, as it is;
#   * the EXAMPLES configuration of man/gotd.conf.5, with its site-specific
#     user and group names replaced by ones every Debian system has.
# Each must print "configuration OK", exit 0, and warn about nothing but
# repository paths that do not exist on this machine.
#
# The gotd binary is $GOTD if set, else the newer of target/release/gotd
# and target/debug/gotd, else gotd on PATH.
#
# Usage: contrib/tests/check-configs.sh [sample]

set -u

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
top=$(cd "$here/../.." && pwd)

gotd=${GOTD:-}
if [ -z "$gotd" ]; then
	# The newer of the two builds, else an installed gotd.
	for g in "$top/target/release/gotd" "$top/target/debug/gotd"; do
		if [ -x "$g" ] && { [ -z "$gotd" ] || [ "$g" -nt "$gotd" ]; }; then
			gotd=$g
		fi
	done
	[ -n "$gotd" ] || gotd=$(command -v gotd 2>/dev/null)
fi
if [ -z "$gotd" ]; then
	echo "check-configs: FAIL: no gotd binary; build it (cargo build -p gotd) or set GOTD"
	exit 1
fi

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
failed=0

check() { # label file
	label=$1 file=$2
	"$gotd" -n -f "$file" >"$work/out" 2>"$work/err"
	rc=$?
	# Paths of repositories that do not exist here are only warnings.
	grep -v ': No such file or directory$' "$work/err" >"$work/other"
	if [ $rc -ne 0 ] || [ "$(cat "$work/out")" != "configuration OK" ] ||
	    [ -s "$work/other" ]; then
		echo "FAIL $label (exit $rc):"
		sed 's/^/    /' "$work/out" "$work/err"
		failed=$((failed + 1))
	else
		echo "ok   $label"
	fi
}

sample=${1:-$top/contrib/gotd.conf.sample}
check "${1:-contrib/gotd.conf.sample}" "$sample"

# The first literal display after ".Sh EXAMPLES", with roff's \e unescaped.
awk '
	/^\.Sh EXAMPLES/ { ex = 1; next }
	ex && /^\.Bd -literal/ { on = 1; next }
	on && /^\.Ed/ { exit }
	on { gsub(/\\e/, "\\"); print }
' "$top/man/gotd.conf.5" |
    sed -e 's/flan_hacker/games/g' -e 's/anonymous/nobody/g' \
	-e 's/:porters/:staff/g' -e 's/:developers/:src/g' \
	>"$work/example.conf"
if ! grep -q '^repository' "$work/example.conf"; then
	echo "FAIL man/gotd.conf.5: no configuration found in EXAMPLES"
	failed=$((failed + 1))
else
	check "man/gotd.conf.5 EXAMPLES" "$work/example.conf"
fi

# And a broken file must fail, or the checks above prove nothing.
printf 'repository "x" {\n\tpermit rw no-such-user-gotd\n}\n' >"$work/bad.conf"
if "$gotd" -n -f "$work/bad.conf" >/dev/null 2>&1; then
	echo "FAIL: gotd -n accepted a broken configuration"
	failed=$((failed + 1))
fi

[ $failed -eq 0 ] || exit 1
echo "check-configs: all configurations OK (with $gotd)"
