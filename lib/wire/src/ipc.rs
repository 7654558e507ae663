//! Length-prefixed typed messages over a unix stream socket, with
//! descriptors attached.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of a
//! postcard-encoded value. Descriptors travel with the first byte of the
//! frame they belong to. [`FrameBuf`] does the byte-level decoding for any
//! transport; [`Channel`] is the blocking transport used by gotsh, gotctl
//! and gotd's children (the daemon wraps [`FrameBuf`] in its own async
//! transport).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sys;

/// Largest frame body accepted; requests are small, so anything bigger is
/// a protocol violation rather than data.
pub const MAX_FRAME: usize = 64 * 1024;

/// Errors of the message layer.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("message of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Decode(#[from] postcard::Error),
    #[error("unexpected end of file")]
    Eof,
    #[error("expected {expected} file descriptors with the message, got {got}")]
    Fds { expected: usize, got: usize },
}

/// Encodes one frame.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, IpcError> {
    let body = postcard::to_stdvec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(IpcError::TooLarge(body.len()));
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Accumulates received bytes and descriptors and yields whole frames.
#[derive(Debug, Default)]
pub struct FrameBuf {
    bytes: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl FrameBuf {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds what one receive call returned.
    pub fn push(&mut self, data: &[u8], fds: Vec<OwnedFd>) {
        self.bytes.extend_from_slice(data);
        self.fds.extend(fds);
    }

    /// Bytes received but not yet consumed by a frame.
    pub fn pending(&self) -> usize {
        self.bytes.len()
    }

    /// Decodes the next whole frame, if one has arrived.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, IpcError> {
        if self.bytes.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
            as usize;
        if len > MAX_FRAME {
            return Err(IpcError::TooLarge(len));
        }
        if self.bytes.len() < 4 + len {
            return Ok(None);
        }
        let msg = postcard::from_bytes(&self.bytes[4..4 + len]);
        self.bytes.drain(..4 + len);
        Ok(Some(msg?))
    }

    /// Takes exactly `n` received descriptors (those that came with the
    /// message just decoded); any surplus is closed.
    pub fn take_fds(&mut self, n: usize) -> Result<Vec<OwnedFd>, IpcError> {
        let got = self.fds.len();
        let fds: Vec<OwnedFd> = self.fds.drain(..).collect();
        if got != n {
            return Err(IpcError::Fds { expected: n, got });
        }
        Ok(fds)
    }
}

/// A blocking message channel.
#[derive(Debug)]
pub struct Channel {
    sock: UnixStream,
    buf: FrameBuf,
}

impl Channel {
    pub fn new(sock: UnixStream) -> Self {
        Channel {
            sock,
            buf: FrameBuf::new(),
        }
    }

    pub fn socket(&self) -> &UnixStream {
        &self.sock
    }

    /// Sends one message with `fds` attached.
    pub fn send<T: Serialize>(&mut self, msg: &T, fds: &[BorrowedFd<'_>]) -> Result<(), IpcError> {
        let frame = encode(msg)?;
        let mut off = sys::send_with_fds(self.sock.as_fd(), &frame, fds)?;
        while off < frame.len() {
            let n = sys::send_with_fds(self.sock.as_fd(), &frame[off..], &[])?;
            off += n;
        }
        Ok(())
    }

    /// Receives one message; `Ok(None)` on end of file at a frame boundary.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, IpcError> {
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(m) = self.buf.next_frame()? {
                return Ok(Some(m));
            }
            let (n, fds) = sys::recv_with_fds(self.sock.as_fd(), &mut tmp)?;
            if n == 0 {
                return if self.buf.pending() == 0 {
                    Ok(None)
                } else {
                    Err(IpcError::Eof)
                };
            }
            self.buf.push(&tmp[..n], fds);
        }
    }

    /// Descriptors that came with the last message.
    pub fn take_fds(&mut self, n: usize) -> Result<Vec<OwnedFd>, IpcError> {
        self.buf.take_fds(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct M {
        a: String,
        b: u32,
    }

    #[test]
    fn round_trip_with_fds() {
        let (a, b) = UnixStream::pair().unwrap();
        let (x, _y) = UnixStream::pair().unwrap();
        let mut ca = Channel::new(a);
        let mut cb = Channel::new(b);
        let m = M {
            a: "repo".into(),
            b: 7,
        };
        ca.send(&m, &[x.as_fd()]).unwrap();
        ca.send(
            &M {
                a: String::new(),
                b: 1,
            },
            &[],
        )
        .unwrap();
        assert_eq!(cb.recv::<M>().unwrap(), Some(m));
        assert_eq!(cb.take_fds(1).unwrap().len(), 1);
        assert_eq!(cb.recv::<M>().unwrap().unwrap().b, 1);
        assert_eq!(cb.take_fds(0).unwrap().len(), 0);
        drop(ca);
        assert!(cb.recv::<M>().unwrap().is_none());
    }

    #[test]
    fn partial_frames_wait_for_more() {
        let frame = encode(&M {
            a: "x".into(),
            b: 2,
        })
        .unwrap();
        let mut fb = FrameBuf::new();
        fb.push(&frame[..3], vec![]);
        assert!(fb.next_frame::<M>().unwrap().is_none());
        fb.push(&frame[3..], vec![]);
        assert_eq!(fb.next_frame::<M>().unwrap().unwrap().b, 2);
    }

    #[test]
    fn oversized_length_is_refused() {
        let mut fb = FrameBuf::new();
        fb.push(&[0xff, 0xff, 0xff, 0xff], vec![]);
        assert!(matches!(fb.next_frame::<M>(), Err(IpcError::TooLarge(_))));
    }

    #[test]
    fn truncated_frame_at_eof_is_an_error() {
        let (a, b) = UnixStream::pair().unwrap();
        let frame = encode(&M {
            a: "x".into(),
            b: 2,
        })
        .unwrap();
        (&a).write_all_ok(&frame[..frame.len() - 1]);
        drop(a);
        let mut cb = Channel::new(b);
        assert!(matches!(cb.recv::<M>(), Err(IpcError::Eof)));
    }

    trait WriteAllOk {
        fn write_all_ok(self, b: &[u8]);
    }
    impl WriteAllOk for &UnixStream {
        fn write_all_ok(mut self, b: &[u8]) {
            use std::io::Write;
            self.write_all(b).unwrap();
        }
    }

    #[test]
    fn wrong_fd_count_is_reported() {
        let mut fb = FrameBuf::new();
        assert!(matches!(
            fb.take_fds(2),
            Err(IpcError::Fds {
                expected: 2,
                got: 0
            })
        ));
    }
}
