#!/bin/sh
# Runs every check of the operator files: manual pages, sample and manual
# configurations, the systemd unit and the sshd snippet.  Exits non-zero if
# any check fails; checks whose tool is missing report SKIPPED and pass.
#
# Usage: contrib/tests/all.sh

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
status=0
for t in lint-man check-configs verify-systemd check-sshd selftest; do
	"$here/$t.sh" || status=1
done
exit $status
