//! pkt-line framing (gitprotocol-common(5)).
//!
//! A packet is four hex digits giving the total length (header included)
//! followed by the payload. `0000` is a flush packet; protocol v2 adds
//! `0001` (delimiter) and `0002` (response end). The reader is strict and
//! reports malformed input with the texts upstream gotd uses, because those
//! texts reach git clients verbatim as `ERR` packets.

use std::io::{self, Read, Write};

/// Largest total packet length git accepts (`LARGE_PACKET_MAX`).
pub const MAX_PKT_LEN: usize = 65520;
/// Largest payload of a packet we write.
pub const MAX_PAYLOAD: usize = MAX_PKT_LEN - 4;

/// Errors while reading packets; `Display` is the client-visible text.
#[derive(Debug, thiserror::Error)]
pub enum PktError {
    #[error("packet too short")]
    TooShort,
    #[error("packet length has invalid format")]
    BadLength,
    #[error("unexpected end of file")]
    Eof,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One packet as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0000`
    Flush,
    /// `0001` (protocol v2 only)
    Delim,
    /// `0002` (protocol v2 only)
    ResponseEnd,
    /// A data packet's payload, exactly as sent (trailing newline kept).
    Data(Vec<u8>),
}

impl Packet {
    /// The payload with one trailing `\n` removed, for text lines.
    pub fn text(&self) -> Option<&[u8]> {
        match self {
            Packet::Data(d) => Some(d.strip_suffix(b"\n").unwrap_or(d)),
            _ => None,
        }
    }
}

/// Reads packets from a byte stream.
///
/// The reader never reads past the end of the current packet, so after the
/// last packet of a push command list the underlying reader is positioned
/// at the first byte of the pack.
pub struct PktReader<R> {
    inner: R,
    v2_specials: bool,
}

impl<R: Read> PktReader<R> {
    /// A reader for protocol v0/v1: lengths 1–4 are `packet too short`.
    pub fn new(inner: R) -> Self {
        PktReader {
            inner,
            v2_specials: false,
        }
    }

    /// A reader for protocol v2: `0001` and `0002` are delimiter and
    /// response-end packets.
    pub fn new_v2(inner: R) -> Self {
        PktReader {
            inner,
            v2_specials: true,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads the next packet. `Ok(None)` means the stream ended cleanly
    /// before the first byte of a packet; an end of stream inside a packet
    /// is [`PktError::Eof`].
    pub fn read_packet(&mut self) -> Result<Option<Packet>, PktError> {
        let mut hdr = [0u8; 4];
        let got = read_full(&mut self.inner, &mut hdr)?;
        if got == 0 {
            return Ok(None);
        }
        if got < 4 {
            return Err(PktError::Eof);
        }
        let len = parse_len(&hdr)?;
        match len {
            0 => return Ok(Some(Packet::Flush)),
            1 if self.v2_specials => return Ok(Some(Packet::Delim)),
            2 if self.v2_specials => return Ok(Some(Packet::ResponseEnd)),
            1..=4 => return Err(PktError::TooShort),
            _ => {}
        }
        let mut data = vec![0u8; len - 4];
        if read_full(&mut self.inner, &mut data)? < data.len() {
            return Err(PktError::Eof);
        }
        Ok(Some(Packet::Data(data)))
    }

    /// Like [`read_packet`](Self::read_packet) but a clean end of stream is
    /// also `unexpected end of file`.
    pub fn expect_packet(&mut self) -> Result<Packet, PktError> {
        self.read_packet()?.ok_or(PktError::Eof)
    }
}

fn parse_len(hdr: &[u8; 4]) -> Result<usize, PktError> {
    let mut n = 0usize;
    for &b in hdr {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(PktError::BadLength),
        };
        n = n * 16 + d as usize;
    }
    Ok(n)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read
/// (fewer than `buf.len()` only at the end of the stream).
pub fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut off = 0;
    while off < buf.len() {
        match r.read(&mut buf[off..]) {
            Ok(0) => break,
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(off)
}

/// Writes one data packet. Payloads longer than [`MAX_PAYLOAD`] are an error.
pub fn write_data(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    if payload.len() > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pkt-line payload too large",
        ));
    }
    let hdr = format!("{:04x}", payload.len() + 4);
    w.write_all(hdr.as_bytes())?;
    w.write_all(payload)
}

/// Writes a text packet: `line` followed by `\n`.
pub fn write_line(w: &mut impl Write, line: &str) -> io::Result<()> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    write_data(w, &buf)
}

/// Writes a flush packet (`0000`).
pub fn write_flush(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0000")
}

/// Writes a delimiter packet (`0001`, protocol v2).
pub fn write_delim(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0001")
}

/// Writes `ERR <msg>` with no trailing newline, as upstream gotd does.
pub fn write_err(w: &mut impl Write, msg: &str) -> io::Result<()> {
    let mut buf = Vec::with_capacity(msg.len() + 4);
    buf.extend_from_slice(b"ERR ");
    buf.extend_from_slice(msg.as_bytes());
    buf.truncate(MAX_PAYLOAD);
    write_data(w, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn read_all(input: &[u8], v2: bool) -> Vec<Result<Option<Packet>, String>> {
        let mut r = if v2 {
            PktReader::new_v2(input)
        } else {
            PktReader::new(input)
        };
        let mut out = Vec::new();
        loop {
            let p = r.read_packet().map_err(|e| e.to_string());
            let stop = !matches!(p, Ok(Some(_)));
            out.push(p);
            if stop {
                return out;
            }
        }
    }

    #[rstest]
    #[case(b"0000", "packet too short", false)]
    #[case(b"0004", "packet too short", true)]
    #[case(b"0002want", "packet too short", true)]
    #[case(b"0001", "packet too short", true)]
    #[case(b"ffffwant", "unexpected end of file", true)]
    #[case(b"00", "unexpected end of file", true)]
    #[case(b"zzzz", "packet length has invalid format", true)]
    #[case(b"0009ab", "unexpected end of file", true)]
    fn malformed(#[case] input: &[u8], #[case] msg: &str, #[case] is_error: bool) {
        let got = read_all(input, false);
        let last = got.last().unwrap();
        if is_error {
            assert_eq!(last.as_ref().unwrap_err(), msg);
        } else {
            assert_eq!(got[0], Ok(Some(Packet::Flush)));
        }
    }

    #[test]
    fn reads_lines_and_specials() {
        let got = read_all(b"0009want\n00000001000200", true);
        assert_eq!(got[0], Ok(Some(Packet::Data(b"want\n".to_vec()))));
        assert_eq!(got[1], Ok(Some(Packet::Flush)));
        assert_eq!(got[2], Ok(Some(Packet::Delim)));
        assert_eq!(got[3], Ok(Some(Packet::ResponseEnd)));
        assert_eq!(got[4], Err("unexpected end of file".into()));
    }

    #[test]
    fn clean_eof_is_none() {
        assert_eq!(
            read_all(b"0000", false),
            vec![Ok(Some(Packet::Flush)), Ok(None)]
        );
    }

    #[test]
    fn reader_stops_at_packet_end() {
        let input = b"0008abcd0000PACKrest";
        let mut r = PktReader::new(&input[..]);
        r.read_packet().unwrap();
        r.read_packet().unwrap();
        let mut rest = Vec::new();
        r.into_inner().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"PACKrest");
    }

    #[test]
    fn writes() {
        let mut out = Vec::new();
        write_line(&mut out, "NAK").unwrap();
        write_err(&mut out, "no git repository found").unwrap();
        write_flush(&mut out).unwrap();
        assert_eq!(out, b"0008NAK\n001fERR no git repository found0000");
        assert!(write_data(&mut out, &vec![0; MAX_PAYLOAD + 1]).is_err());
    }
}
