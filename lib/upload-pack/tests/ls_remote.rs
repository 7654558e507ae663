//! `git ls-remote` against the stdio server, every protocol version.

mod common;

use common::{run, server_bin, Fixture};
use rstest::rstest;

#[rstest]
#[case(0)]
#[case(1)]
#[case(2)]
fn ls_remote_matches_git(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 2);
    f.tag("v1");
    f.commits("other", 1);
    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    let ours = run(f.dir.path(), &["-c", &pv, "ls-remote", &up, &f.url()]);
    let theirs = run(f.dir.path(), &["-c", &pv, "ls-remote", &f.url()]);
    assert_eq!(ours, theirs);
    assert!(ours.contains("refs/tags/v1^{}"));
}

#[rstest]
#[case(0)]
#[case(2)]
fn ls_remote_empty_repository(#[case] version: u32) {
    let f = Fixture::new();
    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    let ours = run(f.dir.path(), &["-c", &pv, "ls-remote", &up, &f.url()]);
    assert_eq!(ours, "");
}
