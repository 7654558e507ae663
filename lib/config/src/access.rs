//! Lookups the daemon makes for every request: which repository a requested
//! name refers to, whether a peer may read or write it, and how many
//! connections a uid may hold.

use serde::{Deserialize, Serialize};

use crate::model::{Access, Config, Identity, Mode, Repository};
use crate::DEFAULT_CONNECTION_LIMIT;

/// The result of [`Repository::check_access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessDecision {
    /// The last matching rule permits the request.
    Granted,
    /// The last matching rule is a `deny`, or a `permit ro` for a write.
    /// Clients see `<config-name>: Permission denied`.
    Denied,
    /// No rule names the peer. Clients see `no git repository found`, so
    /// the repository's existence is not revealed.
    NoMatch,
}

/// Trims a repository name as requested by a client into the form that is
/// matched against the configuration: leading and trailing quotes (`'`,
/// `"`) and spaces are removed, the path is canonicalised as if it were
/// absolute (`//` collapsed, `.` dropped, `..` resolved, a trailing `/`
/// dropped) and its leading slashes are stripped.
///
/// `"'/openbsd/ports.git'"` becomes `"openbsd/ports.git"`. The result may be
/// empty (for `"/"`), which matches no repository.
pub fn normalize_repo_name(requested: &str) -> String {
    let trimmed = requested.trim_matches(|c| c == '\'' || c == '"' || c == ' ');
    let mut parts: Vec<&str> = Vec::new();
    for part in trimmed.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

impl Config {
    /// Finds the repository a client asked for. The request is first
    /// trimmed with [`normalize_repo_name`]; then, in configuration order,
    /// the first repository whose name is a prefix of the request with a
    /// remainder that is empty or exactly `.git` is returned. So the
    /// repository `foo` serves `foo` and `foo.git`, while `foo.git` does not
    /// serve `foo`.
    pub fn find_repository(&self, requested_name: &str) -> Option<&Repository> {
        let name = normalize_repo_name(requested_name);
        if name.is_empty() {
            return None;
        }
        self.repositories.iter().find(|repo| {
            name.strip_prefix(repo.name.as_str())
                .is_some_and(|rest| rest.is_empty() || rest == ".git")
        })
    }

    /// The maximum number of concurrent connections of `uid`: its
    /// `connection limit user` setting, or the default of 4.
    pub fn connection_limit(&self, uid: u32) -> u32 {
        self.connection_limits
            .iter()
            .find(|limit| limit.uid == uid)
            .map_or(DEFAULT_CONNECTION_LIMIT, |limit| limit.limit)
    }
}

impl Identity {
    /// Whether this identity names the peer with `uid` and groups `gids`
    /// (its effective gid and supplementary groups).
    pub fn matches(&self, uid: u32, gids: &[u32]) -> bool {
        match self {
            Identity::User { uid: rule_uid, .. } => *rule_uid == uid,
            Identity::Group { gid, .. } => gids.contains(gid),
        }
    }
}

impl Repository {
    /// Decides whether the peer `uid`, member of `gids` (the effective gid
    /// and every supplementary group), may read (`write == false`) or
    /// write this repository.
    ///
    /// Every rule is scanned in order and the last one that names the peer
    /// decides: `permit rw` grants reads and writes, `permit ro` grants
    /// reads and denies writes, `deny` denies. With no matching rule the
    /// answer is [`AccessDecision::NoMatch`].
    pub fn check_access(&self, uid: u32, gids: &[u32], write: bool) -> AccessDecision {
        // The last match wins: search from the end.
        let last = self
            .rules
            .iter()
            .rev()
            .find(|rule| rule.identity.matches(uid, gids));
        match last.map(|rule| rule.access) {
            None => AccessDecision::NoMatch,
            Some(Access::Deny) => AccessDecision::Denied,
            Some(Access::Permit(Mode::ReadWrite)) => AccessDecision::Granted,
            Some(Access::Permit(Mode::ReadOnly)) if write => AccessDecision::Denied,
            Some(Access::Permit(Mode::ReadOnly)) => AccessDecision::Granted,
        }
    }
}
