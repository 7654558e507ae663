//! The system calls gotd, gotsh and gotctl make that the safe wrappers do
//! not cover: passing file descriptors over unix sockets, adopting an
//! inherited descriptor, and placing the IPC socket on fd 3 of a re-executed
//! child.
//!
//! This is the only module of the project that contains `unsafe` code;
//! every block states why it is sound.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

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

/// Arranges for `ipc` to be fd 3 (without close-on-exec) in the process
/// `cmd` will start. Every other inherited descriptor except 0, 1 and 2 is
/// close-on-exec in our processes, so the child starts with exactly 0–3.
pub fn place_on_child_fd3(cmd: &mut Command, ipc: RawFd) {
    let hook = move || -> io::Result<()> {
        if ipc == CHILD_IPC_FD {
            // dup2 onto itself would keep FD_CLOEXEC; clear it instead.
            // SAFETY: fcntl is async-signal-safe and only touches fd 3.
            let r = unsafe { libc::fcntl(CHILD_IPC_FD, libc::F_SETFD, 0) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        } else {
            // SAFETY: dup2 is async-signal-safe; `ipc` is a descriptor the
            // parent keeps open until spawn returns, and the new fd 3 is
            // created without FD_CLOEXEC, which is the point.
            let r = unsafe { libc::dup2(ipc, CHILD_IPC_FD) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec and only calls
    // async-signal-safe functions (dup2/fcntl); it allocates nothing and
    // takes no locks.
    unsafe {
        cmd.pre_exec(hook);
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
