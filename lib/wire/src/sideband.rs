//! Side-band multiplexing (`side-band`, `side-band-64k`).
//!
//! Band 1 carries pack data, band 2 progress text, band 3 a fatal error.
//! Each packet holds one band byte plus at most 65515 data bytes for
//! `side-band-64k` (999 for the old `side-band`), so the packet never exceeds
//! git's 65520-byte limit.

use std::io::{self, Write};

use crate::pkt;

/// Maximum data bytes per packet with `side-band-64k`.
pub const MAX_DATA_64K: usize = pkt::MAX_PAYLOAD - 1;
/// Maximum data bytes per packet with the old `side-band`.
pub const MAX_DATA_SMALL: usize = 1000 - 4 - 1;

/// A side-band channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Band {
    Data = 1,
    Progress = 2,
    Error = 3,
}

/// Writes one packet on `band`; `data` must fit in one packet.
pub fn write_band(w: &mut impl Write, band: Band, data: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(data.len() + 1);
    buf.push(band as u8);
    buf.extend_from_slice(data);
    pkt::write_data(w, &buf)
}

/// An `io::Write` that frames everything written to it as packets on one
/// band, splitting at `max` data bytes.
pub struct SidebandWriter<W: Write> {
    inner: W,
    band: Band,
    max: usize,
}

impl<W: Write> SidebandWriter<W> {
    /// A writer for `side-band-64k` on `band`.
    pub fn new(inner: W, band: Band) -> Self {
        Self::with_max(inner, band, MAX_DATA_64K)
    }

    /// A writer with an explicit per-packet data limit (1..=65515).
    pub fn with_max(inner: W, band: Band, max: usize) -> Self {
        assert!(max > 0 && max <= MAX_DATA_64K);
        SidebandWriter { inner, band, max }
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for SidebandWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(self.max);
        write_band(&mut self.inner, self.band, &buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkt::{Packet, PktReader};

    #[test]
    fn splits_at_limit() {
        let data = vec![7u8; MAX_DATA_64K * 2 + 10];
        let mut out = Vec::new();
        SidebandWriter::new(&mut out, Band::Data)
            .write_all(&data)
            .unwrap();
        let mut r = PktReader::new(&out[..]);
        let mut sizes = Vec::new();
        while let Some(Packet::Data(d)) = r.read_packet().unwrap() {
            assert_eq!(d[0], 1);
            assert!(d.len() + 4 <= pkt::MAX_PKT_LEN);
            sizes.push(d.len() - 1);
        }
        assert_eq!(sizes, vec![MAX_DATA_64K, MAX_DATA_64K, 10]);
    }
}
