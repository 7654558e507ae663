//! Where objects are stored, from the packs' own indexes.
//!
//! gix's `location_by_oid` inflates each object to learn how long its
//! stored entry is. When a large share of a repository's objects is located
//! at once (a clone), the length follows from the pack's entry offsets in
//! order instead: taken from git's reverse index (`pack-*.rev`) where there
//! is one, sorted once otherwise. Objects in no pack of the repository's
//! own (loose, borrowed) are left to gix.

use std::path::Path;

use gix::ObjectId;
use gix_pack::data::entry::Location;
use gix_pack::Find;

use crate::objects::Db;

/// Below one located object per this many stored ones, gix's own lookups
/// are cheaper than reading every pack's offsets.
const MIN_SHARE: usize = 4;

/// Objects of a pack asked of gix to learn its id for the pack.
const PROBES: u32 = 16;

/// The packs of one repository, with their entries' extents.
pub(crate) struct Locator {
    packs: Vec<Pack>,
}

struct Pack {
    index: gix_pack::index::File,
    /// gix's id of the pack, for its entry lookups.
    pack_id: u32,
    /// Entry offsets in ascending order, then the end of the entry data.
    ends: Vec<u64>,
}

impl Locator {
    /// The packs in `objects_dir`, if locating `wanted` objects is worth
    /// reading their offsets and everything matches what gix sees.
    pub fn new(db: &Db, objects_dir: &Path, wanted: usize) -> Option<Locator> {
        let mut indexes = Vec::new();
        for entry in std::fs::read_dir(objects_dir.join("pack")).ok()?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "idx") {
                indexes.push(gix_pack::index::File::at(&path, gix::hash::Kind::Sha1).ok()?);
            }
        }
        let total: usize = indexes.iter().map(|i| i.num_objects() as usize).sum();
        if wanted.saturating_mul(MIN_SHARE) < total {
            return None;
        }
        let mut packs: Vec<Pack> = Vec::with_capacity(indexes.len());
        for index in indexes {
            let n = index.num_objects();
            if n == 0 {
                continue;
            }
            let pack_len = std::fs::metadata(index.path().with_extension("pack"))
                .ok()?
                .len();
            let rev = std::fs::read(index.path().with_extension("rev")).ok();
            let mut ends: Vec<u64> = match rev.and_then(|r| crate::bitmap::pack_order(&index, &r)) {
                Some(order) => order
                    .iter()
                    .map(|&i| index.pack_offset_at_index(i))
                    .collect(),
                None => index.sorted_offsets(),
            };
            ends.push(pack_len.checked_sub(20)?);
            let mut pack = Pack {
                index,
                pack_id: 0,
                ends,
            };
            pack.pack_id = pack.gix_id(db)?;
            if packs.iter().any(|p| p.pack_id == pack.pack_id) {
                return None;
            }
            packs.push(pack);
        }
        Some(Locator { packs })
    }

    /// Where `id` is stored, if in one of the packs.
    pub fn locate(&self, id: &ObjectId) -> Option<Location> {
        self.packs.iter().find_map(|p| p.locate(id))
    }
}

impl Pack {
    /// gix's id for the pack: where gix finds two of its objects at the
    /// same offsets and sizes as here (an object also stored in another
    /// pack may be found there instead, and proves nothing).
    fn gix_id(&self, db: &Db) -> Option<u32> {
        let n = self.index.num_objects();
        let probes = n.min(PROBES);
        let mut found = None;
        let mut agreeing = 0;
        for k in 0..probes {
            // Distinct objects, spread over the index.
            let id = self.index.oid_at_index(k * (n / probes)).to_owned();
            let ours = self.locate(&id)?;
            let Some(theirs) = db.location_by_oid(&id, &mut Vec::new()).ok()? else {
                continue;
            };
            if theirs.pack_offset != ours.pack_offset || theirs.entry_size != ours.entry_size {
                continue;
            }
            match found {
                Some(pack_id) if pack_id != theirs.pack_id => return None,
                _ => found = Some(theirs.pack_id),
            }
            agreeing += 1;
            if agreeing == 2 {
                return found;
            }
        }
        // A pack of one object: that object decides.
        (n == 1 && agreeing == 1).then_some(found).flatten()
    }

    fn locate(&self, id: &ObjectId) -> Option<Location> {
        let at = self.index.lookup(id)?;
        let offset = self.index.pack_offset_at_index(at);
        let k = self.ends[..self.ends.len() - 1]
            .binary_search(&offset)
            .ok()?;
        Some(Location {
            pack_id: self.pack_id,
            pack_offset: offset,
            entry_size: usize::try_from(self.ends[k + 1].checked_sub(offset)?).ok()?,
        })
    }
}

#[cfg(test)]
mod with_git {

    use gix_pack::Find;

    use crate::test_git::{object_ids, pushed_as_packs};

    /// A pack per push, with and without reverse indexes: every object is
    /// found where gix finds it (same pack, offset and entry size) or, if
    /// it is stored twice, at an entry of the same object.
    #[test]
    fn locates_like_gix() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let text: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let srv = pushed_as_packs(d, 4, &text, |round, w| {
            std::fs::write(w.join(format!("g{round}.txt")), format!("{round}\n")).unwrap();
        });
        // Half the packs without a reverse index (as gotd's own pushes
        // leave them): their offsets are sorted instead.
        let mut revs: Vec<_> = std::fs::read_dir(srv.join("objects/pack"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rev"))
            .collect();
        revs.sort();
        for rev in revs.iter().step_by(2) {
            std::fs::remove_file(rev).unwrap();
        }
        let repo = gix::open(&srv).unwrap();
        let db = crate::pack::tests_db(&repo);
        let ids = object_ids(&srv, &["--all"]);
        let locator = super::Locator::new(&db, &srv.join("objects"), ids.len())
            .expect("every pack identified");
        assert_eq!(locator.packs.len(), 4);
        let mut buf = Vec::new();
        let mut same = 0;
        for id in &ids {
            let ours = locator.locate(id).expect("packed");
            let theirs = db.location_by_oid(id, &mut buf).unwrap().unwrap();
            if ours.pack_id == theirs.pack_id {
                assert_eq!(ours.pack_offset, theirs.pack_offset);
                assert_eq!(ours.entry_size, theirs.entry_size);
                same += 1;
            }
            // The entry is whole where it is said to be.
            let entry = db.entry_by_location(&ours).unwrap();
            assert_eq!(entry.data.len(), ours.entry_size);
            gix_pack::data::Entry::from_bytes(&entry.data, 0, gix::hash::Kind::Sha1).unwrap();
        }
        // Only objects stored twice (bases a thin push appended) may differ.
        assert!(same * 10 >= ids.len() * 8, "{same} of {}", ids.len());
    }
}
