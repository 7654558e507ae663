//! Server-side test repositories, built with git and handed to the gotd user:
//! the standard tree (alpha, beta, epsilon/zeta, gamma/delta), an empty one
//! (HEAD → refs/heads/main, no refs), and the standard tree plus large blobs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cmd;
use crate::users::{self, Account};

/// Which repository a scenario serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// One commit with the standard tree.
    Standard,
    /// `git init --bare`: HEAD → refs/heads/main, no refs.
    Empty,
    /// The standard tree plus large_file1..3 (see [`large_blobs`]).
    Large,
    /// The standard tree, then 20 commits editing it and an annotated tag
    /// `v1.0`, repacked as one pack with a bitmap and a reverse index, as
    /// `git gc` leaves a repository.
    Repacked,
}

/// The standard tree: path → content.
pub const STANDARD_TREE: &[(&str, &str)] = &[
    ("alpha", "alpha\n"),
    ("beta", "beta\n"),
    ("epsilon/zeta", "zeta\n"),
    ("gamma/delta", "delta\n"),
];

/// Environment that makes git deterministic and independent of the
/// invoking user's configuration.
pub fn git_env(c: &mut Command) -> &mut Command {
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Flan Hacker")
        .env("GIT_AUTHOR_EMAIL", "flan_hacker@openbsd.org")
        .env("GIT_COMMITTER_NAME", "Flan Hacker")
        .env("GIT_COMMITTER_EMAIL", "flan_hacker@openbsd.org")
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .env("LC_ALL", "C")
}

fn git(timeout: Duration) -> impl Fn(&[&str]) -> Result<String> {
    move |args: &[&str]| {
        let mut c = Command::new("git");
        git_env(&mut c).args(args);
        let out = cmd::run_ok(&mut c, None, timeout)?;
        Ok(cmd::stdout_text(&out))
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), standing in for
/// /dev/urandom so that large blobs do not compress or delta.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = (seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// large_file1 is `mib` MiB of noise; large_file2 and 3 are copies with
/// 32 KiB of different noise appended.
pub fn large_blobs(mib: usize) -> Vec<(&'static str, Vec<u8>)> {
    let base = noise(mib * 1024 * 1024, 0x9e37_79b9_7f4a_7c15);
    let mut two = base.clone();
    two.extend_from_slice(&noise(32 * 1024, 2));
    let mut three = base.clone();
    three.extend_from_slice(&noise(32 * 1024, 3));
    vec![
        ("large_file1", base),
        ("large_file2", two),
        ("large_file3", three),
    ]
}

/// Creates the repository `kind` at `path` (bare) and chowns it to `owner`.
pub fn create(
    kind: RepoKind,
    path: &Path,
    owner: &Account,
    large_mib: usize,
    timeout: Duration,
) -> Result<()> {
    let g = git(timeout);
    let p = path.to_str().context("repository path is not UTF-8")?;
    g(&["init", "-q", "--bare", "-b", "main", p])?;
    if kind != RepoKind::Empty {
        let work = tempfile::Builder::new()
            .prefix("work-")
            .tempdir_in(path.parent().unwrap_or(Path::new("/tmp")))?;
        for (name, content) in STANDARD_TREE {
            write(work.path(), name, content.as_bytes())?;
        }
        let w = work.path().to_str().context("work path is not UTF-8")?;
        let with = |extra: &[&str]| -> Vec<String> {
            let mut v = vec![
                format!("--git-dir={p}"),
                format!("--work-tree={w}"),
                "-c".into(),
                "core.bare=false".into(),
            ];
            v.extend(extra.iter().map(|s| s.to_string()));
            v
        };
        let run = |extra: &[&str]| -> Result<String> {
            let v = with(extra);
            let refs: Vec<&str> = v.iter().map(String::as_str).collect();
            g(&refs)
        };
        run(&["add", "-A"])?;
        run(&["commit", "-q", "-m", "adding the test tree"])?;
        if kind == RepoKind::Large {
            for (name, bytes) in large_blobs(large_mib) {
                write(work.path(), name, &bytes)?;
            }
            run(&["add", "-A"])?;
            run(&["commit", "-q", "-m", "adding large files"])?;
        }
        if kind == RepoKind::Repacked {
            for i in 0..20 {
                let alpha: String = (0..=i).map(|k| format!("alpha line {k}\n")).collect();
                write(work.path(), "alpha", alpha.as_bytes())?;
                write(
                    work.path(),
                    &format!("gamma/file{}", i % 5),
                    format!("{i}\n").as_bytes(),
                )?;
                run(&["add", "-A"])?;
                run(&["commit", "-q", "-m", &format!("edit {i}")])?;
            }
            run(&["tag", "-a", "-m", "release 1.0", "v1.0"])?;
            run(&[
                "-c",
                "pack.writeReverseIndex=true",
                "repack",
                "-a",
                "-d",
                "-b",
                "-q",
            ])?;
        }
        let _ = std::fs::remove_file(path.join("index"));
    }
    users::chown_recursive(path, owner)
}

fn write(dir: &Path, name: &str, content: &[u8]) -> Result<()> {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&p, content).with_context(|| format!("writing {}", p.display()))
}

/// Every path below `root` (relative, sorted), for before/after comparisons.
pub fn listing(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

/// The server repository's refs as `<id> <name>` lines (git for-each-ref).
pub fn refs(path: &Path, timeout: Duration) -> Result<Vec<String>> {
    let p = path.to_str().context("repository path is not UTF-8")?;
    let out = git(timeout)(&[
        "-c",
        "safe.directory=*",
        "--git-dir",
        p,
        "for-each-ref",
        "--format=%(objectname) %(refname)",
    ])?;
    Ok(out.lines().map(str::to_string).collect())
}

/// The id `name` points at in the server repository, if it exists.
pub fn ref_id(path: &Path, name: &str, timeout: Duration) -> Result<Option<String>> {
    Ok(refs(path, timeout)?.into_iter().find_map(|l| {
        let (id, n) = l.split_once(' ')?;
        (n == name).then(|| id.to_string())
    }))
}

/// `git fsck --strict` of the served repository, run as its owner.
pub fn fsck(path: &Path, owner: &Account, timeout: Duration) -> Result<()> {
    let mut c = Command::new("git");
    git_env(&mut c);
    cmd::as_user(&mut c, owner, Some(Path::new("/")))
        .arg("-c")
        .arg("safe.directory=*")
        .arg("--git-dir")
        .arg(path)
        .args(["fsck", "--strict", "--no-reflogs", "--no-progress"]);
    cmd::run_ok(&mut c, None, timeout).context("git fsck --strict of the served repository")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_deterministic_and_incompressible_looking() {
        let a = noise(4096, 7);
        assert_eq!(a, noise(4096, 7));
        assert_ne!(a, noise(4096, 8));
        let zeros = a.iter().filter(|b| **b == 0).count();
        assert!(zeros < 64, "{zeros} zero bytes");
    }

    #[test]
    fn large_blobs_share_a_prefix() {
        let blobs = large_blobs(1);
        assert_eq!(blobs[0].1.len(), 1024 * 1024);
        assert_eq!(blobs[1].1.len(), 1024 * 1024 + 32 * 1024);
        assert_eq!(blobs[1].1[..1024 * 1024], blobs[0].1[..]);
        assert_ne!(blobs[1].1, blobs[2].1);
    }

    #[test]
    fn builds_standard_and_empty_repositories() {
        let me = crate::users::current().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let t = Duration::from_secs(60);
        let std_repo = dir.path().join("std.git");
        create(RepoKind::Standard, &std_repo, &me, 1, t).unwrap();
        let refs = refs(&std_repo, t).unwrap();
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert!(refs[0].ends_with(" refs/heads/main"));
        fsck(&std_repo, &me, t).unwrap();
        let empty = dir.path().join("empty.git");
        create(RepoKind::Empty, &empty, &me, 1, t).unwrap();
        assert!(super::refs(&empty, t).unwrap().is_empty());
        assert_eq!(
            std::fs::read_to_string(empty.join("HEAD")).unwrap(),
            "ref: refs/heads/main\n"
        );
    }
}
