//! Object lookup across the repository and a pack still in quarantine
//! (not yet visible to the repository's object database).

use std::collections::{HashSet, VecDeque};

use gix::objs::{CommitRef, Kind};
use gix::{oid, ObjectId};

pub(crate) struct Objects<'a> {
    repo: &'a gix::Repository,
    bundle: Option<&'a gix_pack::Bundle>,
    inflate: gix::zlib::Inflate,
    buf: Vec<u8>,
}

impl<'a> Objects<'a> {
    pub(crate) fn new(repo: &'a gix::Repository, bundle: Option<&'a gix_pack::Bundle>) -> Self {
        Objects {
            repo,
            bundle,
            inflate: Default::default(),
            buf: Vec::new(),
        }
    }

    /// The object's kind, or `None` when it exists nowhere.
    pub(crate) fn kind(&mut self, id: &oid) -> Option<Kind> {
        if let Some(bundle) = self.bundle {
            if bundle.index.lookup(id).is_some() {
                return bundle
                    .find(
                        id,
                        &mut self.buf,
                        &mut self.inflate,
                        &mut gix_pack::cache::Never,
                    )
                    .ok()
                    .flatten()
                    .map(|(data, _)| data.kind);
            }
        }
        self.repo.find_header(id.to_owned()).ok().map(|h| h.kind())
    }

    /// The parents of commit `id`.
    fn parents(&mut self, id: &oid) -> Result<Vec<ObjectId>, String> {
        let missing = || format!("object {id} not found");
        let parse = |data: &[u8]| {
            CommitRef::from_bytes(data, gix::hash::Kind::Sha1)
                .map(|c| c.parents().collect::<Vec<_>>())
                .map_err(|_| format!("object {id}: bad object"))
        };
        if let Some(bundle) = self.bundle {
            if let Some((data, _)) = bundle
                .find(
                    id,
                    &mut self.buf,
                    &mut self.inflate,
                    &mut gix_pack::cache::Never,
                )
                .map_err(|e| format!("object {id}: {e}"))?
            {
                if data.kind != Kind::Commit {
                    return Err(format!("object {id}: wrong type of object"));
                }
                return parse(data.data);
            }
        }
        let object = self
            .repo
            .find_object(id.to_owned())
            .map_err(|_| missing())?;
        if object.kind != Kind::Commit {
            return Err(format!("object {id}: wrong type of object"));
        }
        parse(&object.data)
    }

    /// Whether commit `old` is reachable from commit `new` (a fast-forward
    /// from `old` to `new`). Breadth-first over the commit graph.
    pub(crate) fn descends_from(&mut self, new: &oid, old: &oid) -> Result<bool, String> {
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut queue = VecDeque::from([new.to_owned()]);
        while let Some(id) = queue.pop_front() {
            if id == old {
                return Ok(true);
            }
            if !seen.insert(id) {
                continue;
            }
            for p in self.parents(&id)? {
                if !seen.contains(&p) {
                    queue.push_back(p);
                }
            }
        }
        Ok(false)
    }
}
