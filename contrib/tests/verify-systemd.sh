#!/bin/sh
# Verifies contrib/systemd/gotd.service with `systemd-analyze verify`.
#
# systemd-analyze exits 0 even for unknown keys or unparsable values (it
# only prints "ignoring"), so any output at all is a failure here.
#
# The unit names /usr/local/bin/gotd and /usr/local/bin/gotctl and the
# manual pages gotd(8) and friends; the verifier checks that those exist.
# So that the check works before `make install`, the script verifies a
# copy of the unit whose commands point at $GOTD_BINDIR (default: the
# newer of target/release and target/debug holding gotd and gotctl, else
# /usr/local/bin), with the pages of man/ on MANPATH.
#
# Without systemd-analyze the script says so and exits 0 (skipped); set
# VERIFY_SYSTEMD_REQUIRE=1 to make that a failure instead.
#
# Usage: contrib/tests/verify-systemd.sh [unit-file]

set -u

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
top=$(cd "$here/../.." && pwd)
unit=${1:-$top/contrib/systemd/gotd.service}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "verify-systemd: SKIPPED: systemd-analyze is not installed" >&2
	[ "${VERIFY_SYSTEMD_REQUIRE:-0}" = 1 ] && exit 1
	exit 0
fi

bindir=${GOTD_BINDIR:-}
if [ -z "$bindir" ]; then
	# The newer of the two builds, else the installed binaries.
	for d in "$top/target/release" "$top/target/debug"; do
		if [ -x "$d/gotd" ] && [ -x "$d/gotctl" ] &&
		    { [ -z "$bindir" ] || [ "$d/gotd" -nt "$bindir/gotd" ]; }; then
			bindir=$d
		fi
	done
	if [ -z "$bindir" ] && [ -x /usr/local/bin/gotd ] &&
	    [ -x /usr/local/bin/gotctl ]; then
		bindir=/usr/local/bin
	fi
fi
if [ -z "$bindir" ]; then
	echo "verify-systemd: FAIL: no gotd and gotctl binaries found;" \
	    "build them (cargo build -p gotd -p gotctl) or set GOTD_BINDIR"
	exit 1
fi

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

for section in 1 5 8; do
	mkdir -p "$work/man/man$section"
	for page in "$top"/man/*."$section"; do
		[ -f "$page" ] && cp "$page" "$work/man/man$section/"
	done
done
mkdir -p "$work/unit"
sed "s|/usr/local/bin/|$bindir/|g" "$unit" >"$work/unit/gotd.service"

# The commands must be the ones this file documents.
for want in \
	"ExecStart=/usr/local/bin/gotd -d -f /etc/gotd.conf" \
	"ExecReload=/usr/local/bin/gotctl reload" \
	"Type=simple"; do
	if ! grep -qxF "$want" "$unit"; then
		echo "verify-systemd: FAIL: $unit lacks the line: $want"
		exit 1
	fi
done

MANPATH="$work/man" systemd-analyze verify "$work/unit/gotd.service" \
    >"$work/out" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ -s "$work/out" ]; then
	echo "verify-systemd: FAIL: systemd-analyze verify $unit (exit $rc):"
	sed "s|$work/unit/|contrib/systemd/|g; s|$bindir/|/usr/local/bin/|g; s/^/    /" \
	    "$work/out"
	exit 1
fi
echo "verify-systemd: $unit verified (commands from $bindir)"
