//! The parent's asynchronous message channel: [`gotd_wire::ipc`] frames and
//! descriptors over a tokio unix stream.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use gotd_wire::ipc::{encode, FrameBuf, IpcError};
use gotd_wire::sys;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::Interest;
use tokio::net::UnixStream;

/// A message channel driven by the parent's event loop.
#[derive(Debug)]
pub struct AsyncChannel {
    sock: UnixStream,
    buf: FrameBuf,
}

impl AsyncChannel {
    pub fn new(sock: UnixStream) -> Self {
        AsyncChannel {
            sock,
            buf: FrameBuf::new(),
        }
    }

    pub fn socket(&self) -> &UnixStream {
        &self.sock
    }

    /// Receives one message; `Ok(None)` on end of file at a frame
    /// boundary. Cancel-safe: bytes read are kept for the next call.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, IpcError> {
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(m) = self.buf.next_frame()? {
                return Ok(Some(m));
            }
            let sock = &self.sock;
            let (n, fds) = sock
                .async_io(Interest::READABLE, || {
                    sys::recv_with_fds(sock.as_fd(), &mut tmp)
                })
                .await?;
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

    /// Sends one message with `fds` attached to its first byte.
    pub async fn send<T: Serialize>(
        &mut self,
        msg: &T,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), IpcError> {
        let frame = encode(msg)?;
        let sock = &self.sock;
        let mut off = 0;
        while off < frame.len() {
            let attach: &[BorrowedFd<'_>] = if off == 0 { fds } else { &[] };
            off += sock
                .async_io(Interest::WRITABLE, || {
                    sys::send_with_fds(sock.as_fd(), &frame[off..], attach)
                })
                .await?;
        }
        Ok(())
    }
}
