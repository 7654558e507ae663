//! Encoder and decoder for git's pack delta format.
//!
//! A delta (gitformat-pack(5), "Deltified representation") rebuilds a target
//! object from a base object: a header with both sizes, then copy instructions
//! (a range of the base) and insert instructions (literal bytes).
//!
//! * [`apply`] rebuilds a target, validating every instruction.
//! * [`DeltaIndex`] indexes a base once; [`DeltaIndex::encode`] then produces
//!   deltas for any number of targets, abandoning those that would not be
//!   worth it. [`encode`] is the one-off form.
//! * [`plan`] chooses, for a set of pack objects, which ones to store as
//!   deltas against which bases ([`name_hash`] groups similar paths).
//!
//! Everything here is pure computation on byte slices: no I/O, no object
//! database.

mod apply;
mod emit;
mod encode;
mod error;
mod name_hash;
mod plan;
mod table;
mod varint;

pub use apply::{apply, apply_limited, parse_header, Header};
pub use encode::{encode, DeltaIndex};
pub use error::DeltaError;
pub use name_hash::name_hash;
pub use plan::{
    base_first_order, plan, try_plan, try_plan_parallel, Candidate, DeltaChoice, DEFAULT_MAX_DEPTH,
    DEFAULT_WINDOW, MAX_OBJECT_SIZE, MIN_OBJECT_SIZE, WINDOW_MEMORY,
};
pub use table::BLOCK;
