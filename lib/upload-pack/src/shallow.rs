//! Shallow clones and fetches (`shallow <id>`, `deepen <n>`).
//!
//! A client's shallow commits are commits it has without their parents.
//! `deepen <n>` asks for the history within `n` commits of the wants: the
//! commits at depth `n` that have parents become the client's new shallow
//! commits, and client shallow commits now inside the depth are
//! "unshallowed" (their parents are sent). Commit walks never go past a
//! cut commit: the new shallow commits when deepening, the client's
//! shallow commits otherwise (and always, for what the client has).

use std::collections::VecDeque;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::FindExt;
use gix::ObjectId;

use crate::Fail;

/// What a deepen request changes on the client.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShallowInfo {
    /// Commits the client must record as shallow.
    pub shallow: Vec<ObjectId>,
    /// Client shallow commits whose parents are now sent.
    pub unshallow: Vec<ObjectId>,
}

fn parents(repo: &gix::Repository, id: ObjectId, buf: &mut Vec<u8>) -> Result<Vec<ObjectId>, Fail> {
    let iter = repo
        .objects
        .find_commit_iter(&id, buf)
        .map_err(|_| Fail::new(format!("object {} not found", id.to_hex())))?;
    Ok(iter.parent_ids().collect())
}

/// For `deepen <depth>` from the commits `tips`: the commits at the depth
/// limit that have parents (the new cut), and the shallow/unshallow lines.
pub(crate) fn deepen(
    repo: &gix::Repository,
    tips: &[ObjectId],
    client: &HashSet<ObjectId>,
    depth: u32,
) -> Result<(HashSet<ObjectId>, ShallowInfo), Fail> {
    let mut buf = Vec::new();
    let mut level: HashMap<ObjectId, u32> = HashMap::default();
    let mut queue = VecDeque::new();
    for &t in tips {
        if level.insert(t, 1).is_none() {
            queue.push_back(t);
        }
    }
    let mut cut = HashSet::default();
    while let Some(c) = queue.pop_front() {
        let d = level[&c];
        let ps = parents(repo, c, &mut buf)?;
        if d >= depth {
            if !ps.is_empty() {
                cut.insert(c);
            }
            continue;
        }
        for p in ps {
            if !level.contains_key(&p) {
                level.insert(p, d + 1);
                queue.push_back(p);
            }
        }
    }
    let mut shallow: Vec<ObjectId> = cut
        .iter()
        .filter(|c| !client.contains(*c))
        .copied()
        .collect();
    shallow.sort();
    let mut unshallow: Vec<ObjectId> = client
        .iter()
        .filter(|c| level.contains_key(*c) && !cut.contains(*c))
        .copied()
        .collect();
    unshallow.sort();
    let info = ShallowInfo { shallow, unshallow };
    Ok((cut, info))
}

/// The commits to send and the boundary (commits the client has that are
/// parents of sent ones), for a request involving shallow commits.
///
/// What the client has: everything reachable from `common` without going
/// past its shallow commits. What it wants: everything reachable from
/// `tips` and from the parents of the `unshallow` commits without going
/// past `cut` commits, minus what it has.
pub(crate) fn walk(
    repo: &gix::Repository,
    tips: &[ObjectId],
    common: &[ObjectId],
    client: &HashSet<ObjectId>,
    cut: &HashSet<ObjectId>,
    unshallow: &[ObjectId],
) -> Result<(Vec<ObjectId>, Vec<ObjectId>), Fail> {
    let mut buf = Vec::new();
    let mut has: HashSet<ObjectId> = HashSet::default();
    let mut stack: Vec<ObjectId> = common.to_vec();
    while let Some(c) = stack.pop() {
        if !has.insert(c) || client.contains(&c) {
            continue;
        }
        stack.extend(parents(repo, c, &mut buf)?);
    }
    let mut walked = Vec::new();
    let mut boundary = Vec::new();
    let mut seen: HashSet<ObjectId> = HashSet::default();
    let mut queue: VecDeque<ObjectId> = tips.iter().copied().collect();
    for &u in unshallow {
        // The client has the commit and its tree, but not its parents.
        if seen.insert(u) {
            boundary.push(u);
        }
        queue.extend(parents(repo, u, &mut buf)?);
    }
    while let Some(c) = queue.pop_front() {
        if !seen.insert(c) {
            continue;
        }
        if has.contains(&c) {
            boundary.push(c);
            continue;
        }
        walked.push(c);
        if cut.contains(&c) {
            continue;
        }
        queue.extend(parents(repo, c, &mut buf)?);
    }
    Ok((walked, boundary))
}
