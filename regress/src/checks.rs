//! Checks run after every scenario that talks to gotd: no zombie children,
//! the parent's fd count back to its baseline, `gotctl info` showing no
//! clients. Each polls until it holds or the deadline passes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cmd, procfs};

/// Output of `gotctl -f sock info` as root.
pub fn info(gotctl: &Path, sock: &Path, timeout: Duration) -> Result<String> {
    let out = cmd::run_ok(
        Command::new(gotctl).arg("-f").arg(sock).arg("info"),
        None,
        timeout,
    )
    .context("gotctl info")?;
    Ok(cmd::stdout_text(&out))
}

/// The "number of connected clients" figure of `gotctl info` output.
pub fn parse_client_count(info: &str) -> Option<usize> {
    info.lines()
        .find_map(|l| l.strip_prefix("number of connected clients:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Samples the fd count of `pid` until three readings in a row agree.
pub fn stable_fd_count(pid: i32, timeout: Duration) -> Result<usize> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    let mut same = 0;
    loop {
        let n = procfs::fd_count(pid).context("gotd vanished while counting its fds")?;
        if Some(n) == last {
            same += 1;
            if same >= 2 {
                return Ok(n);
            }
        } else {
            same = 0;
            last = Some(n);
        }
        if Instant::now() > deadline {
            return Ok(n);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the post-scenario checks found on their last attempt.
#[derive(Debug, Default)]
struct State {
    zombies: Vec<i32>,
    fds: Option<usize>,
    clients: Option<usize>,
    info_error: Option<String>,
}

/// Polls until gotd has no zombies, `baseline_fds` open fds and no clients.
pub fn settle(
    pid: i32,
    gotctl: &Path,
    sock: &Path,
    baseline_fds: usize,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if !procfs::alive(pid) {
            bail!("gotd (pid {pid}) is no longer running");
        }
        let mut s = State {
            zombies: procfs::zombies(pid),
            fds: procfs::fd_count(pid),
            ..State::default()
        };
        match info(gotctl, sock, timeout) {
            Ok(text) => s.clients = parse_client_count(&text),
            Err(e) => s.info_error = Some(format!("{e:#}")),
        }
        let ok = s.zombies.is_empty()
            && s.fds == Some(baseline_fds)
            && s.clients == Some(0)
            && s.info_error.is_none();
        if ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            let mut problems = Vec::new();
            if !s.zombies.is_empty() {
                problems.push(format!("zombie children {:?}", s.zombies));
            }
            if s.fds != Some(baseline_fds) {
                problems.push(format!(
                    "{} open fds, baseline {baseline_fds} ({})",
                    s.fds.map(|n| n.to_string()).unwrap_or("?".into()),
                    procfs::fd_list(pid).join(" ")
                ));
            }
            if let Some(e) = s.info_error {
                problems.push(e);
            } else if s.clients != Some(0) {
                problems.push(format!(
                    "gotctl info shows {} connected clients",
                    s.clients.map(|n| n.to_string()).unwrap_or("?".into())
                ));
            }
            bail!("after {}s: {}", timeout.as_secs(), problems.join("; "));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process with a zombie child: `sh` starts `sleep 0` in the
    /// background, then becomes `sleep 30`, which never reaps it.
    fn parent_with_zombie() -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", "sleep 0 & exec sleep 30"])
            .spawn()
            .unwrap()
    }

    #[test]
    fn settle_reports_zombies_fds_and_a_missing_gotctl() {
        let mut child = parent_with_zombie();
        let pid = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        while procfs::zombies(pid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = settle(
            pid,
            Path::new("/nonexistent/gotctl"),
            Path::new("/nonexistent.sock"),
            1000,
            Duration::from_millis(300),
        )
        .unwrap_err()
        .to_string();
        let _ = child.kill();
        let _ = child.wait();
        assert!(err.contains("zombie children"), "{err}");
        assert!(err.contains("baseline 1000"), "{err}");
        assert!(err.contains("gotctl info"), "{err}");
    }

    #[test]
    fn settle_fails_when_gotd_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        let err = settle(
            pid,
            Path::new("/nonexistent/gotctl"),
            Path::new("/x.sock"),
            0,
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no longer running"), "{err}");
    }

    #[test]
    fn client_count() {
        let text = "gotd PID: 1\nverbosity: 2\nnumber of repositories: 1\nnumber of connected clients: 3\n";
        assert_eq!(parse_client_count(text), Some(3));
        assert_eq!(parse_client_count("nothing"), None);
    }
}
