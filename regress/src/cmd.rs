//! Running external programs: with a deadline, optional stdin bytes, captured
//! output, optionally as another user. Each program runs in its own process
//! group so that a timeout (or Ctrl-C) can kill it together with whatever it
//! started (git starts ssh, ssh keeps pipes open).

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::cleanup;
use crate::users::Account;

/// Makes `cmd` run as `user`, with that user's identity in the environment.
/// `home` replaces the account's home as `$HOME` when given.
pub fn as_user<'a>(cmd: &'a mut Command, user: &Account, home: Option<&Path>) -> &'a mut Command {
    let home = home.unwrap_or(&user.home);
    if nix::unistd::geteuid().is_root() && user.uid != 0 {
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd.env("HOME", home)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
}

/// Runs `cmd` to completion or until `timeout`, feeding it `stdin` (or
/// /dev/null), and returns its output. A timeout kills the process group and
/// is an error naming the command.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
    let desc = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd.spawn().with_context(|| format!("cannot run {desc}"))?;
    let pgid = child.id() as i32;
    let _guard = cleanup::ProcessGroup::register(pgid);
    let input = stdin.map(|b| b.to_vec());
    let mut child_in = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let (Some(mut w), Some(bytes)) = (child_in.take(), input) {
            // The program may exit before reading everything: not our error.
            let _ = w.write_all(&bytes);
        }
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let (out_tx, out_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        let _ = out_tx.send(v);
    });
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        let _ = err_tx.send(v);
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(status) => status.with_context(|| format!("waiting for {desc}"))?,
        Err(_) => {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            let _ = rx.recv();
            let stderr = err_rx.recv().unwrap_or_default();
            bail!(
                "{desc}: no exit within {}s (killed); stderr: {}",
                timeout.as_secs(),
                String::from_utf8_lossy(&stderr).trim()
            );
        }
    };
    // Helpers the program started (git's ssh) may still be delivering
    // output; give them a moment to finish, then clear the group so that
    // nothing keeps the pipes open.
    let linger = Duration::from_secs(5);
    let stdout = out_rx.recv_timeout(linger).ok();
    let stderr = err_rx.recv_timeout(linger).ok();
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    let stdout = stdout.or_else(|| out_rx.recv().ok()).unwrap_or_default();
    let stderr = stderr.or_else(|| err_rx.recv().ok()).unwrap_or_default();
    let _ = writer.join();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Like [`run`], but a non-zero exit is an error carrying stderr.
pub fn run_ok(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
    let desc = describe(cmd);
    let out = run(cmd, stdin, timeout)?;
    if !out.status.success() {
        bail!(
            "{desc}: {}: {}",
            status_text(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// A short human-readable description of an exit status.
pub fn status_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown exit".to_string(),
    }
}

/// The program and arguments of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.contains(' ') || a.is_empty() {
            s.push_str(&format!("'{a}'"));
        } else {
            s.push_str(&a);
        }
    }
    if s.len() > 200 {
        s.truncate(200);
        s.push('…');
    }
    s
}

/// Stdout of a finished command as trimmed text.
pub fn stdout_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Stderr of a finished command as trimmed text.
pub fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn captures_output_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "cat; echo err >&2; exit 3"]),
            Some(b"in"),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout, b"in");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let start = Instant::now();
        let err = run(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            None,
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no exit within"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn run_ok_reports_stderr() {
        let err = run_ok(
            Command::new("sh").args(["-c", "echo boom >&2; exit 1"]),
            None,
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(err.to_string().contains("exit status 1: boom"), "{err}");
    }
}
