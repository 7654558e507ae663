//! Greedy delta encoding against an indexed base.
//!
//! The target is scanned left to right. At each position the [`BLOCK`]-byte
//! window is looked up in the base's [`BlockTable`]; every candidate whose
//! block really equals the window is extended forwards byte by byte as far as
//! base and target agree, and backwards into the literal bytes not yet
//! emitted. The longest such match becomes a copy and scanning resumes after
//! it; positions without a match become literal bytes. Each target byte is
//! hashed at most once and the number of candidates examined per position is
//! bounded, so encoding is linear in the size of the target (plus the length
//! of the matches found).

use crate::emit::{Emitter, TooLarge};
use crate::table::{window, BlockTable, BLOCK};

/// Candidates examined per target position; a bucket holding more (a block
/// repeated all over the base) is sampled evenly.
const MAX_PROBES: usize = 64;

/// A match at least this long ends the search for a longer one.
const GOOD_ENOUGH: usize = 4096;

/// How far back a match may extend into pending literal bytes. Literal bytes
/// further back are final, which lets the size limit be enforced early.
const MAX_BACKWARD: usize = 256;

/// Index of a base, built once and used to encode any number of targets
/// against it.
///
/// ```
/// let base = b"fn main() {\n    println!(\"hello\");\n}\n".repeat(20);
/// let mut target = base.clone();
/// target.extend_from_slice(b"// one more line\n");
/// let index = gotd_delta::DeltaIndex::new(&base);
/// let delta = index.encode(&target, target.len() / 2).expect("small delta");
/// assert_eq!(gotd_delta::apply(&base, &delta).unwrap(), target);
/// ```
#[derive(Debug, Clone)]
pub struct DeltaIndex<'a> {
    base: &'a [u8],
    table: BlockTable,
}

impl<'a> DeltaIndex<'a> {
    /// Indexes `base`. Costs a few passes over it and 0.55 to 0.9 times its
    /// size in memory (see [`DeltaIndex::heap_size`]).
    pub fn new(base: &'a [u8]) -> Self {
        DeltaIndex {
            base,
            table: BlockTable::new(base),
        }
    }

    /// The indexed base.
    pub fn base(&self) -> &'a [u8] {
        self.base
    }

    /// Heap bytes used by the index (not counting the base itself).
    pub fn heap_size(&self) -> usize {
        self.table.heap_size()
    }

    /// Encodes `target` as a delta against the base.
    ///
    /// Returns `None` as soon as the delta would be longer than
    /// `max_delta_size` bytes (header included), so hopeless pairs are
    /// abandoned early. Callers usually pass a fraction of `target.len()`.
    pub fn encode(&self, target: &[u8], max_delta_size: usize) -> Option<Vec<u8>> {
        encode_with(&self.table, self.base, target, max_delta_size)
    }
}

/// Encodes `target` as a delta against `base` with no size limit.
///
/// Convenience for one-off pairs; build a [`DeltaIndex`] to try one base
/// against several targets. Never panics: without a limit a delta is always
/// produced.
pub fn encode(base: &[u8], target: &[u8]) -> Vec<u8> {
    DeltaIndex::new(base)
        .encode(target, usize::MAX)
        .expect("a delta without size limit is always produced")
}

/// One match: `len` bytes of target at the scan position equal base bytes at
/// `offset`, and `back` bytes before both positions agree as well.
#[derive(Debug, Clone, Copy)]
struct Match {
    offset: usize,
    back: usize,
    len: usize,
}

/// The encoding loop, shared by [`DeltaIndex`] and the pack planner (which
/// keeps tables beside owned bases).
pub(crate) fn encode_with(
    table: &BlockTable,
    base: &[u8],
    target: &[u8],
    max: usize,
) -> Option<Vec<u8>> {
    encode_inner(table, base, target, max).ok()
}

fn encode_inner(
    table: &BlockTable,
    base: &[u8],
    target: &[u8],
    max: usize,
) -> Result<Vec<u8>, TooLarge> {
    // Copy offsets are 32-bit: only the first 4 GiB of a base can be copied.
    let base_full = base;
    let base = &base[..base.len().min(u32::MAX as usize)];
    let mut out = Emitter::new(base_full.len(), target.len(), max)?;
    let mut pending = 0;
    let mut pos = 0;
    if !table.is_empty() {
        while let Some(w) = window(target, pos) {
            match best_match(table, base, target, pos, pending, w) {
                Some(m) => {
                    out.insert(&target[pending..pos - m.back])?;
                    out.copy(m.offset - m.back, m.back + m.len)?;
                    pos += m.len;
                    pending = pos;
                }
                None => {
                    pos += 1;
                    // Literal bytes out of backward reach are final: emit
                    // them now so the size limit cuts hopeless pairs short.
                    if pos - pending > MAX_BACKWARD + 4 * crate::emit::MAX_INSERT {
                        let keep = pos - MAX_BACKWARD;
                        let keep = keep - (keep - pending) % crate::emit::MAX_INSERT;
                        out.insert(&target[pending..keep])?;
                        pending = keep;
                    }
                }
            }
        }
    }
    out.insert(&target[pending..])?;
    Ok(out.finish())
}

/// Finds the longest match for the window `w` at target position `pos`.
#[inline]
fn best_match(
    table: &BlockTable,
    base: &[u8],
    target: &[u8],
    pos: usize,
    pending: usize,
    w: u128,
) -> Option<Match> {
    let mut best: Option<Match> = None;
    for offset in table.candidates(w, MAX_PROBES) {
        if window(base, offset) != Some(w) {
            continue;
        }
        let len = BLOCK + common_prefix(&base[offset + BLOCK..], &target[pos + BLOCK..]);
        let reach = (pos - pending).min(offset).min(MAX_BACKWARD);
        let back = common_suffix(&base[offset - reach..offset], &target[pos - reach..pos]);
        if best.is_none_or(|b| back + len > b.back + b.len) {
            best = Some(Match { offset, back, len });
        }
        if len >= GOOD_ENOUGH || pos + len == target.len() {
            break;
        }
    }
    best
}

/// Number of leading bytes `a` and `b` have in common.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        let diff = x ^ y;
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..]
        .iter()
        .zip(&b[i..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Number of trailing bytes `a` and `b` have in common.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply;
    use rstest::rstest;

    #[rstest]
    #[case(b"", b"", 0)]
    #[case(b"abc", b"abd", 2)]
    #[case(b"0123456789abcdefXYZ", b"0123456789abcdefXYz", 18)]
    #[case(b"0123456789abcdef", b"0123456789abcdef0", 16)]
    #[case(b"x", b"y", 0)]
    fn prefixes(#[case] a: &[u8], #[case] b: &[u8], #[case] want: usize) {
        assert_eq!(common_prefix(a, b), want);
        assert_eq!(common_prefix(b, a), want);
    }

    #[rstest]
    #[case(b"", b"", 0)]
    #[case(b"xbc", b"ybc", 2)]
    #[case(b"abc", b"bc", 2)]
    fn suffixes(#[case] a: &[u8], #[case] b: &[u8], #[case] want: usize) {
        assert_eq!(common_suffix(a, b), want);
    }

    #[test]
    fn identical_input_is_one_copy() {
        let base: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let delta = encode(&base, &base);
        assert_eq!(delta, [0xe8, 0x07, 0xe8, 0x07, 0xb0, 0xe8, 0x03]);
        assert_eq!(apply(&base, &delta).unwrap(), base);
    }

    #[test]
    fn match_extends_backwards_into_literals() {
        // The changed byte sits right after a block boundary; the bytes
        // between it and the next indexed block are recovered backwards.
        let base: Vec<u8> = (0..64u32).map(|i| (i * 37 % 256) as u8).collect();
        let mut target = base.clone();
        target[17] ^= 0xff;
        let delta = encode(&base, &target);
        assert_eq!(apply(&base, &delta).unwrap(), target);
        // header 2 + copy 17 (2) + insert 1 (2) + copy 46 (3)
        assert_eq!(delta.len(), 9, "{delta:x?}");
    }

    #[test]
    fn limit_abandons_unrelated_targets() {
        let base = vec![0u8; 4096];
        let target: Vec<u8> = (0..4096u32).map(|i| ((i * 7919) >> 3) as u8).collect();
        let index = DeltaIndex::new(&base);
        assert!(index.encode(&target, 2048).is_none());
        let delta = index.encode(&target, usize::MAX).unwrap();
        assert_eq!(apply(&base, &delta).unwrap(), target);
    }

    #[test]
    fn limit_counts_the_header() {
        let index = DeltaIndex::new(b"");
        assert_eq!(index.encode(b"", 2).as_deref(), Some(&[0, 0][..]));
        assert_eq!(index.encode(b"", 1), None);
        assert_eq!(
            index.encode(b"abc", 6).as_deref(),
            Some(&[0, 3, 3, b'a', b'b', b'c'][..])
        );
        assert_eq!(index.encode(b"abc", 5), None);
    }
}
