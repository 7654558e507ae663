//! Running git in unit tests that build real repositories.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git in `dir` with no system or global configuration and a fixed
/// identity; panics with git's stderr unless it succeeds; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new repository `r` with a work tree (branch `main`) in `dir`.
pub fn init_work(dir: &Path) -> PathBuf {
    git(dir, &["init", "-q", "-b", "main", "r"]);
    dir.join("r")
}

/// One commit in `repo` per number in `numbers`, each of everything in the
/// work tree after `change(number, repo)` edits it, with message `c<number>`.
pub fn commit_each(repo: &Path, numbers: std::ops::Range<usize>, change: impl Fn(usize, &Path)) {
    for i in numbers {
        change(i, repo);
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", &format!("c{i}")]);
    }
}

/// A bare repository `srv.git` in `dir` that keeps every push as a pack
/// (`receive.unpackLimit 1`), pushed to `rounds` times from a clone `w`.
/// Each round rewrites `f.txt` as `text` plus a line naming the round;
/// `also(round, work_tree)` may change more files before the commit.
/// Returns the bare repository's path.
pub fn pushed_as_packs(
    dir: &Path,
    rounds: usize,
    text: &str,
    also: impl Fn(usize, &Path),
) -> PathBuf {
    git(dir, &["init", "-q", "--bare", "-b", "main", "srv.git"]);
    let srv = dir.join("srv.git");
    git(&srv, &["config", "receive.unpackLimit", "1"]);
    git(dir, &["init", "-q", "-b", "main", "w"]);
    let w = dir.join("w");
    for round in 0..rounds {
        std::fs::write(w.join("f.txt"), format!("{text}round {round}\n")).unwrap();
        also(round, &w);
        git(&w, &["add", "-A"]);
        git(&w, &["commit", "-q", "-m", &format!("round {round}")]);
        git(&w, &["push", "-q", srv.to_str().unwrap(), "main"]);
    }
    srv
}

/// Ids of `git rev-list --objects <revs>` in `repo`.
pub fn object_ids(repo: &Path, revs: &[&str]) -> Vec<gix::ObjectId> {
    let mut args = vec!["rev-list", "--objects"];
    args.extend_from_slice(revs);
    git(repo, &args)
        .lines()
        .map(|l| gix::ObjectId::from_hex(&l.as_bytes()[..40]).unwrap())
        .collect()
}
