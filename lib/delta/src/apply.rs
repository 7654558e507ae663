//! Applying a delta to its base, with strict validation of every instruction.
//!
//! Instruction set (gitformat-pack(5), "Deltified representation"):
//! * `1xxxxxxx` copy: bits 0–3 select which of four little-endian offset bytes
//!   follow, bits 4–6 which of three size bytes; a size of 0 means 0x10000.
//! * `0xxxxxxx` insert: the low seven bits (1..=127) count literal bytes that
//!   follow the opcode.
//! * `0x00` is reserved and rejected.

use crate::{varint, DeltaError};

/// Memory reserved up front for the result; a header may announce any size,
/// so larger results grow as they are produced.
const MAX_RESERVE: u64 = 16 << 20;

/// Header of a delta: the sizes of its base and of the object it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Size of the base the delta was made against.
    pub source_size: u64,
    /// Size of the object the delta produces.
    pub target_size: u64,
    /// Number of header bytes (where the instructions start).
    pub len: usize,
}

/// Parses the two size varints at the start of `delta`.
pub fn parse_header(delta: &[u8]) -> Result<Header, DeltaError> {
    let mut pos = 0;
    let source_size = varint::read(delta, &mut pos, "source")?;
    let target_size = varint::read(delta, &mut pos, "target")?;
    Ok(Header {
        source_size,
        target_size,
        len: pos,
    })
}

/// Applies `delta` to `base` and returns the target object.
///
/// Every malformed delta is reported as a [`DeltaError`]; this function never
/// panics and never reads outside `base` or `delta`. The result may be as
/// large as the delta's header announces: use [`apply_limited`] for deltas
/// from untrusted sources.
pub fn apply(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, DeltaError> {
    apply_limited(base, delta, u64::MAX)
}

/// [`apply`], refusing deltas that announce a target larger than
/// `max_target_size` bytes before producing anything (a few copy
/// instructions can otherwise produce gigabytes).
pub fn apply_limited(
    base: &[u8],
    delta: &[u8],
    max_target_size: u64,
) -> Result<Vec<u8>, DeltaError> {
    let header = parse_header(delta)?;
    if header.target_size > max_target_size {
        return Err(DeltaError::TargetTooLarge {
            target_size: header.target_size,
            limit: max_target_size,
        });
    }
    if header.source_size != base.len() as u64 {
        return Err(DeltaError::BaseSizeMismatch {
            expected: header.source_size,
            actual: base.len(),
        });
    }
    let target_size = header.target_size;
    let mut out = Vec::with_capacity(target_size.min(MAX_RESERVE) as usize);
    let mut pos = header.len;
    while pos < delta.len() {
        let at = pos;
        let op = delta[pos];
        pos += 1;
        if op & 0x80 != 0 {
            let (offset, size) = read_copy(op, delta, &mut pos, at)?;
            let end = offset
                .checked_add(size)
                .filter(|&end| end <= base.len() as u64)
                .ok_or(DeltaError::CopyOutOfBounds {
                    at,
                    offset,
                    size,
                    base_len: base.len(),
                })?;
            check_room(out.len(), size, target_size, at)?;
            out.extend_from_slice(&base[offset as usize..end as usize]);
        } else if op != 0 {
            let needed = usize::from(op);
            let available = delta.len() - pos;
            if needed > available {
                return Err(DeltaError::TruncatedInsert {
                    at,
                    needed,
                    available,
                });
            }
            check_room(out.len(), needed as u64, target_size, at)?;
            out.extend_from_slice(&delta[pos..pos + needed]);
            pos += needed;
        } else {
            return Err(DeltaError::ReservedOpcode { at });
        }
    }
    if out.len() as u64 != target_size {
        return Err(DeltaError::TargetSizeMismatch {
            produced: out.len(),
            target_size,
        });
    }
    Ok(out)
}

/// Reads the offset and size bytes selected by a copy opcode.
fn read_copy(op: u8, delta: &[u8], pos: &mut usize, at: usize) -> Result<(u64, u64), DeltaError> {
    let mut next = |present: bool| -> Result<u64, DeltaError> {
        if !present {
            return Ok(0);
        }
        let byte = *delta.get(*pos).ok_or(DeltaError::TruncatedCopy { at })?;
        *pos += 1;
        Ok(u64::from(byte))
    };
    let mut offset = 0u64;
    for i in 0..4 {
        offset |= next(op & (1 << i) != 0)? << (8 * i);
    }
    let mut size = 0u64;
    for i in 0..3 {
        size |= next(op & (0x10 << i) != 0)? << (8 * i);
    }
    if size == 0 {
        size = 0x10000;
    }
    Ok((offset, size))
}

/// Refuses an instruction that would produce more than the announced size.
fn check_room(produced: usize, adding: u64, target_size: u64, at: usize) -> Result<(), DeltaError> {
    if produced as u64 + adding > target_size {
        return Err(DeltaError::TargetOverrun { at, target_size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const BASE: &[u8] = b"0123456789abcdef";

    #[rstest]
    #[case::insert_only(&[16, 3, 0x03, b'x', b'y', b'z'], b"xyz")]
    #[case::copy_all(&[16, 16, 0x90, 16], BASE)]
    #[case::copy_offset(&[16, 4, 0x91, 10, 4], b"abcd")]
    #[case::copy_then_insert(&[16, 5, 0x90, 2, 0x03, b'-', b'-', b'-'], b"01---")]
    #[case::empty_target(&[16, 0], b"")]
    fn applies_valid_deltas(#[case] delta: &[u8], #[case] want: &[u8]) {
        assert_eq!(apply(BASE, delta).unwrap(), want);
    }

    #[test]
    fn copy_size_zero_means_0x10000() {
        let base: Vec<u8> = (0..0x10000u32).map(|i| i as u8).collect();
        let delta = [0x80, 0x80, 0x04, 0x80, 0x80, 0x04, 0x80];
        assert_eq!(apply(&base, &delta).unwrap(), base);
    }

    #[test]
    fn copy_with_all_offset_and_size_bytes() {
        let base = vec![7u8; 300];
        // offset 0x00000101 via bytes 1 and 2, size 0x000020 via size byte 1, others explicit zero.
        let delta = [
            0xac, 0x02, 0x20, 0xff, 0x01, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00,
        ];
        assert_eq!(apply(&base, &delta).unwrap(), vec![7u8; 32]);
    }

    #[rstest]
    #[case::empty(&[], DeltaError::HeaderTruncated { field: "source" })]
    #[case::no_target_size(&[16], DeltaError::HeaderTruncated { field: "target" })]
    #[case::wrong_base(&[15, 0], DeltaError::BaseSizeMismatch { expected: 15, actual: 16 })]
    #[case::reserved(&[16, 1, 0x00], DeltaError::ReservedOpcode { at: 2 })]
    #[case::truncated_copy(&[16, 1, 0x91, 3], DeltaError::TruncatedCopy { at: 2 })]
    #[case::truncated_insert(&[16, 3, 0x03, b'x'], DeltaError::TruncatedInsert { at: 2, needed: 3, available: 1 })]
    #[case::copy_past_end(&[16, 4, 0x91, 14, 4], DeltaError::CopyOutOfBounds { at: 2, offset: 14, size: 4, base_len: 16 })]
    #[case::copy_huge_offset(&[16, 4, 0x9f, 0xff, 0xff, 0xff, 0xff, 4], DeltaError::CopyOutOfBounds { at: 2, offset: 0xffff_ffff, size: 4, base_len: 16 })]
    #[case::overrun_copy(&[16, 3, 0x90, 4], DeltaError::TargetOverrun { at: 2, target_size: 3 })]
    #[case::overrun_insert(&[16, 1, 0x02, b'a', b'b'], DeltaError::TargetOverrun { at: 2, target_size: 1 })]
    #[case::short(&[16, 5, 0x90, 4], DeltaError::TargetSizeMismatch { produced: 4, target_size: 5 })]
    #[case::huge_target_announced(&[16, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, b'a'], DeltaError::TargetSizeMismatch { produced: 1, target_size: 0xffff_ffff })]
    fn rejects_bad_deltas(#[case] delta: &[u8], #[case] err: DeltaError) {
        assert_eq!(apply(BASE, delta), Err(err));
    }

    #[test]
    fn limited_apply_refuses_large_targets_up_front() {
        let delta = [16, 0x80, 0x80, 0x80, 0x80, 0x01, 0x90, 16];
        assert_eq!(
            apply_limited(BASE, &delta, 1 << 20),
            Err(DeltaError::TargetTooLarge {
                target_size: 1 << 28,
                limit: 1 << 20
            })
        );
        assert_eq!(apply_limited(BASE, &[16, 16, 0x90, 16], 16).unwrap(), BASE);
        assert_eq!(
            apply_limited(BASE, &[16, 16, 0x90, 16], 15),
            Err(DeltaError::TargetTooLarge {
                target_size: 16,
                limit: 15
            })
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let err = apply(BASE, &[16, 1, 0x00]).unwrap_err();
        assert_eq!(err.to_string(), "reserved delta opcode 0x00 at byte 2");
        let err = apply(b"", &[16, 0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "delta expects a base of 16 bytes, got 0 bytes"
        );
    }
}
