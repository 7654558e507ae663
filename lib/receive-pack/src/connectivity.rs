//! Connectivity of a received pack: every object named by an object in the
//! pack (commit tree and parents, tree entries except submodule commits,
//! tag targets) must be in the pack or already in the repository.
//!
//! The repository is taken as closed (everything stored passed this check;
//! refused packs are deleted), so checking only the new pack suffices. Each
//! pack object is decoded once, in parallel; parsing doubles as a basic
//! object check.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use gix::objs::{CommitRef, Exists, Kind, TagRef, TreeRef};
use gix::ObjectId;

/// Entries handed to a worker at a time.
const CHUNK: u32 = 256;

/// Checks `bundle` against `repo`; the error is the client-visible reason.
///
/// Blobs name no other object, so only commits, trees and tags are
/// decoded; a delta's kind is found by following its chain's headers.
pub(crate) fn check(
    repo: &gix::Repository,
    bundle: &gix_pack::Bundle,
    thread_limit: Option<usize>,
) -> Result<(), String> {
    let n = bundle.index.num_objects();
    let threads = thread_limit
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| p.get()))
        .clamp(1, 64)
        .min((n / CHUNK) as usize + 1);
    let shared = Shared {
        bundle,
        next: AtomicU32::new(0),
        problem: Mutex::new(None),
        stop: AtomicBool::new(false),
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            let mut odb = repo.objects.clone();
            // A miss must not rescan objects/pack: misses are the failure case.
            odb.refresh_never();
            let shared = &shared;
            s.spawn(move || shared.work(&odb));
        }
    });
    match shared
        .problem
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

struct Shared<'a> {
    bundle: &'a gix_pack::Bundle,
    next: AtomicU32,
    problem: Mutex<Option<String>>,
    stop: AtomicBool,
}

impl Shared<'_> {
    fn report(&self, msg: String) {
        let mut p = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        p.get_or_insert(msg);
        self.stop.store(true, Ordering::Relaxed);
    }

    fn work(&self, odb: &gix::OdbHandle) {
        use gix_pack::data::decode::{entry, header};
        let (index, pack) = (&self.bundle.index, &self.bundle.pack);
        let n = index.num_objects();
        let in_pack = |id: &gix::oid| -> gix::Result<Option<gix_pack::data::Entry>> {
            index
                .lookup(id)
                .map(|i| pack.entry(index.pack_offset_at_index(i)))
                .transpose()
        };
        let resolve_header = |id: &gix::oid| Ok(in_pack(id)?.map(header::ResolvedBase::InPack));
        let resolve =
            |id: &gix::oid, _: &mut Vec<u8>| Ok(in_pack(id)?.map(entry::ResolvedBase::InPack));
        let mut inflate = gix::zlib::Inflate::default();
        let mut cache = gix_pack::cache::lru::MemoryCappedHashmap::new(32 << 20);
        let mut buf = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            let start = self.next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= n {
                return;
            }
            for i in start..(start + CHUNK).min(n) {
                let id = index.oid_at_index(i).to_owned();
                let decoded = pack.entry(index.pack_offset_at_index(i)).and_then(|e| {
                    let kind = match e.header.as_kind() {
                        Some(k) => k,
                        None => {
                            pack.decode_header(e.clone(), &mut inflate, &resolve_header)?
                                .kind
                        }
                    };
                    if kind == Kind::Blob {
                        return Ok(None);
                    }
                    let out = pack.decode_entry(e, &mut buf, &mut inflate, &resolve, &mut cache)?;
                    Ok(Some((out.kind, out.object_size as usize)))
                });
                match decoded {
                    Ok(None) => {}
                    Ok(Some((kind, size))) => self.check_object(odb, &id, kind, &buf[..size]),
                    Err(e) => self.report(format!("object {id}: bad pack file: {e}")),
                }
            }
        }
    }

    /// Checks that every object `data` names exists.
    fn check_object(&self, odb: &gix::OdbHandle, id: &ObjectId, kind: Kind, data: &[u8]) {
        let index = &self.bundle.index;
        let have = |target: &ObjectId| index.lookup(target).is_some() || odb.exists(target);
        let mut check = |target: ObjectId| {
            if !have(&target) {
                self.report(format!(
                    "object {target} referenced by {id} is missing: bad pack file"
                ));
            }
        };
        let bad = || self.report(format!("object {id}: bad {kind} object"));
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
    }
}
