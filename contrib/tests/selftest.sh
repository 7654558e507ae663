#!/bin/sh
# Proves that the checks in this directory can fail: feeds each one a
# broken copy of the file it checks and expects a non-zero exit.  A check
# whose tool is missing is skipped here too.
#
# Usage: contrib/tests/selftest.sh

set -u

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
top=$(cd "$here/../.." && pwd)

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
failed=0

must_fail() { # description command...
	what=$1
	shift
	if "$@" >"$work/log" 2>&1; then
		echo "FAIL selftest: $what was accepted"
		sed 's/^/    /' "$work/log"
		failed=$((failed + 1))
	else
		echo "ok   selftest: $what is rejected"
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# A manual page with an unclosed list and an empty cross-reference.
if have mandoc || have groff; then
	sed -e '/^\.El$/d' -e 's/^\.Xr gotd 8$/.Xr/' "$top/man/gotctl.8" \
	    >"$work/gotctl.8"
	must_fail "a broken manual page" "$here/lint-man.sh" "$work/gotctl.8"
fi

# A sample configuration naming a user that does not exist.
sed 's/^banned = "games"$/banned = "no-such-user-gotd"/' \
    "$top/contrib/gotd.conf.sample" >"$work/gotd.conf"
must_fail "a sample with an unknown user" "$here/check-configs.sh" "$work/gotd.conf"

# A unit with a misspelt key (systemd only warns about those).
if have systemd-analyze; then
	sed 's/^ProtectClock=yes$/ProtectClok=yes/' \
	    "$top/contrib/systemd/gotd.service" >"$work/gotd.service"
	must_fail "a unit with a misspelt key" "$here/verify-systemd.sh" "$work/gotd.service"
fi

# An sshd snippet that no longer passes GIT_PROTOCOL.
if [ -x /usr/sbin/sshd ] || have sshd; then
	sed '/AcceptEnv GIT_PROTOCOL/d' "$top/contrib/sshd_config.gotd" \
	    >"$work/sshd_config.gotd"
	must_fail "an sshd snippet without AcceptEnv" "$here/check-sshd.sh" "$work/sshd_config.gotd"
fi

[ $failed -eq 0 ] || exit 1
