//! Hash table of the fixed-size blocks of a base object.
//!
//! The base is cut into consecutive, non-overlapping [`BLOCK`]-byte blocks;
//! each block is hashed and its offset filed under that hash. The encoder then
//! hashes the [`BLOCK`]-byte window at every position of the target and looks
//! the window up here: a block of the base that reappears anywhere in the
//! target, at any alignment, is found in constant time.
//!
//! A window of 16 bytes fits in one `u128`, so each position is hashed
//! directly from one load instead of with a rolling polynomial.
//!
//! Storage is compressed-row: `starts[b]..starts[b + 1]` indexes the entries
//! of bucket `b` in `entries`, in increasing base order. Block offsets are
//! multiples of 16, so each entry keeps four more bits of the block's hash in
//! its low bits: most blocks that merely share a bucket with the window are
//! skipped without reading the base, which matters once the base no longer
//! fits in the cache. Four bytes per block of base, four per bucket (one to
//! two buckets per block) and one bitmap byte per bucket.

/// Size of an indexed block and of the window hashed at each target position.
pub const BLOCK: usize = 16;

/// Hash table of the blocks of one base.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockTable {
    /// `64 - log2(number of buckets)`.
    shift: u32,
    /// Bucket `b` holds `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    /// Base offset of each block ORed with its [`tag`], grouped by bucket.
    entries: Vec<u32>,
    /// One bit per eighth of a bucket, set where a block hashes: at most
    /// one bit in eight is set, so most windows absent from the base are
    /// rejected by one well-predicted test on a small bitmap.
    filter: Vec<u64>,
}

/// Low bits of an entry holding the tag; the rest is the block offset.
const TAG_MASK: u32 = BLOCK as u32 - 1;

/// Four hash bits (below any bucket bits) kept in each entry.
#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 24) as u32 & TAG_MASK
}

/// Reads the window starting at `pos`, if `BLOCK` bytes remain.
#[inline]
pub(crate) fn window(data: &[u8], pos: usize) -> Option<u128> {
    data.get(pos..)?
        .first_chunk::<BLOCK>()
        .map(|bytes| u128::from_le_bytes(*bytes))
}

/// Mixes a window into 64 well-distributed bits; buckets take the top bits.
#[inline]
fn mix(window: u128) -> u64 {
    let lo = window as u64;
    let hi = (window >> 64) as u64;
    let mut x = lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    x ^= x >> 32;
    x.wrapping_mul(0xd6e8_feb8_6659_fd93)
}

impl BlockTable {
    /// Indexes the blocks of `base` (only the first 4 GiB: copy offsets are
    /// 32-bit).
    pub(crate) fn new(base: &[u8]) -> Self {
        let indexed = &base[..base.len().min(u32::MAX as usize)];
        let blocks = indexed.len() / BLOCK;
        if blocks == 0 {
            return BlockTable::default();
        }
        let buckets = blocks.next_power_of_two().max(16);
        let shift = 64 - buckets.trailing_zeros();
        // Hashed twice (count, then fill) rather than kept: a hash per block
        // would double the memory the build needs.
        let hashes = || {
            indexed
                .chunks_exact(BLOCK)
                .map(|block| mix(window(block, 0).unwrap_or_default()))
        };
        let mut starts = vec![0u32; buckets + 1];
        for h in hashes() {
            starts[(h >> shift) as usize + 1] += 1;
        }
        for b in 0..buckets {
            starts[b + 1] += starts[b];
        }
        // Fill each bucket in increasing offset order.
        let mut cursor: Vec<u32> = starts[..buckets].to_vec();
        let mut entries = vec![0u32; blocks];
        for (block, h) in hashes().enumerate() {
            let slot = &mut cursor[(h >> shift) as usize];
            entries[*slot as usize] = (block * BLOCK) as u32 | tag(h);
            *slot += 1;
        }
        let mut filter = vec![0u64; (buckets * 8).div_ceil(64)];
        for h in hashes() {
            let bit = (h >> (shift - 3)) as usize;
            filter[bit / 64] |= 1 << (bit % 64);
        }
        BlockTable {
            shift,
            starts,
            entries,
            filter,
        }
    }

    /// Whether the base had no complete block.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Offsets of base blocks whose hash equals the hash of `window` (a
    /// superset of the blocks equal to it), in increasing order. A bucket
    /// with more than `max` entries (a block repeated all over the base) is
    /// sampled evenly down to at most `max`.
    #[inline]
    pub(crate) fn candidates(&self, window: u128, max: usize) -> impl Iterator<Item = usize> + '_ {
        let h = mix(window);
        let entries: &[u32] = if self.is_empty() || !self.may_hold(h) {
            &[]
        } else {
            let b = (h >> self.shift) as usize;
            &self.entries[self.starts[b] as usize..self.starts[b + 1] as usize]
        };
        let step = if entries.len() > max {
            entries.len().div_ceil(max)
        } else {
            1
        };
        let tag = tag(h);
        entries
            .iter()
            .step_by(step)
            .filter(move |&&e| e & TAG_MASK == tag)
            .map(|&e| (e & !TAG_MASK) as usize)
    }

    /// Whether a block with hash `h` may be in the table (`false`: surely
    /// not).
    #[inline]
    fn may_hold(&self, h: u64) -> bool {
        let bit = (h >> (self.shift - 3)) as usize;
        self.filter[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Heap bytes used by the table.
    pub(crate) fn heap_size(&self) -> usize {
        (self.starts.capacity() + self.entries.capacity()) * std::mem::size_of::<u32>()
            + self.filter.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_is_found_at_its_offset() {
        let base: Vec<u8> = (0..4096u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let table = BlockTable::new(&base);
        for block in 0..base.len() / BLOCK {
            let off = block * BLOCK;
            let w = window(&base, off).unwrap();
            assert!(
                table.candidates(w, usize::MAX).any(|c| c == off),
                "block {block}"
            );
        }
    }

    #[test]
    fn partial_tail_and_tiny_bases_are_not_indexed() {
        assert!(BlockTable::new(b"").is_empty());
        assert!(BlockTable::new(&[1; BLOCK - 1]).is_empty());
        let table = BlockTable::new(&[1; BLOCK + 5]);
        let found: Vec<usize> = table
            .candidates(u128::from_le_bytes([1; BLOCK]), 64)
            .collect();
        assert_eq!(found, [0]);
    }

    #[test]
    fn repeated_blocks_share_a_bucket_in_offset_order() {
        let table = BlockTable::new(&[0; BLOCK * 4]);
        let found: Vec<usize> = table.candidates(0, 64).collect();
        assert_eq!(found, [0, 16, 32, 48]);
    }

    #[test]
    fn large_buckets_are_sampled_evenly() {
        let table = BlockTable::new(&[0; BLOCK * 100]);
        let found: Vec<usize> = table.candidates(0, 10).collect();
        assert_eq!(
            found,
            (0..100).step_by(10).map(|b| b * BLOCK).collect::<Vec<_>>()
        );
    }

    #[test]
    fn tags_filter_most_blocks_sharing_a_bucket() {
        // A table with a single bucket per 16 blocks at least: look up windows
        // absent from the base and count how many candidates survive.
        let base: Vec<u8> = (0..BLOCK as u32 * 4096)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let table = BlockTable::new(&base);
        let mut raw = 0;
        let mut kept = 0;
        for i in 0..4096u128 {
            let w = i.wrapping_mul(0x0123_4567_89ab_cdef_0fed_cba9_8765_4321);
            let h = mix(w);
            let b = (h >> table.shift) as usize;
            raw += (table.starts[b + 1] - table.starts[b]) as usize;
            kept += table.candidates(w, usize::MAX).count();
        }
        assert!(raw > 1000, "{raw}");
        assert!(kept * 8 < raw, "{kept} of {raw} kept");
    }

    #[test]
    fn filter_sets_at_most_one_bit_in_eight() {
        let base: Vec<u8> = (0..BLOCK as u32 * 1000)
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        let table = BlockTable::new(&base);
        let set: u32 = table.filter.iter().map(|w| w.count_ones()).sum();
        let bits = table.filter.len() * 64;
        assert!(
            set > 0 && set as usize <= 1000 && set as usize * 8 <= bits,
            "{set} of {bits}"
        );
    }

    #[test]
    fn window_needs_a_full_block() {
        assert_eq!(window(&[0; BLOCK], 1), None);
        assert_eq!(window(&[0; BLOCK], BLOCK + 1), None);
        assert_eq!(window(&[0; BLOCK], 0), Some(0));
    }
}
