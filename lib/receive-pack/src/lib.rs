//! The server side of `git-receive-pack`: ref advertisement, command list,
//! pack intake, protection rules, durable ref updates and report-status.
//!
//! [`serve`] runs one whole exchange on a client's input and output. It is
//! called by gotd's write child after the child has sandboxed itself.

use std::io::{Read, Write};
use std::path::Path;

pub use gotd_config::Protection;
pub use gotd_wire::Protocol;

/// How to serve one client.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sent as `agent=<agent>`, e.g. `gotd/0.1.0`.
    pub agent: String,
    /// What the client asked for in `GIT_PROTOCOL` (push always speaks v0
    /// semantics).
    pub protocol: Protocol,
    /// The repository's `protect { … }` rules.
    pub protection: Protection,
    /// Used in temporary file names (`receiving-from-uid-<uid>…`).
    pub uid: u32,
}

/// One ref update requested by the client, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub name: String,
    /// Hex ids; all zeros for creation (old) or deletion (new).
    pub old: String,
    pub new: String,
    /// `None` when applied, else the `ng` reason sent to the client.
    pub error: Option<String>,
}

/// What a successful exchange did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub updates: Vec<RefUpdate>,
}

/// Why serving failed. `Display` is the exact text the client was sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Client(String),
}

/// Serves one receive-pack exchange for the repository at `repo`.
///
/// On error the client has already been told; the caller only reports it.
pub fn serve(
    repo: &Path,
    input: &mut dyn Read,
    output: &mut dyn Write,
    opts: &Options,
) -> Result<Outcome, Error> {
    let _ = (repo, input, output, opts);
    Err(Error::Client("receive-pack is not implemented".into()))
}
