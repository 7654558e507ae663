//! Push notifications, as gotd.conf's `notify { … }` configures them.
//!
//! The work is split by where it can run:
//! * [`collect`] reads the repository and summarises each updated ref
//!   ([`RefSummary`]): it runs in the write child, the only process that
//!   may read the repository, right after the refs are updated. The
//!   summaries are small ([`fit`] bounds them) and travel to the parent
//!   with the child's final status.
//! * [`email`] and [`http`] render a summary as a mail message or a JSON
//!   body and deliver it (a minimal SMTP client; an HTTP POST with optional
//!   Basic authentication and an HMAC signature).
//! * [`deliver`] sends one [`Job`] with bounded retries and timeouts; the
//!   daemon runs it outside its event loop.
//! * [`treediff`] compares a commit's tree with its parent's for the
//!   diffstat of a full commit entry, counting changed lines with
//!   [`diffstat`].
//! * [`date`] formats commit times the way upstream gotd does.

pub mod collect;
pub mod date;
pub mod deliver;
pub mod diffstat;
pub mod email;
pub mod http;
pub mod summary;
pub mod treediff;

pub use collect::collect;
pub use deliver::{deliver, Job, Target};
pub use summary::{
    fit, Change, CommitInfo, DiffStat, FileAction, FileStat, Person, RefFilter, RefSummary, TagInfo,
};

/// Why a notification could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("SMTP server {server}: {reply}")]
    Smtp { server: String, reply: String },
    #[error("{0}")]
    Http(String),
}
