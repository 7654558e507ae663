//! Messages between the parent and a repo child over the child's fd 3.
//!
//! Sequence: parent → [`ToChild::Serve`] with the client's input and output
//! descriptors attached, sent right after the spawn; child, once
//! sandboxed → [`ToParent::Ready`], then reads the request; child serves,
//! sending [`ToParent::Active`] while bytes flow, then
//! → [`ToParent::Finished`]; a writer whose request asked for
//! notifications then sends → [`ToParent::Notifications`] (after the
//! parent has been able to answer the client) and exits.

use std::path::PathBuf;

use gotd_config::Protection;
use gotd_notify::{RefFilter, RefSummary};
use serde::{Deserialize, Serialize};

/// Parent to child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToChild {
    /// Serve one client; two descriptors come with it (input, output).
    Serve(Serve),
}

/// Everything a child needs to serve one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serve {
    /// The repository's name in the configuration.
    pub repo_name: String,
    pub repo_path: PathBuf,
    /// The client's `GIT_PROTOCOL`.
    pub protocol: String,
    /// The client's uid.
    pub uid: u32,
    /// Protection rules (writers only; empty for readers).
    pub protection: Protection,
    /// Which updated refs to summarise for notifications (writers of
    /// repositories with `notify` targets only).
    pub notify: Option<RefFilter>,
}

/// Child to parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToParent {
    /// Sandboxed and waiting for the client; `sandbox` lists which
    /// protections are active (for the log).
    Ready { sandbox: Vec<String> },
    /// Bytes moved between the client and the child (totals so far); the
    /// parent re-arms the request timeout. Sent at most once a second.
    Active(Traffic),
    /// The exchange is over.
    Finished {
        /// The error the client was sent, if any.
        error: Option<String>,
        /// Ref updates a push requested, and their fate.
        updates: Vec<RefUpdate>,
        /// Bytes moved in the whole exchange.
        traffic: Traffic,
    },
    /// Summaries of the applied updates that notify (possibly none); sent
    /// after `Finished` when the request had a notification filter and the
    /// exchange succeeded.
    Notifications(Vec<RefSummary>),
}

/// Bytes a child received from and sent to its client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub received: u64,
    pub sent: u64,
}

/// One requested ref update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    pub name: String,
    pub old: String,
    pub new: String,
    /// `None` when applied.
    pub error: Option<String>,
}
