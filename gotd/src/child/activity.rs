//! Tells the parent that the exchange is making progress, so that the
//! request timeout measures idleness rather than total duration.
//!
//! The client's input and output are wrapped; they count the bytes moved
//! ([`Traffic`]), which go to the parent with every report and with the
//! final status, for its log. Once at least
//! [`MIN_PROGRESS`] bytes have moved (in either direction) since the last
//! report, and at most once per [`INTERVAL`], a
//! [`ToParent::Active`](crate::msg::ToParent::Active) message goes to the
//! parent, which re-arms the timeout.
//!
//! [`MIN_PROGRESS`] is about one pkt-line: like upstream gotd, which re-arms
//! its timer per protocol message, a client that trickles a byte now and
//! then without completing messages within the timeout is dropped, while
//! any real exchange keeps its connection.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use gotd_wire::ipc::Channel;

use crate::msg::{ToParent, Traffic};

/// Least time between two activity messages.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Bytes that must move between two activity messages.
pub const MIN_PROGRESS: usize = 64;

/// Sends rate-limited activity messages on the IPC socket.
#[derive(Debug)]
pub struct Tracker {
    ch: Channel,
    last: Option<Instant>,
    /// Bytes moved since the last report.
    pending: usize,
    /// Bytes moved in total.
    traffic: Traffic,
}

impl Tracker {
    /// Takes over the IPC channel for the duration of the exchange.
    pub fn new(ch: Channel) -> Rc<RefCell<Tracker>> {
        Rc::new(RefCell::new(Tracker {
            ch,
            last: None,
            pending: 0,
            traffic: Traffic::default(),
        }))
    }

    /// Gives the channel back, with the bytes moved, once the wrappers are
    /// gone.
    pub fn into_channel(tracker: Rc<RefCell<Tracker>>) -> Option<(Channel, Traffic)> {
        Rc::try_unwrap(tracker).ok().map(|t| {
            let t = t.into_inner();
            (t.ch, t.traffic)
        })
    }

    /// Notes that `n` bytes were received from the client.
    pub fn received(&mut self, n: usize) {
        self.traffic.received = self.traffic.received.saturating_add(n as u64);
        self.touch(n);
    }

    /// Notes that `n` bytes were sent to the client.
    pub fn sent(&mut self, n: usize) {
        self.traffic.sent = self.traffic.sent.saturating_add(n as u64);
        self.touch(n);
    }

    /// Tells the parent once enough bytes have moved and it has not heard
    /// for a while.
    fn touch(&mut self, n: usize) {
        self.pending = self.pending.saturating_add(n);
        if self.pending < MIN_PROGRESS {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < INTERVAL) {
            return;
        }
        self.last = Some(now);
        self.pending = 0;
        // The parent gone means we are about to be stopped anyway.
        let _ = self.ch.send(&ToParent::Active(self.traffic), &[]);
    }
}

/// A reader that reports progress.
pub struct TrackedRead<R> {
    pub inner: R,
    pub tracker: Rc<RefCell<Tracker>>,
}

impl<R: Read> Read for TrackedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.tracker.borrow_mut().received(n);
        }
        Ok(n)
    }
}

/// A writer that reports progress.
pub struct TrackedWrite<W> {
    pub inner: W,
    pub tracker: Rc<RefCell<Tracker>>,
}

impl<W: Write> Write for TrackedWrite<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.tracker.borrow_mut().sent(n);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn activity_is_reported_at_most_once_per_interval() {
        let (a, b) = UnixStream::pair().unwrap();
        let t = Tracker::new(Channel::new(a));
        let input = [b'x'; 2 * MIN_PROGRESS];
        let mut r = TrackedRead {
            inner: &input[..],
            tracker: t.clone(),
        };
        let mut w = TrackedWrite {
            inner: Vec::new(),
            tracker: t.clone(),
        };
        let mut buf = [0u8; MIN_PROGRESS / 2];
        r.read_exact(&mut buf).unwrap();
        w.write_all(&buf).unwrap();
        r.read_exact(&mut buf).unwrap();
        drop((r, w));
        let (_, total) = Tracker::into_channel(t).unwrap();
        let half = (MIN_PROGRESS / 2) as u64;
        assert_eq!(
            total,
            Traffic {
                received: 2 * half,
                sent: half
            }
        );
        let mut ch = Channel::new(b);
        // The first report carries the totals at the time it was sent.
        assert_eq!(
            ch.recv::<ToParent>().unwrap(),
            Some(ToParent::Active(Traffic {
                received: half,
                sent: half
            }))
        );
        assert_eq!(ch.recv::<ToParent>().unwrap(), None);
    }

    #[test]
    fn a_trickle_below_min_progress_is_not_activity() {
        let (a, b) = UnixStream::pair().unwrap();
        let t = Tracker::new(Channel::new(a));
        let input = [b'x'; MIN_PROGRESS - 1];
        let mut r = TrackedRead {
            inner: &input[..],
            tracker: t.clone(),
        };
        let mut byte = [0u8; 1];
        for _ in 0..input.len() {
            r.read_exact(&mut byte).unwrap();
        }
        drop(r);
        assert!(Tracker::into_channel(t).is_some());
        let mut ch = Channel::new(b);
        assert_eq!(ch.recv::<ToParent>().unwrap(), None);
    }
}
