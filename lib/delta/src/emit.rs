//! Writes delta instructions into a buffer bounded by a maximum size.
//!
//! Inserts are split into runs of at most 127 literal bytes and copies into
//! pieces of at most [`MAX_COPY`] bytes; offset and size bytes that are zero
//! are left out, as the format allows.

use crate::varint;

/// Largest number of bytes one copy instruction moves.
///
/// The format can express up to 0xffffff, but 0x10000 is what git's own
/// encoder emits, so every decoder in the wild accepts it; the cost is at most
/// eight bytes per 64 KiB copied.
pub(crate) const MAX_COPY: usize = 0x10000;

/// Largest number of literal bytes one insert instruction carries.
pub(crate) const MAX_INSERT: usize = 0x7f;

/// The size limit was exceeded; the delta is abandoned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// Builds a delta instruction stream.
pub(crate) struct Emitter {
    out: Vec<u8>,
    max: usize,
}

impl Emitter {
    /// Starts a delta with its header; fails if the header alone exceeds `max`.
    pub(crate) fn new(
        source_size: usize,
        target_size: usize,
        max: usize,
    ) -> Result<Self, TooLarge> {
        let mut out = Vec::with_capacity(max.min(target_size / 4 + 64).min(1 << 20));
        varint::write(&mut out, source_size as u64);
        varint::write(&mut out, target_size as u64);
        let emitter = Emitter { out, max };
        emitter.check()?;
        Ok(emitter)
    }

    fn check(&self) -> Result<(), TooLarge> {
        if self.out.len() > self.max {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    /// Emits `literal` as insert instructions.
    pub(crate) fn insert(&mut self, literal: &[u8]) -> Result<(), TooLarge> {
        let needed = literal.len() + literal.len().div_ceil(MAX_INSERT);
        if self.out.len() + needed > self.max {
            return Err(TooLarge);
        }
        for chunk in literal.chunks(MAX_INSERT) {
            self.out.push(chunk.len() as u8);
            self.out.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// Emits copy instructions for `len` base bytes starting at `offset`.
    ///
    /// `offset + len` must fit in 32 bits (the index guarantees it).
    pub(crate) fn copy(&mut self, mut offset: usize, mut len: usize) -> Result<(), TooLarge> {
        while len > 0 {
            let piece = len.min(MAX_COPY);
            self.copy_one(offset as u32, piece as u32);
            self.check()?;
            offset += piece;
            len -= piece;
        }
        Ok(())
    }

    fn copy_one(&mut self, offset: u32, size: u32) {
        let at = self.out.len();
        self.out.push(0x80);
        let mut op = 0x80u8;
        for (i, byte) in offset.to_le_bytes().into_iter().enumerate() {
            if byte != 0 {
                op |= 1 << i;
                self.out.push(byte);
            }
        }
        // A size of 0x10000 could also be written as no size bytes at all;
        // writing the third byte keeps the encoding unambiguous for readers.
        for (i, byte) in size.to_le_bytes().into_iter().take(3).enumerate() {
            if byte != 0 {
                op |= 0x10 << i;
                self.out.push(byte);
            }
        }
        self.out[at] = op;
    }

    /// Returns the finished delta.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn body(f: impl FnOnce(&mut Emitter)) -> Vec<u8> {
        let mut e = Emitter::new(0, 0, usize::MAX).unwrap();
        f(&mut e);
        e.finish()[2..].to_vec()
    }

    #[rstest]
    #[case(0, 1, &[0x90, 0x01])]
    #[case(0x10, 0x20, &[0x91, 0x10, 0x20])]
    #[case(0x01020304, 0x0100, &[0xaf, 0x04, 0x03, 0x02, 0x01, 0x01])]
    #[case(0x100, 0x10000, &[0xc2, 0x01, 0x01])]
    fn copies(#[case] offset: usize, #[case] len: usize, #[case] want: &[u8]) {
        assert_eq!(body(|e| e.copy(offset, len).unwrap()), want);
    }

    #[test]
    fn long_copies_split_at_max_copy() {
        let got = body(|e| e.copy(0, MAX_COPY + 5).unwrap());
        assert_eq!(got, [0xc0, 0x01, 0x94, 0x01, 0x05]);
    }

    #[test]
    fn inserts_split_at_127() {
        let literal = vec![b'a'; 130];
        let got = body(|e| e.insert(&literal).unwrap());
        assert_eq!(got.len(), 132);
        assert_eq!(got[0], 127);
        assert_eq!(got[128], 3);
    }

    #[test]
    fn limit_is_enforced() {
        let mut e = Emitter::new(0, 100, 10).unwrap();
        assert_eq!(e.insert(&[1; 7]), Ok(()));
        assert_eq!(e.insert(&[1; 1]), Err(TooLarge));
        assert!(Emitter::new(1 << 20, 1 << 20, 5).is_err());
    }
}
