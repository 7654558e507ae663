//! Wire formats shared by gotd, gotsh and gotctl.
//!
//! * [`pkt`]: git's pkt-line framing, with the exact error texts upstream
//!   gotd sends to clients (`packet too short`, `unexpected end of file`, …).
//! * [`sideband`]: a writer that splits a byte stream into side-band packets
//!   of at most 65515 data bytes (git's limit for `side-band-64k`).

pub mod pkt;
pub mod sideband;
pub mod protocol;

pub use protocol::Protocol;
