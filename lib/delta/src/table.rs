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
//! Storage is compressed-row: `starts[b]..starts[b + 1]` indexes the offsets of
//! bucket `b` in `offsets`, in increasing base order. Four bytes per block of
//! base plus four per bucket.

/// Size of an indexed block and of the window hashed at each target position.
pub const BLOCK: usize = 16;

/// Hash table of the blocks of one base.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockTable {
    /// `64 - log2(number of buckets)`.
    shift: u32,
    /// Bucket `b` holds `offsets[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    /// Base offsets of the blocks, grouped by bucket.
    offsets: Vec<u32>,
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
        let bucket_of = |block: usize| -> usize {
            let w = window(indexed, block * BLOCK).unwrap_or_default();
            (mix(w) >> shift) as usize
        };
        let ids: Vec<u32> = (0..blocks).map(|b| bucket_of(b) as u32).collect();
        let mut starts = vec![0u32; buckets + 1];
        for &id in &ids {
            starts[id as usize + 1] += 1;
        }
        for b in 0..buckets {
            starts[b + 1] += starts[b];
        }
        // Fill each bucket in increasing offset order.
        let mut cursor: Vec<u32> = starts[..buckets].to_vec();
        let mut offsets = vec![0u32; blocks];
        for (block, &id) in ids.iter().enumerate() {
            let slot = &mut cursor[id as usize];
            offsets[*slot as usize] = (block * BLOCK) as u32;
            *slot += 1;
        }
        BlockTable {
            shift,
            starts,
            offsets,
        }
    }

    /// Whether the base had no complete block.
    pub(crate) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Offsets of base blocks whose hash equals the hash of `window` (a
    /// superset of the blocks equal to it).
    #[inline]
    pub(crate) fn candidates(&self, window: u128) -> &[u32] {
        if self.is_empty() {
            return &[];
        }
        let b = (mix(window) >> self.shift) as usize;
        &self.offsets[self.starts[b] as usize..self.starts[b + 1] as usize]
    }

    /// Heap bytes used by the table.
    pub(crate) fn heap_size(&self) -> usize {
        (self.starts.capacity() + self.offsets.capacity()) * std::mem::size_of::<u32>()
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
            assert!(table.candidates(w).contains(&(off as u32)), "block {block}");
        }
    }

    #[test]
    fn partial_tail_and_tiny_bases_are_not_indexed() {
        assert!(BlockTable::new(b"").is_empty());
        assert!(BlockTable::new(&[1; BLOCK - 1]).is_empty());
        let table = BlockTable::new(&[1; BLOCK + 5]);
        assert_eq!(table.candidates(u128::from_le_bytes([1; BLOCK])), &[0]);
    }

    #[test]
    fn repeated_blocks_share_a_bucket_in_offset_order() {
        let table = BlockTable::new(&[0; BLOCK * 4]);
        assert_eq!(table.candidates(0), &[0, 16, 32, 48]);
    }

    #[test]
    fn window_needs_a_full_block() {
        assert_eq!(window(&[0; BLOCK], 1), None);
        assert_eq!(window(&[0; BLOCK], BLOCK + 1), None);
        assert_eq!(window(&[0; BLOCK], 0), Some(0));
    }
}
