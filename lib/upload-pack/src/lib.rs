//! The server side of `git-upload-pack`: ref advertisement, negotiation and
//! pack generation for clone and fetch.
//!
//! [`serve`] runs one whole exchange on a client's input and output. It is
//! called by gotd's read child after the child has sandboxed itself.

use std::io::{Read, Write};
use std::path::Path;

pub use gotd_wire::Protocol;

/// How to serve one client.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sent as `agent=<agent>`, e.g. `gotd/0.1.0`.
    pub agent: String,
    /// What the client asked for in `GIT_PROTOCOL`.
    pub protocol: Protocol,
}

/// Why serving failed. `Display` is the exact text the client was sent in
/// an `ERR` packet (or on side-band 3).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Client(String),
}

/// Serves one upload-pack exchange for the repository at `repo`.
///
/// On error the client has already been told (as an `ERR` packet, or on
/// side-band 3 once the pack has started); the caller only reports it.
pub fn serve(
    repo: &Path,
    input: &mut dyn Read,
    output: &mut dyn Write,
    opts: &Options,
) -> Result<(), Error> {
    let _ = (repo, input, output, opts);
    Err(Error::Client("upload-pack is not implemented".into()))
}
