#!/bin/sh
# Regenerates the seed corpora in seeds/ from real git sessions against the
# fixture repository (fixture.sh), recorded with a `tee` in front of
# git-upload-pack / git-receive-pack, plus hand-written cases.
# usage: ./make-seeds.sh   (from fuzz/; needs git)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/seeds
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=fuzz GIT_AUTHOR_EMAIL=fuzz@example.invalid
export GIT_COMMITTER_NAME=fuzz GIT_COMMITTER_EMAIL=fuzz@example.invalid
export GIT_AUTHOR_DATE='2024-01-02T00:00:00Z' GIT_COMMITTER_DATE='2024-01-02T00:00:00Z'
sh "$here/fixture.sh" "$t/repo.git"
main=$(git --git-dir "$t/repo.git" rev-parse refs/heads/main)
dev=$(git --git-dir "$t/repo.git" rev-parse refs/heads/dev)
for d in pkt_line upload_pack_v0 upload_pack_v2 receive_pack_commands pack_intake config ipc gotsh_command; do
    mkdir -p "$seeds/$d"
done

# upload-pack: what git sends. `tee` records the client's side.
rec() { # name protocol-version git-args…
    name=$1; v=$2; shift 2
    rm -rf "$t/c"
    git -c protocol.version="$v" "$@" \
        --upload-pack="tee $t/in | git-upload-pack" >/dev/null 2>&1 || true
}
rec clone 0 clone -q "file://$t/repo.git" "$t/c"
cp "$t/in" "$seeds/upload_pack_v0/clone"
rec clone 2 clone -q "file://$t/repo.git" "$t/c"
cp "$t/in" "$seeds/upload_pack_v2/clone"
# Incremental fetches with haves: a clone of dev, then fetch main.
for v in 0 2; do
    rm -rf "$t/f"
    git clone -q --single-branch -b dev "file://$t/repo.git" "$t/f"
    git -C "$t/f" -c protocol.version=$v fetch -q \
        --upload-pack="tee $t/in | git-upload-pack" origin main >/dev/null 2>&1 || true
    cp "$t/in" "$seeds/upload_pack_v$v/fetch-with-haves"
    git -C "$t/f" -c protocol.version=$v ls-remote \
        --upload-pack="tee $t/in | git-upload-pack" origin >/dev/null 2>&1 || true
    cp "$t/in" "$seeds/upload_pack_v$v/ls-remote"
    rm -rf "$t/s"
    git -c protocol.version=$v clone -q --depth 1 --filter=blob:none \
        --upload-pack="tee $t/in | git-upload-pack" "file://$t/repo.git" "$t/s" >/dev/null 2>&1 || true
    cp "$t/in" "$seeds/upload_pack_v$v/shallow-filter"
done
# The v0 target's first byte picks v0 (even) or v1 (odd): prefix the
# recorded sessions with a 0 byte.
for f in "$seeds"/upload_pack_v0/*; do
    case $(basename "$f") in v1-*|hand-*) continue;; esac
    { printf '\000'; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
done
pkt() { printf '%04x%s' $((${#1} + 4)) "$1"; }
{ printf '\001'; pkt "want $main multi_ack_detailed side-band-64k thin-pack ofs-delta no-progress include-tag
"; printf 0000; pkt "have $dev
"; pkt "done
"; } > "$seeds/upload_pack_v0/v1-want-have-done"
{ printf '\000'; pkt "want $main side-band-64k ofs-delta deepen-since deepen-not shallow
"; pkt "shallow $dev
"; pkt "deepen 1
"; printf 0000; pkt "done
"; } > "$seeds/upload_pack_v0/hand-deepen"
{ pkt "command=ls-refs
"; printf 0001; pkt "peel
"; pkt "symrefs
"; pkt "unborn
"; pkt "ref-prefix refs/tags/
"; printf 0000; } > "$seeds/upload_pack_v2/hand-ls-refs"
{ pkt "command=fetch
"; pkt "agent=git/2
"; printf 0001; pkt "thin-pack
"; pkt "ofs-delta
"; pkt "want $main
"; pkt "have $dev
"; pkt "wait-for-done
"; printf 0000; pkt "command=fetch
"; printf 0001; pkt "want $main
"; pkt "have $dev
"; pkt "done
"; printf 0000; } > "$seeds/upload_pack_v2/hand-fetch-two-rounds"

# receive-pack: pushes recorded from git.
rm -rf "$t/p"
git clone -q "file://$t/repo.git" "$t/p"
printf 'pushed\n' > "$t/p/new.txt"
git -C "$t/p" add new.txt
git -C "$t/p" commit -q -m pushed
new=$(git -C "$t/p" rev-parse HEAD)
recp() { # name git-push-args…
    name=$1; shift
    git -C "$t/p" push -q --receive-pack="tee $t/in | git-receive-pack" "$@" >/dev/null 2>&1 || true
    cp "$t/in" "$seeds/receive_pack_commands/$name"
}
cp -r "$t/repo.git" "$t/repo.pristine"
recp create-branch origin HEAD:refs/heads/topic
rm -rf "$t/repo.git" && cp -r "$t/repo.pristine" "$t/repo.git"
recp fast-forward-main origin HEAD:refs/heads/main
rm -rf "$t/repo.git" && cp -r "$t/repo.pristine" "$t/repo.git"
recp delete-and-create --atomic origin :refs/heads/dev HEAD:refs/heads/x
rm -rf "$t/repo.git" && cp -r "$t/repo.pristine" "$t/repo.git"
recp create-tag origin HEAD:refs/tags/v2
rm -rf "$t/repo.git" && cp -r "$t/repo.pristine" "$t/repo.git"
zero=0000000000000000000000000000000000000000
{ pkt "$main $zero refs/heads/main$(printf '\000') report-status delete-refs side-band-64k quiet"; printf 0000; } \
    > "$seeds/receive_pack_commands/hand-delete-protected"
{ pkt "$zero $new refs/got/x$(printf '\000') report-status-v2 ofs-delta push-options"; printf 0000; pkt "an option"; printf 0000; printf 'PACK\000\000\000\002\000\000\000\000'; } \
    > "$seeds/receive_pack_commands/hand-reserved-namespace"

# pack_intake: selector byte, the raw 20-byte id, the pack.
hexbin() { printf '%s' "$1" | sed 's/../\\x&/g' | xargs -0 printf '%b'; }
intake() { # name selector rev-list-args…
    name=$1; sel=$2; shift 2
    { printf "\\$(printf '%03o' "$sel")"; hexbin "$new"; printf '%s\n' "$@" |
        git -C "$t/p" pack-objects --stdout --revs -q "$PACK_FLAGS"; } > "$seeds/pack_intake/$name"
}
PACK_FLAGS=--delta-base-offset intake branch-ofs 0 HEAD "^$main"
PACK_FLAGS=--thin intake main-thin-sideband 5 HEAD "^$main"
PACK_FLAGS=--delta-base-offset intake tag-atomic 10 HEAD "^$main"
PACK_FLAGS=--delta-base-offset intake prot-full 3 HEAD
PACK_FLAGS=--delta-base-offset intake empty-pack 0 "^HEAD"

# pkt-line: the recorded sessions and edge cases.
cp "$seeds/upload_pack_v2/clone" "$seeds/pkt_line/v2-clone"
cp "$seeds/receive_pack_commands/create-branch" "$seeds/pkt_line/push"
printf '0000000100020004' > "$seeds/pkt_line/specials"
printf '000' > "$seeds/pkt_line/short"
printf 'fff0' > "$seeds/pkt_line/long-header"
printf '00zz' > "$seeds/pkt_line/bad-hex"

# gotd.conf: the examples and the grammar's corners.
cp "$here/../lib/config/examples/gotd.conf" "$seeds/config/example"
cat > "$seeds/config/full" <<'CONF'
# macros, quoting, continuation
dir = "/var/git"
listen on "/var/run/gotd.sock"
user _gotd
connection {
	request timeout 1h
	limit user flan 8
	limit user anonymous 2
}
repository "src" {
	path "$dir/src.git"
	permit rw flan
	permit ro :developers
	deny anonymous
	protect {
		tag namespace "refs/tags/"
		branch namespace "refs/heads/rel/"
		branch "main"
	}
	notify {
		branch "main"
		reference namespace "refs/tags/"
		email from "gotd@example.invalid" to flan reply to flan relay "localhost" port 25
	}
}
repository 'doc' { path '/var/git/doc.git' \
	permit ro anonymous }
CONF
printf 'repository "x" {\n path "/x"\n permit rw 1000\n deny :0\n}\nlisten on\n' > "$seeds/config/errors"

# IPC: one split byte, then frames of real messages. Frames are produced
# by the Rust codec; these are hand-encoded postcard frames of small
# messages (Request::Info = variant 1, Request::Stop = 2, Reply::Ok = 0,
# Request::Git { UploadPack, "test-repo", "version=2" }).
printf '\002\000\000\000\001\001\000\000\000\001\002' > "$seeds/ipc/info-stop"
printf '\005\000\000\000\026\000\000\011test-repo\011version=2' > "$seeds/ipc/git-request"
printf '\000\377\377\377\377' > "$seeds/ipc/too-large"

# gotsh commands.
printf "git-upload-pack '/src.git'" > "$seeds/gotsh_command/quoted"
printf 'git-receive-pack "//a/b.git" ' > "$seeds/gotsh_command/double-quoted"
printf "git-upload-pack '../../etc/passwd'" > "$seeds/gotsh_command/dotdot"
printf "git-upload-pack '/src/../src.git'" > "$seeds/gotsh_command/dotdot-inside"
printf "git-upload-pack 'sr\nc'" > "$seeds/gotsh_command/newline"
printf "git-upload-archive src" > "$seeds/gotsh_command/unknown"
echo "seeds written to $seeds"
