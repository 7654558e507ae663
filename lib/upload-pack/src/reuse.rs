//! The full-clone fast path: a stored pack that holds exactly the objects
//! to send is streamed to the client unchanged.
//!
//! When a clone wants everything in a repository that is one pack (as `git
//! gc` leaves it), the stored pack already is the answer: its entries,
//! deltas and trailer are what a freshly generated pack would contain. It
//! is read in large blocks and copied to the side-band framing, so a clone
//! costs little more than disk-to-socket copying, and memory stays at the
//! size of one read buffer instead of growing with the pack.
//!
//! The pack is opened (and checked against its index: header, object count,
//! trailer) before anything is sent, and the open file is what is streamed,
//! so a repack that removes the file meanwhile changes nothing.
//! Entry headers are read on the way through, at the offsets the index
//! lists, only to count the deltas for the client's progress line and to
//! stop at an entry whose type is invalid.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;

use crate::failure::io;
use crate::Fail;

/// Bytes read from the pack at a time.
const BLOCK: usize = 256 * 1024;

/// Size of a pack's header (`PACK`, version, object count).
const HEADER: u64 = 12;

/// Size of a pack's SHA-1 trailer.
const TRAILER: u64 = 20;

/// A stored pack, checked against its index, ready to be streamed.
pub(crate) struct StoredPack {
    file: File,
    len: u64,
    objects: u32,
    /// Entry offsets in ascending order.
    offsets: Vec<u64>,
}

impl std::fmt::Debug for StoredPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPack")
            .field("len", &self.len)
            .field("objects", &self.objects)
            .finish()
    }
}

/// What streaming a stored pack sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Streamed {
    pub objects: usize,
    pub deltas: usize,
}

impl StoredPack {
    /// Opens the pack that `index` describes; `None` if it does not match
    /// its index (a different object count or trailer) or is not a
    /// version 2 pack.
    pub fn open(index: &gix_pack::index::File) -> Option<StoredPack> {
        Self::open_with_offsets(index, index.sorted_offsets())
    }

    /// [`StoredPack::open`] when the entry offsets, in ascending order,
    /// are already known.
    pub fn open_with_offsets(
        index: &gix_pack::index::File,
        offsets: Vec<u64>,
    ) -> Option<StoredPack> {
        let file = File::open(index.path().with_extension("pack")).ok()?;
        let len = file.metadata().ok()?.len();
        let objects = index.num_objects();
        Self::check(
            file,
            len,
            objects,
            index.pack_checksum().as_slice(),
            offsets,
        )
    }

    fn check(
        file: File,
        len: u64,
        objects: u32,
        checksum: &[u8],
        offsets: Vec<u64>,
    ) -> Option<StoredPack> {
        if len < HEADER + TRAILER || offsets.len() != objects as usize {
            return None;
        }
        let mut header = [0u8; HEADER as usize];
        file.read_exact_at(&mut header, 0).ok()?;
        if &header[0..4] != b"PACK"
            || header[4..8] != 2u32.to_be_bytes()
            || header[8..12] != objects.to_be_bytes()
        {
            return None;
        }
        let mut trailer = [0u8; TRAILER as usize];
        file.read_exact_at(&mut trailer, len - TRAILER).ok()?;
        if trailer != checksum {
            return None;
        }
        let in_range = |o: &u64| (HEADER..len - TRAILER).contains(o);
        if !offsets.first().is_none_or(in_range)
            || !offsets.last().is_none_or(in_range)
            || !offsets.is_sorted()
        {
            return None;
        }
        Some(StoredPack {
            file,
            len,
            objects,
            offsets,
        })
    }

    /// How many objects the pack holds.
    pub fn objects(&self) -> usize {
        self.objects as usize
    }

    /// Copies the whole pack to `out`, counting the deltas on the way.
    pub fn stream(mut self, out: &mut dyn Write) -> Result<Streamed, Fail> {
        let mut buf = vec![0u8; BLOCK];
        let mut pos = 0u64;
        let mut next = 0usize;
        let mut deltas = 0usize;
        while pos < self.len {
            let want = (self.len - pos).min(BLOCK as u64) as usize;
            self.file
                .read_exact(&mut buf[..want])
                .map_err(|e| Fail::internal("reading pack", e))?;
            let end = pos + want as u64;
            while let Some(&at) = self.offsets.get(next) {
                if at >= end {
                    break;
                }
                match (buf[(at - pos) as usize] >> 4) & 7 {
                    1..=4 => {}
                    6 | 7 => deltas += 1,
                    _ => {
                        return Err(Fail::new(
                            "pack generation failed: the repository's pack is corrupt",
                        ))
                    }
                }
                next += 1;
            }
            out.write_all(&buf[..want]).map_err(io)?;
            pos = end;
        }
        Ok(Streamed {
            objects: self.objects(),
            deltas,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek as _;

    /// A pack of three entries (a blob, an ofs-delta, a commit) with
    /// made-up data; only headers and the trailer matter here.
    fn pack_bytes() -> (Vec<u8>, Vec<u64>) {
        let mut p = b"PACK".to_vec();
        p.extend_from_slice(&2u32.to_be_bytes());
        p.extend_from_slice(&3u32.to_be_bytes());
        let mut offsets = Vec::new();
        for (kind, body) in [(3u8, 300usize), (6, 70_000), (1, 5)] {
            offsets.push(p.len() as u64);
            p.push(kind << 4 | 1);
            p.extend(std::iter::repeat_n(0xab, body));
        }
        p.extend_from_slice(&[7u8; 20]);
        (p, offsets)
    }

    fn stored(bytes: &[u8], offsets: Vec<u64>, checksum: &[u8]) -> Option<StoredPack> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.rewind().unwrap();
        StoredPack::check(f, bytes.len() as u64, 3, checksum, offsets)
    }

    #[test]
    fn streams_the_file_unchanged_and_counts_deltas() {
        let (bytes, offsets) = pack_bytes();
        let pack = stored(&bytes, offsets, &[7u8; 20]).expect("matching pack");
        let mut out = Vec::new();
        let s = pack.stream(&mut out).unwrap();
        assert_eq!(out, bytes);
        assert_eq!(
            s,
            Streamed {
                objects: 3,
                deltas: 1
            }
        );
    }

    #[test]
    fn refuses_a_pack_that_does_not_match_its_index() {
        let (bytes, offsets) = pack_bytes();
        assert!(
            stored(&bytes, offsets.clone(), &[8u8; 20]).is_none(),
            "trailer"
        );
        assert!(
            stored(&bytes, offsets[..2].to_vec(), &[7u8; 20]).is_none(),
            "count"
        );
        let mut v3 = bytes.clone();
        v3[7] = 3;
        assert!(
            stored(&v3, offsets.clone(), &[7u8; 20]).is_none(),
            "version"
        );
        assert!(stored(&bytes[..30], offsets, &[7u8; 20]).is_none(), "short");
    }

    #[test]
    fn an_invalid_entry_type_aborts() {
        let (mut bytes, offsets) = pack_bytes();
        bytes[offsets[2] as usize] = 5 << 4;
        let pack = stored(&bytes, offsets, &[7u8; 20]).unwrap();
        let err = pack.stream(&mut Vec::new()).unwrap_err();
        assert!(err.msg.contains("corrupt"), "{}", err.msg);
    }
}
