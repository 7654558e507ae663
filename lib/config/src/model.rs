//! The parsed configuration. Every value here has been validated; user and
//! group names have been resolved to ids (the names are kept for messages).
//! Lookups on it (repository by name, access checks, connection limits)
//! live in [`crate::access`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A whole gotd.conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// `listen on "/path"`.
    pub listen_path: PathBuf,
    /// `user name|uid`: the user the daemon runs as, as written.
    pub user: String,
    /// `connection request timeout N`, in seconds.
    pub request_timeout_secs: u64,
    /// `connection limit user NAME N`, one entry per uid in the order first
    /// written; a repeated uid keeps its place and takes the last value.
    /// Use [`Config::connection_limit`] to look a uid up.
    pub connection_limits: Vec<ConnectionLimit>,
    /// The repositories, in the order written.
    pub repositories: Vec<Repository>,
}

/// A per-user connection limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionLimit {
    /// The identity as written in the configuration.
    pub user: String,
    pub uid: u32,
    /// 1..=1024.
    pub limit: u32,
}

/// `repository "name" { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    /// Absolute; canonicalised when it exists.
    pub path: PathBuf,
    /// `permit`/`deny` rules in the order written; the last match wins.
    pub rules: Vec<AccessRule>,
    pub protection: Protection,
    pub notify: Notify,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    pub access: Access,
    pub identity: Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    Permit(Mode),
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    ReadOnly,
    ReadWrite,
}

/// Who a rule is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Identity {
    /// A user name or uid, as written, and its uid.
    User { name: String, uid: u32 },
    /// `:group` or `:gid`, as written (without the colon), and its gid.
    Group { name: String, gid: u32 },
}

/// `protect { … }`. Branch names are full ref names (`refs/heads/` is
/// prepended when missing); namespaces start with `refs/` and end with `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    pub branches: Vec<String>,
    pub branch_namespaces: Vec<String>,
    pub tag_namespaces: Vec<String>,
}

/// `notify { … }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    /// Full ref names of notified branches.
    pub branches: Vec<String>,
    /// Notified reference namespaces (ending with `/`).
    pub reference_namespaces: Vec<String>,
    pub targets: Vec<NotifyTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyTarget {
    Email {
        /// Default: `<gotd user>@<hostname>`, filled in when sending.
        from: Option<String>,
        to: String,
        reply_to: Option<String>,
        /// Default `127.0.0.1`.
        relay_host: String,
        /// Default `25`.
        relay_port: u16,
    },
    Http {
        url: String,
        /// Label of an `auth` entry in gotd-secrets.conf.
        auth: Option<String>,
        insecure: bool,
        /// Label of an `hmac` entry in gotd-secrets.conf.
        hmac: Option<String>,
    },
}
