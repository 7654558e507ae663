//! `cargo xtask bench`: speed and size of gotd's upload-pack against
//! `git upload-pack`, measured side by side in one run.
//!
//! Both servers are run by a real `git` client over the same transport
//! (`git clone --upload-pack=<server> file://…`, which pipes the client to
//! the server's stdin/stdout exactly like sshd does). Each server is
//! wrapped by this program (`bench --wrap`), which counts the bytes the
//! server writes and records its peak RSS and CPU time with
//! `/usr/bin/time`.
//!
//! Scenarios: full clone (bare, so checkout time is not counted),
//! incremental fetch (a client `--behind` commits behind main), and
//! `ls-remote` (one connection, advertisement only), and a full clone of
//! the same history stored as `--packs` packs, one per push (what a
//! server that never runs `git gc` accumulates; 0 or 1 skips it).
//!
//! ```text
//! cargo xtask bench [--repo PATH] [--commits N] [--behind N] [--packs N] [--runs N] [--protocol 0|1|2]
//! ```
//! Without `--repo`, a deterministic repository is generated with
//! `git fast-import` (files edited commit after commit so deltas matter) and
//! cached under `target/bench-repos`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: cargo xtask bench [--repo PATH] [--commits N] [--behind N] [--packs N] [--runs N] [--protocol 0|1|2]";

struct Args {
    repo: Option<PathBuf>,
    commits: usize,
    behind: usize,
    runs: usize,
    protocol: u32,
    packs: usize,
}

pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("--wrap") {
        return wrap(&args[1..]);
    }
    let args = parse_args(args)?;
    let root = workspace_root();
    let target = root.join("target");

    eprintln!("bench: building the release server…");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "gotd-upload-pack",
            "--bin",
            "gotd-upload-pack-stdio",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let ours = target.join("release/gotd-upload-pack-stdio");

    let repo = match &args.repo {
        Some(p) => p
            .canonicalize()
            .with_context(|| format!("{}", p.display()))?,
        None => generated_repo(&target.join("bench-repos"), args.commits)?,
    };
    let work = tempfile_dir(&target)?;
    let result = measure_all(&args, &repo, &ours, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut a = Args {
        repo: None,
        commits: 3000,
        behind: 100,
        runs: 3,
        protocol: 2,
        packs: 30,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--repo" => a.repo = Some(PathBuf::from(value()?)),
            "--commits" => a.commits = value()?.parse().context("--commits")?,
            "--behind" => a.behind = value()?.parse().context("--behind")?,
            "--runs" => a.runs = value()?.parse().context("--runs")?,
            "--protocol" => a.protocol = value()?.parse().context("--protocol")?,
            "--packs" => a.packs = value()?.parse().context("--packs")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if a.runs == 0 || a.commits < 2 || a.protocol > 2 {
        bail!("bad option value\n{USAGE}");
    }
    Ok(a)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn tempfile_dir(target: &Path) -> Result<PathBuf> {
    let dir = target.join(format!("bench-work-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `bench --wrap <stats-file> <program> [args…]`: runs the server under
/// `/usr/bin/time`, forwarding its output and counting the bytes.
fn wrap(args: &[String]) -> Result<()> {
    let [stats, cmd @ ..] = args else {
        bail!("--wrap needs a stats file and a command")
    };
    if cmd.is_empty() {
        bail!("--wrap needs a command");
    }
    let rusage = format!("{stats}.time");
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M %e %U %S", "-o", &rusage])
        .args(cmd)
        .stdout(Stdio::piped())
        .spawn()
        .context("spawning /usr/bin/time")?;
    let mut from = child.stdout.take().expect("piped");
    let mut to = std::io::stdout().lock();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    let mut client_gone = false;
    loop {
        let n = match std::io::Read::read(&mut from, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        bytes += n as u64;
        // Keep draining after the client hangs up so the server is never
        // blocked on a full pipe.
        if !client_gone && to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() {
            client_gone = true;
        }
    }
    let status = child.wait()?;
    let time = std::fs::read_to_string(&rusage).unwrap_or_default();
    // /usr/bin/time prefixes a note when the command fails; keep the last line.
    let time = time.lines().last().unwrap_or("").to_owned();
    std::fs::write(stats, format!("{bytes} {time}\n"))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// What one run of a scenario measured.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    client_wall: f64,
    server_wall: f64,
    server_cpu: f64,
    wire_bytes: u64,
    peak_rss_kib: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Ours,
    Git,
}

struct Ctx<'a> {
    args: &'a Args,
    ours: &'a Path,
    work: &'a Path,
    url: String,
}

impl Ctx<'_> {
    /// The `--upload-pack` value for `server`, writing its stats to `stats`.
    fn upload_pack(&self, server: Server, stats: &Path) -> String {
        let me = std::env::current_exe().expect("current exe");
        let prog = match server {
            Server::Ours => self.ours.display().to_string(),
            Server::Git => "git upload-pack".into(),
        };
        format!("{} bench --wrap {} {prog}", me.display(), stats.display())
    }

    fn git(&self) -> Command {
        let mut c = Command::new("git");
        c.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(["-c", &format!("protocol.version={}", self.args.protocol)])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        c
    }

    /// Runs a client command against `server`, returning what was measured.
    fn measure(
        &self,
        server: Server,
        name: &str,
        build: impl Fn(&str) -> Command,
    ) -> Result<Sample> {
        let stats = self.work.join(format!("{name}.stats"));
        let _ = std::fs::remove_file(&stats);
        let mut cmd = build(&self.upload_pack(server, &stats));
        let start = Instant::now();
        let out = cmd.stderr(Stdio::piped()).output().context("running git")?;
        let client_wall = start.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("{name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text =
            std::fs::read_to_string(&stats).with_context(|| format!("{name}: no server stats"))?;
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() < 5 {
            bail!("{name}: unreadable server stats {text:?}");
        }
        let num = |i: usize| f[i].parse::<f64>().unwrap_or(0.0);
        Ok(Sample {
            client_wall,
            server_wall: num(2),
            server_cpu: num(3) + num(4),
            wire_bytes: f[0].parse().unwrap_or(0),
            peak_rss_kib: f[1].parse().unwrap_or(0),
        })
    }
}

fn measure_all(args: &Args, repo: &Path, ours: &Path, work: &Path) -> Result<()> {
    let ctx = Ctx {
        args,
        ours,
        work,
        url: format!("file://{}", repo.display()),
    };
    let objects = git_out(repo, &["count-objects", "-v"])?;
    let commits = git_out(repo, &["rev-list", "--count", "HEAD"])?;
    println!(
        "repository: {} ({} commits on HEAD; {})",
        repo.display(),
        commits.trim(),
        objects
            .lines()
            .filter(|l| l.starts_with("in-pack")
                || l.starts_with("packs")
                || l.starts_with("size-pack"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "protocol version {}, {} runs each, median reported\n",
        args.protocol, args.runs
    );

    let mut report = String::new();
    writeln!(
        report,
        "{:<18} {:<16} {:>12} {:>12} {:>7}",
        "scenario", "metric", "gotd", "git", "ratio"
    )?;

    // Full clone.
    let clone = |server: Server| -> Result<Sample> {
        let dst = work.join("clone.git");
        let _ = std::fs::remove_dir_all(&dst);
        let s = ctx.measure(server, "clone", |up| {
            let mut c = ctx.git();
            c.args([
                "clone",
                "-q",
                "--bare",
                "--no-local",
                "--upload-pack",
                up,
                &ctx.url,
            ])
            .arg(&dst);
            c
        })?;
        if server == Server::Ours {
            check_fsck(&dst)?;
        }
        Ok(s)
    };
    let (o, g) = alternate(args.runs, clone)?;
    table(&mut report, "full clone", &o, &g)?;

    // Full clone of the same history stored as one pack per push.
    if args.packs > 1 {
        let packed = many_packs(repo, work, args.packs)?;
        let url = format!("file://{}", packed.display());
        let clone = |server: Server| -> Result<Sample> {
            let dst = work.join("clone-packs.git");
            let _ = std::fs::remove_dir_all(&dst);
            let s = ctx.measure(server, "clone-packs", |up| {
                let mut c = ctx.git();
                c.args([
                    "clone",
                    "-q",
                    "--bare",
                    "--no-local",
                    "--upload-pack",
                    up,
                    &url,
                ])
                .arg(&dst);
                c
            })?;
            if server == Server::Ours {
                check_fsck(&dst)?;
            }
            Ok(s)
        };
        let (o, g) = alternate(args.runs, clone)?;
        table(&mut report, &format!("clone, {} packs", args.packs), &o, &g)?;
    }

    // Incremental fetch.
    let behind = args
        .behind
        .min(commits.trim().parse::<usize>().unwrap_or(2) - 1);
    let template = incremental_template(&ctx, behind)?;
    let fetch = |server: Server| -> Result<Sample> {
        let dst = work.join("fetch.git");
        let _ = std::fs::remove_dir_all(&dst);
        copy_dir(&template, &dst)?;
        let s = ctx.measure(server, "fetch", |up| {
            let mut c = ctx.git();
            c.current_dir(&dst).args([
                "fetch",
                "-q",
                "--no-tags",
                "--upload-pack",
                up,
                &ctx.url,
                "+HEAD:refs/heads/main",
            ]);
            c
        })?;
        if server == Server::Ours {
            check_fsck(&dst)?;
        }
        Ok(s)
    };
    let (o, g) = alternate(args.runs, fetch)?;
    table(&mut report, &format!("fetch {behind} behind"), &o, &g)?;

    // ls-remote: one connection, advertisement only.
    let ls = |server: Server| -> Result<Sample> {
        ctx.measure(server, "ls-remote", |up| {
            let mut c = ctx.git();
            c.args(["ls-remote", "--upload-pack", up, &ctx.url]);
            c
        })
    };
    let (o, g) = alternate(args.runs.max(5), ls)?;
    table(&mut report, "ls-remote", &o, &g)?;

    println!("{report}");
    println!("client wall: the git command end to end (includes index-pack on the client);");
    println!("server wall/cpu/RSS: the server process tree (for git: upload-pack + pack-objects);");
    println!(
        "wire bytes: everything the server wrote (pkt-lines, side-band framing, progress, pack)."
    );
    Ok(())
}

/// Runs `f` for both servers `runs` times, interleaved (who goes first
/// alternates, so neither always runs on a colder cache), and returns the
/// samples of each.
fn alternate(
    runs: usize,
    f: impl Fn(Server) -> Result<Sample>,
) -> Result<(Vec<Sample>, Vec<Sample>)> {
    let (mut o, mut g) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            o.push(f(Server::Ours)?);
            g.push(f(Server::Git)?);
        } else {
            g.push(f(Server::Git)?);
            o.push(f(Server::Ours)?);
        }
    }
    Ok((o, g))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn table(out: &mut String, scenario: &str, ours: &[Sample], git: &[Sample]) -> Result<()> {
    type Metric = (&'static str, fn(&Sample) -> f64, fn(f64) -> String);
    let metrics: [Metric; 5] = [
        ("client wall s", |s| s.client_wall, |v| format!("{v:.3}")),
        ("server wall s", |s| s.server_wall, |v| format!("{v:.2}")),
        ("server cpu s", |s| s.server_cpu, |v| format!("{v:.2}")),
        ("wire bytes", |s| s.wire_bytes as f64, |v| format!("{v:.0}")),
        (
            "peak RSS MiB",
            |s| s.peak_rss_kib as f64 / 1024.0,
            |v| format!("{v:.1}"),
        ),
    ];
    for (i, (name, get, fmt)) in metrics.iter().enumerate() {
        let o = median(ours.iter().map(get).collect());
        let g = median(git.iter().map(get).collect());
        let ratio = if g > 0.0 {
            format!("{:.2}", o / g)
        } else {
            "-".into()
        };
        let label = if i == 0 { scenario } else { "" };
        writeln!(
            out,
            "{label:<18} {name:<16} {:>12} {:>12} {ratio:>7}",
            fmt(o),
            fmt(g)
        )?;
    }
    Ok(())
}

fn git_out(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output()?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn git_ok(dir: &Path, args: &[&str]) -> Result<()> {
    git_out(dir, args).map(drop)
}

fn check_fsck(repo: &Path) -> Result<()> {
    git_ok(repo, &["fsck", "--connectivity-only", "--no-dangling"])
        .context("the gotd clone failed git fsck")
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    if !st.success() {
        bail!("cp -a {} failed", from.display());
    }
    Ok(())
}

/// The history of `repo`'s HEAD pushed in `packs` steps into a new
/// repository that keeps each push as its own pack (what a server that
/// never runs `git gc` accumulates).
fn many_packs(repo: &Path, work: &Path, packs: usize) -> Result<PathBuf> {
    let dst = work.join("many-packs.git");
    git_ok(
        work,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            dst.to_str().context("utf-8 path")?,
        ],
    )?;
    git_ok(&dst, &["config", "receive.unpackLimit", "1"])?;
    let commits: usize = git_out(repo, &["rev-list", "--count", "--first-parent", "HEAD"])?
        .trim()
        .parse()?;
    let step = (commits / packs).max(1);
    let dst_s = dst.to_str().context("utf-8 path")?;
    for k in (0..packs).rev() {
        let rev = format!("HEAD~{}:refs/heads/main", k * step);
        if k * step < commits {
            git_ok(repo, &["push", "-q", dst_s, &rev])?;
        }
    }
    Ok(dst)
}

/// A bare client that has HEAD~`behind` and nothing newer.
fn incremental_template(ctx: &Ctx<'_>, behind: usize) -> Result<PathBuf> {
    let t = ctx.work.join("fetch-template.git");
    let mut c = Command::new("git");
    c.args([
        "clone",
        "-q",
        "--bare",
        "--no-local",
        "--single-branch",
        "--no-tags",
    ])
    .arg(&ctx.url)
    .arg(&t);
    if !c.status()?.success() {
        bail!("making the incremental-fetch client failed");
    }
    let base = git_out(&t, &["rev-parse", &format!("HEAD~{behind}")])?;
    let head = git_out(&t, &["symbolic-ref", "HEAD"])?;
    git_ok(&t, &["update-ref", head.trim(), base.trim()])?;
    git_ok(&t, &["reflog", "expire", "--expire=now", "--all"])?;
    git_ok(&t, &["gc", "-q", "--prune=now"])?;
    Ok(t)
}

/// The generated repository for `commits` commits, built once and cached.
fn generated_repo(cache: &Path, commits: usize) -> Result<PathBuf> {
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
