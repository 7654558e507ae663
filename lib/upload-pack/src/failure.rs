//! The internal error of an exchange: a client-visible message plus whether
//! the client was already told (on side-band 3).

use std::fmt::Display;

/// A failed exchange. `msg` is exactly what the client sees.
#[derive(Debug)]
pub(crate) struct Fail {
    pub msg: String,
    /// True once the message went out on side-band 3; `serve` then sends no `ERR`.
    pub reported: bool,
}

impl Fail {
    pub fn new(msg: impl Into<String>) -> Self {
        Fail {
            msg: msg.into(),
            reported: false,
        }
    }

    /// An unexpected failure of the repository layer or of I/O.
    pub fn internal(context: &str, err: impl Display) -> Self {
        Fail::new(format!("{context}: {err}"))
    }
}

impl From<gotd_wire::pkt::PktError> for Fail {
    fn from(e: gotd_wire::pkt::PktError) -> Self {
        Fail::new(e.to_string())
    }
}

/// Writing to the client failed: it is most likely gone.
pub(crate) fn io(err: std::io::Error) -> Fail {
    Fail::internal("write", err)
}
