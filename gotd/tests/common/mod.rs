//! Fixtures for the daemon's integration tests: a temporary directory with
//! a bare repository holding one commit, a gotd.conf, a fake ssh command for
//! git, and a running gotd in the foreground whose log is captured.
//!
//! As a normal user, gotd runs as that user (privilege separation off). As
//! root (CI), gotd starts as root and drops to `nobody`, the temporary tree
//! is handed to `nobody`, and the git clients run as root.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds or `DEADLINE` passes.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The name of the user running the tests (the git client's identity).
pub fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .expect("the test user has a passwd entry")
        .name
}

/// The user gotd runs as.
pub fn daemon_user() -> String {
    if is_root() {
        "nobody".into()
    } else {
        me()
    }
}

/// Path of one of the workspace's binaries, built on first use.
pub fn bin(name: &str) -> PathBuf {
    if name == "gotd" {
        return PathBuf::from(env!("CARGO_BIN_EXE_gotd"));
    }
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        // Under `cargo test`, make sure the other binaries are fresh; a test
        // binary run by hand uses what is there.
        let Ok(cargo) = std::env::var("CARGO") else {
            return;
        };
        let st = Command::new(cargo)
            .args(["build", "--quiet", "-p", "gotsh", "-p", "gotctl"])
            .status()
            .expect("running cargo build");
        assert!(st.success(), "building gotsh and gotctl failed");
    });
    let gotd = PathBuf::from(env!("CARGO_BIN_EXE_gotd"));
    gotd.with_file_name(name)
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("spawning a setup command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary site: repositories, configuration, fake ssh.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    /// A site with the repository `repo` (one commit on `main`).
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        if is_root() {
            // The daemon (as nobody) removes its socket on exit.
            run_ok(Command::new("chown").arg("nobody").arg(dir.path()));
        }
        let site = Site { dir };
        site.add_repo("repo");
        let ssh = site.path("ssh.sh");
        fs::write(
            &ssh,
            format!(
                "#!/bin/sh\nfor last; do :; done\nGOTD_UNIX_SOCKET='{}' exec '{}' -c \"$last\"\n",
                site.socket().display(),
                bin("gotsh").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o755)).unwrap();
        site
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn socket(&self) -> PathBuf {
        self.path("gotd.sock")
    }

    pub fn conf(&self) -> PathBuf {
        self.path("gotd.conf")
    }

    /// Creates `<name>.git` with one commit on main, owned by the daemon user.
    pub fn add_repo(&self, name: &str) -> PathBuf {
        let bare = self.path(&format!("{name}.git"));
        let work = self.path(&format!("{name}.work"));
        run_ok(
            Command::new("git")
                .args(["init", "-q", "--bare", "-b", "main"])
                .arg(&bare),
        );
        run_ok(
            Command::new("git")
                .args(["init", "-q", "-b", "main"])
                .arg(&work),
        );
        run_ok(
            Command::new("git")
                .current_dir(&work)
                .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
                .args(["commit", "-q", "--allow-empty", "-m", "first"]),
        );
        run_ok(
            Command::new("git")
                .current_dir(&work)
                .arg("push")
                .arg("-q")
                .arg(&bare)
                .arg("main"),
        );
        if is_root() {
            run_ok(Command::new("chown").args(["-R", "nobody"]).arg(&bare));
        }
        bare
    }

    /// Writes gotd.conf with `repos` as `(name, rules)` blocks and `extra`
    /// lines at the top.
    pub fn write_conf(&self, extra: &str, repos: &[(&str, &str)]) {
        let mut s = format!(
            "listen on \"{}\"\nuser \"{}\"\n{extra}\n",
            self.socket().display(),
            daemon_user()
        );
        for (name, rules) in repos {
            s.push_str(&format!(
                "repository \"{name}\" {{\n  path \"{}\"\n  {rules}\n}}\n",
                self.path(&format!("{name}.git")).display()
            ));
        }
        fs::write(self.conf(), s).unwrap();
    }

    /// The default configuration: `repo`, read-write for the test user.
    pub fn default_conf(&self) {
        self.write_conf("", &[("repo", &format!("permit rw \"{}\"", me()))]);
    }

    /// Runs git with the fake ssh; `url` like `x:/repo`.
    pub fn git(&self, args: &[&str]) -> Output {
        self.git_command(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs git with the fake ssh and a fixed identity in `dir` (a clone
    /// below the site), e.g. to commit and push.
    pub fn git_in(&self, dir: &str, args: &[&str]) -> Output {
        self.git_command(&self.path(dir))
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(args)
            .output()
            .unwrap()
    }

    fn git_command(&self, dir: &Path) -> Command {
        let mut c = Command::new("git");
        c.current_dir(dir)
            .env("GIT_SSH_COMMAND", self.path("ssh.sh"))
            .env("GIT_SSH_VARIANT", "ssh")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null());
        c
    }

    /// Runs gotsh on `command` with `input` on its stdin.
    pub fn gotsh(&self, command: &str, input: &[u8]) -> Output {
        let mut child = self.gotsh_spawn(command);
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input);
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// Starts gotsh on `command` with piped stdio.
    pub fn gotsh_spawn(&self, command: &str) -> Child {
        Command::new(bin("gotsh"))
            .args(["-c", command])
            .env("GOTD_UNIX_SOCKET", self.socket())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn gotctl(&self, cmd: &str) -> Output {
        Command::new(bin("gotctl"))
            .arg("-f")
            .arg(self.socket())
            .arg(cmd)
            .output()
            .unwrap()
    }
}

/// A gotd running in the foreground for one test.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts gotd -d -v on the site's configuration and waits until it
    /// answers `gotctl info`.
    pub fn start(site: &Site) -> Daemon {
        Daemon::start_via(site, Command::new(bin("gotd")), "-dvv")
    }

    /// Like [`start`](Self::start) at the default verbosity (`-d` only).
    pub fn start_quiet(site: &Site) -> Daemon {
        Daemon::start_via(site, Command::new(bin("gotd")), "-d")
    }

    /// Like [`start`](Self::start), with SIGTERM, SIGINT and SIGCHLD
    /// blocked when gotd is executed (GNU env's `--block-signal`), as some
    /// shells and harnesses leave them.
    pub fn start_with_signals_blocked(site: &Site) -> Daemon {
        let mut env = Command::new("env");
        env.arg("--block-signal=TERM,INT,CHLD").arg(bin("gotd"));
        Daemon::start_via(site, env, "-dvv")
    }

    fn start_via(site: &Site, mut cmd: Command, flags: &str) -> Daemon {
        let log = site.path("gotd.log");
        let logf = fs::File::create(&log).unwrap();
        let child = cmd
            .arg(flags)
            .arg("-f")
            .arg(site.conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .unwrap();
        let mut d = Daemon { child, log };
        wait_for("gotd to answer gotctl info", || {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!("gotd exited early ({st}): {}", d.log_text());
            }
            site.gotctl("info").status.success()
        });
        d
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the daemon to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        wait_for("gotd to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }

    /// Pids of the daemon's children.
    pub fn children(&self) -> Vec<(i32, char)> {
        children_of(self.pid())
    }

    /// Open descriptors of the daemon.
    pub fn fd_count(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// `(pid, state)` of every process whose parent is `ppid`.
pub fn children_of(ppid: i32) -> Vec<(i32, char)> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may contain spaces.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut f = rest.split(' ');
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let parent: i32 = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if parent == ppid {
            out.push((pid, state));
        }
    }
    out
}

/// The `repo PID` values `gotctl info` shows.
pub fn repo_pids(info: &str) -> Vec<i32> {
    info.lines()
        .filter_map(|l| l.split("repo PID ").nth(1))
        .filter_map(|r| r.split(',').next()?.parse().ok())
        .collect()
}

/// `number of connected clients: N` from `gotctl info`.
pub fn client_count(info: &str) -> usize {
    info.lines()
        .find_map(|l| l.strip_prefix("number of connected clients: "))
        .and_then(|n| n.parse().ok())
        .expect("gotctl info shows the client count")
}

/// Reads pkt-lines from `r` up to and including the first flush.
pub fn read_until_flush(r: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).unwrap();
        all.extend_from_slice(&len);
        let n = usize::from_str_radix(std::str::from_utf8(&len).unwrap(), 16).unwrap();
        if n == 0 {
            return all;
        }
        let mut body = vec![0u8; n - 4];
        r.read_exact(&mut body).unwrap();
        all.extend_from_slice(&body);
    }
}

/// A pkt-line `ERR <msg>` exactly as gotsh should write it.
pub fn err_pkt(msg: &str) -> String {
    format!("{:04x}ERR {msg}", msg.len() + 8)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn ignore(_: &Path) {}
