//! Summaries of updated refs, read from the repository after a push.
//!
//! Runs in the write child (sandboxed, repository readable). For a changed
//! ref the new commits are those reachable from the new id and not from the
//! old one; for a created ref, those not reachable from any other ref. A
//! ref created at a commit that brings nothing new lists that commit
//! alone. Text is made valid UTF-8, invalid bytes replaced. Commits
//! listed in full carry a diffstat ([`crate::treediff`]); all the
//! diffstats of one call share one [`Budget`].

use std::path::Path;

use gix::bstr::ByteSlice;
use gix::ObjectId;

use crate::summary::{
    Change, CommitInfo, Person, RefFilter, RefSummary, TagInfo, FULL_LIMIT, LIST_LIMIT,
    MESSAGE_LIMIT,
};
use crate::treediff::{self, Budget};

/// Commits counted at most per ref; a walk stops there.
pub const COUNT_LIMIT: usize = 100_000;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Summaries of the applied updates `(refname, old, new)` that `filter`
/// wants, in the given order. A ref whose objects cannot be read gets a
/// summary without commits rather than failing the others.
pub fn collect(
    repo: &Path,
    updates: &[(String, String, String)],
    filter: &RefFilter,
) -> Result<Vec<RefSummary>, String> {
    let wanted: Vec<_> = updates
        .iter()
        .filter(|(name, _, _)| filter.wants(name))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let opts = gix::open::Options::isolated()
        .open_path_as_is(true)
        .with_trust(gix::sec::Trust::Full);
    let repo = gix::open_opts(repo, opts).map_err(|e| format!("{}: {e}", repo.display()))?;
    let mut budget = Budget::default();
    Ok(wanted
        .into_iter()
        .map(|(name, old, new)| summarise(&repo, name, old, new, &mut budget))
        .collect())
}

fn summarise(
    repo: &gix::Repository,
    name: &str,
    old: &str,
    new: &str,
    budget: &mut Budget,
) -> RefSummary {
    let change = if new == ZERO {
        Change::Removed
    } else if old == ZERO {
        Change::Created
    } else {
        Change::Changed
    };
    let mut s = RefSummary {
        refname: name.to_string(),
        change,
        old: old.to_string(),
        new: new.to_string(),
        commits: Vec::new(),
        total_commits: 0,
        tag: None,
    };
    if change == Change::Removed {
        return s;
    }
    let Ok(new_id) = ObjectId::from_hex(new.as_bytes()) else {
        return s;
    };
    let Ok(object) = repo.find_object(new_id) else {
        return s;
    };
    match object.kind {
        gix::object::Kind::Tag => {
            s.tag = tag_info(object.into_tag());
        }
        gix::object::Kind::Commit => {
            let hidden = hidden_tips(repo, name, old);
            let (commits, total) = new_commits(repo, new_id, hidden, budget);
            s.commits = commits;
            s.total_commits = total;
        }
        _ => {}
    }
    s
}

/// What the walk stops at: the old id of a changed ref, else every other
/// ref's tip.
fn hidden_tips(repo: &gix::Repository, name: &str, old: &str) -> Vec<ObjectId> {
    if old != ZERO {
        return ObjectId::from_hex(old.as_bytes()).into_iter().collect();
    }
    let Ok(platform) = repo.references() else {
        return Vec::new();
    };
    let Ok(all) = platform.all() else {
        return Vec::new();
    };
    all.flatten()
        .filter(|r| r.name().as_bstr() != name.as_bytes().as_bstr())
        .filter_map(|mut r| r.peel_to_id().ok().map(|id| id.detach()))
        .filter(|id| {
            repo.find_header(*id)
                .is_ok_and(|h| h.kind() == gix::object::Kind::Commit)
        })
        .collect()
}

fn new_commits(
    repo: &gix::Repository,
    tip: ObjectId,
    hidden: Vec<ObjectId>,
    budget: &mut Budget,
) -> (Vec<CommitInfo>, usize) {
    let mut ids = Vec::new();
    let mut total = 0;
    if let Ok(walk) = repo.rev_walk([tip]).with_hidden(hidden).all() {
        for info in walk {
            let Ok(info) = info else { break };
            total += 1;
            if ids.len() < LIST_LIMIT {
                ids.push(info.id);
            }
            if total >= COUNT_LIMIT {
                break;
            }
        }
    }
    if total == 0 {
        // Nothing new: the ref points at a commit the repository had.
        ids.push(tip);
        total = 1;
    }
    let short = total > FULL_LIMIT;
    let commits = ids
        .into_iter()
        .filter_map(|id| commit_info(repo, id, short, budget))
        .collect();
    (commits, total)
}

fn person(sig: gix::actor::SignatureRef<'_>) -> Person {
    let sig = sig.trim();
    Person {
        name: sig.name.to_str_lossy().into_owned(),
        email: sig.email.to_str_lossy().into_owned(),
    }
}

fn bounded(text: &[u8]) -> String {
    let mut s = text.to_str_lossy().into_owned();
    if s.len() > MESSAGE_LIMIT {
        let mut end = MESSAGE_LIMIT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("\n[…]\n");
    }
    s
}

fn commit_info(
    repo: &gix::Repository,
    id: ObjectId,
    short: bool,
    budget: &mut Budget,
) -> Option<CommitInfo> {
    let commit = repo.find_commit(id).ok()?;
    let author = commit.author().ok()?;
    let time = author.time().map(|t| t.seconds).unwrap_or(0);
    let author = person(author);
    let committer = commit.committer().map(person).unwrap_or_default();
    let raw = commit.message_raw_sloppy();
    let message = if short {
        bounded(raw.lines().next().unwrap_or_default())
    } else {
        bounded(raw)
    };
    let diffstat = if short {
        None
    } else {
        treediff::diffstat(repo, &commit, budget)
    };
    Some(CommitInfo {
        id: id.to_string(),
        author,
        committer,
        time,
        message,
        diffstat,
    })
}

fn tag_info(tag: gix::Tag<'_>) -> Option<TagInfo> {
    let decoded = tag.decode().ok()?;
    let (tagger, time) = match decoded.tagger().ok().flatten() {
        Some(t) => (person(t), t.time().map(|t| t.seconds).unwrap_or(0)),
        None => (Person::default(), 0),
    };
    Some(TagInfo {
        tagger,
        time,
        object_kind: decoded.target_kind.to_string(),
        object_id: decoded.target().to_string(),
        message: bounded(decoded.message),
    })
}
