//! The client's side of the pack stream: band 1 pack data in packets as
//! large as the negotiated side-band allows, band 2 progress lines, band 3
//! the fatal error — or raw pack bytes when no side-band was negotiated.

use std::io::{self, Write};

use gotd_wire::sideband::{self, Band};

use crate::request::Sideband;

/// Frames pack bytes for the client. Buffers up to one packet, built in
/// place (length, band, data) and written with one call.
pub(crate) struct PackSink<'a> {
    out: &'a mut dyn Write,
    mode: Sideband,
    progress: bool,
    /// The packet being filled: `prefix` bytes of header, then data.
    buf: Vec<u8>,
    prefix: usize,
    max: usize,
    /// Pack bytes handed to the client so far.
    pub written: u64,
}

impl<'a> PackSink<'a> {
    pub fn new(out: &'a mut dyn Write, mode: Sideband, progress: bool) -> Self {
        let max = match mode {
            Sideband::Large => sideband::MAX_DATA_64K,
            Sideband::Small => sideband::MAX_DATA_SMALL,
            Sideband::None => 64 * 1024,
        };
        // pkt-line length (4 hex digits, filled in when sent) and band.
        let framed = [b'0', b'0', b'0', b'0', Band::Data as u8];
        let header: &[u8] = match mode {
            Sideband::None => &[],
            _ => &framed,
        };
        let mut buf = Vec::with_capacity(header.len() + max);
        buf.extend_from_slice(header);
        PackSink {
            out,
            mode,
            progress: progress && mode != Sideband::None,
            buf,
            prefix: header.len(),
            max,
            written: 0,
        }
    }

    /// Sends a progress line (ending in `\n` or `\r`) unless progress is off.
    pub fn progress(&mut self, text: &str) -> io::Result<()> {
        if !self.progress {
            return Ok(());
        }
        self.emit_pending()?;
        for chunk in text.as_bytes().chunks(self.max) {
            sideband::write_band(&mut self.out, Band::Progress, chunk)?;
        }
        self.out.flush()
    }

    /// Sends `msg` on band 3 if a side-band was negotiated; returns whether
    /// the client was told.
    pub fn error(&mut self, msg: &str) -> bool {
        if self.mode == Sideband::None {
            return false;
        }
        let _ = self.emit_pending();
        let _ = sideband::write_band(&mut self.out, Band::Error, msg.as_bytes());
        let _ = self.out.flush();
        true
    }

    /// Ends the pack stream: pending data, then a flush packet when framed.
    pub fn finish(&mut self) -> io::Result<()> {
        self.emit_pending()?;
        if self.mode != Sideband::None {
            gotd_wire::pkt::write_flush(&mut self.out)?;
        }
        self.out.flush()
    }

    fn emit_pending(&mut self) -> io::Result<()> {
        if self.buf.len() > self.prefix {
            self.emit()?;
        }
        Ok(())
    }

    /// Sends the buffered data as one packet.
    fn emit(&mut self) -> io::Result<()> {
        let n = self.buf.len() - self.prefix;
        if self.prefix > 0 {
            let len = format!("{:04x}", self.buf.len());
            self.buf[..4].copy_from_slice(len.as_bytes());
        }
        self.out.write_all(&self.buf)?;
        self.buf.truncate(self.prefix);
        self.written += n as u64;
        Ok(())
    }
}

impl Write for PackSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.prefix + self.max - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.prefix + self.max {
            self.emit()?;
        }
        Ok(n)
    }

    /// Pack data stays buffered until a packet is full or the pack ends;
    /// only the underlying writer is flushed.
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotd_wire::pkt::{Packet, PktReader};

    fn packets(out: &[u8]) -> Vec<(u8, usize)> {
        let mut r = PktReader::new(out);
        let mut v = Vec::new();
        while let Some(p) = r.read_packet().unwrap() {
            match p {
                Packet::Data(d) => v.push((d[0], d.len() - 1)),
                _ => v.push((0, 0)),
            }
        }
        v
    }

    #[test]
    fn large_sideband_packets_are_full_and_end_with_flush() {
        let mut out = Vec::new();
        let mut s = PackSink::new(&mut out, Sideband::Large, true);
        s.progress("Enumerating objects: 3, done.\n").unwrap();
        s.write_all(&vec![1u8; 70_000]).unwrap();
        s.write_all(&vec![2u8; 70_000]).unwrap();
        s.finish().unwrap();
        assert_eq!(s.written, 140_000);
        let p = packets(&out);
        assert_eq!(p, vec![(2, 30), (1, 65515), (1, 65515), (1, 8970), (0, 0)]);
    }

    /// Counts the calls made to write.
    struct Calls(Vec<usize>);

    impl Write for Calls {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.push(data.len());
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_data_packet_is_one_write() {
        let mut out = Calls(Vec::new());
        let mut s = PackSink::new(&mut out, Sideband::Large, false);
        s.write_all(&vec![1u8; 140_000]).unwrap();
        s.finish().unwrap();
        assert_eq!(out.0, vec![65520, 65520, 8975, 4]);
    }

    #[test]
    fn small_sideband_and_no_progress() {
        let mut out = Vec::new();
        let mut s = PackSink::new(&mut out, Sideband::Small, false);
        s.progress("hidden\n").unwrap();
        s.write_all(&[7u8; 1000]).unwrap();
        s.finish().unwrap();
        assert_eq!(packets(&out), vec![(1, 995), (1, 5), (0, 0)]);
    }

    #[test]
    fn raw_without_sideband() {
        let mut out = Vec::new();
        let mut s = PackSink::new(&mut out, Sideband::None, true);
        s.progress("hidden\n").unwrap();
        s.write_all(b"PACK").unwrap();
        assert!(!s.error("boom"));
        s.finish().unwrap();
        assert_eq!(out, b"PACK");
    }
}
