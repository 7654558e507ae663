//! Wire formats shared by gotd, gotsh and gotctl.
//!
//! * [`pkt`]: git's pkt-line framing, with the exact error texts upstream
//!   gotd sends to clients (`packet too short`, `unexpected end of file`, …).
//! * [`sideband`]: a writer that splits a byte stream into side-band packets
//!   of at most 65515 data bytes (git's limit for `side-band-64k`).
//! * [`request`]: the requests gotsh and gotctl send to gotd and its replies.
//! * [`ipc`]: length-prefixed typed messages with descriptors attached.
//! * [`sys`]: the few system calls needing `unsafe` (descriptor passing,
//!   fd 3 of re-executed children); the only such module in the project.

pub mod ipc;
pub mod pkt;
pub mod protocol;
pub mod request;
pub mod sideband;
pub mod sys;

pub use protocol::Protocol;
