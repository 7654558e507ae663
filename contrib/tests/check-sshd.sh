#!/bin/sh
# Checks contrib/sshd_config.gotd with the installed sshd, the way Debian
# uses it: included from the top of a main sshd_config.
#   * `sshd -t' accepts it;
#   * for the git account, `sshd -T' shows the settings gotd relies on;
#   * for any other user, none of them applies, and the main file's own
#     settings after the Include still do (the Match block does not leak).
# Needs no root and starts no server.  Without sshd the script says so and
# exits 0 (skipped); set CHECK_SSHD_REQUIRE=1 to make that a failure.
#
# Usage: contrib/tests/check-sshd.sh [snippet]

set -u

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
top=$(cd "$here/../.." && pwd)
snippet=${1:-$top/contrib/sshd_config.gotd}

sshd=""
for s in /usr/sbin/sshd "$(command -v sshd 2>/dev/null)"; do
	if [ -n "$s" ] && [ -x "$s" ]; then
		sshd=$s
		break
	fi
done
if [ -z "$sshd" ]; then
	echo "check-sshd: SKIPPED: sshd is not installed" >&2
	[ "${CHECK_SSHD_REQUIRE:-0}" = 1 ] && exit 1
	exit 0
fi
if ! command -v ssh-keygen >/dev/null 2>&1; then
	echo "check-sshd: SKIPPED: ssh-keygen is not installed" >&2
	[ "${CHECK_SSHD_REQUIRE:-0}" = 1 ] && exit 1
	exit 0
fi

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
failed=0

ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey" || exit 1
mkdir "$work/d"
cp "$snippet" "$work/d/gotd.conf"
cat >"$work/sshd_config" <<EOF
Include $work/d/*.conf
HostKey $work/hostkey
PidFile none
MaxSessions 3
EOF

if ! "$sshd" -t -f "$work/sshd_config" >"$work/out" 2>&1; then
	echo "FAIL: sshd -t rejects $snippet:"
	sed 's/^/    /' "$work/out"
	exit 1
fi

effective() { # user
	"$sshd" -T -f "$work/sshd_config" -C "user=$1,host=client.example,addr=192.0.2.1"
}

expect() { # user "key value" present|absent
	if effective "$1" | grep -qixF "$2"; then
		found=present
	else
		found=absent
	fi
	if [ "$found" != "$3" ]; then
		echo "FAIL: for user $1, \"$2\" is $found (want $3)"
		failed=$((failed + 1))
	fi
}

for setting in "acceptenv GIT_PROTOCOL" "disableforwarding yes" \
    "permittty no" "permittunnel no" "permituserrc no" "maxsessions 3"; do
	expect git "$setting" present
done
for setting in "acceptenv GIT_PROTOCOL" "disableforwarding yes" "permittty no"; do
	expect someone-else "$setting" absent
done
expect someone-else "maxsessions 3" present

if [ $failed -ne 0 ]; then
	exit 1
fi
echo "check-sshd: $snippet accepted by $sshd; Match block applies to git only"
