#!/bin/sh
# Creates the small bare repository the upload-pack and receive-pack fuzz
# targets serve: two commits on main (one packed, one loose), a branch, an
# annotated and a lightweight tag. Dates and identities are fixed, so the
# object ids are the same on every run (the seed corpora rely on that).
# usage: fixture.sh DIR
set -eu
dir=$1
export GIT_AUTHOR_NAME=fuzz GIT_AUTHOR_EMAIL=fuzz@example.invalid
export GIT_COMMITTER_NAME=fuzz GIT_COMMITTER_EMAIL=fuzz@example.invalid
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
work=$dir.work
rm -rf "$dir" "$work"
git init -q -b main "$work"
cd "$work"
printf 'hello\n' > a.txt
mkdir b && printf 'nested\n' > b/c.txt
git add . && git commit -q -m first
git branch dev
git tag -a -m 'version 1' v1
git tag light
git clone -q --bare "$work" "$dir"
printf 'hello again\n' >> a.txt
git commit -q -am second
git push -q "$dir" main
cd /
rm -rf "$work"
git -C "$dir" repack -q -a -d 2>/dev/null || true
# One more loose commit on main after the pack.
tree=$(git -C "$dir" rev-parse 'main^{tree}')
parent=$(git -C "$dir" rev-parse main)
new=$(echo third | git -C "$dir" commit-tree "$tree" -p "$parent")
git -C "$dir" update-ref refs/heads/main "$new"
git -C "$dir" config receive.denyCurrentBranch ignore
