//! Shared fixtures: a bare server repository and a client working copy in
//! a temporary directory, git with a fixed identity and clock, and checks
//! that a server repository is consistent and free of temporary files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const ZERO: &str = "0000000000000000000000000000000000000000";

pub fn stdio_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("gotd-receive-pack-stdio")
}

/// Runs git in `dir` with an isolated configuration; returns its output.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "Flan Hacker")
        .env("GIT_AUTHOR_EMAIL", "flan@example.org")
        .env("GIT_COMMITTER_NAME", "Flan Hacker")
        .env("GIT_COMMITTER_EMAIL", "flan@example.org")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env_remove("GIT_PROTOCOL")
        .env_remove("GIT_DIR")
        .output()
        .expect("git runs")
}

/// Runs git and requires success; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub server: PathBuf,
    pub client: PathBuf,
}

impl Fixture {
    /// An empty bare server and a client with one commit on `main`.
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let server = tmp.path().join("server.git");
        let client = tmp.path().join("client");
        git(
            tmp.path(),
            &["init", "-q", "--bare", server.to_str().unwrap()],
        );
        git(
            tmp.path(),
            &["init", "-q", "-b", "main", client.to_str().unwrap()],
        );
        let f = Fixture {
            tmp,
            server,
            client,
        };
        f.commit("alpha", "alpha\n");
        f
    }

    /// Commits `name` with `content` in the client; returns the commit id.
    pub fn commit(&self, name: &str, content: &str) -> String {
        std::fs::write(self.client.join(name), content).unwrap();
        git(&self.client, &["add", name]);
        git(
            &self.client,
            &["commit", "-q", "-m", &format!("add {name}")],
        );
        self.client_rev("HEAD")
    }

    pub fn client_rev(&self, rev: &str) -> String {
        git(&self.client, &["rev-parse", rev]).trim().to_string()
    }

    /// The `--receive-pack` value: the stdio server plus `extra` flags.
    pub fn receive_pack(extra: &[&str]) -> String {
        let mut s = stdio_bin().to_str().unwrap().to_string();
        for e in extra {
            s.push(' ');
            s.push_str(e);
        }
        s
    }

    /// `git push` from the client to the server through the stdio binary.
    pub fn push(&self, flags: &[&str], args: &[&str]) -> Output {
        let rp = format!("--receive-pack={}", Self::receive_pack(flags));
        let url = format!("file://{}", self.server.display());
        let mut all = vec!["push", rp.as_str(), url.as_str()];
        all.extend_from_slice(args);
        git_output(&self.client, &all)
    }

    pub fn push_ok(&self, flags: &[&str], args: &[&str]) -> String {
        let out = self.push(flags, args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "push {args:?} failed: {err}");
        err
    }

    /// `<id> <name>` lines of every server ref.
    pub fn server_refs(&self) -> String {
        git(
            &self.server,
            &["for-each-ref", "--format=%(objectname) %(refname)"],
        )
    }

    pub fn server_rev(&self, name: &str) -> Option<String> {
        let out = git_output(&self.server, &["rev-parse", "--verify", "-q", name]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap().trim().to_string())
    }

    /// `git fsck --strict` passes and no temporary file is left.
    pub fn assert_clean(&self) {
        assert_clean(&self.server);
    }
}

pub fn assert_clean(repo: &Path) {
    let out = git_output(repo, &["fsck", "--strict", "--no-dangling"]);
    assert!(
        out.status.success(),
        "fsck failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        temporaries(repo),
        Vec::<String>::new(),
        "temporary files left behind"
    );
}

/// Everything in objects/ and objects/pack that is not a finished pack,
/// a loose object directory or standard git furniture; plus ref lock files.
pub fn temporaries(repo: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(repo.join("objects")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let loose = name.len() == 2 && name.chars().all(|c| c.is_ascii_hexdigit());
        if !(loose || name == "info" || name == "pack") {
            found.push(format!("objects/{name}"));
        }
    }
    if let Ok(dir) = std::fs::read_dir(repo.join("objects/pack")) {
        for e in dir {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let finished =
                name.starts_with("pack-") && (name.ends_with(".pack") || name.ends_with(".idx"));
            if !finished {
                found.push(format!("objects/pack/{name}"));
            }
        }
    }
    found.extend(find_locks(&repo.join("refs"), repo));
    if repo.join("packed-refs.lock").exists() {
        found.push("packed-refs.lock".into());
    }
    found
}

fn find_locks(dir: &Path, repo: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            found.extend(find_locks(&p, repo));
        } else if p.extension().is_some_and(|x| x == "lock") {
            found.push(p.strip_prefix(repo).unwrap().display().to_string());
        }
    }
    found
}

/// pkt-line helpers for driving `serve` directly.
pub fn pkt(line: &str) -> Vec<u8> {
    let mut v = format!("{:04x}", line.len() + 4).into_bytes();
    v.extend_from_slice(line.as_bytes());
    v
}

/// A pack of `revs` (rev-list arguments, e.g. `["main", "^old"]`) made in
/// the client by `git pack-objects`.
pub fn make_pack(repo: &Path, revs: &[&str], thin: bool) -> Vec<u8> {
    use std::io::Write;
    let mut args = vec!["pack-objects", "--stdout", "--revs", "-q"];
    if thin {
        args.push("--thin");
    }
    let mut child = Command::new("git")
        .current_dir(repo)
        .args(&args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for r in revs {
            writeln!(stdin, "{r}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A request: command lines (first with `caps`), flush, optional push
/// options and flush, then `pack`.
pub fn request(
    cmds: &[(&str, &str, &str)],
    caps: &str,
    options: Option<&[&str]>,
    pack: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, (old, new, name)) in cmds.iter().enumerate() {
        if i == 0 {
            v.extend(pkt(&format!("{old} {new} {name}\0{caps}\n")));
        } else {
            v.extend(pkt(&format!("{old} {new} {name}\n")));
        }
    }
    v.extend(b"0000");
    if let Some(opts) = options {
        for o in opts {
            v.extend(pkt(&format!("{o}\n")));
        }
        v.extend(b"0000");
    }
    v.extend_from_slice(pack);
    v
}

/// The response with the advertisement (everything up to and including the
/// first flush) removed.
pub fn after_advertisement(out: &[u8]) -> String {
    let mut pos = 0;
    while pos + 4 <= out.len() {
        let len =
            usize::from_str_radix(std::str::from_utf8(&out[pos..pos + 4]).unwrap(), 16).unwrap();
        if len == 0 {
            pos += 4;
            break;
        }
        pos += len;
    }
    String::from_utf8_lossy(&out[pos..]).into_owned()
}
