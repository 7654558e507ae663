//! Whether negotiation may stop early ("ready"): every wanted commit
//! reaches a commit both sides have, so the pack will be small whatever
//! else the client could still tell.
//!
//! A want is covered if it is itself common, or if a walk from it, newest
//! commits first and never older than the oldest common commit, meets a
//! common commit. The walk is bounded; giving up just means "not ready"
//! and the client keeps negotiating or sends `done` itself. With a
//! reachability bitmap the answer comes from the bitmaps of the nearest
//! bitmapped commits instead, without the date bound.

use gix::hashtable::HashSet;
use gix::objs::{FindExt, Kind};
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;
use gix::ObjectId;

use crate::bitmap::SharedBitmap;

/// Commits visited per want at most.
const WALK_LIMIT: usize = 10_000;

/// True if every want reaches one of the `common` objects.
pub(crate) fn ok_to_give_up(
    repo: &gix::Repository,
    wants: &[ObjectId],
    common: &[ObjectId],
    bitmap: &SharedBitmap<'_>,
) -> bool {
    let common: HashSet<ObjectId> = common
        .iter()
        .filter_map(|&id| peel_to_commit(repo, id))
        .collect();
    if common.is_empty() {
        return false;
    }
    if let Some(bitmap) = bitmap.get() {
        let wants: Option<Vec<ObjectId>> = wants.iter().map(|&w| peel_to_commit(repo, w)).collect();
        let Some(wants) = wants else {
            return false;
        };
        if let Some(ready) = bitmap.each_reaches(repo, &wants, &common) {
            return ready;
        }
    }
    let Some(cutoff) = common
        .iter()
        .filter_map(|&id| repo.find_commit(id).ok()?.time().ok().map(|t| t.seconds))
        .min()
    else {
        return false;
    };
    wants.iter().all(|&want| {
        let Some(want) = peel_to_commit(repo, want) else {
            return false;
        };
        if common.contains(&want) {
            return true;
        }
        let Ok(walk) = repo
            .rev_walk([want])
            .sorting(Sorting::ByCommitTimeCutoff {
                order: CommitTimeOrder::NewestFirst,
                seconds: cutoff,
            })
            .all()
        else {
            return false;
        };
        walk.take(WALK_LIMIT)
            .map_while(Result::ok)
            .any(|info| info.parent_ids.iter().any(|p| common.contains(p)))
    })
}

pub(crate) fn peel_to_commit(repo: &gix::Repository, mut id: ObjectId) -> Option<ObjectId> {
    let mut buf = Vec::new();
    loop {
        match repo.find_header(id).ok()?.kind() {
            Kind::Commit => return Some(id),
            Kind::Tag => {
                id = repo
                    .objects
                    .find_tag_iter(&id, &mut buf)
                    .ok()?
                    .target_id()
                    .ok()?
            }
            _ => return None,
        }
    }
}
