//! The objects to send: everything reachable from the wants that the client
//! does not provably have.
//!
//! * With a reachability bitmap (`bitmap.rs`), clients that are not
//!   shallow: the wants' bitmaps, minus the haves' for a fetch; no tree is
//!   walked but those of commits pushed since the bitmap.
//! * No common haves (a clone) of a repository that is one pack: every
//!   commit reachable from the wants is expanded to its full tree by
//!   gix-pack's threaded counter.
//! * Otherwise: the commits reachable from the wants but not from
//!   the haves are walked; the trees of the boundary commits (the parents
//!   the client has) seed a `seen` set, and every new commit's tree is
//!   walked skipping what is seen — the same set `git rev-list --objects
//!   <wants> --not <haves>` yields. The seed set doubles as the list of
//!   bases a thin pack may refer to.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use gix::hashtable::HashSet;
use gix::objs::{FindExt, Kind};
use gix::ObjectId;
use gix_pack::data::output::count::{self, PackLocation};
use gix_pack::data::output::Count;

use crate::bitmap::{ClientBitmap, PackBitmap, Reachable, SharedBitmap};
use crate::refs::Refs;
use crate::reuse::StoredPack;
use crate::{Fail, FetchRequest};

/// The object database handle pack generation shares between threads.
pub(crate) type Db = gix::odb::Cache<gix::odb::store::Handle<std::sync::Arc<gix::odb::Store>>>;

/// What the paths of the walked trees tell about good delta bases.
#[derive(Default)]
pub(crate) struct Hints {
    /// For a thin pack: sent object -> an object the client has at the same path.
    pub client_base: HashMap<ObjectId, ObjectId>,
    /// Sent object -> the path it was found at (objects from the same path
    /// are likely versions of one file) and when.
    pub name: gix::hashtable::HashMap<ObjectId, PathHint>,
    /// Path -> its number.
    paths: HashMap<Vec<u8>, u32>,
}

/// Where the walk found an object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathHint {
    /// Number of the path.
    pub path: u32,
    /// Position in the walk (newest commits first), so neighbouring
    /// ordinals at one path are neighbouring versions of the file.
    pub ordinal: u32,
}

impl Hints {
    fn path_number(&mut self, path: &[u8]) -> u32 {
        let next = self.paths.len() as u32;
        *self.paths.entry(path.to_vec()).or_insert(next)
    }
}

/// The result of enumeration.
pub(crate) struct ObjectSet {
    /// One entry per object to send, no duplicates.
    pub counts: Vec<Count>,
    /// Objects the client has for sure (boundary commits and their trees):
    /// the only bases a thin pack may leave out.
    pub client_has: HashSet<ObjectId>,
    /// For a thin pack, when the repository has a bitmap: everything the
    /// client's common commits reach (any of it may be a delta base), and
    /// where the bitmapped pack's objects are stored.
    pub client_bitmap: Option<ClientBitmap>,
    /// How many commits are sent.
    pub commits: usize,
    /// Delta-base hints from the paths objects were found at.
    pub hints: Hints,
    /// A stored pack that holds exactly the objects to send (then `counts`
    /// may be empty): a clone of everything in a one-pack repository.
    pub whole_pack: Option<StoredPack>,
}

impl ObjectSet {
    /// How many objects are sent.
    pub fn len(&self) -> usize {
        self.whole_pack
            .as_ref()
            .map_or(self.counts.len(), StoredPack::objects)
    }
}

/// Computes the object set for `req`.
pub(crate) fn enumerate(
    repo: &gix::Repository,
    db: &Db,
    req: &FetchRequest,
    refs: &Refs,
    threads: Option<usize>,
    bitmap: &SharedBitmap<'_>,
) -> Result<ObjectSet, Fail> {
    let mut tips = Vec::new();
    let mut roots = Vec::new();
    let mut tags = Vec::new();
    for &want in &req.wants {
        let target = peel(repo, want, &mut tags)?;
        match kind(repo, target)? {
            Kind::Commit => tips.push(target),
            _ => roots.push(target),
        }
    }
    let mut hidden = Vec::new();
    for &have in &req.common {
        let target = peel(repo, have, &mut Vec::new())?;
        if kind(repo, target)? == Kind::Commit {
            hidden.push(target);
        }
    }

    let wanted = Wanted {
        tips: &tips,
        roots: &roots,
        tags: &tags,
    };
    if let (true, true, Some(bitmap)) = (hidden.is_empty(), req.cut.is_none(), bitmap.get()) {
        if let Some(set) = with_bitmap(repo, bitmap, db, req, refs, &wanted)? {
            return Ok(set);
        }
    }
    // A shallow client lacks history behind its shallow commits, which
    // the bitmaps of its haves would include.
    let exact_haves = req.cut.is_none() && req.client_shallow.is_empty();
    if let (false, true, Some(bitmap)) = (hidden.is_empty(), exact_haves, bitmap.get()) {
        if let Some(set) = fetch_with_bitmap(repo, bitmap, db, req, refs, &wanted, &hidden)? {
            return Ok(set);
        }
    }

    let mut walked = Vec::new();
    let mut boundary = Vec::new();
    if let Some(cut) = &req.cut {
        (walked, boundary) = crate::shallow::walk(
            repo,
            &tips,
            &hidden,
            &req.client_shallow,
            cut,
            &req.unshallow,
        )?;
    } else {
        let walk = repo
            .rev_walk(tips.iter().copied())
            .with_hidden(hidden.iter().copied())
            .all()
            .map_err(|e| Fail::internal("walking commits", e))?;
        let mut parents = Vec::new();
        for info in walk {
            let info = info.map_err(|e| Fail::internal("walking commits", e))?;
            walked.push(info.id);
            parents.extend(info.parent_ids.iter().copied());
        }
        if !hidden.is_empty() {
            let set: HashSet<ObjectId> = walked.iter().copied().collect();
            let mut seen = HashSet::default();
            for p in parents.into_iter().chain(hidden.iter().copied()) {
                if !set.contains(&p) && seen.insert(p) {
                    boundary.push(p);
                }
            }
        }
    }
    let walked_set: HashSet<ObjectId> = walked.iter().copied().collect();
    if req.caps.include_tag {
        for r in &refs.refs {
            if r.peeled.is_some_and(|p| walked_set.contains(&p)) {
                peel(repo, r.id, &mut tags)?;
            }
        }
    }
    let commits = walked.len();

    if hidden.is_empty() && req.cut.is_none() {
        if let Some(pack) = single_pack(repo) {
            let counts = count_full(db, walked, roots, tags, threads)?;
            // Every counted object is in the pack (there is nothing else,
            // and counting never yields an object twice): equal numbers
            // mean the same set.
            let whole_pack = (req.caps.ofs_delta && !has_alternates(repo))
                .then(|| gix_pack::index::File::at(pack.with_extension("idx"), repo.object_hash()))
                .and_then(Result::ok)
                .filter(|index| index.num_objects() as usize == counts.len())
                .and_then(|index| StoredPack::open(&index));
            return Ok(ObjectSet {
                counts,
                client_has: HashSet::default(),
                client_bitmap: None,
                commits,
                hints: Hints::default(),
                whole_pack,
            });
        }
    }

    let mut tw = TreeWalker {
        repo,
        buf: Vec::new(),
        seen: HashSet::default(),
        client_paths: req.caps.thin_pack.then(HashMap::new),
    };
    for &b in &boundary {
        if !tw.seen.insert(b) {
            continue;
        }
        // A parent the repository lacks (a shallow boundary) seeds nothing.
        let Ok(tree) = commit_tree(repo, b, &mut tw.buf) else {
            continue;
        };
        tw.walk(tree, Visit::Seed)?;
    }
    let client_has = if req.caps.thin_pack {
        tw.seen.clone()
    } else {
        HashSet::default()
    };
    crate::trace(|| format!("walked {} commits and the boundary's trees", walked.len()));
    let client_bitmap = match bitmap.get() {
        Some(bitmap) if req.caps.thin_pack && !hidden.is_empty() && exact_haves => {
            ClientBitmap::new(bitmap.clone(), repo, db, &hidden)?
        }
        _ => None,
    };
    crate::trace(|| format!("client bitmap: {}", client_bitmap.is_some()));
    let mut out = Vec::new();
    let mut hints = Hints::default();
    for id in walked {
        if tw.seen.insert(id) {
            out.push(id);
        }
        let tree = commit_tree(repo, id, &mut tw.buf)?;
        tw.walk(
            tree,
            Visit::Emit {
                out: &mut out,
                hints: &mut hints,
            },
        )?;
    }
    for root in roots {
        tw.walk(
            root,
            Visit::Emit {
                out: &mut out,
                hints: &mut hints,
            },
        )?;
    }
    for tag in tags {
        if tw.seen.insert(tag) {
            out.push(tag);
        }
    }
    let counts = out
        .into_iter()
        .map(|id| Count {
            id,
            entry_pack_location: PackLocation::NotLookedUp,
        })
        .collect();
    Ok(ObjectSet {
        counts,
        client_has,
        client_bitmap,
        commits,
        hints,
        whole_pack: None,
    })
}

/// What a request wants, peeled: commits, other objects, and the tag
/// objects on the way.
struct Wanted<'a> {
    tips: &'a [ObjectId],
    roots: &'a [ObjectId],
    tags: &'a [ObjectId],
}

/// Everything `wanted` reaches by the bitmap, with the annotated tags of
/// `refs` that point into what `sent` accepts of it when the client asked
/// for `include-tag`. `None` if the bitmap turns out unusable or more than
/// `max_walk` commits lack a bitmap.
fn wanted_reach(
    repo: &gix::Repository,
    bitmap: &PackBitmap,
    req: &FetchRequest,
    refs: &Refs,
    wanted: &Wanted<'_>,
    max_walk: usize,
    sent: impl Fn(&Reachable, &ObjectId) -> bool,
) -> Result<Option<Reachable>, Fail> {
    let mut roots: Vec<ObjectId> = wanted.roots.iter().chain(wanted.tags).copied().collect();
    let Some(reach) = bitmap.reachable(repo, wanted.tips, &roots, max_walk)? else {
        return Ok(None);
    };
    if !req.caps.include_tag {
        return Ok(Some(reach));
    }
    let mut extra_tags = Vec::new();
    for r in &refs.refs {
        if r.peeled.is_some_and(|p| sent(&reach, &p)) && !bitmap.contains(&reach, &r.id) {
            peel(repo, r.id, &mut extra_tags)?;
        }
    }
    if extra_tags.is_empty() {
        return Ok(Some(reach));
    }
    roots.extend(extra_tags);
    bitmap.reachable(repo, wanted.tips, &roots, max_walk)
}

/// A full clone with a reachability bitmap; `None` if there is no usable one.
fn with_bitmap(
    repo: &gix::Repository,
    bitmap: &PackBitmap,
    db: &Db,
    req: &FetchRequest,
    refs: &Refs,
    wanted: &Wanted<'_>,
) -> Result<Option<ObjectSet>, Fail> {
    let Some(reach) = wanted_reach(repo, bitmap, req, refs, wanted, usize::MAX, |r, id| {
        bitmap.contains(r, id)
    })?
    else {
        return Ok(None);
    };
    let commits = reach.commits;
    let whole_pack = (req.caps.ofs_delta && bitmap.covers_whole_pack(&reach))
        .then(|| bitmap.stored_pack())
        .flatten();
    let counts = match whole_pack {
        Some(_) => Vec::new(),
        None => bitmap.counts(&reach, db),
    };
    Ok(Some(ObjectSet {
        counts,
        client_has: HashSet::default(),
        client_bitmap: None,
        commits,
        hints: Hints::default(),
        whole_pack,
    }))
}

/// An incremental fetch with a reachability bitmap: what the wants reach
/// minus what the common commits reach, both from the bitmaps of the
/// nearest bitmapped commits (commits newer than the bitmapped pack are
/// walked with their trees), without walking the new commits' trees. The
/// same set `git rev-list --objects <wants> --not <haves>` yields, in the
/// pack's order and already located. `None` if the bitmap does not tell:
/// too many commits lack one, or something on the way cannot be read.
fn fetch_with_bitmap(
    repo: &gix::Repository,
    bitmap: &Arc<PackBitmap>,
    db: &Db,
    req: &FetchRequest,
    refs: &Refs,
    wanted: &Wanted<'_>,
    haves: &[ObjectId],
) -> Result<Option<ObjectSet>, Fail> {
    // A commit or tree these walks cannot read (a repository grafted
    // shallow itself) leaves the answer to the ordinary walk.
    let Ok(Some(have)) = bitmap.reachable(repo, haves, &[], BITMAP_FETCH_WALK_LIMIT) else {
        return Ok(None);
    };
    let Ok(Some(want)) = wanted_reach(
        repo,
        bitmap,
        req,
        refs,
        wanted,
        BITMAP_FETCH_WALK_LIMIT,
        |r, id| bitmap.contains(r, id) && !bitmap.contains(&have, id),
    ) else {
        return Ok(None);
    };
    let send = bitmap.difference(&want, &have);
    drop(want);
    crate::trace(|| "bitmaps of wants and haves read".into());
    let counts = bitmap.counts(&send, db);
    let client_bitmap = if req.caps.thin_pack {
        ClientBitmap::of_reachable(bitmap.clone(), db, have)
    } else {
        None
    };
    Ok(Some(ObjectSet {
        counts,
        client_has: HashSet::default(),
        client_bitmap,
        commits: send.commits,
        hints: Hints::default(),
        whole_pack: None,
    }))
}

/// Commits without a bitmap a fetch walks (with their trees) on each side
/// before it falls back to walking only the commits it sends.
const BITMAP_FETCH_WALK_LIMIT: usize = 1000;

/// The pack file, if the repository's own objects are all in one pack.
/// Then the pack's own deltas serve a clone well and the faster threaded
/// counter is used; otherwise (a pack per push, loose objects) objects are
/// enumerated with their paths so that whole objects can be deltified.
fn single_pack(repo: &gix::Repository) -> Option<std::path::PathBuf> {
    let objects = repo.objects.store_ref().path();
    let mut packs = std::fs::read_dir(objects.join("pack"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"));
    let pack = packs.next()?;
    let loose = (0..=255u8).any(|b| objects.join(format!("{b:02x}")).is_dir());
    (packs.next().is_none() && !loose).then_some(pack)
}

/// Whether the repository borrows objects from others
/// (`objects/info/alternates`).
fn has_alternates(repo: &gix::Repository) -> bool {
    let path = repo.objects.store_ref().path().join("info/alternates");
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// A full clone: gix-pack's threaded counter expands each commit to its tree.
fn count_full(
    db: &Db,
    commits: Vec<ObjectId>,
    roots: Vec<ObjectId>,
    tags: Vec<ObjectId>,
    threads: Option<usize>,
) -> Result<Vec<Count>, Fail> {
    let input: Vec<ObjectId> = commits.into_iter().chain(roots).chain(tags).collect();
    let interrupt = AtomicBool::new(false);
    let (counts, _outcome) = count::objects(
        db.clone(),
        Box::new(input.into_iter().map(Ok)),
        &gix::progress::Discard,
        &interrupt,
        count::objects::Options {
            thread_limit: threads,
            chunk_size: 50,
            input_object_expansion: count::objects::ObjectExpansion::TreeContents,
        },
    )
    .map_err(|e| Fail::internal("counting objects", e))?;
    Ok(counts)
}

/// Depth-first tree traversal that skips everything already seen, keeping
/// the path of each object for delta hints.
struct TreeWalker<'r> {
    repo: &'r gix::Repository,
    buf: Vec<u8>,
    seen: HashSet<ObjectId>,
    /// When collecting: path -> object the client has there (boundary trees).
    client_paths: Option<HashMap<Vec<u8>, ObjectId>>,
}

/// What a walk does with each newly seen object.
enum Visit<'a> {
    /// Boundary trees: only mark seen (and remember paths, if collecting).
    Seed,
    /// New commits' trees: emit the id, and a delta-base hint when the
    /// client has another object at the same path.
    Emit {
        out: &'a mut Vec<ObjectId>,
        hints: &'a mut Hints,
    },
}

impl TreeWalker<'_> {
    /// Marks `root` and everything below it seen. `root` may also be a blob.
    fn walk(&mut self, root: ObjectId, mut visit: Visit<'_>) -> Result<(), Fail> {
        if !self.seen.insert(root) {
            return Ok(());
        }
        self.visit(&mut visit, root, b"");
        if kind(self.repo, root)? != Kind::Tree {
            return Ok(());
        }
        let mut stack = vec![(root, Vec::new())];
        while let Some((tree, path)) = stack.pop() {
            let iter = self
                .repo
                .objects
                .find_tree_iter(&tree, &mut self.buf)
                .map_err(|_| missing(tree))?;
            let mut new = Vec::new();
            for entry in iter {
                let entry = entry.map_err(|e| Fail::internal("reading tree", e))?;
                if entry.mode.is_commit() {
                    continue;
                }
                let id = entry.oid.to_owned();
                if self.seen.insert(id) {
                    let mut child = path.clone();
                    if !child.is_empty() {
                        child.push(b'/');
                    }
                    child.extend_from_slice(entry.filename);
                    new.push((id, child, entry.mode.is_tree()));
                }
            }
            for (id, child, is_tree) in new {
                self.visit(&mut visit, id, &child);
                if is_tree {
                    stack.push((id, child));
                }
            }
        }
        Ok(())
    }

    fn visit(&mut self, visit: &mut Visit<'_>, id: ObjectId, path: &[u8]) {
        match visit {
            Visit::Seed => {
                if let Some(paths) = self.client_paths.as_mut() {
                    paths.entry(path.to_vec()).or_insert(id);
                }
            }
            Visit::Emit { out, hints } => {
                out.push(id);
                let hint = PathHint {
                    path: hints.path_number(path),
                    ordinal: hints.name.len() as u32,
                };
                hints.name.insert(id, hint);
                if let Some(&base) = self.client_paths.as_ref().and_then(|p| p.get(path)) {
                    hints.client_base.insert(id, base);
                }
            }
        }
    }
}

fn missing(id: ObjectId) -> Fail {
    Fail::new(format!("object {} not found", id.to_hex()))
}

fn kind(repo: &gix::Repository, id: ObjectId) -> Result<Kind, Fail> {
    repo.find_header(id)
        .map(|h| h.kind())
        .map_err(|_| missing(id))
}

fn commit_tree(repo: &gix::Repository, id: ObjectId, buf: &mut Vec<u8>) -> Result<ObjectId, Fail> {
    let mut iter = repo
        .objects
        .find_commit_iter(&id, buf)
        .map_err(|_| missing(id))?;
    iter.tree_id()
        .map_err(|e| Fail::internal("reading commit", e))
}

/// Follows a chain of tags, recording each tag object (duplicates are
/// dropped later by the seen sets); returns the first non-tag object.
fn peel(
    repo: &gix::Repository,
    mut id: ObjectId,
    tags: &mut Vec<ObjectId>,
) -> Result<ObjectId, Fail> {
    let mut buf = Vec::new();
    while kind(repo, id)? == Kind::Tag {
        tags.push(id);
        let iter = repo
            .objects
            .find_tag_iter(&id, &mut buf)
            .map_err(|_| missing(id))?;
        id = iter
            .target_id()
            .map_err(|e| Fail::internal("reading tag", e))?;
    }
    Ok(id)
}
