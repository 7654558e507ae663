//! Full clones of repositories with a reachability bitmap (`git repack
//! -adb`), including history pushed after the bitmap was written: the
//! object set must equal `git rev-list --objects` exactly, with and
//! without bitmaps, and git must accept the clone.

mod common;

use common::{pkts, run, server_bin, Fixture};
use gotd_upload_pack::{serve, Options};
use rstest::rstest;

/// A repository whose older history is in a bitmapped pack and whose newer
/// history (a merge, a new branch, tags) is in loose objects.
fn bitmapped() -> Fixture {
    let f = Fixture::new();
    f.commits("main", 6);
    f.tag("v1");
    run(&f.work(), &["checkout", "-q", "-b", "side", "HEAD~2"]);
    f.commits("side", 3);
    run(&f.work(), &["checkout", "-q", "main"]);
    run(
        &f.work(),
        &["merge", "-q", "--no-edit", "-s", "ours", "side"],
    );
    run(&f.work(), &["push", "-q", "origin", "main"]);
    run(&f.srv(), &["repack", "-adb", "-q"]);
    let packs = std::fs::read_dir(f.srv().join("objects/pack")).unwrap();
    assert!(packs
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "bitmap")));
    // Pushed after the bitmap: loose objects.
    f.commits("main", 3);
    f.tag("v2");
    f.commits("later", 2);
    f
}

/// The number of objects in the pack served for `wants`, and the pack.
fn pack_for(f: &Fixture, wants: &[String], caps: &str, use_bitmaps: bool) -> (u32, Vec<u8>) {
    pack_since(f, wants, &[], caps, use_bitmaps)
}

/// Like [`pack_for`], for a client that has `haves`.
fn pack_since(
    f: &Fixture,
    wants: &[String],
    haves: &[String],
    caps: &str,
    use_bitmaps: bool,
) -> (u32, Vec<u8>) {
    let mut lines = vec![format!("want {} {caps}\n", wants[0])];
    lines.extend(wants[1..].iter().map(|w| format!("want {w}\n")));
    lines.push("0000".into());
    lines.extend(haves.iter().map(|h| format!("have {h}\n")));
    lines.push("done\n".into());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let opts = Options {
        use_bitmaps,
        threads: Some(1),
        ..Options::default()
    };
    let mut out = Vec::new();
    serve(&f.srv(), &mut &pkts(&refs)[..], &mut out, &opts).unwrap();
    let pack = out[out.windows(4).position(|w| w == b"PACK").unwrap()..].to_vec();
    (u32::from_be_bytes(pack[8..12].try_into().unwrap()), pack)
}

/// The ids of the server's branches.
fn heads(f: &Fixture) -> Vec<String> {
    run(
        &f.srv(),
        &["for-each-ref", "--format=%(objectname)", "refs/heads"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

fn rev_list_count(f: &Fixture, args: &[&str]) -> u32 {
    let mut a = vec!["rev-list", "--objects"];
    a.extend_from_slice(args);
    run(&f.srv(), &a).lines().count() as u32
}

#[rstest]
#[case(true)]
#[case(false)]
fn object_set_is_exact(#[case] use_bitmaps: bool) {
    let f = bitmapped();
    let heads = heads(&f);
    let (n, _) = pack_for(&f, &heads, "ofs-delta", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &["--branches"]));

    // Only the old, bitmapped part of history.
    let v1 = run(&f.srv(), &["rev-parse", "v1^{commit}"])
        .trim()
        .to_owned();
    let (n, _) = pack_for(&f, std::slice::from_ref(&v1), "ofs-delta", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &[&v1]));

    // include-tag adds the annotated tags pointing into the sent history.
    let (n, _) = pack_for(&f, &heads, "ofs-delta include-tag", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &["--branches"]) + 2);

    // Wanting a tag object sends the tag and its history.
    let tag = run(&f.srv(), &["rev-parse", "v1"]).trim().to_owned();
    let (n, pack) = pack_for(&f, &[tag], "ofs-delta", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &[&v1]) + 1);
    run(f.dir.path(), &["init", "-q", "--bare", "check.git"]);
    let mut child = common::git(&f.srv())
        .args(["index-pack", "--stdin", "--strict"])
        .current_dir(f.dir.path())
        .env("GIT_DIR", f.dir.path().join("check.git"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&pack).unwrap();
    assert!(child.wait().unwrap().success());
}

/// A fetch by a client that has part of the history (bitmapped, or
/// pushed after the bitmap): exactly `git rev-list --objects <wants>
/// --not <have>`, and with include-tag the annotated tags pointing into
/// the commits sent.
#[rstest]
#[case(true, "v1^{commit}")]
#[case(false, "v1^{commit}")]
#[case(true, "main~1")]
#[case(true, "side")]
fn incremental_object_set_is_exact(#[case] use_bitmaps: bool, #[case] have: &str) {
    let f = bitmapped();
    let heads = heads(&f);
    let have = run(&f.srv(), &["rev-parse", have]).trim().to_owned();
    let not_have = format!("^{have}");
    let expected = rev_list_count(&f, &["--branches", &not_have]);
    let haves = [have.clone()];
    let (n, pack) = pack_since(&f, &heads, &haves, "ofs-delta", use_bitmaps);
    assert_eq!(n, expected);
    // Not thin: every delta's base is in the pack.
    index_pack(&f, &pack, false);

    let sent: std::collections::HashSet<String> =
        run(&f.srv(), &["rev-list", "--branches", &not_have])
            .lines()
            .map(str::to_owned)
            .collect();
    let tags = run(
        &f.srv(),
        &["for-each-ref", "--format=%(*objectname)", "refs/tags"],
    )
    .lines()
    .filter(|peeled| sent.contains(*peeled))
    .count() as u32;
    let (n, _) = pack_since(&f, &heads, &haves, "ofs-delta include-tag", use_bitmaps);
    assert_eq!(n, expected + tags, "{tags} tags");
}

#[rstest]
#[case(0)]
#[case(2)]
fn clone_with_bitmap(#[case] version: u32) {
    let f = bitmapped();
    let top = f.dir.path();
    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    run(
        top,
        &[
            "-c",
            &pv,
            "clone",
            "-q",
            "--mirror",
            &up,
            &f.url(),
            "clone.git",
        ],
    );
    run(
        &top.join("clone.git"),
        &["fsck", "--strict", "--no-dangling"],
    );
    assert_eq!(
        run(&top.join("clone.git"), &["for-each-ref"]),
        run(&f.srv(), &["for-each-ref"])
    );
}

/// The stored pack's bytes, for a repository that is one pack.
fn stored_pack(f: &Fixture) -> Vec<u8> {
    let packs: Vec<_> = std::fs::read_dir(f.srv().join("objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .collect();
    assert_eq!(packs.len(), 1);
    std::fs::read(&packs[0]).unwrap()
}

/// A clone of everything in a one-pack repository is the stored pack,
/// byte for byte (with a bitmap and without); wanting less, or a client
/// without `ofs-delta`, gets a valid pack made for it. The stored pack has
/// REF_DELTA entries, which a generated pack for an `ofs-delta` client
/// would not have, so only the stored pack itself can match.
#[rstest]
#[case(true)]
#[case(false)]
fn whole_pack_clone_streams_the_stored_pack(#[case] use_bitmaps: bool) {
    let f = bitmapped();
    run(
        &f.srv(),
        &[
            "-c",
            "repack.useDeltaBaseOffset=false",
            "repack",
            "-adbf",
            "-q",
        ],
    );
    let mut all: Vec<String> = run(&f.srv(), &["for-each-ref", "--format=%(objectname)"])
        .lines()
        .map(str::to_owned)
        .collect();
    all.sort();
    all.dedup();
    let stored = stored_pack(&f);
    let (n, pack) = pack_for(&f, &all, "ofs-delta", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &["--all"]));
    assert!(pack.starts_with(&stored), "the stored pack, unchanged");
    index_pack(&f, &pack, true);

    let (n, pack) = pack_for(&f, &all, "thin-pack", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &["--all"]));
    index_pack(&f, &pack, true);

    let v1 = run(&f.srv(), &["rev-parse", "v1^{commit}"])
        .trim()
        .to_owned();
    let (n, _) = pack_for(&f, std::slice::from_ref(&v1), "ofs-delta", use_bitmaps);
    assert_eq!(n, rev_list_count(&f, &[&v1]));
}

/// `git index-pack` (with `strict`: `--strict`, every object and link
/// checked) accepts `pack` into an empty repository.
fn index_pack(f: &Fixture, pack: &[u8], strict: bool) {
    let dst = f.dir.path().join("indexed.git");
    let _ = std::fs::remove_dir_all(&dst);
    run(f.dir.path(), &["init", "-q", "--bare", "indexed.git"]);
    let mut child = common::git(&f.srv())
        .args(["index-pack", "--stdin"])
        .args(strict.then_some("--strict"))
        .env("GIT_DIR", &dst)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(pack).unwrap();
    assert!(child.wait().unwrap().success());
}

/// A thin fetch from a bitmapped repository (the bitmaps of wants and
/// haves give the objects to send and which stored deltas may refer to
/// bases the client has): git completes
/// the thin pack, the result passes `fsck --strict` and has the server's
/// history; with and without bitmaps, protocols 0 and 2.
#[rstest]
#[case(0, true)]
#[case(2, true)]
#[case(2, false)]
fn thin_fetch_from_bitmapped_history(#[case] version: u32, #[case] use_bitmaps: bool) {
    let f = Fixture::new();
    f.commits("main", 30);
    run(
        &f.srv(),
        &["repack", "-adb", "-q", "--window=50", "--depth=50"],
    );
    let top = f.dir.path();
    run(
        top,
        &[
            "clone",
            "-q",
            "--bare",
            "--no-local",
            &f.url(),
            "client.git",
        ],
    );
    let client = top.join("client.git");
    run(&client, &["update-ref", "refs/heads/main", "main~12"]);
    run(&client, &["reflog", "expire", "--expire=now", "--all"]);
    run(&client, &["gc", "-q", "--prune=now"]);
    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    let mut fetch = common::git(&client);
    fetch.args(["-c", &pv, "fetch", "-q", "--no-tags", &up, &f.url()]);
    fetch.arg("+refs/heads/main:refs/heads/main");
    if !use_bitmaps {
        // The stdio server has no switch for bitmaps: without the bitmap
        // file the boundary trees alone decide.
        for e in std::fs::read_dir(f.srv().join("objects/pack"))
            .unwrap()
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "bitmap") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
    // The phase trace tells whether the bitmaps were used.
    fetch.env("GOTD_UPLOAD_PACK_TRACE", "1");
    let out = fetch.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let used = match use_bitmaps {
        true => "bitmaps of wants and haves read",
        false => "client bitmap: false",
    };
    assert!(stderr.contains(used), "{stderr}");
    run(&client, &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        run(&client, &["rev-parse", "main"]),
        run(&f.srv(), &["rev-parse", "main"])
    );
}
