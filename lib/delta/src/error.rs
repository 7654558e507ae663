//! Errors reported when a delta cannot be applied.

use thiserror::Error;

/// Why a delta could not be applied to a base.
///
/// Offsets (`at`) are byte positions inside the delta, so a bad delta can be
/// located with a hex dump.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeltaError {
    /// The delta ends inside one of the two size varints of its header.
    #[error("delta header truncated: {field} size varint not terminated")]
    HeaderTruncated {
        /// `"source"` or `"target"`.
        field: &'static str,
    },
    /// The header announces a target larger than the caller allows.
    #[error(
        "delta announces a target of {target_size} bytes, more than the limit of {limit} bytes"
    )]
    TargetTooLarge {
        /// Target size recorded in the delta header.
        target_size: u64,
        /// The caller's limit.
        limit: u64,
    },
    /// A header varint does not fit in 64 bits.
    #[error("delta header {field} size varint overflows 64 bits")]
    HeaderOverflow {
        /// `"source"` or `"target"`.
        field: &'static str,
    },
    /// The delta was made against a base of another size.
    #[error("delta expects a base of {expected} bytes, got {actual} bytes")]
    BaseSizeMismatch {
        /// Source size recorded in the delta header.
        expected: u64,
        /// Length of the base passed to `apply`.
        actual: usize,
    },
    /// Opcode 0 is reserved by the format.
    #[error("reserved delta opcode 0x00 at byte {at}")]
    ReservedOpcode {
        /// Offset of the opcode in the delta.
        at: usize,
    },
    /// A copy instruction announces more offset/size bytes than remain.
    #[error("copy instruction at byte {at} truncated")]
    TruncatedCopy {
        /// Offset of the opcode in the delta.
        at: usize,
    },
    /// An insert instruction announces more literal bytes than remain.
    #[error(
        "insert instruction at byte {at} needs {needed} literal bytes, only {available} remain"
    )]
    TruncatedInsert {
        /// Offset of the opcode in the delta.
        at: usize,
        /// Literal bytes announced by the opcode.
        needed: usize,
        /// Bytes left in the delta after the opcode.
        available: usize,
    },
    /// A copy instruction reads outside the base.
    #[error("copy instruction at byte {at} reads {size} bytes at base offset {offset}, base has {base_len} bytes")]
    CopyOutOfBounds {
        /// Offset of the opcode in the delta.
        at: usize,
        /// Base offset the copy starts at.
        offset: u64,
        /// Number of bytes to copy.
        size: u64,
        /// Length of the base.
        base_len: usize,
    },
    /// The instructions produce more bytes than the header announced.
    #[error("instruction at byte {at} overruns the announced target size of {target_size} bytes")]
    TargetOverrun {
        /// Offset of the opcode in the delta.
        at: usize,
        /// Target size recorded in the delta header.
        target_size: u64,
    },
    /// The instructions end before producing the announced target size.
    #[error("delta produced {produced} bytes, header announced {target_size} bytes")]
    TargetSizeMismatch {
        /// Bytes produced by the instructions.
        produced: usize,
        /// Target size recorded in the delta header.
        target_size: u64,
    },
}
