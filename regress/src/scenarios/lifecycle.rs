//! The daemon's life cycle under load:
//!
//! * `sigterm_clients`: gotd in the foreground with 20 clients connected
//!   (readers and writers) gets SIGTERM: every repo child is gone, every
//!   client session ends, and gotd exits with status 0.
//! * `reload_under_load`: `gotctl reload` (alternating between two
//!   configurations) while 8 clients at a time clone, list refs and push;
//!   every connection succeeds.
//!
//! [`Foreground`] runs a second gotd instance in the foreground (`-d`), so
//! that its exit status and its log (stderr) can be read; the suite's own
//! instance is stopped first.

use std::fs::File;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{ensure, none, parallel, Body, Ctx, Scenario, Setup, StartMode};
use crate::repo::RepoKind;
use crate::world::World;
use crate::{checks, cmd, procfs};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "sigterm_clients",
            about: "SIGTERM with 20 clients connected: children reaped, sessions end, exit 0",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    rules: super::write::permit_rw,
                    global: many_connections,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: sigterm_clients,
            },
        },
        Scenario {
            name: "reload_under_load",
            about: "gotctl reload repeatedly while clients clone, list and push: all succeed",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    rules: super::write::permit_rw,
                    global: many_connections,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: reload_under_load,
            },
        },
    ]
}

/// A per-user connection limit above what these scenarios open.
pub fn many_connections(w: &World) -> Vec<String> {
    vec![format!("connection limit user {} 64", w.devuser.name)]
}

/// gotd run by the suite in the foreground, with its stderr in a file.
pub struct Foreground {
    child: Option<Child>,
    pub pid: i32,
    pub log: PathBuf,
    pub baseline_fds: usize,
}

impl Foreground {
    /// Stops the scenario's gotd and starts `gotd -d -vv -f <its config>`.
    pub fn start(ctx: &mut Ctx) -> Result<Foreground> {
        Foreground::start_with(ctx, "-vv")
    }

    /// Like [`start`](Self::start) with `verbosity` (`-v`, `-vv`, or empty
    /// for the default).
    pub fn start_with(ctx: &mut Ctx, verbosity: &str) -> Result<Foreground> {
        ctx.gotd.stop().context("stopping the daemonized gotd")?;
        let conf = ctx.dir.join("gotd.conf");
        let log = ctx.dir.join("gotd-foreground.log");
        let out = File::create(&log)?;
        // The suite blocks SIGINT, SIGTERM and SIGHUP (cleanup.rs) and
        // spawned programs inherit that mask; `env --default-signal`
        // unblocks them, so that gotd sees the SIGTERM this module sends.
        let child = Command::new("env")
            .arg("--default-signal=HUP,INT,TERM")
            .arg(ctx.w.bins.gotd())
            .args(["-d"])
            .args((!verbosity.is_empty()).then_some(verbosity))
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting gotd -d")?;
        let pid = child.id() as i32;
        let mut fg = Foreground {
            child: Some(child),
            pid,
            log,
            baseline_fds: 0,
        };
        let deadline = Instant::now() + ctx.w.settings.start_timeout;
        loop {
            let ready = std::fs::metadata(&ctx.w.sock).is_ok_and(|m| m.file_type().is_socket())
                && checks::info(&ctx.w.bins.gotctl(), &ctx.w.sock, ctx.t()).is_ok();
            if ready {
                break;
            }
            if let Some(st) = fg.try_wait()? {
                bail!("gotd -d exited at start ({st}): {}", fg.log_text());
            }
            if Instant::now() > deadline {
                bail!("gotd -d did not come up: {}", fg.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        fg.baseline_fds = checks::stable_fd_count(pid, ctx.w.settings.settle_timeout)?;
        Ok(fg)
    }

    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => Ok(c.try_wait()?),
            None => bail!("gotd already collected"),
        }
    }

    /// Waits for gotd to exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait()? {
                self.child = None;
                return Ok(st);
            }
            if Instant::now() > deadline {
                bail!("gotd did not exit within {}s", timeout.as_secs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The settle checks against this instance.
    pub fn settle(&self, ctx: &Ctx) -> Result<()> {
        checks::settle(
            self.pid,
            &ctx.w.bins.gotctl(),
            &ctx.w.sock,
            self.baseline_fds,
            ctx.w.settings.settle_timeout,
        )
    }

    /// Stops it with SIGTERM; it must exit 0 with no child left.
    pub fn stop(mut self, ctx: &Ctx) -> Result<()> {
        let kids: Vec<i32> = procfs::children(self.pid).iter().map(|p| p.pid).collect();
        kill(Pid::from_raw(self.pid), Signal::SIGTERM)?;
        let st = self.wait(ctx.w.settings.stop_timeout)?;
        ensure(st.code() == Some(0), || {
            format!("gotd exited with {} after SIGTERM", cmd::status_text(st))
        })?;
        let left: Vec<i32> = kids.into_iter().filter(|p| procfs::alive(*p)).collect();
        ensure(left.is_empty(), || {
            format!("repo children {left:?} outlived gotd")
        })
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            for p in procfs::children(self.pid) {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sigterm_clients(ctx: &mut Ctx) -> Result<()> {
    const CLIENTS: usize = 20;
    let mut fg = Foreground::start(ctx)?;
    let mut sessions = Vec::new();
    for i in 0..CLIENTS {
        let service = if i % 4 == 3 {
            "git-receive-pack"
        } else {
            "git-upload-pack"
        };
        let mut s = ctx
            .client()
            .ssh_open(&format!("{service} '{}'", ctx.w.settings.repo_name))?;
        s.read_advertisement()
            .with_context(|| format!("client {i} ({service})"))?;
        sessions.push(s);
    }
    let kids: Vec<i32> = procfs::children(fg.pid)
        .iter()
        .filter(|p| p.state != 'Z')
        .map(|p| p.pid)
        .collect();
    ensure(kids.len() == CLIENTS, || {
        format!("{} repo children for {CLIENTS} clients", kids.len())
    })?;
    let info = checks::info(&ctx.w.bins.gotctl(), &ctx.w.sock, ctx.t())?;
    ensure(checks::parse_client_count(&info) == Some(CLIENTS), || {
        format!("gotctl info does not show {CLIENTS} clients: {info}")
    })?;
    let started = Instant::now();
    kill(Pid::from_raw(fg.pid), Signal::SIGTERM)?;
    let st = fg
        .wait(ctx.w.settings.stop_timeout)
        .with_context(|| fg.log_text())?;
    ctx.note(format!(
        "gotd exited {} {:.2}s after SIGTERM with {CLIENTS} clients",
        cmd::status_text(st),
        started.elapsed().as_secs_f64()
    ));
    ensure(st.code() == Some(0), || {
        format!("gotd exited with {} after SIGTERM", cmd::status_text(st))
    })?;
    let left: Vec<i32> = kids.iter().copied().filter(|p| procfs::alive(*p)).collect();
    ensure(left.is_empty(), || {
        format!("repo children {left:?} outlived gotd")
    })?;
    for (i, s) in sessions.into_iter().enumerate() {
        s.finish(ctx.t())
            .with_context(|| format!("client {i}'s session after SIGTERM"))?;
    }
    ensure(
        std::os::unix::net::UnixStream::connect(&ctx.w.sock).is_err(),
        || "the socket still accepts connections".into(),
    )
}

/// The configuration with one more repository block, or without it.
fn toggled_config(base: &str, extra: bool, ctx: &Ctx) -> String {
    if !extra {
        return base.to_string();
    }
    format!(
        "{base}\nrepository \"reload-extra\" {{\n\tpath \"{}\"\n\tpermit ro {}\n}}\n",
        ctx.repo.display(),
        ctx.w.devuser.name
    )
}

fn reload_under_load(ctx: &mut Ctx) -> Result<()> {
    const CONNECTIONS: usize = 48;
    const WIDTH: usize = 8;
    let conf = ctx.dir.join("gotd.conf");
    let base = std::fs::read_to_string(&conf)?;
    // One clone per push: git updates the clone's own refs after a push,
    // and two pushes from one clone at a time can trip over each other.
    let pushers: Vec<usize> = (0..CONNECTIONS / 3).collect();
    if let Some(e) = parallel(&pushers, 8, |_, &j| ctx.clone(&format!("p{j}"), &[]))
        .into_iter()
        .next()
    {
        return Err(e.context("preparing the pushers' clones"));
    }
    let done = AtomicBool::new(false);
    let finished = AtomicUsize::new(0);
    let reloads = AtomicUsize::new(0);
    let jobs: Vec<usize> = (0..CONNECTIONS).collect();
    let ctx_ref: &Ctx = ctx;
    let (errors, reload_error) = std::thread::scope(|sc| {
        let reloader = sc.spawn(|| -> Result<()> {
            let mut extra = false;
            while !done.load(Ordering::Relaxed) {
                extra = !extra;
                std::fs::write(&conf, toggled_config(&base, extra, ctx_ref))?;
                let mut c = Command::new(ctx_ref.w.bins.gotctl());
                c.arg("-f").arg(&ctx_ref.w.sock).arg("reload");
                cmd::run_ok(&mut c, None, ctx_ref.t()).context("gotctl reload")?;
                reloads.fetch_add(1, Ordering::Relaxed);
                // Next reload after a few more connections finished.
                let mark = finished.load(Ordering::Relaxed) + 3;
                let deadline = Instant::now() + Duration::from_secs(5);
                while finished.load(Ordering::Relaxed) < mark
                    && !done.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Ok(())
        });
        let errors = parallel(&jobs, WIDTH, |_, &i| {
            let r = load_connection(ctx_ref, i);
            finished.fetch_add(1, Ordering::Relaxed);
            r
        });
        done.store(true, Ordering::Relaxed);
        let reload_error = reloader
            .join()
            .unwrap_or_else(|_| bail!("reloader panicked"));
        (errors, reload_error)
    });
    let reloads = reloads.into_inner();
    ctx.note(format!(
        "{CONNECTIONS} connections ({WIDTH} at a time) across {reloads} reloads"
    ));
    reload_error?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("a connection during reloads failed"));
    }
    ensure(reloads >= 5, || format!("only {reloads} reloads happened"))?;
    std::fs::write(&conf, &base)?;
    Ok(())
}

/// One connection of the reload mix: clone, ls-remote, or a push to a ref
/// of its own from a prepared clone of its own.
fn load_connection(ctx: &Ctx, i: usize) -> Result<()> {
    let client = ctx.client();
    let url = ctx.url();
    match i % 3 {
        0 => {
            let dest = format!("clone{i}");
            client.git_ok(&ctx.work, &["clone", "-q", &url, &dest])?;
            let _ = std::fs::remove_dir_all(ctx.work.join(&dest));
            Ok(())
        }
        1 => {
            let out = client.git_ok(&ctx.work, &["ls-remote", &url])?;
            ensure(out.contains("refs/heads/main"), || {
                format!("ls-remote: {out:?}")
            })
        }
        _ => {
            let dir = format!("p{}", i / 3);
            let refspec = format!("HEAD:refs/heads/reload-{i}");
            let out = client.git(
                &ctx.path(&dir),
                &["push", "--porcelain", "origin", &refspec],
            )?;
            ensure(out.status.success(), || {
                format!(
                    "push {refspec}: {}: {} {}",
                    cmd::status_text(out.status),
                    cmd::stdout_text(&out),
                    cmd::stderr_text(&out)
                )
            })
        }
    }
}
