//! `cargo xtask bench`: speed and size of gotd against git, measured side by
//! side in one run.
//!
//! Both servers are run by a real `git` client over the same transport
//! (`git clone --upload-pack=<server> file://…`, `git push
//! --receive-pack=<server> file://…`, which pipe the client to the server's
//! stdin/stdout exactly like sshd does). Each server is wrapped by this
//! program (`bench --wrap`, see `wrap`), which counts the bytes the server
//! writes and records its peak RSS and CPU time with `/usr/bin/time`.
//!
//! Scenarios, per repository size:
//! * full clone (bare, so checkout time is not counted);
//! * full clone of the same history stored as `--packs` packs, one per push
//!   (what a server that never runs `git gc` accumulates; 0 or 1 skips it);
//! * incremental fetch (a client `--behind` commits behind main);
//! * `ls-remote` (one connection, advertisement only);
//! * full push of main into an empty bare repository, and an incremental
//!   push of `--behind` new commits (`gotd-receive-pack-stdio` against
//!   `git receive-pack`);
//! * connection cost (`daemon`): `git ls-remote` through the real daemon
//!   path (gotd, gotsh behind a fake ssh) against `git ls-remote` of the
//!   `file://` URL, `--connections` times each (0 skips it).
//!
//! ```text
//! cargo xtask bench [--repo PATH | --commits N | --sizes N,N,…] [--plot] [--behind N]
//!                   [--packs N] [--runs N] [--protocol 0|1|2] [--connections N]
//! ```
//! Each scenario runs `--runs` times per server (the table shows medians);
//! the short ones (fetch, `ls-remote`: tens of milliseconds) at least
//! [`SHORT_RUNS`] times: on a shared virtual machine their times fall into
//! two modes about 30 % apart, and the median of a few runs lands on
//! either.
//!
//! Without `--repo`, a deterministic repository of each size is generated
//! (`generate`) and cached under `target/bench-repos`. `--plot` writes
//! `target/bench/bench.svg`: client time against repository size for clone,
//! fetch and push (`plot`).

mod daemon;
mod generate;
mod plot;
mod push;
mod report;
mod wrap;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use report::Report;

const USAGE: &str =
    "usage: cargo xtask bench [--repo PATH | --commits N | --sizes N,N,…] [--plot] \
[--behind N] [--packs N] [--runs N] [--protocol 0|1|2] [--connections N]";

struct Args {
    repo: Option<PathBuf>,
    sizes: Vec<usize>,
    behind: usize,
    runs: usize,
    protocol: u32,
    packs: usize,
    connections: usize,
    plot: bool,
}

pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("--wrap") {
        return wrap::wrap(&args[1..]);
    }
    let args = parse_args(args)?;
    let root = workspace_root();
    let target = root.join("target");

    eprintln!("bench: building the release servers…");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.current_dir(&root).args(["build", "--release"]);
    let mut bins = vec![
        ("gotd-upload-pack", "gotd-upload-pack-stdio"),
        ("gotd-receive-pack", "gotd-receive-pack-stdio"),
    ];
    if args.connections > 0 {
        bins.extend([("gotd", "gotd"), ("gotsh", "gotsh"), ("gotctl", "gotctl")]);
    }
    for (pkg, _) in &bins {
        build.args(["-p", pkg]);
    }
    for (_, bin) in &bins {
        build.args(["--bin", bin]);
    }
    if !build.status().context("running cargo build")?.success() {
        bail!("cargo build --release failed");
    }
    let release = target.join("release");

    let repos: Vec<PathBuf> = match &args.repo {
        Some(p) => vec![p
            .canonicalize()
            .with_context(|| format!("{}", p.display()))?],
        None => args
            .sizes
            .iter()
            .map(|&n| generate::generated_repo(&target.join("bench-repos"), n))
            .collect::<Result<_>>()?,
    };
    let work = tempfile_dir(&target)?;
    let result = measure_sizes(&args, &repos, &release, &work, &target.join("bench"));
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut a = Args {
        repo: None,
        sizes: vec![3000],
        behind: 100,
        runs: 3,
        protocol: 2,
        packs: 30,
        connections: 200,
        plot: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--repo" => a.repo = Some(PathBuf::from(value()?)),
            "--commits" => a.sizes = vec![value()?.parse().context("--commits")?],
            "--sizes" => {
                a.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .context("--sizes takes commit counts separated by commas")?
            }
            "--behind" => a.behind = value()?.parse().context("--behind")?,
            "--runs" => a.runs = value()?.parse().context("--runs")?,
            "--protocol" => a.protocol = value()?.parse().context("--protocol")?,
            "--packs" => a.packs = value()?.parse().context("--packs")?,
            "--connections" => a.connections = value()?.parse().context("--connections")?,
            "--plot" => a.plot = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    if a.runs == 0 || a.sizes.is_empty() || a.sizes.iter().any(|&n| n < 2) || a.protocol > 2 {
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

/// Which git service a scenario exercises.
#[derive(Clone, Copy)]
enum Service {
    Upload,
    Receive,
}

struct Ctx<'a> {
    args: &'a Args,
    release: &'a Path,
    work: &'a Path,
    repo: &'a Path,
    url: String,
}

impl Ctx<'_> {
    /// The `--upload-pack`/`--receive-pack` value for `server`, writing
    /// its stats to `stats`.
    fn server_cmd(&self, service: Service, server: Server, stats: &Path) -> String {
        let me = std::env::current_exe().expect("current exe");
        let prog = match (server, service) {
            (Server::Ours, Service::Upload) => self
                .release
                .join("gotd-upload-pack-stdio")
                .display()
                .to_string(),
            (Server::Ours, Service::Receive) => self
                .release
                .join("gotd-receive-pack-stdio")
                .display()
                .to_string(),
            (Server::Git, Service::Upload) => "git upload-pack".into(),
            (Server::Git, Service::Receive) => "git receive-pack".into(),
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
        service: Service,
        server: Server,
        name: &str,
        build: impl Fn(&str) -> Command,
    ) -> Result<Sample> {
        let stats = self.work.join(format!("{name}.stats"));
        let _ = std::fs::remove_file(&stats);
        let mut cmd = build(&self.server_cmd(service, server, &stats));
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

    /// A bare clone of the repository into `dst` through `server`.
    fn clone(&self, server: Server, name: &str, url: &str) -> Result<Sample> {
        let dst = self.work.join(format!("{name}.git"));
        let _ = std::fs::remove_dir_all(&dst);
        let s = self.measure(Service::Upload, server, name, |up| {
            let mut c = self.git();
            c.args([
                "clone",
                "-q",
                "--bare",
                "--no-local",
                "--upload-pack",
                up,
                url,
            ])
            .arg(&dst);
            c
        })?;
        if server == Server::Ours {
            check_fsck(&dst)?;
        }
        Ok(s)
    }
}

fn measure_sizes(
    args: &Args,
    repos: &[PathBuf],
    release: &Path,
    work: &Path,
    out_dir: &Path,
) -> Result<()> {
    let mut report = Report::default();
    let mut points = Vec::new();
    for (i, repo) in repos.iter().enumerate() {
        let commits: usize = git_out(repo, &["rev-list", "--count", "HEAD"])?
            .trim()
            .parse()?;
        let ctx = Ctx {
            args,
            release,
            work,
            repo,
            url: format!("file://{}", repo.display()),
        };
        let last = i + 1 == repos.len();
        let times = measure_one(&ctx, commits, &mut report, last)?;
        points.push((commits, times));
    }
    println!("{}", report.render());
    println!("client wall: the git command end to end (includes index-pack on the client);");
    println!("server wall/cpu/RSS: the server process tree (for git: upload-pack + pack-objects,");
    println!("receive-pack + index-pack);");
    println!(
        "wire bytes: everything the server wrote (pkt-lines, side-band framing, progress, pack)."
    );
    if args.plot {
        std::fs::create_dir_all(out_dir)?;
        let path = out_dir.join("bench.svg");
        std::fs::write(&path, plot::svg(&points))?;
        println!("plot: {}", path.display());
    }
    Ok(())
}

/// Runs every scenario on one repository, adding rows to `report`;
/// returns the median client times (ours, git) for the plot.
fn measure_one(
    ctx: &Ctx<'_>,
    commits: usize,
    report: &mut Report,
    with_daemon: bool,
) -> Result<plot::Times> {
    let (args, repo, work) = (ctx.args, ctx.repo, ctx.work);
    let objects = git_out(repo, &["count-objects", "-v"])?;
    eprintln!(
        "bench: {} ({commits} commits on HEAD; {}), protocol version {}, {} runs each \
         (fetch and ls-remote: {})",
        repo.display(),
        objects
            .lines()
            .filter(|l| l.starts_with("in-pack")
                || l.starts_with("packs")
                || l.starts_with("size-pack"))
            .collect::<Vec<_>>()
            .join(", "),
        args.protocol,
        args.runs,
        args.runs.max(SHORT_RUNS)
    );
    let tag = format!("{commits}c");
    let mut times = plot::Times::default();

    let (o, g) = alternate(args.runs, |s| ctx.clone(s, "clone", &ctx.url))?;
    times.clone = report.add(&format!("{tag} full clone"), &o, &g);

    if args.packs > 1 {
        let packed = many_packs(repo, work, args.packs)?;
        let url = format!("file://{}", packed.display());
        let (o, g) = alternate(args.runs, |s| ctx.clone(s, "clone-packs", &url))?;
        report.add(&format!("{tag} clone, {} packs", args.packs), &o, &g);
        let _ = std::fs::remove_dir_all(&packed);
    }

    let behind = args.behind.min(commits - 1);
    let template = incremental_template(ctx, behind)?;
    let fetch = |server: Server| -> Result<Sample> {
        let dst = work.join("fetch.git");
        let _ = std::fs::remove_dir_all(&dst);
        copy_dir(&template, &dst)?;
        let s = ctx.measure(Service::Upload, server, "fetch", |up| {
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
    let (o, g) = alternate(args.runs.max(SHORT_RUNS), fetch)?;
    times.fetch = report.add(&format!("{tag} fetch {behind} behind"), &o, &g);
    let _ = std::fs::remove_dir_all(&template);

    let ls = |server: Server| -> Result<Sample> {
        ctx.measure(Service::Upload, server, "ls-remote", |up| {
            let mut c = ctx.git();
            c.args(["ls-remote", "--upload-pack", up, &ctx.url]);
            c
        })
    };
    let (o, g) = alternate(args.runs.max(SHORT_RUNS), ls)?;
    report.add(&format!("{tag} ls-remote"), &o, &g);

    let (o, g) = alternate(args.runs, |s| push::full(ctx, s))?;
    times.push = report.add(&format!("{tag} push, full"), &o, &g);
    let template = push::incremental_template(ctx, behind)?;
    let (o, g) = alternate(args.runs, |s| push::incremental(ctx, s, &template))?;
    report.add(&format!("{tag} push {behind} commits"), &o, &g);
    let _ = std::fs::remove_dir_all(&template);

    if with_daemon && args.connections > 0 {
        let c = daemon::connection_cost(ctx, args.connections)?;
        report.add_connection(&format!("{tag} ls-remote via gotd"), &c);
    }
    Ok(times)
}

/// Fewest runs of a scenario that takes tens of milliseconds.
const SHORT_RUNS: usize = 15;

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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(args: &[&str]) -> Result<Args> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_sizes() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.sizes, [3000]);
        assert_eq!((a.connections, a.plot), (200, false));
        let a = parse(&["--sizes", "500, 1500,3000", "--plot", "--connections", "0"]).unwrap();
        assert_eq!(a.sizes, [500, 1500, 3000]);
        assert_eq!((a.connections, a.plot), (0, true));
        assert_eq!(parse(&["--commits", "42"]).unwrap().sizes, [42]);
    }

    #[rstest]
    #[case(&["--sizes", "500,x"], "--sizes takes commit counts")]
    #[case(&["--sizes", "1"], "bad option value")]
    #[case(&["--runs", "0"], "bad option value")]
    #[case(&["--protocol", "3"], "bad option value")]
    #[case(&["--connections"], "--connections needs a value")]
    #[case(&["--frobnicate"], "unknown option --frobnicate")]
    fn bad_options_are_named(#[case] args: &[&str], #[case] msg: &str) {
        let err = format!("{:#}", parse(args).err().expect("refused"));
        assert!(err.contains(msg), "{err}");
    }
}
