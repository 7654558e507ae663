//! Shallow clones and fetches with real git: `--depth`, fetching new
//! commits into a shallow clone, `--deepen` and `--unshallow`.

mod common;

use common::{run, server_bin, Fixture};
use rstest::rstest;

fn count(repo: &std::path::Path) -> usize {
    run(repo, &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap()
}

#[rstest]
#[case(0)]
#[case(1)]
#[case(2)]
fn depth_clone_fetch_deepen_unshallow(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 6);
    f.tag("v1");
    let top = f.dir.path();
    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    let url = f.url();
    run(
        top,
        &["-c", &pv, "clone", "-q", "--depth", "1", &up, &url, "c"],
    );
    let c = top.join("c");
    run(&c, &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(count(&c), 1);
    let shallow = std::fs::read_to_string(c.join(".git/shallow")).unwrap();
    assert_eq!(shallow.trim(), run(&f.srv(), &["rev-parse", "main"]).trim());

    // New commits on the server: a plain fetch into the shallow clone.
    f.commits("main", 2);
    run(&c, &["-c", &pv, "fetch", "-q", &up, "origin"]);
    run(&c, &["fsck", "--no-dangling"]);
    run(&c, &["merge", "-q", "--ff-only", "origin/main"]);
    assert_eq!(count(&c), 3);

    // An absolute depth (deepen-relative, i.e. --deepen, is not offered).
    run(
        &c,
        &["-c", &pv, "fetch", "-q", "--depth", "5", &up, "origin"],
    );
    run(&c, &["fsck", "--no-dangling"]);
    assert_eq!(count(&c), 5);

    run(
        &c,
        &["-c", &pv, "fetch", "-q", "--unshallow", &up, "origin"],
    );
    run(&c, &["fsck", "--strict", "--no-dangling"]);
    assert!(!c.join(".git/shallow").exists());
    assert_eq!(count(&c), 8);
    assert_eq!(
        run(&c, &["rev-parse", "origin/main"]),
        run(&f.srv(), &["rev-parse", "main"])
    );
}

/// A merge at the tip: depth 2 cuts both parents' histories.
#[rstest]
#[case(0)]
#[case(2)]
fn depth_across_a_merge(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 4);
    run(&f.work(), &["checkout", "-q", "-b", "side", "HEAD~2"]);
    f.commits("side", 3);
    run(&f.work(), &["checkout", "-q", "main"]);
    run(
        &f.work(),
        &["merge", "-q", "--no-edit", "-s", "ours", "side"],
    );
    run(&f.work(), &["push", "-q", "origin", "main"]);
    let top = f.dir.path();
    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    let url = f.url();
    let clone = |name: &str, up: Option<&str>| {
        let mut args = vec![
            "-c",
            &pv,
            "clone",
            "-q",
            "--no-local",
            "--depth",
            "2",
            "--no-single-branch",
        ];
        args.extend(up);
        args.extend([url.as_str(), name]);
        run(top, &args);
        run(&top.join(name), &["fsck", "--no-dangling"]);
    };
    clone("c", Some(&up));
    clone("git", None);
    let c = top.join("c");
    // Same commits and the same shallow commits as a clone served by git.
    let all = |r: &str| run(&top.join(r), &["rev-list", "--all"]);
    assert_eq!(all("c"), all("git"));
    let shallow = |r: &str| std::fs::read_to_string(top.join(r).join(".git/shallow")).unwrap();
    assert_eq!(shallow("c"), shallow("git"));
    assert_eq!(shallow("c").lines().count(), 2);

    run(
        &c,
        &["-c", &pv, "fetch", "-q", "--unshallow", &up, "origin"],
    );
    run(&c, &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        run(&c, &["rev-list", "--all", "--count"]),
        run(&f.srv(), &["rev-list", "--all", "--count"])
    );
}
