//! The scenarios and the runner that gives each a fresh repository, a fresh
//! gotd with its own configuration, and the post-scenario checks.

pub mod chaos;
pub mod control;
pub mod diskfull;
pub mod faults;
pub mod interop;
pub mod invocation;
pub mod leaks;
pub mod lifecycle;
pub mod limits;
pub mod load;
pub mod local;
pub mod logging;
pub mod notify;
pub mod protocol;
pub mod read;
pub mod request;
pub mod security;
pub mod slow;
pub mod stress;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::client::Client;
use crate::daemon::{self, Gotd, Launch, RepoConf};
use crate::repo::{self, RepoKind};
use crate::report::Outcome;
use crate::settings::{Binaries, Settings};
use crate::world::World;
use crate::{checks, cmd, users};

/// How gotd is started for a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// GOTD_START_CMD (default: daemonized `gotd -vv -f conf`).
    Default,
    /// In the foreground under valgrind's leak checker.
    Valgrind,
}

/// What a served scenario needs from gotd.
pub struct Setup {
    pub repo: RepoKind,
    /// Lines of the `repository` block after `path`.
    pub rules: fn(&World) -> Vec<String>,
    /// Global lines after `listen on` and `user`.
    pub global: fn(&World) -> Vec<String>,
    /// Further repositories (name, rules), served from empty repos.
    pub extra_repos: fn(&World) -> Vec<ExtraRepo>,
    pub start: StartMode,
}

/// The most common setup: the standard test repository, `permit rw` for
/// the dev user, nothing else, the default start command.
pub const STANDARD_RW: Setup = Setup {
    repo: RepoKind::Standard,
    rules: write::permit_rw,
    global: none,
    extra_repos: none,
    start: StartMode::Default,
};

/// A further repository: its name and rules.
pub type ExtraRepo = (String, Vec<String>);

/// No global lines / no extra repositories.
pub fn none<T>(_: &World) -> Vec<T> {
    Vec::new()
}

/// The body of a scenario.
pub enum Body {
    /// Runs against a gotd started as root and reached through sshd.
    Served {
        setup: Setup,
        run: fn(&mut Ctx) -> Result<()>,
    },
    /// Runs the binaries directly; needs neither root nor sshd.
    Local(fn(&LocalCtx) -> Result<()>),
}

pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    /// A reason to skip (e.g. a client that is not installed), checked first.
    pub skip_if: Option<fn(&Settings) -> Option<String>>,
    pub body: Body,
}

impl Scenario {
    pub fn needs_root(&self) -> bool {
        matches!(self.body, Body::Served { .. })
    }
}

/// Every scenario, in the order they run.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(local::scenarios());
    v.extend(read::scenarios());
    v.extend(write::scenarios());
    v.extend(request::scenarios());
    v.extend(limits::scenarios());
    v.extend(interop::scenarios());
    v.extend(protocol::scenarios());
    v.extend(control::scenarios());
    v.extend(logging::scenarios());
    v.extend(invocation::scenarios());
    v.extend(faults::scenarios());
    v.extend(notify::scenarios());
    v.extend(security::scenarios());
    v.extend(slow::scenarios());
    v.extend(chaos::scenarios());
    v.extend(lifecycle::scenarios());
    v.extend(diskfull::scenarios());
    v.extend(load::scenarios());
    v.extend(stress::scenarios());
    v.extend(leaks::scenarios());
    v
}

/// What a local scenario gets.
pub struct LocalCtx {
    pub bins: Binaries,
    pub settings: Settings,
    pub dir: PathBuf,
    pub user: users::Account,
}

/// What a served scenario gets: the world, its directory, the served
/// repository, a client work directory and the running gotd.
pub struct Ctx<'w> {
    pub w: &'w World,
    /// The scenario's directory (config, logs, repositories).
    pub dir: PathBuf,
    pub repo: PathBuf,
    /// Client work directory, owned by the test user.
    pub work: PathBuf,
    pub gotd: Gotd,
    pub baseline_fds: usize,
    /// Figures and remarks printed under the result line.
    pub notes: Vec<String>,
    /// Set by the valgrind start mode: the directory of its reports.
    pub valgrind_log: Option<PathBuf>,
}

impl Ctx<'_> {
    pub fn client(&self) -> &Client {
        &self.w.client
    }

    pub fn url(&self) -> String {
        self.w.client.url(&self.w.settings.repo_name)
    }

    pub fn t(&self) -> Duration {
        self.w.settings.client_timeout
    }

    /// A fresh directory in the client work area.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// git as the test user in the work area (or `dir` below it).
    pub fn git_in(&self, dir: &str, args: &[&str]) -> Result<String> {
        self.client().git_ok(&self.path(dir), args)
    }

    /// git that must fail; returns stderr.
    pub fn git_fails_in(&self, dir: &str, args: &[&str]) -> Result<String> {
        self.client().git_fails(&self.path(dir), args)
    }

    /// `git clone URL dest` (v0) and returns nothing on success.
    pub fn clone(&self, dest: &str, extra: &[&str]) -> Result<()> {
        let url = self.url();
        let mut args = vec!["clone", "-q"];
        args.extend_from_slice(extra);
        args.push(&url);
        args.push(dest);
        self.git_in(".", &args).map(|_| ())
    }

    /// Server-side ref value.
    pub fn server_ref(&self, name: &str) -> Result<Option<String>> {
        repo::ref_id(&self.repo, name, self.t())
    }

    /// The settle checks (zombies, fds, clients) now, not only at the end.
    pub fn settle(&self) -> Result<()> {
        checks::settle(
            self.gotd.pid,
            &self.w.bins.gotctl(),
            &self.w.sock,
            self.baseline_fds,
            self.w.settings.settle_timeout,
        )
    }

    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }
}

/// Runs one scenario to an outcome (never panics out).
pub fn run_one(s: &Scenario, world: Option<&World>, local: &LocalCtx) -> (Outcome, Vec<String>) {
    if let Some(reason) = s.skip_if.and_then(|f| f(&local.settings)) {
        return (Outcome::Skip(reason), Vec::new());
    }
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &s.body {
        Body::Local(f) => {
            let dir = local.dir.join(s.name);
            let r = std::fs::create_dir_all(&dir)
                .context("creating the scenario dir")
                .and_then(|_| {
                    f(&LocalCtx {
                        bins: local.bins.clone(),
                        settings: local.settings.clone(),
                        dir,
                        user: local.user.clone(),
                    })
                });
            (r, Vec::new())
        }
        Body::Served { setup, run } => match world {
            None => (
                Err(anyhow::anyhow!(
                    "needs root: creates users, runs sshd and starts gotd as root"
                )),
                Vec::new(),
            ),
            Some(w) => served(s.name, setup, *run, w),
        },
    }));
    match caught {
        Ok((Ok(()), notes)) => (Outcome::Pass, notes),
        Ok((Err(e), notes)) => (Outcome::Fail(one_line(&format!("{e:#}"))), notes),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            (
                Outcome::Fail(format!("panic: {}", one_line(&msg))),
                Vec::new(),
            )
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn served(
    name: &'static str,
    setup: &Setup,
    run: fn(&mut Ctx) -> Result<()>,
    w: &World,
) -> (Result<()>, Vec<String>) {
    let mut ctx = match prepare(name, setup, w) {
        Ok(c) => c,
        Err(e) => return (Err(e), Vec::new()),
    };
    let body = run(&mut ctx);
    // Checks only mean something if the body got through; either way gotd
    // is stopped and must exit cleanly.
    let checks = body.as_ref().ok().map(|_| {
        let settled = if ctx.gotd.stopped() {
            Ok(())
        } else {
            ctx.settle().context("post-scenario checks")
        };
        settled.and_then(|_| repo::fsck(&ctx.repo, &w.gotd_user, w.settings.client_timeout))
    });
    let stop = ctx.gotd.stop().context("stopping gotd");
    let after = if body.is_ok() {
        let pid = ctx.gotd.pid;
        ctx.valgrind_log
            .clone()
            .map(|dir| leaks::check_report(&dir, pid, &mut ctx.notes))
    } else {
        None
    };
    let mut notes = std::mem::take(&mut ctx.notes);
    if body.is_err() && w.settings.keep {
        notes.push(format!("files kept in {}", ctx.dir.display()));
    }
    let result = body
        .and_then(|_| checks.unwrap_or(Ok(())))
        .and(stop)
        .and_then(|_| after.unwrap_or(Ok(())));
    (result, notes)
}

fn prepare<'w>(name: &'static str, setup: &Setup, w: &'w World) -> Result<Ctx<'w>> {
    let s = &w.settings;
    let dir = w.root.join(name);
    std::fs::create_dir_all(&dir)?;
    let repo_path = dir.join(format!("{}.git", s.repo_name));
    repo::create(
        setup.repo,
        &repo_path,
        &w.gotd_user,
        s.large_file_mib,
        s.client_timeout,
    )
    .context("creating the test repository")?;
    let mut repos = vec![RepoConf {
        name: s.repo_name.clone(),
        path: repo_path.clone(),
        rules: (setup.rules)(w),
    }];
    for (extra, rules) in (setup.extra_repos)(w) {
        let p = dir.join(format!("{extra}.git"));
        repo::create(RepoKind::Empty, &p, &w.gotd_user, 0, s.client_timeout)?;
        repos.push(RepoConf {
            name: extra,
            path: p,
            rules,
        });
    }
    let work = dir.join("client");
    std::fs::create_dir_all(&work)?;
    users::chown_recursive(&work, &w.test_user)?;
    let conf = dir.join("gotd.conf");
    std::fs::write(
        &conf,
        daemon::config_text(&w.sock, &w.gotd_user.name, &(setup.global)(w), &repos),
    )?;
    let valgrind_log = if setup.start == StartMode::Valgrind {
        // Writable by the gotd user: valgrind follows the parent's forks,
        // which run after the privilege drop.
        let d = dir.join("valgrind");
        std::fs::create_dir_all(&d)?;
        users::chown_recursive(&d, &w.gotd_user)?;
        Some(d)
    } else {
        None
    };
    let start_cmd = match &valgrind_log {
        Some(log) => leaks::valgrind_command(w, &conf, log),
        None => w.bins.start_command(&conf),
    };
    let launch = Launch {
        conf: conf.clone(),
        sock: w.sock.clone(),
        start_cmd,
        stop_cmd: w.bins.stop_command(&w.sock),
        bindir: w.bins.bindir.clone(),
        log: dir.join("gotd.log"),
        start_timeout: if valgrind_log.is_some() {
            s.start_timeout * 3
        } else {
            s.start_timeout
        },
        stop_timeout: if valgrind_log.is_some() {
            s.stop_timeout * 4
        } else {
            s.stop_timeout
        },
    };
    let gotd = Gotd::start(launch)?;
    // One control connection first, so that whatever the daemon sets up
    // lazily for its first client is part of the baseline.
    let _ = checks::info(&w.bins.gotctl(), &w.sock, s.client_timeout);
    let baseline_fds = checks::stable_fd_count(gotd.pid, s.settle_timeout)?;
    Ok(Ctx {
        w,
        dir,
        repo: repo_path,
        work,
        gotd,
        baseline_fds,
        notes: Vec::new(),
        valgrind_log,
    })
}

/// Fails with `what` unless `cond`.
pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<()> {
    if !cond {
        bail!("{}", what());
    }
    Ok(())
}

/// Fails unless `haystack` contains `needle`, quoting both.
pub fn ensure_contains(haystack: &str, needle: &str) -> Result<()> {
    ensure(haystack.contains(needle), || {
        format!("expected {needle:?} in output: {haystack:?}")
    })
}

/// The files of a checked-out tree (relative, sorted, without .git).
pub fn tree_files(dir: &Path) -> Vec<String> {
    repo::listing(dir)
        .into_iter()
        .filter(|p| !p.starts_with(".git"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// `git fsck --strict` of a client clone.
pub fn fsck_clone(ctx: &Ctx, dir: &str) -> Result<()> {
    ctx.git_in(dir, &["fsck", "--strict", "--no-progress"])
        .map(|_| ())
        .with_context(|| format!("git fsck of clone {dir}"))
}

/// Runs `f` once per item with at most `width` running at a time; returns
/// the errors.
pub fn parallel<T: Sync>(
    items: &[T],
    width: usize,
    f: impl Fn(usize, &T) -> Result<()> + Sync,
) -> Vec<anyhow::Error> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let errors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..width.max(1) {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if let Err(e) = f(i, item) {
                    errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(e.context(format!("client #{i}")));
                }
            });
        }
    });
    errors.into_inner().unwrap_or_default()
}

/// Runs a command as the test user in the work area (non-git programs).
pub fn run_as_test_user(ctx: &Ctx, prog: &str, args: &[&str]) -> Result<String> {
    let mut c = std::process::Command::new(prog);
    cmd::as_user(&mut c, &ctx.w.test_user, Some(&ctx.w.client.home))
        .current_dir(&ctx.work)
        .args(args);
    let out = cmd::run_ok(&mut c, None, ctx.t())?;
    Ok(cmd::stdout_text(&out))
}
