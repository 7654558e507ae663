//! Connectivity of a received pack: every object named by an object in the
//! pack (commit tree and parents, tree entries except submodule commits,
//! tag targets) must be in the pack or already in the repository.
//!
//! The repository is taken as closed (everything stored passed this check;
//! refused packs are deleted), so checking only the new pack suffices. Each
//! pack object is decoded once, in parallel; parsing doubles as a basic
//! object check.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use gix::objs::{CommitRef, Exists, Kind, TagRef, TreeRef};
use gix::ObjectId;

/// Checks `bundle` against `repo`; the error is the client-visible reason.
pub(crate) fn check(
    repo: &gix::Repository,
    bundle: &gix_pack::Bundle,
    thread_limit: Option<usize>,
) -> Result<(), String> {
    let problem: Mutex<Option<String>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let mut odb = repo.objects.clone();
    // A miss must not rescan objects/pack: misses are the failure case.
    odb.refresh_never();
    let index = &bundle.index;
    let report = |msg: String| {
        let mut p = problem.lock().unwrap_or_else(|e| e.into_inner());
        p.get_or_insert(msg);
        stop.store(true, Ordering::Relaxed);
    };
    let processor = {
        let report = &report;
        move |kind: Kind,
              data: &[u8],
              entry: &gix_pack::index::Entry,
              _: &dyn gix::Progress|
              -> gix::Result<()> {
            let have = |id: &ObjectId| index.lookup(id).is_some() || odb.exists(id);
            let id = entry.oid;
            let mut check = |target: ObjectId| {
                if !have(&target) {
                    report(format!(
                        "object {target} referenced by {id} is missing: bad pack file"
                    ));
                }
            };
            let bad = || report(format!("object {id}: bad {kind} object"));
            let sha1 = gix::hash::Kind::Sha1;
            match kind {
                Kind::Commit => match CommitRef::from_bytes(data, sha1) {
                    Ok(c) => {
                        check(c.tree());
                        c.parents().for_each(&mut check);
                    }
                    Err(_) => bad(),
                },
                Kind::Tree => match TreeRef::from_bytes(data, sha1) {
                    Ok(t) => t
                        .entries
                        .iter()
                        .filter(|e| !e.mode.is_commit())
                        .for_each(|e| check(e.oid.to_owned())),
                    Err(_) => bad(),
                },
                Kind::Tag => match TagRef::from_bytes(data, sha1) {
                    Ok(t) => check(t.target()),
                    Err(_) => bad(),
                },
                Kind::Blob => {}
            }
            Ok(())
        }
    };
    let result = index.traverse(
        &bundle.pack,
        &mut gix::progress::Discard,
        &stop,
        processor,
        gix_pack::index::traverse::Options {
            traversal: gix_pack::index::traverse::Algorithm::DeltaTreeLookup,
            thread_limit,
            // Objects were hashed while indexing; verifying them again is waste.
            check: gix_pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerification,
            alloc_limit_bytes: None,
            make_pack_lookup_cache: || gix_pack::cache::Never,
        },
    );
    if let Some(p) = problem.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(p);
    }
    result
        .map(|_| ())
        .map_err(|e| format!("bad pack file: {e}"))
}
