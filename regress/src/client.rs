//! Clients as GOTD_TEST_USER: git over the suite's sshd (GIT_SSH_COMMAND with
//! the suite's key), and raw ssh sessions that speak pkt-lines by hand.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::repo::git_env;
use crate::users::Account;

/// A client identity: who runs it, with which key, against which server.
#[derive(Debug, Clone)]
pub struct Client {
    pub user: Account,
    /// $HOME for the client's programs (owned by the user, holds the key).
    pub home: PathBuf,
    pub key: PathBuf,
    pub host: String,
    pub port: u16,
    pub devuser: String,
    pub timeout: Duration,
    /// An ssh control socket to multiplex sessions over (see [`Master`]).
    pub control_path: Option<PathBuf>,
}

impl Client {
    /// ssh options every connection uses.
    fn ssh_options(&self) -> Vec<String> {
        let mut v: Vec<String> = [
            "IdentitiesOnly=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(p) = &self.control_path {
            v.push(format!("ControlPath={}", p.display()));
            v.push("ControlMaster=no".into());
        }
        v
    }

    /// The ssh command line used for every connection.
    pub fn ssh_command(&self) -> String {
        let mut s = format!("ssh -p {} -i {}", self.port, self.key.display());
        for o in self.ssh_options() {
            s.push_str(" -o ");
            s.push_str(&o);
        }
        s
    }

    /// `ssh://gotdev@127.0.0.1:PORT/<repo>`.
    pub fn url(&self, repo: &str) -> String {
        format!(
            "ssh://{}@{}:{}/{}",
            self.devuser, self.host, self.port, repo
        )
    }

    /// A git command as the test user, cwd `dir`, protocol v0 unless the
    /// arguments say otherwise (`-c protocol.version=2`).
    pub fn git_cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        git_env(&mut c);
        cmd::as_user(&mut c, &self.user, Some(&self.home))
            .current_dir(dir)
            .env("GIT_SSH_COMMAND", self.ssh_command())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_PROTOCOL")
            .env_remove("GIT_DIR")
            .args([
                "-c",
                "protocol.version=0",
                "-c",
                "advice.detachedHead=false",
            ])
            .args(args);
        c
    }

    /// Runs git; any exit status is returned.
    pub fn git(&self, dir: &Path, args: &[&str]) -> Result<Output> {
        cmd::run(&mut self.git_cmd(dir, args), None, self.timeout)
    }

    /// Runs git and requires success; returns stdout.
    pub fn git_ok(&self, dir: &Path, args: &[&str]) -> Result<String> {
        let out = cmd::run_ok(&mut self.git_cmd(dir, args), None, self.timeout)?;
        Ok(cmd::stdout_text(&out))
    }

    /// Runs git and requires failure; returns stderr.
    pub fn git_fails(&self, dir: &Path, args: &[&str]) -> Result<String> {
        let out = self.git(dir, args)?;
        if out.status.success() {
            bail!(
                "git {} succeeded but must fail; stderr: {}",
                args.join(" "),
                cmd::stderr_text(&out)
            );
        }
        Ok(cmd::stderr_text(&out))
    }

    /// `ssh … gotdev@host <remote_cmd>` with `stdin` bytes.
    pub fn ssh_cmd(&self, remote_cmd: &str) -> Command {
        let mut c = Command::new("ssh");
        cmd::as_user(&mut c, &self.user, Some(&self.home))
            .current_dir(&self.home)
            .args(["-p", &self.port.to_string(), "-i"])
            .arg(&self.key);
        for o in self.ssh_options() {
            c.arg("-o").arg(o);
        }
        c.arg(format!("{}@{}", self.devuser, self.host))
            .arg(remote_cmd);
        c
    }

    /// Runs a raw ssh session to completion.
    pub fn ssh(&self, remote_cmd: &str, stdin: &[u8]) -> Result<Output> {
        cmd::run(&mut self.ssh_cmd(remote_cmd), Some(stdin), self.timeout)
    }

    /// Starts a raw ssh session that stays open until its stdin is closed.
    pub fn ssh_open(&self, remote_cmd: &str) -> Result<OpenSession> {
        let mut c = self.ssh_cmd(remote_cmd);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().context("starting ssh")?;
        let stdin = child.stdin.take();
        Ok(OpenSession {
            child,
            stdin,
            timeout: self.timeout,
        })
    }
}

/// An ssh master connection: later sessions of a [`Client`] whose
/// `control_path` points at it open channels instead of new connections.
pub struct Master {
    child: Child,
    pub path: PathBuf,
}

impl Master {
    /// Starts `ssh -M -N` and waits for its control socket.
    pub fn start(client: &Client, path: PathBuf) -> Result<Master> {
        let plain = Client {
            control_path: None,
            ..client.clone()
        };
        let mut c = Command::new("ssh");
        cmd::as_user(&mut c, &plain.user, Some(&plain.home))
            .current_dir(&plain.home)
            .args(["-M", "-N", "-p", &plain.port.to_string(), "-i"])
            .arg(&plain.key);
        for o in plain.ssh_options() {
            c.arg("-o").arg(o);
        }
        c.arg("-o")
            .arg(format!("ControlPath={}", path.display()))
            .arg(format!("{}@{}", plain.devuser, plain.host))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().context("starting the ssh master")?;
        let deadline = std::time::Instant::now() + client.timeout;
        while !path.exists() {
            if let Some(st) = child.try_wait()? {
                bail!("ssh master exited: {}", cmd::status_text(st));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("ssh master did not create {}", path.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Master { child, path })
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// An ssh session kept open by the suite (its stdin not yet closed).
pub struct OpenSession {
    child: Child,
    stdin: Option<ChildStdin>,
    /// How long a read may wait for the server.
    timeout: Duration,
}

impl OpenSession {
    /// Reads stdout until at least `n` bytes arrived or stdout closed.
    pub fn read_at_least(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut got = Vec::new();
        while got.len() < n {
            let chunk = self.read_some()?;
            if chunk.is_empty() {
                break;
            }
            got.extend_from_slice(&chunk);
        }
        Ok(got)
    }

    /// One read from stdout (empty at EOF), waiting at most the client
    /// timeout; a server that says nothing for that long is an error.
    fn read_some(&mut self) -> Result<Vec<u8>> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let out = self.child.stdout.as_mut().context("stdout taken")?;
        let ms = i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX);
        let ready = {
            let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLIN)];
            poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            )?
        };
        if ready == 0 {
            let _ = self.child.kill();
            bail!("the server sent nothing for {}s", self.timeout.as_secs());
        }
        let mut buf = vec![0u8; 65536];
        let k = out.read(&mut buf)?;
        buf.truncate(k);
        Ok(buf)
    }

    /// Reads pkt-lines until the first flush (an advertisement); returns the
    /// payloads before it. An `ERR` line or EOF before the flush is an error.
    pub fn read_advertisement(&mut self) -> Result<Vec<Vec<u8>>> {
        let mut got = Vec::new();
        loop {
            let (pkts, _) = parse_pkts(&got);
            if let Some(end) = pkts.iter().position(|p| p.is_none()) {
                return Ok(pkts.into_iter().take(end).flatten().collect());
            }
            if let Some(Some(err)) = pkts
                .iter()
                .find(|p| p.as_ref().is_some_and(|b| b.starts_with(b"ERR ")))
            {
                bail!("server refused: {}", String::from_utf8_lossy(err));
            }
            let chunk = self.read_some()?;
            if chunk.is_empty() {
                bail!("EOF before the end of the advertisement");
            }
            got.extend_from_slice(&chunk);
        }
    }

    /// Sends bytes to the server; a server that stopped reading is not an
    /// error here (the caller checks what it answered).
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin closed")?;
        if let Err(e) = stdin.write_all(bytes) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Kills the ssh client, as a user pressing Ctrl-C or a dropped link.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (without sending anything) until the server closes the
    /// session; returns how long that took, or fails after `timeout`.
    pub fn wait_closed(mut self, timeout: Duration) -> Result<Duration> {
        let start = std::time::Instant::now();
        let mut out = self.child.stdout.take().context("stdout taken")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
            let _ = tx.send(());
        });
        let closed = rx.recv_timeout(timeout).is_ok();
        let elapsed = start.elapsed();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !closed {
            bail!(
                "the server kept the session open for {}s",
                timeout.as_secs()
            );
        }
        Ok(elapsed)
    }

    /// Closes stdin and collects the rest of the session.
    pub fn finish(mut self, timeout: Duration) -> Result<Output> {
        drop(self.stdin.take());
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut v = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut v);
                }
                let _ = tx.send(v);
            });
            rx
        };
        let out = reader(
            self.child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let err = reader(
            self.child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            if let Some(st) = self.child.try_wait()? {
                break st;
            }
            if std::time::Instant::now() > deadline {
                bail!("ssh session did not end within {}s", timeout.as_secs());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let linger = Duration::from_secs(5);
        Ok(Output {
            status,
            stdout: out.recv_timeout(linger).unwrap_or_default(),
            stderr: err.recv_timeout(linger).unwrap_or_default(),
        })
    }
}

impl Drop for OpenSession {
    /// A session abandoned on an error path must not outlive the scenario.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Encodes one pkt-line.
pub fn pkt(payload: &str) -> String {
    format!("{:04x}{payload}", payload.len() + 4)
}

/// Splits a pkt-line stream into its payloads (`None` for flush), stopping at
/// the first malformed length; returns the unparsed remainder too.
pub fn parse_pkts(mut bytes: &[u8]) -> (Vec<Option<Vec<u8>>>, Vec<u8>) {
    let mut v = Vec::new();
    while bytes.len() >= 4 {
        let Some(len) = std::str::from_utf8(&bytes[..4])
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
        else {
            break;
        };
        if len == 0 {
            v.push(None);
            bytes = &bytes[4..];
            continue;
        }
        if len < 4 || len > bytes.len() {
            break;
        }
        v.push(Some(bytes[4..len].to_vec()));
        bytes = &bytes[len..];
    }
    (v, bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_lengths() {
        assert_eq!(pkt("done\n"), "0009done\n");
        assert_eq!(
            pkt(&format!(
                "want {} multi_ack side-band-64k ofs-delta\n",
                "a".repeat(40)
            )),
            format!(
                "0054want {} multi_ack side-band-64k ofs-delta\n",
                "a".repeat(40)
            )
        );
    }

    #[test]
    fn parses_pkt_streams() {
        let (pkts, rest) = parse_pkts(b"0009done\n00000008abcdxyz");
        assert_eq!(
            pkts,
            vec![Some(b"done\n".to_vec()), None, Some(b"abcd".to_vec())]
        );
        assert_eq!(rest, b"xyz");
    }
}
