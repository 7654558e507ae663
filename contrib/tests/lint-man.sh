#!/bin/sh
# Renders every manual page in man/ and fails on any warning.
#
# Checks, for each page, whichever of these tools is installed:
#   mandoc -T lint -W warning   (mdoc structure, macro use, bad arguments)
#   groff -mandoc -Tutf8 -ww -z (what man(1) on Debian renders with)
# A page passes only if every tool exits 0 and prints nothing.
# With neither tool installed the script says so and exits 0 (skipped);
# set LINT_MAN_REQUIRE=1 to make that a failure instead (for CI).
#
# Usage: contrib/tests/lint-man.sh [page ...]   (default: man/*.[1-9])

set -u

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
top=$(cd "$here/../.." && pwd)

if [ $# -eq 0 ]; then
	set -- "$top"/man/*.[1-9]
fi

have() { command -v "$1" >/dev/null 2>&1; }

tools=""
have mandoc && tools="$tools mandoc"
have groff && tools="$tools groff"
if [ -z "$tools" ]; then
	msg="lint-man: SKIPPED: neither mandoc nor groff is installed (apt-get install mandoc)"
	echo "$msg" >&2
	[ "${LINT_MAN_REQUIRE:-0}" = 1 ] && exit 1
	exit 0
fi

failed=0
checked=0
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM

run() { # tool page command...
	tool=$1 page=$2
	shift 2
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$out" ]; then
		echo "FAIL $tool: $page (exit $rc)"
		sed 's/^/    /' "$out"
		failed=$((failed + 1))
	fi
}

for page in "$@"; do
	if [ ! -f "$page" ]; then
		echo "FAIL: $page: no such file"
		failed=$((failed + 1))
		continue
	fi
	checked=$((checked + 1))
	for tool in $tools; do
		case $tool in
		mandoc) run mandoc "$page" mandoc -T lint -W warning "$page" ;;
		groff) run groff "$page" groff -mandoc -Tutf8 -ww -z "$page" ;;
		esac
	done
	# Each page must have the sections an operator looks for.
	for section in NAME DESCRIPTION "SEE ALSO"; do
		if ! grep -q "^\.Sh $section\$" "$page"; then
			echo "FAIL structure: $page: no $section section"
			failed=$((failed + 1))
		fi
	done
done

if [ $failed -ne 0 ]; then
	echo "lint-man: $failed problem(s) in $checked page(s), checked with:$tools"
	exit 1
fi
echo "lint-man: $checked page(s) clean, checked with:$tools"
