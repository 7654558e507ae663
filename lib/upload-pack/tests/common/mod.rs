//! Helpers shared by the integration tests: deterministic repositories
//! built with the git CLI, and running `serve` on in-memory input.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gotd_upload_pack::{serve, Options, Protocol};

/// The stdio server binary built for this test run.
pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_gotd-upload-pack-stdio")
}

/// A git command with a fixed identity and dates, isolated from the
/// user's configuration.
pub fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "C O Mitter")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env_remove("GIT_PROTOCOL")
        .stdin(Stdio::null());
    c
}

/// Runs git and panics with its stderr if it fails.
pub fn run(dir: &Path, args: &[&str]) -> String {
    let out = git(dir).args(args).output().expect("spawn git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs git, returning the whole output whatever the status.
pub fn try_run(dir: &Path, args: &[&str]) -> Output {
    git(dir).args(args).output().expect("spawn git")
}

/// A bare repository `srv.git` with HEAD -> refs/heads/main, plus a work
/// tree `work` whose `origin` is that repository.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        run(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "srv.git"],
        );
        run(dir.path(), &["init", "-q", "-b", "main", "work"]);
        run(
            &dir.path().join("work"),
            &["remote", "add", "origin", "../srv.git"],
        );
        Fixture { dir }
    }

    pub fn srv(&self) -> PathBuf {
        self.dir.path().join("srv.git")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.srv().display())
    }

    /// Commits `n` changes to `file` in the work tree (each commit edits a
    /// line so deltas exist) and pushes the branch.
    pub fn commits(&self, branch: &str, n: usize) {
        let w = self.work();
        for i in 0..n {
            let path = w.join(format!("dir{}/file.txt", i % 3));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut body: String = (0..200)
                .map(|l| format!("line {l} of a text file\n"))
                .collect();
            body.push_str(&format!("change {i} on {branch}\n"));
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            std::fs::write(&path, format!("{old}{body}")).unwrap();
            run(&w, &["add", "-A"]);
            run(
                &w,
                &["commit", "-q", "-m", &format!("commit {i} on {branch}")],
            );
        }
        run(
            &w,
            &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")],
        );
    }

    /// An annotated tag `name` at the work tree's HEAD, pushed.
    pub fn tag(&self, name: &str) {
        let w = self.work();
        run(&w, &["tag", "-a", name, "-m", &format!("tag {name}")]);
        run(&w, &["push", "-q", "origin", &format!("refs/tags/{name}")]);
    }
}

/// Calls `serve` on `input`; returns what the client received and the result.
pub fn serve_bytes(repo: &Path, protocol: Protocol, input: &[u8]) -> (Vec<u8>, Result<(), String>) {
    let opts = Options {
        agent: "gotd/test".into(),
        protocol,
        threads: Some(1),
        ..Options::default()
    };
    let mut out = Vec::new();
    let res = serve(repo, &mut &input[..], &mut out, &opts).map_err(|e| e.to_string());
    (out, res)
}

/// Frames `lines` as pkt-lines; "0000"/"0001" entries are written raw.
pub fn pkts(lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        if *l == "0000" || *l == "0001" {
            out.extend_from_slice(l.as_bytes());
        } else {
            out.extend_from_slice(format!("{:04x}{l}", l.len() + 4).as_bytes());
        }
    }
    out
}

/// Bytes with NULs made visible, for snapshots.
pub fn visible(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', "\\0")
}
