//! Real `git` clients (protocol v0, v1, v2) cloning and fetching through
//! the stdio server; every result must pass `git fsck --strict`.

mod common;

use std::path::Path;

use common::{run, server_bin, try_run, Fixture};
use rstest::rstest;

fn pv(version: u32) -> String {
    format!("protocol.version={version}")
}

fn up() -> String {
    format!("--upload-pack={}", server_bin())
}

fn fsck(repo: &Path) {
    run(repo, &["fsck", "--strict", "--no-dangling"]);
}

/// `refs/heads/*` and `refs/tags/*` of the server, as `<id> <name>` lines.
fn server_refs(f: &Fixture) -> String {
    let out = run(
        &f.srv(),
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads",
            "refs/tags",
        ],
    );
    sorted(out.lines().map(str::to_owned).collect())
}

fn sorted(mut lines: Vec<String>) -> String {
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The clone's view of the same refs (remote branches renamed back).
fn clone_refs(clone: &Path) -> String {
    let out = run(
        clone,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/remotes/origin",
            "refs/tags",
        ],
    );
    sorted(
        out.lines()
            .filter(|l| !l.starts_with("refs/remotes/origin/HEAD "))
            .map(|l| l.replace("refs/remotes/origin/", "refs/heads/"))
            .collect(),
    )
}

#[rstest]
#[case(0)]
#[case(1)]
#[case(2)]
fn clone_then_fetch(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 5);
    f.tag("v1");
    f.commits("topic", 3);
    let top = f.dir.path();
    run(
        top,
        &["-c", &pv(version), "clone", "-q", &up(), &f.url(), "clone"],
    );
    let clone = top.join("clone");
    fsck(&clone);
    assert_eq!(clone_refs(&clone), server_refs(&f));
    assert_eq!(run(&clone, &["symbolic-ref", "HEAD"]), "refs/heads/main\n");

    // New history on the server; the clone fetches only what it lacks.
    run(&f.work(), &["checkout", "-q", "main"]);
    f.commits("main", 4);
    f.tag("v2");
    let out = try_run(&clone, &["-c", &pv(version), "fetch", &up(), "origin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fsck(&clone);
    assert_eq!(clone_refs(&clone), server_refs(&f));
    // A fetch with nothing new transfers nothing and succeeds.
    run(&clone, &["-c", &pv(version), "fetch", &up(), "origin"]);
}

#[rstest]
#[case(0)]
#[case(2)]
fn single_branch_and_tags(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 3);
    f.tag("v1");
    f.commits("topic", 2);
    f.tag("v2");
    let top = f.dir.path();
    run(
        top,
        &[
            "-c",
            &pv(version),
            "clone",
            "-q",
            "--single-branch",
            "--no-tags",
            "-b",
            "main",
            &up(),
            &f.url(),
            "one",
        ],
    );
    let one = top.join("one");
    fsck(&one);
    let refs = run(&one, &["for-each-ref", "--format=%(refname)"]);
    assert_eq!(
        refs.replace("refs/remotes/origin/HEAD\n", ""),
        "refs/heads/main\nrefs/remotes/origin/main\n"
    );
    // main's history only: topic's commits are absent.
    let topic = run(&f.srv(), &["rev-parse", "topic"]);
    assert!(!try_run(&one, &["cat-file", "-e", topic.trim()])
        .status
        .success());

    run(
        &one,
        &["-c", &pv(version), "fetch", "-q", "--tags", &up(), "origin"],
    );
    fsck(&one);
    let tags = run(
        &one,
        &[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/tags",
        ],
    );
    assert_eq!(
        tags,
        run(
            &f.srv(),
            &[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/tags"
            ]
        )
    );
}

/// With `bitmapped`, the server repacks with a bitmap after the tag: the
/// fetch then takes its objects from the bitmaps. (git asks for the tag
/// itself here; `bitmap.rs` tests include-tag on its own.)
#[rstest]
#[case(0, false)]
#[case(2, false)]
#[case(0, true)]
#[case(2, true)]
fn include_tag_follows_fetched_commits(#[case] version: u32, #[case] bitmapped: bool) {
    let f = Fixture::new();
    f.commits("main", 2);
    let top = f.dir.path();
    run(
        top,
        &["-c", &pv(version), "clone", "-q", &up(), &f.url(), "clone"],
    );
    f.commits("main", 1);
    f.tag("v3");
    if bitmapped {
        run(&f.srv(), &["repack", "-adb", "-q"]);
    }
    let clone = top.join("clone");
    run(
        &clone,
        &["-c", &pv(version), "fetch", "-q", &up(), "origin"],
    );
    fsck(&clone);
    // Tag auto-following: the annotated tag came along with its commit.
    assert_eq!(
        run(&clone, &["rev-parse", "v3"]),
        run(&f.srv(), &["rev-parse", "v3"])
    );
}

#[rstest]
#[case(0)]
#[case(1)]
#[case(2)]
fn empty_repository(#[case] version: u32) {
    let f = Fixture::new();
    let top = f.dir.path();
    let out = try_run(
        top,
        &["-c", &pv(version), "clone", &up(), &f.url(), "clone"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty repository"));
}

#[rstest]
#[case(0)]
#[case(2)]
fn many_packs(#[case] version: u32) {
    let f = Fixture::new();
    run(&f.srv(), &["config", "receive.unpackLimit", "1"]);
    for _ in 0..8 {
        f.commits("main", 2);
    }
    let packs = std::fs::read_dir(f.srv().join("objects/pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pack")
        })
        .count();
    assert!(packs >= 8, "expected a pack per push, got {packs}");
    let top = f.dir.path();
    run(
        top,
        &["-c", &pv(version), "clone", "-q", &up(), &f.url(), "clone"],
    );
    fsck(&top.join("clone"));

    // An old clone fetching across several packs gets a thin pack.
    run(
        top,
        &[
            "-c",
            &pv(version),
            "clone",
            "-q",
            "--no-local",
            &f.url(),
            "old",
        ],
    );
    run(&top.join("old"), &["reset", "-q", "--hard", "HEAD~6"]);
    run(
        &top.join("old"),
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );
    run(
        &top.join("old"),
        &["-c", &pv(version), "fetch", "-q", &up(), "origin"],
    );
    fsck(&top.join("old"));
}

/// The client has local commits the server lacks, so git sends more than
/// one round of haves (16, a flush, then more) before `done`.
#[rstest]
#[case(0)]
#[case(2)]
fn fetch_with_many_haves(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 2);
    let top = f.dir.path();
    run(
        top,
        &["-c", &pv(version), "clone", "-q", &up(), &f.url(), "clone"],
    );
    let clone = top.join("clone");
    run(&clone, &["checkout", "-q", "-b", "newbranch"]);
    for i in 0..40 {
        std::fs::write(clone.join("local.txt"), format!("local {i}\n")).unwrap();
        run(&clone, &["add", "-A"]);
        run(&clone, &["commit", "-q", "-m", &format!("local {i}")]);
    }
    run(&f.work(), &["pull", "-q", "origin", "main"]);
    f.commits("main", 2);
    let out = try_run(&clone, &["-c", &pv(version), "fetch", &up(), "origin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fsck(&clone);
    assert_eq!(
        run(&clone, &["rev-parse", "origin/main"]),
        run(&f.srv(), &["rev-parse", "main"])
    );
}

/// Size of the single pack of a fresh bare clone.
fn clone_pack_size(top: &Path, upload_pack: Option<&str>, url: &str, name: &str) -> u64 {
    let mut args = vec!["clone", "-q", "--bare", "--no-local"];
    let up;
    if let Some(p) = upload_pack {
        up = format!("--upload-pack={p}");
        args.push(&up);
    }
    args.extend([url, name]);
    run(top, &args);
    fsck(&top.join(name));
    std::fs::read_dir(top.join(name).join("objects/pack"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// A repository made of one pack per push (the layout pushes leave
/// behind): objects whose stored deltas cannot be reused are deltified
/// again, so the clone stays close to git's size.
#[test]
fn many_packs_clone_size() {
    let f = Fixture::new();
    run(&f.srv(), &["config", "receive.unpackLimit", "1"]);
    for _ in 0..10 {
        f.commits("main", 3);
    }
    let top = f.dir.path();
    let ours = clone_pack_size(top, Some(server_bin()), &f.url(), "ours.git");
    let git = clone_pack_size(top, None, &f.url(), "git.git");
    eprintln!("many packs: ours {ours} bytes, git {git} bytes");
    assert!(ours * 10 <= git * 15, "ours {ours} bytes, git {git} bytes");
}

/// Files edited line by line over many commits, pushed a few commits at a
/// time into a repository that keeps every push as a pack: the stored packs
/// hold the bases of each push's deltas whole, and the entries come out in
/// pack order rather than history order. The clone stays within 5 % of
/// git's size.
#[test]
fn many_packs_of_edited_files_clone_size() {
    let f = Fixture::new();
    run(&f.srv(), &["config", "receive.unpackLimit", "1"]);
    let w = f.work();
    let mut files: Vec<Vec<String>> = (0..6)
        .map(|k| {
            (0..150)
                .map(|l| format!("file {k} line {l}: {}\n", l * 7919 % 1009))
                .collect()
        })
        .collect();
    for c in 0..60usize {
        for k in [c % 6, (c * 5 + 1) % 6] {
            let at = (c * 37 + k * 11) % files[k].len();
            files[k][at] = format!("file {k} line {at} edited in commit {c}\n");
            if c % 4 == 0 {
                files[k].insert(at, format!("inserted in commit {c}\n"));
            }
            std::fs::write(w.join(format!("f{k}.txt")), files[k].concat()).unwrap();
        }
        run(&w, &["add", "-A"]);
        run(&w, &["commit", "-q", "-m", &format!("commit {c}")]);
        if c % 6 == 5 {
            run(&w, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
        }
    }
    let top = f.dir.path();
    let ours = clone_pack_size(top, Some(server_bin()), &f.url(), "ours.git");
    let git = clone_pack_size(top, None, &f.url(), "git.git");
    eprintln!("edited files, many packs: ours {ours} bytes, git {git} bytes");
    assert!(
        ours * 100 <= git * 105,
        "ours {ours} bytes, git {git} bytes"
    );
}
