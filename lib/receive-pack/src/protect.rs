//! `protect { … }` rules, with upstream gotd's semantics and error texts
//! (but checking branch namespaces for every kind of update, which
//! upstream's empty-pack path forgot).
//!
//! * protected branch (full ref name): creation and fast-forward allowed;
//!   deletion or any other update → `<ref>: reference is protected`;
//! * protected branch namespace (prefix ending in `/`): the same, except a
//!   deletion → `<ns>: reference namespace is protected`;
//! * protected tag namespace: only creation, and only of a ref to a tag
//!   object (`<hex> is not pointing at a tag object: wrong type of
//!   object`); update or deletion → `<ns>: reference namespace is
//!   protected`.
//!
//! Every failure is fatal for the whole push, as upstream.

use gix::objs::Kind;

use crate::commands::Command;
use crate::objects::Objects;
use crate::Protection;

fn namespace<'a>(namespaces: &'a [String], name: &str) -> Option<&'a str> {
    namespaces
        .iter()
        .find(|ns| name.starts_with(ns.as_str()))
        .map(String::as_str)
}

fn is_protected_branch(p: &Protection, name: &str) -> bool {
    p.branches.iter().any(|b| b == name) || namespace(&p.branch_namespaces, name).is_some()
}

/// Rules that need no objects: deletions and tag updates.
pub(crate) fn check_without_pack(cmds: &[Command], p: &Protection) -> Result<(), String> {
    for c in cmds {
        if let Some(ns) = namespace(&p.tag_namespaces, &c.name) {
            if !c.is_create() {
                return Err(format!("{ns}: reference namespace is protected"));
            }
        }
        if c.is_delete() {
            if p.branches.contains(&c.name) {
                return Err(format!("{}: reference is protected", c.name));
            }
            if let Some(ns) = namespace(&p.branch_namespaces, &c.name) {
                return Err(format!("{ns}: reference namespace is protected"));
            }
        }
    }
    Ok(())
}

/// Rules that look at the new tips: tag type, branch type and
/// fast-forward. All objects named by the commands exist at this point.
pub(crate) fn check_with_objects(
    cmds: &[Command],
    p: &Protection,
    objects: &mut Objects<'_>,
) -> Result<(), String> {
    for c in cmds.iter().filter(|c| !c.is_delete()) {
        if namespace(&p.tag_namespaces, &c.name).is_some()
            && objects.kind(&c.new) != Some(Kind::Tag)
        {
            return Err(format!(
                "{} is not pointing at a tag object: wrong type of object",
                c.new
            ));
        }
        if is_protected_branch(p, &c.name) {
            if objects.kind(&c.new) != Some(Kind::Commit) {
                return Err(format!(
                    "{} is not pointing at a commit object: wrong type of object",
                    c.new
                ));
            }
            if !c.is_create() && !objects.descends_from(&c.new, &c.old)? {
                return Err(format!("{}: reference is protected", c.name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gix::ObjectId;
    use rstest::rstest;

    fn protection() -> Protection {
        Protection {
            branches: vec!["refs/heads/main".into()],
            branch_namespaces: vec!["refs/heads/release/".into()],
            tag_namespaces: vec!["refs/tags/".into()],
        }
    }

    fn cmd(old: bool, new: bool, name: &str) -> Command {
        let id = |set: bool| {
            if set {
                ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap()
            } else {
                gix::hash::Kind::Sha1.null()
            }
        };
        Command {
            old: id(old),
            new: id(new),
            name: name.into(),
        }
    }

    #[rstest]
    #[case(
        cmd(true, false, "refs/heads/main"),
        Some("refs/heads/main: reference is protected")
    )]
    #[case(
        cmd(true, false, "refs/heads/release/1"),
        Some("refs/heads/release/: reference namespace is protected")
    )]
    #[case(
        cmd(true, false, "refs/tags/v1"),
        Some("refs/tags/: reference namespace is protected")
    )]
    #[case(
        cmd(true, true, "refs/tags/v1"),
        Some("refs/tags/: reference namespace is protected")
    )]
    #[case(cmd(false, true, "refs/tags/v1"), None)]
    #[case(cmd(true, true, "refs/heads/main"), None)]
    #[case(cmd(true, false, "refs/heads/mainly"), None)]
    #[case(cmd(true, false, "refs/heads/topic"), None)]
    fn without_pack(#[case] c: Command, #[case] err: Option<&str>) {
        assert_eq!(
            check_without_pack(&[c], &protection()).err().as_deref(),
            err
        );
    }
}
