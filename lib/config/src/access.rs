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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessRule, ConnectionLimit, Notify, Protection};
    use rstest::rstest;
    use std::path::PathBuf;

    const FLAN: u32 = 1000;
    const ANON: u32 = 1001;
    const OTHER: u32 = 1002;
    const PORTERS: u32 = 500;

    fn user(uid: u32) -> Identity {
        Identity::User {
            name: uid.to_string(),
            uid,
        }
    }

    fn group(gid: u32) -> Identity {
        Identity::Group {
            name: gid.to_string(),
            gid,
        }
    }

    fn repo(name: &str, rules: Vec<(Access, Identity)>) -> Repository {
        Repository {
            name: name.to_owned(),
            path: PathBuf::from(format!("/git/{name}")),
            rules: rules
                .into_iter()
                .map(|(access, identity)| AccessRule { access, identity })
                .collect(),
            protection: Protection::default(),
            notify: Notify::default(),
        }
    }

    fn config(names: &[&str]) -> Config {
        Config {
            listen_path: PathBuf::from("/var/run/gotd.sock"),
            user: "_gotd".to_owned(),
            request_timeout_secs: 3600,
            connection_limits: vec![ConnectionLimit {
                user: "flan".to_owned(),
                uid: FLAN,
                limit: 16,
            }],
            repositories: names.iter().map(|n| repo(n, Vec::new())).collect(),
        }
    }

    const RO: Access = Access::Permit(Mode::ReadOnly);
    const RW: Access = Access::Permit(Mode::ReadWrite);
    const DENY: Access = Access::Deny;

    #[rstest]
    #[case("foo", "foo")]
    #[case("'foo'", "foo")]
    #[case("\"foo\"", "foo")]
    #[case("  '/foo.git'  ", "foo.git")]
    #[case("/openbsd/ports.git", "openbsd/ports.git")]
    #[case("///a//b/", "a/b")]
    #[case("/a/./b", "a/b")]
    #[case("/a/../b", "b")]
    #[case("/../../b", "b")]
    #[case("/", "")]
    #[case("''", "")]
    #[case("", "")]
    fn normalizes_requested_names(#[case] requested: &str, #[case] expected: &str) {
        assert_eq!(normalize_repo_name(requested), expected);
    }

    #[rstest]
    #[case(&["foo"], "foo", Some("foo"))]
    #[case(&["foo"], "foo.git", Some("foo"))]
    #[case(&["foo"], "'/foo.git'", Some("foo"))]
    #[case(&["foo"], "foo.gitx", None)]
    #[case(&["foo"], "foobar", None)]
    #[case(&["foo"], "fo", None)]
    #[case(&["foo"], "foo/bar", None)]
    #[case(&["foo.git"], "foo", None)]
    #[case(&["foo.git"], "foo.git", Some("foo.git"))]
    #[case(&["openbsd/ports"], "/openbsd/ports.git", Some("openbsd/ports"))]
    #[case(&["a", "a.git"], "a.git", Some("a"))]
    #[case(&["b", "a"], "a", Some("a"))]
    #[case(&["foo"], "/", None)]
    #[case(&["foo"], "", None)]
    fn finds_repositories(
        #[case] names: &[&str],
        #[case] requested: &str,
        #[case] expected: Option<&str>,
    ) {
        let config = config(names);
        let found = config.find_repository(requested).map(|r| r.name.as_str());
        assert_eq!(found, expected);
    }

    #[rstest]
    #[case::no_rules(vec![], FLAN, vec![], false, AccessDecision::NoMatch)]
    #[case::other_user(vec![(RW, user(FLAN))], OTHER, vec![], false, AccessDecision::NoMatch)]
    #[case::ro_read(vec![(RO, user(FLAN))], FLAN, vec![], false, AccessDecision::Granted)]
    #[case::ro_push_denied(vec![(RO, user(FLAN))], FLAN, vec![], true, AccessDecision::Denied)]
    #[case::rw_read(vec![(RW, user(FLAN))], FLAN, vec![], false, AccessDecision::Granted)]
    #[case::rw_push(vec![(RW, user(FLAN))], FLAN, vec![], true, AccessDecision::Granted)]
    #[case::deny(vec![(DENY, user(FLAN))], FLAN, vec![], false, AccessDecision::Denied)]
    #[case::last_match_wins_deny(
        vec![(RW, user(FLAN)), (DENY, user(FLAN))], FLAN, vec![], false, AccessDecision::Denied
    )]
    #[case::last_match_wins_permit(
        vec![(DENY, user(FLAN)), (RW, user(FLAN))], FLAN, vec![], true, AccessDecision::Granted
    )]
    #[case::later_non_matching_rule_ignored(
        vec![(RW, user(FLAN)), (DENY, user(ANON))], FLAN, vec![], true, AccessDecision::Granted
    )]
    #[case::group_via_supplementary_gid(
        vec![(RW, group(PORTERS))], OTHER, vec![100, PORTERS], true, AccessDecision::Granted
    )]
    #[case::group_not_member(
        vec![(RW, group(PORTERS))], OTHER, vec![100], false, AccessDecision::NoMatch
    )]
    #[case::user_deny_after_group_permit(
        vec![(RW, group(PORTERS)), (DENY, user(FLAN))],
        FLAN, vec![PORTERS], false, AccessDecision::Denied
    )]
    #[case::group_ro_after_user_rw(
        vec![(RW, user(FLAN)), (RO, group(PORTERS))],
        FLAN, vec![PORTERS], true, AccessDecision::Denied
    )]
    #[case::group_rule_does_not_match_uid(
        vec![(RW, group(FLAN))], FLAN, vec![], false, AccessDecision::NoMatch
    )]
    fn checks_access(
        #[case] rules: Vec<(Access, Identity)>,
        #[case] uid: u32,
        #[case] gids: Vec<u32>,
        #[case] write: bool,
        #[case] expected: AccessDecision,
    ) {
        assert_eq!(repo("r", rules).check_access(uid, &gids, write), expected);
    }

    #[test]
    fn connection_limits_default_to_four() {
        let config = config(&["foo"]);
        assert_eq!(config.connection_limit(FLAN), 16);
        assert_eq!(config.connection_limit(ANON), 4);
    }
}
