//! Connection cost through the real daemon path: `git ls-remote` over a
//! fake ssh that runs gotsh, which hands the connection to a gotd running
//! in the foreground on a generated configuration, against `git ls-remote`
//! of the `file://` URL (git forks `git upload-pack` directly), and against
//! the same fake ssh running `git upload-pack` (the transport without gotd).
//!
//! As root, gotd drops to `nobody` as it must, so the site (a temporary
//! directory under /tmp with a copy of the repository) is handed to
//! `nobody`; otherwise everything runs as the invoking user.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{copy_dir, median, Ctx};

/// Per-connection wall times, in seconds: through gotd, `file://` with
/// git, fake ssh with git.
pub(super) struct ConnectionCost {
    pub connections: usize,
    pub ours_median: f64,
    pub git_median: f64,
    pub ssh_git_median: f64,
    pub ours_mean: f64,
    pub git_mean: f64,
    /// The gotd parent's resident set (KiB) after the warm-up connections
    /// and after all of them: flat when nothing is kept per connection.
    pub parent_rss_kib: (u64, u64),
}

/// The ways a connection is made.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// fake ssh -> gotsh -> gotd -> read child.
    Gotd,
    /// `file://`: git runs `git upload-pack`.
    File,
    /// fake ssh -> `git upload-pack`.
    SshGit,
}

const DEADLINE: Duration = Duration::from_secs(30);

/// A gotd started for the measurement; stopped (or killed) on drop.
struct Gotd {
    child: Child,
    gotctl: PathBuf,
    socket: PathBuf,
}

impl Drop for Gotd {
    fn drop(&mut self) {
        let _ = Command::new(&self.gotctl)
            .arg("-f")
            .arg(&self.socket)
            .arg("stop")
            .output();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user_name(uid: nix::unistd::Uid) -> Result<String> {
    Ok(nix::unistd::User::from_uid(uid)?
        .with_context(|| format!("uid {uid} has no passwd entry"))?
        .name)
}

fn run_ok(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Measures `connections` ls-remotes through each path, interleaved in
/// batches.
pub(super) fn connection_cost(ctx: &Ctx<'_>, connections: usize) -> Result<ConnectionCost> {
    let site = tempfile::Builder::new()
        .prefix("gotd-bench-")
        .tempdir()
        .context("creating the daemon site")?;
    let dir = site.path();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    let root = nix::unistd::geteuid().is_root();
    let me = user_name(nix::unistd::getuid())?;
    let daemon_user = if root {
        "nobody".to_string()
    } else {
        me.clone()
    };
    let repo = dir.join("repo.git");
    copy_dir(ctx.repo, &repo)?;
    if root {
        run_ok(Command::new("chown").args(["-R", "nobody"]).arg(dir))?;
    }
    let socket = dir.join("gotd.sock");
    let conf = dir.join("gotd.conf");
    fs::write(
        &conf,
        format!(
            "listen on \"{}\"\nuser \"{daemon_user}\"\nrepository \"repo\" {{\n  path \"{}\"\n  permit ro \"{me}\"\n}}\n",
            socket.display(),
            repo.display()
        ),
    )?;
    let gotsh = ctx.release.join("gotsh");
    let ssh = dir.join("ssh.sh");
    fs::write(
        &ssh,
        format!(
            "#!/bin/sh\nfor last; do :; done\nGOTD_UNIX_SOCKET='{}' exec '{}' -c \"$last\"\n",
            socket.display(),
            gotsh.display()
        ),
    )?;
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o755))?;
    let ssh_git = dir.join("ssh-git.sh");
    fs::write(
        &ssh_git,
        format!("#!/bin/sh\nexec git upload-pack '{}'\n", ctx.repo.display()),
    )?;
    fs::set_permissions(&ssh_git, fs::Permissions::from_mode(0o755))?;

    let log = fs::File::create(dir.join("gotd.log"))?;
    let child = Command::new(ctx.release.join("gotd"))
        .arg("-d")
        .arg("-f")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting gotd")?;
    let mut gotd = Gotd {
        child,
        gotctl: ctx.release.join("gotctl"),
        socket: socket.clone(),
    };
    let end = Instant::now() + DEADLINE;
    loop {
        if let Ok(Some(st)) = gotd.child.try_wait() {
            bail!(
                "gotd exited early ({st}): {}",
                fs::read_to_string(dir.join("gotd.log")).unwrap_or_default()
            );
        }
        let info = Command::new(&gotd.gotctl)
            .arg("-f")
            .arg(&socket)
            .arg("info")
            .output()?;
        if info.status.success() {
            break;
        }
        if Instant::now() > end {
            bail!("gotd did not answer gotctl info within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let ls = |route: Route| -> Result<f64> {
        let mut c = Command::new("git");
        c.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(["-c", &format!("protocol.version={}", ctx.args.protocol)])
            .arg("ls-remote")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match route {
            Route::Gotd | Route::SshGit => {
                let script = if route == Route::Gotd { &ssh } else { &ssh_git };
                c.env("GIT_SSH_COMMAND", script)
                    .env("GIT_SSH_VARIANT", "ssh")
                    .arg("x:/repo");
            }
            Route::File => {
                c.arg(&ctx.url);
            }
        }
        let start = Instant::now();
        let out = c.output()?;
        let t = start.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "ls-remote {} failed: {}",
                match route {
                    Route::Gotd => "through gotd",
                    Route::File => "of file://",
                    Route::SshGit => "through ssh to git upload-pack",
                },
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(t)
    };
    // Warm both paths, then interleave batches so load changes hit both.
    let mut routes = [Route::Gotd, Route::File, Route::SshGit];
    for r in routes {
        ls(r)?;
    }
    let pid = gotd.child.id();
    let rss_before = rss_kib(pid)?;
    let batch = (connections / 10).max(1);
    let (mut ours, mut git, mut ssh_git) = (Vec::new(), Vec::new(), Vec::new());
    while ours.len() < connections {
        let n = batch.min(connections - ours.len());
        for r in routes {
            let into = match r {
                Route::Gotd => &mut ours,
                Route::File => &mut git,
                Route::SshGit => &mut ssh_git,
            };
            for _ in 0..n {
                into.push(ls(r)?);
            }
        }
        routes.rotate_left(1);
    }
    let rss_after = rss_kib(pid)?;
    drop(gotd);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(ConnectionCost {
        connections,
        ours_mean: mean(&ours),
        git_mean: mean(&git),
        ours_median: median(ours),
        git_median: median(git),
        ssh_git_median: median(ssh_git),
        parent_rss_kib: (rss_before, rss_after),
    })
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}
