//! Stored REF_DELTA entries, reused instead of rebuilt.
//!
//! Packs received from pushes keep the client's REF_DELTA entries (`git
//! index-pack --fix-thin` appends the missing bases whole, after the
//! deltas). gix-pack's entry generator copies only OFS_DELTA and whole
//! entries; a REF_DELTA it decodes and compresses again, whole, with a new
//! compressor each time (about 380 KB of zlib state per object, allocated
//! and freed thousands of times per clone, which alone tripled the peak RSS
//! of a clone of a pack-per-push repository).
//!
//! [`split`] locates every object before gix does and takes the REF_DELTA
//! entries out of the counts, with the OFS_DELTA entries based on them;
//! the pack filter sends them after everything else ([`Pending`]), as
//! deltas against their bases, which are then already in the pack whenever
//! they are sent at all.

use gix::ObjectId;
use gix_pack::data::entry::{Header, Location};
use gix_pack::data::output::count::PackLocation;
use gix_pack::data::output::{entry::Kind, Count, Entry};
use gix_pack::Find;

use crate::bitmap::ClientBitmap;
use crate::locator::Locator;
use crate::objects::Db;
use crate::Fail;

/// Below this many objects, locating them is not worth a thread.
const PARALLEL_FROM: usize = 4000;

/// A REF_DELTA entry of a stored pack.
#[derive(Debug, Clone)]
pub(crate) struct StoredRefDelta {
    pub id: ObjectId,
    /// The base to send it against; `None`: send it whole (its stored
    /// base is not in the pack).
    pub base: Option<ObjectId>,
    location: Location,
}

/// Locates every object not yet located; returns the counts for gix and
/// the entries taken out of them, in stored order: every REF_DELTA, and
/// every OFS_DELTA whose base is taken out (gix would rebuild those too,
/// their base not being among its counts), and every OFS_DELTA whose
/// base is not sent at all: for a `thin` pack against its base by id (the
/// client may have it), otherwise to be sent whole. gix is then left only
/// entries it can copy, and never maps a pack's offsets to ids (which it
/// does by sorting the pack's whole index once per chunk of entries).
pub(crate) fn split(
    db: &Db,
    mut counts: Vec<Count>,
    threads: Option<usize>,
    thin: bool,
    client: Option<&ClientBitmap>,
) -> Result<(Vec<Count>, Vec<StoredRefDelta>), Fail> {
    let n = || {
        threads
            .or_else(|| std::thread::available_parallelism().ok().map(Into::into))
            .unwrap_or(1)
            .max(1)
    };
    let objects_dir = db.store_ref().path().to_owned();
    // The client's bitmap locates what is in its pack; the locator is for
    // the rest, when it pays off.
    let locator = match client {
        Some(_) => None,
        None => Locator::new(db, &objects_dir, counts.len()),
    };
    let locator = locator.as_ref();
    let stored: Vec<Stored> = if counts.len() < PARALLEL_FROM || n() == 1 {
        locate(db, client, locator, &mut counts)?
    } else {
        let n = n();
        let size = counts.len().div_ceil(n);
        std::thread::scope(|s| {
            let handles: Vec<_> = counts
                .chunks_mut(size)
                .map(|chunk| {
                    let db = db.clone();
                    s.spawn(move || locate(&db, client, locator, chunk))
                })
                .collect();
            let mut all = Vec::new();
            for h in handles {
                all.extend(
                    h.join()
                        .map_err(|_| Fail::new("locating objects failed"))??,
                );
            }
            Ok::<_, Fail>(all)
        })?
    };
    // Deltas in stored order, so that an OFS_DELTA's base comes first.
    let mut order: Vec<(u32, u64, usize)> = counts
        .iter()
        .zip(&stored)
        .enumerate()
        .filter_map(|(i, (c, s))| match (&c.entry_pack_location, s) {
            (PackLocation::LookedUp(Some(l)), Stored::Ref(_) | Stored::Ofs(_)) => {
                Some((l.pack_id, l.pack_offset, i))
            }
            _ => None,
        })
        .collect();
    order.sort_unstable();
    let mut sent: Vec<(u32, u64)> = counts
        .iter()
        .filter_map(|c| match &c.entry_pack_location {
            PackLocation::LookedUp(Some(l)) => Some((l.pack_id, l.pack_offset)),
            _ => None,
        })
        .collect();
    sent.sort_unstable();
    let orphan = |pack: u32, base_offset: u64| sent.binary_search(&(pack, base_offset)).is_err();
    // Orphans of a thin pack, whose base ids are looked up below.
    let mut by_offset: Vec<(u32, u64, usize)> = Vec::new();
    let mut taken: std::collections::HashMap<(u32, u64), ObjectId> = Default::default();
    // Per count: not taken out, or taken out with this base (or whole).
    let mut base_of: Vec<Option<Option<ObjectId>>> = vec![None; counts.len()];
    for &(pack, offset, i) in &order {
        let base = match stored[i] {
            Stored::Ref(base) => Some(Some(base)),
            Stored::Ofs(base_offset) => match taken.get(&(pack, base_offset)) {
                Some(&base) => Some(Some(base)),
                None if orphan(pack, base_offset) => {
                    if thin {
                        by_offset.push((pack, base_offset, i));
                    }
                    Some(None)
                }
                None => None,
            },
            Stored::Other => None,
        };
        if let Some(base) = base {
            taken.insert((pack, offset), counts[i].id);
            base_of[i] = Some(base);
        }
    }
    drop(sent);
    if let Some(client) = client {
        by_offset.retain(|&(pack, offset, i)| match client.id_at(pack, offset) {
            Some(id) => {
                base_of[i] = Some(Some(id));
                false
            }
            None => true,
        });
    }
    by_offset.sort_unstable();
    for group in by_offset.chunk_by(|a, b| a.0 == b.0) {
        // An object known to be in this pack identifies its index.
        let (_, _, probe) = group[0];
        let PackLocation::LookedUp(Some(location)) = &counts[probe].entry_pack_location else {
            continue;
        };
        let Some(index) = pack_index(&objects_dir, &counts[probe].id, location.pack_offset) else {
            continue;
        };
        // One pass over the index for the few offsets wanted.
        let mut wanted: Vec<(u64, usize)> = group.iter().map(|&(_, o, i)| (o, i)).collect();
        wanted.sort_unstable();
        for at in 0..index.num_objects() {
            let offset = index.pack_offset_at_index(at);
            let first = wanted.partition_point(|w| w.0 < offset);
            for &(_, i) in wanted[first..].iter().take_while(|w| w.0 == offset) {
                base_of[i] = Some(Some(index.oid_at_index(at).to_owned()));
            }
        }
    }
    let mut out = Vec::with_capacity(taken.len());
    for &(_, _, i) in &order {
        if let (Some(base), PackLocation::LookedUp(Some(location))) =
            (base_of[i], &counts[i].entry_pack_location)
        {
            out.push(StoredRefDelta {
                id: counts[i].id,
                base,
                location: location.clone(),
            });
        }
    }
    let kept = counts
        .into_iter()
        .zip(base_of)
        .filter_map(|(c, b)| b.is_none().then_some(c))
        .collect();
    Ok((kept, out))
}

/// The index of the pack in `objects_dir` that holds `id` at `offset`.
fn pack_index(
    objects_dir: &std::path::Path,
    id: &ObjectId,
    offset: u64,
) -> Option<gix_pack::index::File> {
    let dir = std::fs::read_dir(objects_dir.join("pack")).ok()?;
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .filter_map(|p| gix_pack::index::File::at(p, gix::hash::Kind::Sha1).ok())
        .find(|index| {
            index
                .lookup(id)
                .is_some_and(|at| index.pack_offset_at_index(at) == offset)
        })
}

/// How an object is stored, as far as taking it out matters.
#[derive(Debug, Clone, Copy)]
enum Stored {
    Other,
    /// A REF_DELTA against this object.
    Ref(ObjectId),
    /// An OFS_DELTA against the entry at this offset of the same pack.
    Ofs(u64),
}

/// Looks up where each object is stored (as gix would) and how.
fn locate(
    db: &Db,
    client: Option<&ClientBitmap>,
    locator: Option<&Locator>,
    counts: &mut [Count],
) -> Result<Vec<Stored>, Fail> {
    let mut buf = Vec::new();
    let mut out = Vec::with_capacity(counts.len());
    for count in counts {
        // Located already (from a bitmap): only how it is stored is new.
        if let PackLocation::LookedUp(location) = &count.entry_pack_location {
            out.push(location.as_ref().map_or(Stored::Other, |l| stored(db, l)));
            continue;
        }
        let found = client.and_then(|c| c.locate(&count.id));
        let location = match found.or_else(|| locator.and_then(|l| l.locate(&count.id))) {
            Some(location) => Some(location),
            None => db
                .location_by_oid(&count.id, &mut buf)
                .map_err(|e| Fail::internal("locating objects", e))?,
        };
        out.push(location.as_ref().map_or(Stored::Other, |l| stored(db, l)));
        count.entry_pack_location = PackLocation::LookedUp(location);
    }
    Ok(out)
}

/// Longest entry header: type and size (at most 10 bytes) and a base id.
const MAX_HEADER: usize = 32;

/// How the entry at `location` is stored (read from its header only).
fn stored(db: &Db, location: &Location) -> Stored {
    let header = Location {
        entry_size: location.entry_size.min(MAX_HEADER),
        ..location.clone()
    };
    let Some(entry) = db.entry_by_location(&header) else {
        return Stored::Other;
    };
    let Ok(parsed) = gix_pack::data::Entry::from_bytes(&entry.data, 0, gix::hash::Kind::Sha1)
    else {
        return Stored::Other;
    };
    match parsed.header {
        Header::RefDelta { base_id } => Stored::Ref(base_id),
        Header::OfsDelta { base_distance } => location
            .pack_offset
            .checked_sub(base_distance)
            .map_or(Stored::Other, Stored::Ofs),
        _ => Stored::Other,
    }
}

/// The stored REF_DELTA entries still to send.
pub(crate) struct Pending {
    todo: Vec<StoredRefDelta>,
}

impl Pending {
    pub fn new(todo: Vec<StoredRefDelta>) -> Self {
        Pending { todo }
    }

    pub fn is_empty(&self) -> bool {
        self.todo.is_empty()
    }

    /// The next entries to send: those whose base `is_sent` (or that go
    /// whole), in stored order; if there are none (bases missing from the
    /// pack, or chains of REF_DELTAs whose first base is one of them), all
    /// that remain.
    pub fn next_batch(&mut self, is_sent: impl Fn(&ObjectId) -> bool) -> Vec<StoredRefDelta> {
        let (ready, rest): (Vec<_>, Vec<_>) = self
            .todo
            .drain(..)
            .partition(|d| d.base.as_ref().is_none_or(&is_sent));
        if ready.is_empty() {
            return rest;
        }
        self.todo = rest;
        ready
    }
}

/// The pack entry for a stored delta taken out: its compressed delta,
/// unchanged, against its base by id.
pub(crate) fn entry(db: &Db, d: &StoredRefDelta) -> Option<Entry> {
    let stored = db.entry_by_location(&d.location)?;
    let parsed = gix_pack::data::Entry::from_bytes(&stored.data, 0, gix::hash::Kind::Sha1).ok()?;
    let base = d.base?;
    if !matches!(
        parsed.header,
        Header::RefDelta { .. } | Header::OfsDelta { .. }
    ) {
        return None;
    }
    let mut data = stored.data;
    data.drain(..parsed.data_offset as usize);
    Some(Entry {
        id: d.id,
        kind: Kind::DeltaOid { id: base },
        decompressed_size: parsed.decompressed_size as usize,
        compressed_data: data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: u8, base: u8) -> StoredRefDelta {
        StoredRefDelta {
            id: ObjectId::from_bytes_or_panic(&[id; 20]),
            base: (base != 0).then(|| ObjectId::from_bytes_or_panic(&[base; 20])),
            location: Location {
                pack_id: 0,
                entry_size: 0,
                pack_offset: 0,
            },
        }
    }

    #[test]
    fn batches_follow_the_bases() {
        // 2 -> 1 (sent), 3 -> 2, 4 -> 9 (never sent), 5 -> 3, 6 whole.
        let mut p = Pending::new(vec![d(5, 3), d(3, 2), d(2, 1), d(4, 9), d(6, 0)]);
        let sent = std::cell::RefCell::new(vec![ObjectId::from_bytes_or_panic(&[1; 20])]);
        let mut order = Vec::new();
        while !p.is_empty() {
            let batch = p.next_batch(|b| sent.borrow().contains(b));
            for x in batch {
                order.push(x.id.as_bytes()[0]);
                sent.borrow_mut().push(x.id);
            }
        }
        assert_eq!(order, vec![2, 6, 3, 5, 4]);
    }
}

#[cfg(test)]
mod with_git {

    use gix_pack::data::output::count::PackLocation;
    use gix_pack::data::output::Count;

    use crate::test_git::{commit_each, git, init_work, object_ids, pushed_as_packs};

    /// A repository that keeps each push as a pack: the second push is a
    /// thin pack whose deltas against the first push's objects are stored
    /// as REF_DELTAs. `split` takes them out, and their entries are the
    /// stored deltas against the right bases.
    #[test]
    fn takes_out_the_ref_deltas_of_pushed_packs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let text: String = (0..400)
            .map(|i| format!("line {i} of the file\n"))
            .collect();
        let srv = pushed_as_packs(d, 2, &text, |_, _| {});
        let repo = gix::open(&srv).unwrap();
        let db = crate::pack::tests_db(&repo);
        let ids = object_ids(&srv, &["--all"]);
        let counts: Vec<Count> = ids
            .iter()
            .map(|&id| Count {
                id,
                entry_pack_location: PackLocation::NotLookedUp,
            })
            .collect();
        let (kept, taken) = super::split(&db, counts, Some(1), false, None).unwrap();
        assert_eq!(kept.len() + taken.len(), ids.len());
        assert!(!taken.is_empty(), "the pushed blob is a REF_DELTA");
        let rev = |r: &str| gix::ObjectId::from_hex(git(&srv, &["rev-parse", r]).trim().as_bytes());
        let (old_blob, new_blob) = (rev("main~1:f.txt").unwrap(), rev("main:f.txt").unwrap());
        let blob = taken
            .iter()
            .find(|t| t.id == new_blob)
            .expect("the new blob is taken out");
        assert_eq!(blob.base, Some(old_blob));
        let entry = super::entry(&db, blob).unwrap();
        assert!(matches!(entry.kind, super::Kind::DeltaOid { id } if Some(id) == blob.base));
        assert!(kept
            .iter()
            .all(|c| matches!(c.entry_pack_location, PackLocation::LookedUp(_))));
    }

    /// In a thin pack, a stored OFS_DELTA whose base is not sent is taken
    /// out with its base's id (found in the pack's index), and the stored
    /// delta rebuilds the object from that base.
    #[test]
    fn thin_orphans_get_their_base_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = init_work(d);
        let text: String = (0..300)
            .map(|i| format!("line {i} of the file\n"))
            .collect();
        commit_each(&r, 0..4, |round, r| {
            std::fs::write(r.join("f.txt"), format!("{text}round {round}\n")).unwrap();
        });
        git(&r, &["repack", "-adfq"]);
        let repo = gix::open(&r).unwrap();
        let db = crate::pack::tests_db(&repo);
        let rev = |x: &str| gix::ObjectId::from_hex(git(&r, &["rev-parse", x]).trim().as_bytes());
        let blobs: Vec<gix::ObjectId> = (0..4)
            .map(|k| rev(&format!("main~{k}:f.txt")).unwrap())
            .collect();
        // Each version alone: the stored deltas among them lose their base.
        let mut found = 0;
        for &blob in &blobs {
            let counts = vec![Count {
                id: blob,
                entry_pack_location: PackLocation::NotLookedUp,
            }];
            let (_, taken) = super::split(&db, counts, Some(1), true, None).unwrap();
            let Some(t) = taken.first() else { continue };
            found += 1;
            let base = t.base.expect("base found by offset");
            assert!(blobs.contains(&base) && base != blob);
            let entry = super::entry(&db, t).unwrap();
            let mut delta = vec![0u8; entry.decompressed_size];
            gix::zlib::Inflate::default()
                .once(&entry.compressed_data, &mut delta)
                .unwrap();
            let (mut b1, mut b2) = (Vec::new(), Vec::new());
            use gix_pack::Find;
            let base_data = db
                .try_find(&base, &mut b1)
                .unwrap()
                .unwrap()
                .0
                .data
                .to_vec();
            let target = db
                .try_find(&blob, &mut b2)
                .unwrap()
                .unwrap()
                .0
                .data
                .to_vec();
            assert_eq!(gotd_delta::apply(&base_data, &delta).unwrap(), target);
        }
        assert!(found > 0, "some version is stored as a delta");
    }
}
