//! End-to-end pushes with a real `git push` client through the stdio
//! server binary. Every test ends with `git fsck --strict` of the server
//! repository and a check that no temporary file is left.

mod common;

use common::*;

#[test]
fn push_to_empty_repository_creates_branch_and_keeps_head() {
    let f = Fixture::new();
    let head_before = std::fs::read_to_string(f.server.join("HEAD")).unwrap();
    let err = f.push_ok(&[], &["main"]);
    assert!(err.contains("[new branch]"), "{err}");
    assert_eq!(f.server_rev("refs/heads/main"), Some(f.client_rev("main")));
    assert_eq!(
        std::fs::read_to_string(f.server.join("HEAD")).unwrap(),
        head_before
    );
    assert!(
        f.server.join("refs/heads/main").is_file(),
        "a loose ref file"
    );
    let packs: Vec<_> = std::fs::read_dir(f.server.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(packs.len(), 2, "exactly one pack and its index: {packs:?}");
    f.assert_clean();
}

#[test]
fn new_branch_fast_forward_and_no_op() {
    let f = Fixture::new();
    f.push_ok(&[], &["main"]);
    f.push_ok(&[], &["main:refs/heads/topic"]);
    let tip = f.commit("beta", "beta\n");
    let err = f.push_ok(&[], &["main"]);
    assert!(err.contains("main -> main"), "{err}");
    assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
    let err = f.push_ok(&[], &["main"]);
    assert!(err.contains("Everything up-to-date"), "{err}");
    f.assert_clean();
}

#[test]
fn non_fast_forward_is_refused_by_the_client_and_forced_update_works() {
    let f = Fixture::new();
    f.commit("beta", "beta\n");
    f.push_ok(&[], &["main"]);
    let old = f.client_rev("main");
    git(&f.client, &["reset", "-q", "--hard", "HEAD~1"]);
    let rewritten = f.commit("gamma", "gamma\n");
    let out = f.push(&[], &["main"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-fast-forward"));
    assert_eq!(f.server_rev("refs/heads/main"), Some(old));
    let err = f.push_ok(&[], &["--force", "main"]);
    assert!(err.contains("(forced update)"), "{err}");
    assert_eq!(f.server_rev("refs/heads/main"), Some(rewritten));
    f.assert_clean();
}

#[test]
fn delete_loose_and_packed_refs() {
    let f = Fixture::new();
    f.push_ok(
        &[],
        &["main", "main:refs/heads/loose", "main:refs/heads/packed"],
    );
    git(&f.server, &["pack-refs", "--all"]);
    assert!(!f.server.join("refs/heads/packed").exists());
    f.push_ok(&[], &["main:refs/heads/loose2"]);
    let err = f.push_ok(&[], &[":refs/heads/packed", ":refs/heads/loose2"]);
    assert!(err.contains("[deleted]"), "{err}");
    assert_eq!(f.server_rev("refs/heads/packed"), None);
    assert_eq!(f.server_rev("refs/heads/loose2"), None);
    assert!(f.server_rev("refs/heads/loose").is_some());
    let packed = std::fs::read_to_string(f.server.join("packed-refs")).unwrap();
    assert!(!packed.contains("refs/heads/packed"), "{packed}");
    f.assert_clean();
}

#[test]
fn tags_annotated_and_lightweight() {
    let f = Fixture::new();
    git(&f.client, &["tag", "-a", "-m", "one", "v1.0"]);
    git(&f.client, &["tag", "light"]);
    f.push_ok(&[], &["main", "--tags"]);
    assert_eq!(
        f.server_rev("refs/tags/v1.0"),
        Some(f.client_rev("refs/tags/v1.0"))
    );
    assert_eq!(f.server_rev("refs/tags/light"), Some(f.client_rev("main")));
    f.push_ok(&[], &[":refs/tags/light"]);
    assert_eq!(f.server_rev("refs/tags/light"), None);
    f.assert_clean();
}

#[test]
fn refs_outside_the_allowed_namespaces_are_refused() {
    let f = Fixture::new();
    f.push_ok(&[], &["main"]);
    for (refspec, msg) in [
        (
            "main:refs/got/x",
            "refs/got/: reference namespace is protected",
        ),
        (
            "main:refs/remotes/origin/x",
            "refs/remotes/: reference namespace is protected",
        ),
    ] {
        let out = f.push(&[], &[refspec]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("remote: {msg}")), "{refspec}: {err}");
    }
    assert_eq!(f.server_refs().lines().count(), 1);
    f.assert_clean();
}

#[test]
fn push_options_are_accepted() {
    let f = Fixture::new();
    let err = f.push_ok(&[], &["-o", "foo", "-o", "ci.skip=yes", "main"]);
    assert!(err.contains("[new branch]"), "{err}");
    f.assert_clean();
}

/// A lock file held on one ref (as by a concurrent writer) makes that
/// ref's update fail after the lock timeout.
fn hold_lock(f: &Fixture, name: &str) -> std::path::PathBuf {
    let lock = f.server.join(format!("{name}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "busy\n").unwrap();
    lock
}

#[test]
fn atomic_push_with_one_failing_ref_changes_nothing() {
    let f = Fixture::new();
    f.push_ok(&[], &["main", "main:refs/heads/other"]);
    let before = f.server_refs();
    f.commit("beta", "beta\n");
    let lock = hold_lock(&f, "refs/heads/other");
    let out = f.push(
        &["--lock-timeout-ms", "50"],
        &["--atomic", "main", "main:refs/heads/other"],
    );
    std::fs::remove_file(lock).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not acquire exclusive file lock for refs/heads/other"),
        "{err}"
    );
    assert!(err.contains("atomic transaction failed"), "{err}");
    assert_eq!(f.server_refs(), before);
    f.assert_clean();
}

#[test]
fn without_atomic_each_ref_stands_alone() {
    let f = Fixture::new();
    f.push_ok(&[], &["main", "main:refs/heads/other"]);
    let tip = f.commit("beta", "beta\n");
    let old = f.server_rev("refs/heads/other");
    let lock = hold_lock(&f, "refs/heads/other");
    let out = f.push(
        &["--lock-timeout-ms", "50"],
        &["main", "main:refs/heads/other"],
    );
    std::fs::remove_file(lock).unwrap();
    assert!(!out.status.success());
    assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
    assert_eq!(f.server_rev("refs/heads/other"), old);
    f.assert_clean();
}

const PROTECT: [&str; 4] = [
    "--protect-branch",
    "refs/heads/main",
    "--protect-tag-namespace",
    "refs/tags/",
];

fn refused(f: &Fixture, args: &[&str], msg: &str) {
    let before = f.server_refs();
    let out = f.push(&PROTECT, args);
    assert!(!out.status.success(), "{args:?} must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    // Sent to the client (not only printed by the server process, whose
    // stderr git passes through for file:// URLs).
    assert!(
        err.contains(&format!("remote: {msg}")),
        "{args:?}: expected {msg:?} from the remote in {err}"
    );
    assert_eq!(f.server_refs(), before, "{args:?} changed refs");
    f.assert_clean();
}

#[test]
fn protected_branch_and_tag_namespace() {
    let f = Fixture::new();
    git(&f.client, &["tag", "-a", "-m", "one", "v1.0"]);
    f.push_ok(&PROTECT, &["main", "refs/tags/v1.0"]);

    refused(
        &f,
        &[":refs/heads/main"],
        "refs/heads/main: reference is protected",
    );
    refused(
        &f,
        &[":refs/tags/v1.0"],
        "refs/tags/: reference namespace is protected",
    );
    git(&f.client, &["tag", "-f", "-a", "-m", "two", "v1.0"]);
    refused(
        &f,
        &["--force", "refs/tags/v1.0"],
        "refs/tags/: reference namespace is protected",
    );
    let commit = f.client_rev("main");
    refused(
        &f,
        &["main:refs/tags/not-a-tag"],
        &format!("{commit} is not pointing at a tag object: wrong type of object"),
    );

    git(&f.client, &["reset", "-q", "--hard", "HEAD~0"]);
    f.commit("beta", "beta\n");
    f.push_ok(&PROTECT, &["main"]);
    git(&f.client, &["reset", "-q", "--hard", "HEAD~1"]);
    f.commit("gamma", "gamma\n");
    refused(
        &f,
        &["--force", "main"],
        "refs/heads/main: reference is protected",
    );

    // An unprotected branch may be rewound and deleted.
    f.push_ok(&PROTECT, &["main:refs/heads/foo"]);
    f.push_ok(&PROTECT, &["--force", "HEAD~1:refs/heads/foo"]);
    f.push_ok(&PROTECT, &[":refs/heads/foo"]);
    f.assert_clean();
}

#[test]
fn protected_fast_forward_with_an_empty_pack_succeeds() {
    let f = Fixture::new();
    f.push_ok(&PROTECT, &["main"]);
    let tip = f.commit("beta", "beta\n");
    // The server learns the commit through another branch first...
    f.push_ok(&PROTECT, &["main:refs/heads/bar"]);
    // ...so moving main needs no objects.
    let err = f.push_ok(&PROTECT, &["main"]);
    assert!(err.contains("main -> main"), "{err}");
    assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
    f.assert_clean();
}

#[test]
fn protected_branch_namespace() {
    let f = Fixture::new();
    let ns = ["--protect-branch-namespace", "refs/heads/rel/"];
    f.push_ok(&ns, &["main:refs/heads/rel/1"]);
    let out = f.push(&ns, &[":refs/heads/rel/1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("refs/heads/rel/: reference namespace is protected"));
    f.commit("beta", "beta\n");
    f.push_ok(&ns, &["main:refs/heads/rel/1"]);
    git(&f.client, &["reset", "-q", "--hard", "HEAD~1"]);
    f.commit("gamma", "gamma\n");
    let out = f.push(&ns, &["--force", "main:refs/heads/rel/1"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refs/heads/rel/1: reference is protected")
    );
    f.assert_clean();
}

#[test]
fn protocol_v1_and_v2_clients() {
    for version in ["1", "2"] {
        let f = Fixture::new();
        let err = f.push_ok(&[], &["main"]);
        assert!(err.contains("[new branch]"));
        let tip = f.commit("beta", "beta\n");
        let rp = format!("--receive-pack={}", Fixture::receive_pack(&[]));
        let url = format!("file://{}", f.server.display());
        let cfg = format!("protocol.version={version}");
        git(&f.client, &["-c", &cfg, "push", &rp, &url, "main"]);
        assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
        f.assert_clean();
    }
}

#[test]
fn directory_file_conflict_fails_only_that_ref() {
    let f = Fixture::new();
    f.push_ok(&[], &["main", "main:refs/heads/a/b"]);
    let tip = f.commit("beta", "beta\n");
    let out = f.push(&[], &["main", "main:refs/heads/a"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot lock ref 'refs/heads/a': 'refs/heads/a/b' exists"),
        "{err}"
    );
    assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
    assert_eq!(f.server_rev("refs/heads/a"), None);
    f.assert_clean();
}

#[test]
fn busy_packed_refs_fails_the_push_cleanly() {
    let f = Fixture::new();
    f.push_ok(&[], &["main"]);
    git(&f.server, &["pack-refs", "--all"]);
    let before = f.server_refs();
    f.commit("beta", "beta\n");
    let lock = f.server.join("packed-refs.lock");
    std::fs::write(&lock, "").unwrap();
    let out = f.push(&["--lock-timeout-ms", "50"], &["main"]);
    std::fs::remove_file(lock).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not acquire exclusive file lock for packed-refs"),
        "{err}"
    );
    assert_eq!(f.server_refs(), before);
    f.assert_clean();
}
