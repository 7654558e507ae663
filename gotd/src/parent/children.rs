//! Starting, stopping and reaping repo children.
//!
//! A child is our own binary re-executed with `-T r|w -P <repo>` and one
//! end of a fresh socketpair on fd 3, started with `posix_spawn`
//! ([`sys::spawn_with_ipc`]): the child runs in our address space only until
//! it executes the binary, so the daemon's memory is never copied, whatever
//! its size. The binary is the one the daemon was
//! started from: it is opened at startup and executed through that
//! descriptor ([`open_exe`]), so replacing the file does not change what
//! running daemons execute. It is registered before the spawn
//! call returns to the event loop, so the SIGCHLD reaper always finds it.
//! Stopping is SIGTERM, then SIGKILL if it is still unreaped 5 s later.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gotd_wire::sys::{self, ChildStderr};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::state::Shared;
use crate::achannel::AsyncChannel;
use crate::opts::ChildKind;
use crate::{log_debug, log_warn};

/// Grace period between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// A started child, until it has been reaped.
#[derive(Debug)]
pub struct ChildProc {
    pub pid: i32,
    reaped: Option<oneshot::Receiver<WaitStatus>>,
}

/// Starts a repo child for `repo` and returns it with its IPC channel.
pub fn spawn(
    state: &Shared,
    kind: ChildKind,
    repo: &Path,
) -> io::Result<(ChildProc, AsyncChannel)> {
    let (ours, theirs) = StdUnixStream::pair()?; // both close-on-exec
    let (exe, program, foreground, verbosity) = {
        let s = state.borrow();
        let i = &s.instance;
        let program = match &i.exe_fd {
            Some(fd) => fd_path(fd),
            None => i.exec_path.clone(),
        };
        (i.exe.clone(), program, i.foreground, i.verbosity)
    };
    let kind = match kind {
        ChildKind::Reader => "r",
        ChildKind::Writer => "w",
    };
    // argv[0] is the real path, for ps(1).
    let mut argv: Vec<&OsStr> = vec![exe.as_os_str(), "-T".as_ref(), kind.as_ref(), "-P".as_ref()];
    argv.push(repo.as_os_str());
    if foreground {
        argv.push("-d".as_ref());
    }
    argv.extend(std::iter::repeat_n(OsStr::new("-v"), verbosity as usize));
    let stderr = if foreground {
        ChildStderr::Inherit
    } else {
        ChildStderr::Null
    };
    let pid = sys::spawn_with_ipc(&program, &argv, theirs.as_fd(), stderr)?;
    drop(theirs);
    let reaped = state.borrow_mut().register_child(pid);
    ours.set_nonblocking(true)?;
    let ch = AsyncChannel::new(UnixStream::from_std(ours)?);
    Ok((
        ChildProc {
            pid,
            reaped: Some(reaped),
        },
        ch,
    ))
}

/// Opens the daemon's own binary at startup, so that children run the same
/// program as the parent even after the file at `exe` has been replaced
/// (an upgrade with `make install` while the daemon runs). Children are
/// executed through `/proc/self/fd/N` (what `fexecve(3)` does), which the
/// kernel resolves to the opened file without searching its directories,
/// so it also works when the daemon user cannot reach `exe`.
///
/// The descriptor is close-on-exec (the binary is ELF, so executing it
/// through its own close-on-exec descriptor works) and never number 3,
/// which a new child's IPC socket takes over before the binary is executed.
pub fn open_exe(exe: &Path) -> io::Result<OwnedFd> {
    let mut low = Vec::new();
    loop {
        let fd = OwnedFd::from(std::fs::File::open(exe)?);
        if fd.as_raw_fd() > sys::CHILD_IPC_FD {
            return Ok(fd);
        }
        // Keep the low number taken so that the next open gets a higher one.
        low.push(fd);
    }
}

/// The path through which a child executes the binary open on `fd`.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What to execute for a child when the binary could not be opened at
/// startup: our binary's path when the daemon user
/// can execute it there, else `/proc/self/exe`, which reaches the running
/// binary even when its directory is not searchable by the daemon user
/// (e.g. a build tree under /root). The path is preferred because tools
/// that run the daemon under a supervisor such as valgrind give
/// `/proc/self/exe` a different meaning.
pub fn exec_path(exe: &Path) -> PathBuf {
    use nix::unistd::{access, AccessFlags};
    if access(exe, AccessFlags::X_OK).is_ok() {
        exe.to_path_buf()
    } else {
        PathBuf::from("/proc/self/exe")
    }
}

impl ChildProc {
    /// Waits until the child has been reaped.
    pub async fn wait(&mut self) -> Option<WaitStatus> {
        let rx = self.reaped.take()?;
        rx.await.ok()
    }

    /// Lets a child that has reported its outcome exit by itself; ends it
    /// after `patience` if it does not.
    pub async fn finish(mut self, patience: Duration) {
        if let Some(rx) = self.reaped.as_mut() {
            if tokio::time::timeout(patience, rx).await.is_ok() {
                self.reaped = None;
                return;
            }
        }
        self.terminate().await;
    }

    /// Ends the child: SIGTERM, SIGKILL after the grace period, and waits
    /// until it has been reaped.
    pub async fn terminate(mut self) {
        let Some(mut rx) = self.reaped.take() else {
            return;
        };
        match rx.try_recv() {
            Ok(_) | Err(oneshot::error::TryRecvError::Closed) => return,
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        // Not reaped yet, so the pid cannot have been reused.
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGTERM);
        tokio::select! {
            _ = &mut rx => return,
            _ = tokio::time::sleep(KILL_GRACE) => {}
        }
        log_warn!("repo child {} ignored SIGTERM; sending SIGKILL", self.pid);
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = rx.await;
    }
}

/// Reaps every child that has exited (the SIGCHLD handler's work).
pub fn reap(state: &Shared) {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return,
            Ok(status) => {
                let Some(pid) = status.pid() else { return };
                log_debug!("repo child {pid} terminated: {}", describe(&status));
                if !state.borrow_mut().child_reaped(pid.as_raw(), status) {
                    log_debug!("reaped unknown child {pid}");
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return, // ECHILD: nothing left
        }
    }
}

/// Sends SIGTERM to every live child (shutdown).
pub fn signal_all(state: &Shared, sig: Signal) {
    for pid in state.borrow().child_pids() {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// A wait status in words, for the log.
pub fn describe(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
        other => format!("{other:?}"),
    }
}
