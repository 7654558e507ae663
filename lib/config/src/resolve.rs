//! User and group resolution for `permit`, `deny` and `connection limit user`.
//!
//! The parser never talks to the system databases directly: it asks an
//! [`IdResolver`]. [`SystemResolver`] uses the passwd and group databases
//! (through nix); [`FixedResolver`] is a fixed table for tests and tools.
//!
//! As upstream does, a name is looked up first; when no entry has that name
//! and it is all digits, it is taken as a numeric id as-is.

use std::collections::BTreeMap;

/// Resolves user and group names (or numeric ids written as text) to ids.
pub trait IdResolver {
    /// The uid of the user `name_or_uid`, or `None` when it is unknown.
    fn user(&self, name_or_uid: &str) -> Option<u32>;
    /// The gid of the group `name_or_gid`, or `None` when it is unknown.
    fn group(&self, name_or_gid: &str) -> Option<u32>;
}

/// Parses an id written as decimal digits, as upstream's `strtonum(s, 0,
/// UID_MAX - 1)` would: `u32::MAX` (the "no id" value) is refused.
pub fn numeric_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&id| id != u32::MAX)
}

/// Looks names up in the system's passwd and group databases.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl IdResolver for SystemResolver {
    fn user(&self, name_or_uid: &str) -> Option<u32> {
        match nix::unistd::User::from_name(name_or_uid) {
            Ok(Some(user)) => Some(user.uid.as_raw()),
            _ => numeric_id(name_or_uid),
        }
    }

    fn group(&self, name_or_gid: &str) -> Option<u32> {
        match nix::unistd::Group::from_name(name_or_gid) {
            Ok(Some(group)) => Some(group.gid.as_raw()),
            _ => numeric_id(name_or_gid),
        }
    }
}

/// A fixed table of users and groups, for tests. Numeric ids are accepted
/// as-is, like [`SystemResolver`] does.
#[derive(Debug, Default, Clone)]
pub struct FixedResolver {
    users: BTreeMap<String, u32>,
    groups: BTreeMap<String, u32>,
}

impl FixedResolver {
    /// An empty table: only numeric ids resolve.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user.
    pub fn with_user(mut self, name: &str, uid: u32) -> Self {
        self.users.insert(name.to_owned(), uid);
        self
    }

    /// Adds a group.
    pub fn with_group(mut self, name: &str, gid: u32) -> Self {
        self.groups.insert(name.to_owned(), gid);
        self
    }
}

impl IdResolver for FixedResolver {
    fn user(&self, name_or_uid: &str) -> Option<u32> {
        self.users
            .get(name_or_uid)
            .copied()
            .or_else(|| numeric_id(name_or_uid))
    }

    fn group(&self, name_or_gid: &str) -> Option<u32> {
        self.groups
            .get(name_or_gid)
            .copied()
            .or_else(|| numeric_id(name_or_gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0", Some(0))]
    #[case("1000", Some(1000))]
    #[case("4294967294", Some(4_294_967_294))]
    #[case("4294967295", None)]
    #[case("4294967296", None)]
    #[case("", None)]
    #[case("-1", None)]
    #[case("+1", None)]
    #[case("12a", None)]
    fn numeric_ids(#[case] text: &str, #[case] expected: Option<u32>) {
        assert_eq!(numeric_id(text), expected);
    }

    #[test]
    fn fixed_resolver_names_then_numbers() {
        let r = FixedResolver::new()
            .with_user("flan", 1001)
            .with_group("porters", 2000);
        assert_eq!(r.user("flan"), Some(1001));
        assert_eq!(r.user("1234"), Some(1234));
        assert_eq!(r.user("nobody-here"), None);
        assert_eq!(r.group("porters"), Some(2000));
        assert_eq!(r.group("flan"), None);
        assert_eq!(r.group("77"), Some(77));
    }

    #[test]
    fn system_resolver_knows_root() {
        assert_eq!(SystemResolver.user("root"), Some(0));
        assert_eq!(SystemResolver.group("root"), Some(0));
        assert_eq!(SystemResolver.user("0"), Some(0));
        assert_eq!(SystemResolver.user("no-such-user-gotd-test"), None);
    }
}
