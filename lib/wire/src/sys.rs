//! The system calls gotd, gotsh and gotctl make that the safe wrappers do
//! not cover: passing file descriptors over unix sockets, adopting an
//! inherited descriptor, starting a re-executed child with its IPC socket
//! on fd 3 (`posix_spawn`), and tuning the C allocator.
//!
//! This is the only module of the project that contains `unsafe` code;
//! every block states why it is sound.

use std::ffi::{CStr, CString, OsStr};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use nix::sys::socket::{
    getsockopt, recvmsg, sendmsg, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
};

/// The descriptor number on which a repo child finds its IPC socket.
pub const CHILD_IPC_FD: RawFd = 3;

/// Most descriptors accepted in one message; more are closed and reported.
pub const MAX_FDS_PER_MSG: usize = 4;

/// Kernel credentials of a unix socket peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// The credentials of the process at the other end of `sock` (SO_PEERCRED).
pub fn peer_cred(sock: BorrowedFd<'_>) -> io::Result<PeerCred> {
    let c = getsockopt(&sock, sockopt::PeerCredentials).map_err(io::Error::from)?;
    Ok(PeerCred {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// Sends `data` on a stream socket, attaching `fds` (SCM_RIGHTS) to the
/// first byte. Returns how many bytes were sent.
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    let iov = [IoSlice::new(data)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Receives bytes into `buf` and any descriptors that came with them. The
/// descriptors are close-on-exec. `Ok((0, _))` means end of file.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut cmsg_space = nix::cmsg_space!([RawFd; MAX_FDS_PER_MSG]);
    let mut iov = [IoSliceMut::new(buf)];
    let (n, raw_fds, truncated) = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(msg) => {
                let mut fds = Vec::new();
                for c in msg.cmsgs().map_err(io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(r) = c {
                        fds.extend(r);
                    }
                }
                let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
                break (msg.bytes, fds, truncated);
            }
        }
    };
    let owned: Vec<OwnedFd> = raw_fds
        .into_iter()
        // SAFETY: the kernel just installed these descriptors in our table
        // for this message (SCM_RIGHTS); nothing else refers to them, so we
        // are their sole owner.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    if truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "too many file descriptors in one message",
        ));
    }
    Ok((n, owned))
}

/// Takes ownership of the IPC socket a repo child inherited on fd 3.
///
/// Fails unless fd 3 is open and is a socket, so that a child started by
/// hand gets a clear error instead of acting on a random descriptor.
pub fn take_child_ipc_fd() -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_GETFD) only queries the descriptor number; it is
    // harmless whether or not fd 3 is open.
    let flags = unsafe { libc::fcntl(CHILD_IPC_FD, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "fd 3 is not open: this mode is only for gotd's own children",
        ));
    }
    // SAFETY: fd 3 is open (checked above) and, by the exec contract with
    // the parent, was placed there for this process alone; nothing else in
    // this process has claimed it, so adopting it as owned is sound. It is
    // adopted once: the function is only called from the child's entry.
    let fd = unsafe { OwnedFd::from_raw_fd(CHILD_IPC_FD) };
    // Mark it close-on-exec now that it is ours.
    nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(io::Error::from)?;
    match getsockopt(&fd, sockopt::SockType) {
        Ok(_) => Ok(fd),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "fd 3 is not a socket: this mode is only for gotd's own children",
        )),
    }
}

/// Makes the C allocator serve every allocation of `bytes` or more with a
/// mapping of its own, unmapped as soon as it is freed, instead of from the
/// heap (glibc's `M_MMAP_THRESHOLD`; `MALLOC_MMAP_THRESHOLD_` does the same
/// from the environment). A fixed threshold also stops glibc from raising it
/// as large blocks come and go, which otherwise lets freed pack buffers pile
/// up in the heap of a process that never returns that memory. Returns
/// whether the allocator took the setting (false where it is not glibc).
pub fn set_malloc_mmap_threshold(bytes: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let Ok(value) = libc::c_int::try_from(bytes) else {
            return false;
        };
        // SAFETY: mallopt only changes allocator parameters; it is called
        // before the process starts other threads and takes no pointers.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, value) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = bytes;
        false
    }
}

/// Where a spawned child's standard error goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStderr {
    /// The parent's own stderr (a daemon in the foreground).
    Inherit,
    /// `/dev/null`.
    Null,
}

/// Starts `program` with `argv` (argv\[0\] included) and our environment,
/// stdin and stdout on `/dev/null`, stderr as `stderr` says, and `ipc` on
/// fd 3 (without close-on-exec). Every other descriptor of ours above 2
/// must be close-on-exec (gotd's are), so the child starts with exactly
/// 0–3. The signal mask is emptied and SIGPIPE reset to its default.
///
/// This is `posix_spawn(3)`: glibc starts the child in our address space
/// (`CLONE_VM | CLONE_VFORK`) and it executes `program` at once, so nothing
/// of the parent is copied. A fork, which `std::process::Command` falls back
/// to whenever a `pre_exec` hook is set, copies the page tables and then
/// makes both processes take copy-on-write faults. Returns the child's pid;
/// an exec failure is reported as an error.
pub fn spawn_with_ipc(
    program: &Path,
    argv: &[&OsStr],
    ipc: BorrowedFd<'_>,
    stderr: ChildStderr,
) -> io::Result<i32> {
    let cstr = |s: &OsStr| {
        CString::new(s.as_bytes()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in a child argument")
        })
    };
    let path = cstr(program.as_os_str())?;
    let args: Vec<CString> = argv.iter().map(|a| cstr(a)).collect::<io::Result<_>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv)
        })
        .filter_map(Result::ok)
        .collect();
    let mut argp: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argp.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(std::ptr::null_mut());

    // dup2 of fd 3 onto itself would leave close-on-exec set on some libcs:
    // move it out of the way first. (gotd's parent never hands over its
    // fd 3, which its listener holds; this keeps the function correct for
    // any caller.)
    let moved;
    let source = if ipc.as_raw_fd() == CHILD_IPC_FD {
        moved = nix::fcntl::fcntl(
            ipc.as_raw_fd(),
            nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(CHILD_IPC_FD + 1),
        )
        .map_err(io::Error::from)?;
        // SAFETY: F_DUPFD_CLOEXEC just created this descriptor for us alone.
        let owned = unsafe { OwnedFd::from_raw_fd(moved) };
        Some(owned)
    } else {
        None
    };
    let source_fd = source.as_ref().map_or(ipc.as_raw_fd(), |f| f.as_raw_fd());

    let mut actions = FileActions::new()?;
    let null = c"/dev/null";
    actions.open(0, null, libc::O_RDONLY)?;
    actions.open(1, null, libc::O_WRONLY)?;
    if stderr == ChildStderr::Null {
        actions.open(2, null, libc::O_WRONLY)?;
    }
    actions.dup2(source_fd, CHILD_IPC_FD)?;
    let mut attr = SpawnAttr::new()?;
    attr.reset_signals()?;

    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `path` and the strings
    // behind `argp` and `envp` live until the end of this function, both
    // arrays end with a null pointer, and `actions` and `attr` are
    // initialised (their constructors checked). posix_spawn does not keep
    // any of them after it returns.
    let r = unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &actions.0,
            &attr.0,
            argp.as_ptr(),
            envp.as_ptr(),
        )
    };
    drop(source);
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(pid)
}

/// `posix_spawn_file_actions_t`, destroyed on drop.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<Self> {
        // SAFETY: an all-zero posix_spawn_file_actions_t is a valid value
        // to pass to _init, which overwrites it.
        let mut fa: libc::posix_spawn_file_actions_t = unsafe { std::mem::zeroed() };
        // SAFETY: `fa` is a valid, writable object.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut fa) })?;
        Ok(Self(fa))
    }

    fn open(&mut self, fd: RawFd, path: &'static CStr, flags: libc::c_int) -> io::Result<()> {
        // SAFETY: self.0 was initialised; `path` is static (glibc copies it
        // anyway).
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(&mut self.0, fd, path.as_ptr(), flags, 0)
        })
    }

    fn dup2(&mut self, from: RawFd, to: RawFd) -> io::Result<()> {
        // SAFETY: self.0 was initialised; the call only records the action.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, from, to) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in new(), destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// `posix_spawnattr_t`, destroyed on drop.
struct SpawnAttr(libc::posix_spawnattr_t);

impl SpawnAttr {
    fn new() -> io::Result<Self> {
        // SAFETY: as for FileActions::new.
        let mut a: libc::posix_spawnattr_t = unsafe { std::mem::zeroed() };
        // SAFETY: `a` is a valid, writable object.
        check(unsafe { libc::posix_spawnattr_init(&mut a) })?;
        Ok(Self(a))
    }

    /// Empty signal mask, SIGPIPE to its default action (the parent
    /// ignores it; ignored signals stay ignored across exec).
    fn reset_signals(&mut self) -> io::Result<()> {
        let p: *mut libc::posix_spawnattr_t = &mut self.0;
        // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise
        // it; `p` points to an initialised attribute object.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigmask(p, &none))?;
            check(libc::posix_spawnattr_setsigdefault(p, &pipe))?;
            check(libc::posix_spawnattr_setflags(
                p,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
            ))
        }
    }
}

impl Drop for SpawnAttr {
    fn drop(&mut self) {
        // SAFETY: initialised in new(), destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// posix_spawn* functions return an error number instead of setting errno.
fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn passes_descriptors_with_data() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut p_read, p_write) = UnixStream::pair().unwrap();
        let n = send_with_fds(a.as_fd(), b"hello", &[p_write.as_fd()]).unwrap();
        assert_eq!(n, 5);
        drop(p_write);
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(fds.len(), 1);
        let mut w = UnixStream::from(fds.into_iter().next().unwrap());
        w.write_all(b"via fd").unwrap();
        drop(w);
        let mut s = String::new();
        p_read.read_to_string(&mut s).unwrap();
        assert_eq!(s, "via fd");
    }

    #[test]
    fn received_descriptors_are_cloexec() {
        let (a, b) = UnixStream::pair().unwrap();
        let (_x, y) = UnixStream::pair().unwrap();
        send_with_fds(a.as_fd(), b"x", &[y.as_fd()]).unwrap();
        let mut buf = [0u8; 4];
        let (_, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        let flags = nix::fcntl::fcntl(fds[0].as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn peer_cred_is_ours() {
        let (a, _b) = UnixStream::pair().unwrap();
        let c = peer_cred(a.as_fd()).unwrap();
        assert_eq!(c.uid, nix::unistd::getuid().as_raw());
        assert_eq!(c.pid as u32, std::process::id());
    }

    /// Descriptors above 3 that this process would pass on to any child
    /// (inherited without close-on-exec from whoever started the tests).
    fn leaky_fds() -> Vec<String> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
            .filter(|&fd| fd > CHILD_IPC_FD)
            .filter(|&fd| {
                nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
                    .is_ok_and(|f| f & libc::FD_CLOEXEC == 0)
            })
            .map(|fd| fd.to_string())
            .collect()
    }

    /// What a spawned child looked like once it ran `sleep`.
    struct Seen {
        /// Descriptor number → link target.
        fds: Vec<(String, String)>,
        /// `SigBlk:` and `SigIgn:` of /proc/PID/status.
        blocked: u64,
        ignored: u64,
    }

    fn spawn_sleep(ipc: BorrowedFd<'_>) -> Seen {
        let pid = spawn_with_ipc(
            Path::new("/bin/sleep"),
            &[OsStr::new("sleep"), OsStr::new("60")],
            ipc,
            ChildStderr::Null,
        )
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap() != "sleep\n" {
            assert!(std::time::Instant::now() < deadline, "sleep never started");
            std::thread::yield_now();
        }
        let mut fds: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .map(|e| {
                let target = std::fs::read_link(e.path()).unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    target.to_string_lossy().into_owned(),
                )
            })
            .collect();
        fds.sort_by_key(|(n, _)| n.parse::<RawFd>().unwrap());
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let mask = |key: &str| {
            let line = status.lines().find(|l| l.starts_with(key)).unwrap();
            u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
        };
        let (blocked, ignored) = (mask("SigBlk:"), mask("SigIgn:"));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        Seen {
            fds,
            blocked,
            ignored,
        }
    }

    fn socket_name(fd: BorrowedFd<'_>) -> String {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        link.to_string_lossy().into_owned()
    }

    fn expected(ipc: &str) -> Vec<(String, String)> {
        let mut want: Vec<(String, String)> = vec![
            ("0".into(), "/dev/null".into()),
            ("1".into(), "/dev/null".into()),
            ("2".into(), "/dev/null".into()),
            ("3".into(), ipc.into()),
        ];
        for fd in leaky_fds() {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
            want.push((fd, target.to_string_lossy().into_owned()));
        }
        want
    }

    #[test]
    fn spawned_child_has_ipc_on_fd3_and_nothing_else() {
        let (_ours, theirs) = UnixStream::pair().unwrap();
        // Another descriptor of ours, close-on-exec like every one we open.
        let (_x, _y) = UnixStream::pair().unwrap();
        let seen = spawn_sleep(theirs.as_fd());
        assert_eq!(seen.fds, expected(&socket_name(theirs.as_fd())));
    }

    #[test]
    fn spawned_child_has_no_blocked_signals_and_default_sigpipe() {
        let (_ours, theirs) = UnixStream::pair().unwrap();
        // What a parent may have: SIGPIPE ignored (Rust programs do) and
        // signals blocked on the spawning thread.
        let pipe_bit = 1u64 << (libc::SIGPIPE - 1);
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
        let mut usr1 = SigSet::empty();
        usr1.add(Signal::SIGUSR1);
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&usr1), None).unwrap();
        let seen = spawn_sleep(theirs.as_fd());
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&usr1), None).unwrap();
        assert_eq!(seen.blocked, 0);
        assert_eq!(seen.ignored & pipe_bit, 0);
    }

    #[test]
    fn spawn_reports_exec_failure() {
        let (_a, b) = UnixStream::pair().unwrap();
        let err = spawn_with_ipc(
            Path::new("/nonexistent/gotd"),
            &[OsStr::new("gotd")],
            b.as_fd(),
            ChildStderr::Inherit,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn malloc_threshold_is_accepted() {
        assert_eq!(
            set_malloc_mmap_threshold(128 * 1024),
            cfg!(target_env = "gnu")
        );
        // Not representable for mallopt.
        assert!(!set_malloc_mmap_threshold(usize::MAX));
    }

    #[test]
    fn eof_is_zero_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let mut buf = [0u8; 4];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!(n, 0);
        assert!(fds.is_empty());
    }
}
