//! Summaries read from a real repository made with git.

use std::path::Path;
use std::process::Command;

use gotd_notify::collect;
use gotd_notify::summary::{Change, RefFilter};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Flan Hacker",
            "-c",
            "user.email=flan@example.com",
        ])
        .args(["-c", "init.defaultBranch=main", "-c", "safe.directory=*"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const ZERO: &str = "0000000000000000000000000000000000000000";

fn update(name: &str, old: &str, new: &str) -> (String, String, String) {
    (name.into(), old.into(), new.into())
}

#[test]
fn summaries_of_each_kind_of_update() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "."]);
    git(d, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let first = git(d, &["rev-parse", "HEAD"]);
    // git would re-encode a message given to `git commit`; write the
    // object as it is.
    let tree = git(d, &["rev-parse", "HEAD^{tree}"]);
    let mut raw = format!(
        "tree {tree}\nparent {first}\nauthor Flan Hacker <flan@example.com> 1700000000 +0000\ncommitter Flan Hacker <flan@example.com> 1700000000 +0000\n\n"
    )
    .into_bytes();
    raw.extend_from_slice(b"bad\xED\xA0\x80utf8\n\nbody\n");
    std::fs::write(d.join("raw"), raw).unwrap();
    let bad = git(d, &["hash-object", "-t", "commit", "-w", "raw"]);
    git(d, &["update-ref", "refs/heads/main", &bad]);
    for i in 0..25 {
        git(
            d,
            &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
        );
    }
    let tip = git(d, &["rev-parse", "HEAD"]);
    git(d, &["tag", "-a", "-m", "new tag", "1.0"]);
    let tag = git(d, &["rev-parse", "refs/tags/1.0"]);
    git(d, &["branch", "side", &first]);

    let updates = [
        update("refs/heads/main", &first, &tip),
        update("refs/heads/side", ZERO, &first),
        update("refs/heads/gone", &first, ZERO),
        update("refs/tags/1.0", ZERO, &tag),
    ];
    let s = collect(&d.join(".git"), &updates, &RefFilter::default()).unwrap();
    assert_eq!(s.len(), 4);

    let main = &s[0];
    assert_eq!(main.change, Change::Changed);
    assert_eq!(main.total_commits, 26);
    assert!(main.is_short());
    assert_eq!(main.commits[0].id, tip);
    assert_eq!(main.commits[0].author.email, "flan@example.com");
    let bad = main.commits.last().unwrap();
    assert_eq!(
        bad.message, "bad\u{FFFD}\u{FFFD}\u{FFFD}utf8",
        "short form keeps one line"
    );

    // Created at a commit the repository had: that commit alone.
    assert_eq!(s[1].change, Change::Created);
    assert_eq!(s[1].commits.len(), 1);
    assert_eq!(s[1].commits[0].id, first);

    assert_eq!(s[2].change, Change::Removed);
    assert!(s[2].commits.is_empty());

    let t = s[3].tag.as_ref().expect("tag info");
    assert_eq!(t.object_id, tip);
    assert_eq!(t.object_kind, "commit");
    assert_eq!(t.message, "new tag\n");
    assert_eq!(t.tagger.name, "Flan Hacker");

    let only_tags = RefFilter {
        branches: vec![],
        namespaces: vec!["refs/tags/".into()],
    };
    let s = collect(&d.join(".git"), &updates, &only_tags).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].refname, "refs/tags/1.0");
}
