//! The deterministic benchmark repository: a `git fast-import` stream of
//! files edited commit after commit (so deltas matter), packed as `git gc`
//! would leave it, and cached per commit count.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::git_ok;

/// The generated repository for `commits` commits, built once and cached.
pub(super) fn generated_repo(cache: &Path, commits: usize) -> Result<PathBuf> {
    let repo = cache.join(format!("generated-{commits}.git"));
    if repo.join("bench-complete").exists() {
        return Ok(repo);
    }
    eprintln!(
        "bench: generating {} with {commits} commits…",
        repo.display()
    );
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(cache)?;
    git_ok(
        cache,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            repo.to_str().context("utf-8 path")?,
        ],
    )?;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()?;
    {
        let mut stdin = std::io::BufWriter::new(child.stdin.take().expect("piped"));
        generate_stream(&mut stdin, commits)?;
        stdin.flush()?;
    }
    if !child.wait()?.success() {
        bail!("git fast-import failed");
    }
    // A server repository as `git gc` leaves it: one pack, good deltas.
    git_ok(
        &repo,
        &["repack", "-adf", "-q", "--window=10", "--depth=50"],
    )?;
    std::fs::write(repo.join("bench-complete"), b"")?;
    Ok(repo)
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "repository",
    "daemon",
    "packet",
    "object",
    "commit",
    "tree",
    "blob",
    "reference",
    "fetch",
    "clone",
    "push",
    "config",
    "socket",
    "child",
    "parent",
    "error",
];

fn line(rng: &mut Rng) -> String {
    let n = 4 + rng.below(8);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s.push_str(&format!(" {}\n", rng.next() % 100_000));
    s
}

/// A fast-import stream: files in directories, each commit editing a few
/// lines of a few files, new files now and then, an annotated tag every 500
/// commits.
fn generate_stream(out: &mut impl std::io::Write, commits: usize) -> Result<()> {
    let mut rng = Rng(0x005e_ed0f_90d5);
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for i in 0..150 {
        let lines = (0..(40 + rng.below(160))).map(|_| line(&mut rng)).collect();
        files.push((format!("src/mod{}/file{i}.txt", i % 12), lines));
    }
    for c in 0..commits {
        let mut changed = Vec::new();
        if c == 0 {
            changed.extend(0..files.len());
        } else {
            if c % 25 == 0 {
                let i = files.len();
                let lines = (0..(20 + rng.below(100))).map(|_| line(&mut rng)).collect();
                files.push((format!("src/mod{}/new{i}.txt", i % 17), lines));
                changed.push(i);
            }
            for _ in 0..(1 + rng.below(4)) {
                let i = rng.below(files.len());
                let f = &mut files[i].1;
                for _ in 0..(1 + rng.below(5)) {
                    let at = rng.below(f.len() + 1);
                    match rng.below(3) {
                        0 if !f.is_empty() && at < f.len() => {
                            f.remove(at);
                        }
                        1 if at < f.len() => f[at] = line(&mut rng),
                        _ => f.insert(at, line(&mut rng)),
                    }
                }
                changed.push(i);
            }
        }
        let time = 1_600_000_000 + c as u64 * 600;
        let msg = format!("commit {c}: {}", line(&mut rng));
        write!(out, "commit refs/heads/main\nmark :{}\n", c + 1)?;
        writeln!(out, "author Bench Author <author@example.com> {time} +0000")?;
        writeln!(
            out,
            "committer Bench Committer <committer@example.com> {time} +0000"
        )?;
        write!(out, "data {}\n{msg}", msg.len())?;
        for i in changed {
            let (path, lines) = &files[i];
            let body: String = lines.concat();
            write!(out, "M 100644 inline {path}\ndata {}\n{body}\n", body.len())?;
        }
        writeln!(out)?;
        if (c + 1) % 500 == 0 {
            let msg = format!("release {}\n", (c + 1) / 500);
            write!(out, "tag v{}\nfrom :{}\n", (c + 1) / 500, c + 1)?;
            writeln!(out, "tagger Bench Tagger <tagger@example.com> {time} +0000")?;
            write!(out, "data {}\n{msg}\n", msg.len())?;
        }
    }
    Ok(())
}
