//! A gotd instance under test: its configuration, start with GOTD_START_CMD
//! (as root, waiting for the socket), discovery of the parent's pid, and stop
//! with GOTD_STOP_CMD — also on failure (Drop) and on Ctrl-C.

use std::fs::File;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cleanup::Guard;
use crate::{cmd, procfs};

/// One `repository` block of gotd.conf.
#[derive(Debug, Clone)]
pub struct RepoConf {
    pub name: String,
    pub path: PathBuf,
    /// Lines inside the block after `path`: `permit …`, `deny …`, `protect …`.
    pub rules: Vec<String>,
}

/// Renders a gotd.conf.
pub fn config_text(sock: &Path, user: &str, global: &[String], repos: &[RepoConf]) -> String {
    let mut s = format!(
        "# gotd.conf for the regress suite (generated)\nlisten on \"{}\"\nuser \"{}\"\n",
        sock.display(),
        user
    );
    for g in global {
        s.push_str(g);
        s.push('\n');
    }
    for r in repos {
        s.push_str(&format!(
            "\nrepository \"{}\" {{\n\tpath \"{}\"\n",
            r.name,
            r.path.display()
        ));
        for rule in &r.rules {
            s.push('\t');
            s.push_str(rule);
            s.push('\n');
        }
        s.push_str("}\n");
    }
    s
}

/// How to start and stop one gotd.
#[derive(Debug, Clone)]
pub struct Launch {
    pub conf: PathBuf,
    pub sock: PathBuf,
    pub start_cmd: String,
    pub stop_cmd: String,
    pub bindir: PathBuf,
    /// Receives the start command's stdout and stderr.
    pub log: PathBuf,
    pub start_timeout: Duration,
    pub stop_timeout: Duration,
}

/// A running gotd; stopped on drop if [`Gotd::stop`] was not called.
pub struct Gotd {
    pub launch: Launch,
    pub pid: i32,
    starter: Option<Child>,
    stopped: bool,
    _guard: Guard,
}

fn shell(cmdline: &str, launch: &Launch) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmdline)
        .env("GOTD_CONF", &launch.conf)
        .env("GOTD_SOCK", &launch.sock)
        .env("BINDIR", &launch.bindir);
    c
}

fn is_socket(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

impl Gotd {
    /// Runs the start command and waits until the socket exists and the
    /// daemon's pid is known. The start command may daemonize (default) or
    /// stay in the foreground (e.g. under valgrind).
    pub fn start(launch: Launch) -> Result<Gotd> {
        if launch.sock.exists() {
            std::fs::remove_file(&launch.sock)
                .with_context(|| format!("removing stale {}", launch.sock.display()))?;
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&launch.log)?;
        let mut starter = shell(&launch.start_cmd, &launch)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("running GOTD_START_CMD {}", launch.start_cmd))?;
        let deadline = Instant::now() + launch.start_timeout;
        let mut starter_done = false;
        let mut candidate: Option<(i32, Instant)> = None;
        let pid = loop {
            if !starter_done {
                if let Some(status) = starter.try_wait()? {
                    starter_done = true;
                    if !status.success() {
                        bail!(
                            "`{}` failed ({}): {}",
                            launch.start_cmd,
                            cmd::status_text(status),
                            log_tail(&launch.log)
                        );
                    }
                }
            }
            // A daemonizing gotd forks after creating the socket: only a
            // pid that stays the same for a while is the daemon.
            if is_socket(&launch.sock) {
                match procfs::find_daemon(&launch.conf) {
                    Some(pid) if candidate.is_some_and(|(p, _)| p == pid) => {
                        let (_, since) = candidate.expect("checked");
                        if since.elapsed() >= Duration::from_millis(300) {
                            break pid;
                        }
                    }
                    Some(pid) => candidate = Some((pid, Instant::now())),
                    None => candidate = None,
                }
            }
            if Instant::now() > deadline {
                let _ = kill(Pid::from_raw(starter.id() as i32), Signal::SIGKILL);
                let _ = starter.wait();
                if let Some(pid) = procfs::find_daemon(&launch.conf) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                bail!(
                    "gotd did not create {} within {}s: {}",
                    launch.sock.display(),
                    launch.start_timeout.as_secs(),
                    log_tail(&launch.log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stop = launch.clone();
        let guard = Guard::register(move || {
            let _ = cmd::run(
                &mut shell(&stop.stop_cmd, &stop),
                None,
                Duration::from_secs(5),
            );
            if procfs::alive(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        });
        Ok(Gotd {
            launch,
            pid,
            starter: if starter_done { None } else { Some(starter) },
            stopped: false,
            _guard: guard,
        })
    }

    /// Runs the stop command and waits for the daemon and all of its
    /// children to exit. Kills whatever is left after the deadline and
    /// reports that as an error.
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let out = cmd::run(
            &mut shell(&self.launch.stop_cmd, &self.launch),
            None,
            self.launch.stop_timeout,
        );
        let stop_problem = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "`{}` failed ({}): {}",
                self.launch.stop_cmd,
                cmd::status_text(o.status),
                cmd::stderr_text(&o)
            )),
            Err(e) => Some(format!("{e:#}")),
        };
        let deadline = Instant::now() + self.launch.stop_timeout;
        let mut family: Vec<i32> = procfs::children(self.pid).iter().map(|p| p.pid).collect();
        family.push(self.pid);
        while family.iter().any(|p| procfs::alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left: Vec<i32> = family
            .iter()
            .copied()
            .filter(|p| procfs::alive(*p))
            .collect();
        for p in &left {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        if let Some(mut s) = self.starter.take() {
            let _ = s.wait();
        }
        match (stop_problem, left.is_empty()) {
            (None, true) => Ok(()),
            (Some(p), true) => bail!("{p}"),
            (p, false) => bail!(
                "processes {left:?} still running {}s after stop (killed){}",
                self.launch.stop_timeout.as_secs(),
                p.map(|p| format!("; {p}")).unwrap_or_default()
            ),
        }
    }

    /// Whether [`Gotd::stop`] has been called.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the daemon is still running.
    pub fn alive(&self) -> bool {
        procfs::alive(self.pid)
    }
}

impl Drop for Gotd {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The last lines of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(8)..].join(" | ");
    if tail.is_empty() {
        format!("(nothing in {})", path.display())
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_renders_upstream_grammar() {
        let text = config_text(
            Path::new("/tmp/r/gotd.sock"),
            "got",
            &["connection limit user gotdev 2".to_string()],
            &[RepoConf {
                name: "test-repo".into(),
                path: "/tmp/r/repo".into(),
                rules: vec!["permit ro gotdev".into(), "deny :gotdev".into()],
            }],
        );
        assert_eq!(
            text,
            "# gotd.conf for the regress suite (generated)\n\
             listen on \"/tmp/r/gotd.sock\"\n\
             user \"got\"\n\
             connection limit user gotdev 2\n\
             \n\
             repository \"test-repo\" {\n\
             \tpath \"/tmp/r/repo\"\n\
             \tpermit ro gotdev\n\
             \tdeny :gotdev\n\
             }\n"
        );
    }
}
