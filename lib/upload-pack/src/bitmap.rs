//! Reachability bitmaps (`pack-*.bitmap`, as `git repack -b` and `git gc`
//! write them for bare repositories) for clones and fetches, readiness,
//! and what a fetching client has ([`ClientBitmap`]).
//!
//! A bitmap file belongs to one pack. Bit `i` of a bitmap stands for the
//! `i`-th object of that pack in offset order; a commit's bitmap holds the
//! commit and everything it reaches. With bitmaps a clone needs no tree
//! walk: the wanted commits' bitmaps are OR-ed, and only commits newer than
//! the bitmapped pack (pushed since the last `gc`) are walked, stopping at
//! anything the result already covers. A fetch does the same for the
//! client's haves and sends the [`PackBitmap::difference`].
//!
//! File layout (all integers big-endian): `BITM`, version `1` (u16),
//! flags (u16), entry count (u32), the pack's checksum (20 bytes); four
//! EWAH bitmaps by type (commits, trees, blobs, tags); then per entry the
//! commit's position in the `.idx` (u32), an XOR offset (u8: this bitmap
//! is XOR-ed with the one that many entries earlier), flags (u8) and an
//! EWAH bitmap. EWAH: bit count (u32), word count (u32), the words (u64),
//! the position of the last run-length word (u32); each run-length word
//! holds a fill bit (bit 0), a run length in words (bits 1–32) and the
//! number of literal words that follow it (bits 33–63).
//!
//! Anything unexpected makes [`PackBitmap::open`] return `None`; the caller
//! then counts objects the ordinary way.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gix::hashtable::HashSet;
use gix::objs::{FindExt, Kind};
use gix::ObjectId;

use gix_pack::data::entry::Location;
use gix_pack::data::output::count::PackLocation;
use gix_pack::data::output::Count;

use crate::Fail;

/// Commits without a bitmap walked at most to find what a client has.
const COMMIT_CLOSURE_LIMIT: usize = 5000;

/// A dense bit set over pack positions.
type Bits = Vec<u64>;

/// One pack's bitmap index.
pub(crate) struct PackBitmap {
    index: gix_pack::index::File,
    /// Size of the `.pack` file, to bound the last entry.
    pack_len: u64,
    data: Vec<u8>,
    /// `.idx` position -> position in the pack (offset order).
    idx_to_pack: Vec<u32>,
    /// Position in the pack -> `.idx` position.
    pack_to_idx: Vec<u32>,
    /// Commit -> (offset of its entry's EWAH in `data`, XOR offset, entry number).
    entries: HashMap<ObjectId, usize>,
    entry_list: Vec<(usize, u8)>,
    commits: Bits,
}

/// Parses one EWAH bitmap at `data`, returning it densely and the bytes used.
fn ewah(data: &[u8], max_bits: usize) -> Option<(Bits, usize)> {
    let mut dense = vec![0u64; max_bits.div_ceil(64)];
    let used = ewah_xor(data, max_bits, &mut dense)?;
    Some((dense, used))
}

/// XORs the EWAH bitmap at `data` into `dense` (of `max_bits` bits),
/// returning the bytes it takes. Bits past `max_bits` stay clear.
fn ewah_xor(data: &[u8], max_bits: usize, dense: &mut [u64]) -> Option<usize> {
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(o..o + 4)?.try_into().ok()?))
    };
    let num_bits = u32_at(0)? as usize;
    let n_words = u32_at(4)? as usize;
    // git rounds entry bitmaps up to whole words.
    if num_bits > max_bits.div_ceil(64) * 64 || dense.len() != max_bits.div_ceil(64) {
        return None;
    }
    let words_end = 8usize.checked_add(n_words.checked_mul(8)?)?;
    let words = data.get(8..words_end)?;
    u32_at(words_end)?;
    let word = |i: usize| u64::from_be_bytes(words[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (mut i, mut pos) = (0usize, 0usize);
    while i < n_words {
        let rlw = word(i);
        i += 1;
        let run = ((rlw >> 1) & 0xffff_ffff) as usize;
        let literals = (rlw >> 33) as usize;
        let run_end = pos.checked_add(run)?;
        if run_end > dense.len() {
            return None;
        }
        if rlw & 1 == 1 {
            for w in &mut dense[pos..run_end] {
                *w ^= !0;
            }
        }
        pos = run_end;
        if literals > n_words - i || pos + literals > dense.len() {
            return None;
        }
        for k in 0..literals {
            dense[pos + k] ^= word(i + k);
        }
        i += literals;
        pos += literals;
    }
    // Clear bits past the end (a fill run may cover them).
    if max_bits % 64 != 0 {
        if let Some(last) = dense.last_mut() {
            *last &= (1u64 << (max_bits % 64)) - 1;
        }
    }
    Some(words_end + 4)
}

/// The `.idx` positions in pack order from the pack's reverse index
/// (`pack-*.rev`, as git writes it beside a bitmap): `RIDX`, version 1,
/// hash id 1, one big-endian u32 per object, the pack's checksum, the
/// file's checksum. `None` unless it matches the index and really is in
/// ascending offset order (checked in one pass: cheaper than sorting).
pub(crate) fn pack_order(index: &gix_pack::index::File, rev: &[u8]) -> Option<Vec<u32>> {
    let n = index.num_objects() as usize;
    let table = rev.get(12..12 + 4 * n)?;
    if rev.get(..12)? != b"RIDX\0\0\0\x01\0\0\0\x01"
        || rev.len() != 12 + 4 * n + 40
        || rev.get(12 + 4 * n..12 + 4 * n + 20)? != index.pack_checksum().as_slice()
    {
        return None;
    }
    let order: Vec<u32> = table
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let mut last = None;
    for &i in &order {
        if i as usize >= n {
            return None;
        }
        let offset = index.pack_offset_at_index(i);
        if last.is_some_and(|l| l >= offset) {
            return None;
        }
        last = Some(offset);
    }
    Some(order)
}

/// The bytes one EWAH bitmap at `data` takes, without decoding it (its
/// words are checked when it is used).
fn ewah_len(data: &[u8], max_bits: usize) -> Option<usize> {
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(o..o + 4)?.try_into().ok()?))
    };
    if u32_at(0)? as usize > max_bits.div_ceil(64) * 64 {
        return None;
    }
    let words_end = 8usize.checked_add((u32_at(4)? as usize).checked_mul(8)?)?;
    u32_at(words_end)?;
    Some(words_end + 4)
}

fn test(bits: &Bits, pos: usize) -> bool {
    bits[pos / 64] & (1u64 << (pos % 64)) != 0
}

fn set(bits: &mut Bits, pos: usize) {
    bits[pos / 64] |= 1u64 << (pos % 64);
}

impl PackBitmap {
    /// Loads the repository's single-pack bitmap, if there is a usable one.
    pub fn open(objects_dir: &Path) -> Option<PackBitmap> {
        let pack_dir = objects_dir.join("pack");
        let mut bitmaps: Vec<PathBuf> = std::fs::read_dir(&pack_dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "bitmap")
                    && p.file_name()
                        .is_some_and(|n| n.as_encoded_bytes().starts_with(b"pack-"))
            })
            .collect();
        bitmaps.sort();
        let path = bitmaps.into_iter().next()?;
        let data = std::fs::read(&path).ok()?;
        let index =
            gix_pack::index::File::at(path.with_extension("idx"), gix::hash::Kind::Sha1).ok()?;
        let pack_len = std::fs::metadata(path.with_extension("pack")).ok()?.len();
        let rev = std::fs::read(path.with_extension("rev")).ok();
        Self::parse(index, data, pack_len, rev.as_deref())
    }

    fn parse(
        index: gix_pack::index::File,
        data: Vec<u8>,
        pack_len: u64,
        rev: Option<&[u8]>,
    ) -> Option<PackBitmap> {
        if data.get(0..4)? != b"BITM" || data.get(4..6)? != [0, 1] {
            return None;
        }
        let count = u32::from_be_bytes(data.get(8..12)?.try_into().ok()?) as usize;
        if data.get(12..32)? != index.pack_checksum().as_slice() {
            return None;
        }
        let n = index.num_objects() as usize;
        let mut at = 32;
        let mut types = Vec::new();
        for _ in 0..4 {
            let (bits, used) = ewah(data.get(at..)?, n)?;
            types.push(bits);
            at += used;
        }
        let order = match rev.and_then(|r| pack_order(&index, r)) {
            Some(order) => order,
            None => {
                let mut order: Vec<u32> = (0..n as u32).collect();
                order.sort_unstable_by_key(|&i| index.pack_offset_at_index(i));
                order
            }
        };
        let mut idx_to_pack = vec![0u32; n];
        for (pack_pos, &idx_pos) in order.iter().enumerate() {
            idx_to_pack[idx_pos as usize] = pack_pos as u32;
        }
        let mut entries = HashMap::with_capacity(count);
        let mut entry_list = Vec::with_capacity(count);
        for e in 0..count {
            let idx_pos = u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?);
            let xor = *data.get(at + 4)?;
            if idx_pos as usize >= n || xor as usize > e {
                return None;
            }
            at += 6;
            let used = ewah_len(data.get(at..)?, n)?;
            entries.insert(index.oid_at_index(idx_pos).to_owned(), e);
            entry_list.push((at, xor));
            at += used;
        }
        let commits = types.swap_remove(0);
        Some(PackBitmap {
            index,
            pack_len,
            data,
            idx_to_pack,
            pack_to_idx: order,
            entries,
            entry_list,
            commits,
        })
    }

    /// The object's position in the pack, if the pack has it.
    fn pos(&self, id: &ObjectId) -> Option<usize> {
        self.index
            .lookup(id)
            .map(|i| self.idx_to_pack[i as usize] as usize)
    }

    /// The full bitmap of entry `e`, XOR chain resolved, into `bits`
    /// (overwritten). An entry is stored XOR-ed with an earlier one, which
    /// may be stored XOR-ed in turn: the XOR of the whole chain is the
    /// entry's bitmap.
    fn entry_bits(&self, mut e: usize, bits: &mut Bits) -> Option<()> {
        let n = self.idx_to_pack.len();
        bits.clear();
        bits.resize(n.div_ceil(64), 0);
        loop {
            let (at, xor) = self.entry_list[e];
            ewah_xor(&self.data[at..], n, bits)?;
            if xor == 0 {
                return Some(());
            }
            e -= xor as usize;
        }
    }

    /// Everything reachable from `tips` (commits) and `roots` (trees, blobs
    /// or tag objects, whose targets must also be among the inputs).
    /// Returns `None` if the bitmap turns out unusable, or if more than
    /// `max_walk` commits without a bitmap would have to be walked.
    pub fn reachable(
        &self,
        repo: &gix::Repository,
        tips: &[ObjectId],
        roots: &[ObjectId],
        max_walk: usize,
    ) -> Result<Option<Reachable>, Fail> {
        let n = self.idx_to_pack.len();
        let mut result: Bits = vec![0u64; n.div_ceil(64)];
        let mut extra = Vec::new();
        let mut extra_seen = HashSet::default();
        let mut extra_commits = Vec::new();
        let mut walked = 0usize;
        let mut buf = Vec::new();
        let mut expand = Vec::new();
        let mut entry = Bits::new();
        // Clients list haves newest first: the bitmap found below the
        // newest usually covers all the others.
        let mut stack: Vec<ObjectId> = tips.iter().rev().copied().collect();
        while let Some(c) = stack.pop() {
            let pos = self.pos(&c);
            match pos {
                Some(p) if test(&result, p) => continue,
                None if extra_seen.contains(&c) => continue,
                _ => {}
            }
            if let Some(&e) = self.entries.get(&c) {
                if self.entry_bits(e, &mut entry).is_none() {
                    return Ok(None);
                }
                for (w, b) in result.iter_mut().zip(&entry) {
                    *w |= b;
                }
                continue;
            }
            walked += 1;
            if walked > max_walk {
                return Ok(None);
            }
            match pos {
                Some(p) => set(&mut result, p),
                None => {
                    extra_seen.insert(c);
                    extra.push(c);
                    extra_commits.push(c);
                }
            }
            let commit = repo
                .objects
                .find_commit_iter(&c, &mut buf)
                .map_err(|_| missing(c))?;
            let mut tree = None;
            for token in commit {
                match token.map_err(|e| Fail::internal("reading commit", e))? {
                    gix::objs::commit::ref_iter::Token::Tree { id } => tree = Some(id),
                    gix::objs::commit::ref_iter::Token::Parent { id } => stack.push(id),
                    _ => break,
                }
            }
            expand.extend(tree);
        }
        // Trees of the commits the bitmaps did not cover, then the roots.
        let mut trees: Vec<ObjectId> = expand.into_iter().chain(roots.iter().copied()).collect();
        while let Some(id) = trees.pop() {
            match self.pos(&id) {
                Some(p) if test(&result, p) => continue,
                Some(p) => set(&mut result, p),
                None => {
                    if !extra_seen.insert(id) {
                        continue;
                    }
                    extra.push(id);
                }
            }
            let Ok(header) = repo.find_header(id) else {
                return Err(missing(id));
            };
            if header.kind() != Kind::Tree {
                continue;
            }
            let iter = repo
                .objects
                .find_tree_iter(&id, &mut buf)
                .map_err(|_| missing(id))?;
            for entry in iter {
                let entry = entry.map_err(|e| Fail::internal("reading tree", e))?;
                if entry.mode.is_commit() {
                    continue;
                }
                let child = entry.oid.to_owned();
                if entry.mode.is_tree() {
                    trees.push(child);
                } else {
                    match self.pos(&child) {
                        Some(p) => set(&mut result, p),
                        None => {
                            if extra_seen.insert(child) {
                                extra.push(child);
                            }
                        }
                    }
                }
            }
        }
        let commits = self.commits_in(&result) + extra_commits.len();
        Ok(Some(Reachable {
            bits: result,
            extra,
            extra_seen,
            extra_commits,
            commits,
        }))
    }

    /// How many of the pack's commits `bits` holds.
    fn commits_in(&self, bits: &Bits) -> usize {
        bits.iter()
            .zip(&self.commits)
            .map(|(r, c)| (r & c).count_ones() as usize)
            .sum()
    }

    /// What `want` reaches and `have` does not.
    pub fn difference(&self, want: &Reachable, have: &Reachable) -> Reachable {
        let bits: Bits = want
            .bits
            .iter()
            .zip(&have.bits)
            .map(|(w, h)| w & !h)
            .collect();
        let outside = |id: &&ObjectId| !have.extra_seen.contains(*id);
        let extra: Vec<ObjectId> = want.extra.iter().filter(outside).copied().collect();
        let extra_commits: Vec<ObjectId> =
            want.extra_commits.iter().filter(outside).copied().collect();
        Reachable {
            commits: self.commits_in(&bits) + extra_commits.len(),
            extra_seen: extra.iter().copied().collect(),
            bits,
            extra,
            extra_commits,
        }
    }

    /// The bitmaps of the nearest bitmapped commits `tips` reach, and the
    /// pack's commits on the way there (without their trees). Commits not
    /// in the pack are walked through. `None` if the bitmap turns out
    /// unusable, a commit cannot be read, or more than
    /// [`COMMIT_CLOSURE_LIMIT`] commits lack a bitmap.
    fn commit_closure(
        &self,
        repo: &gix::Repository,
        tips: &[ObjectId],
    ) -> Result<Option<Bits>, Fail> {
        let n = self.idx_to_pack.len();
        let mut result: Bits = vec![0u64; n.div_ceil(64)];
        let mut walked = HashSet::default();
        let mut buf = Vec::new();
        let mut found = Vec::new();
        let mut stack: Vec<ObjectId> = tips.to_vec();
        while let Some(c) = stack.pop() {
            let pos = self.pos(&c);
            if pos.is_some_and(|p| test(&result, p)) || !walked.insert(c) {
                continue;
            }
            if let Some(&e) = self.entries.get(&c) {
                found.push(e);
                continue;
            }
            if walked.len() > COMMIT_CLOSURE_LIMIT {
                return Ok(None);
            }
            if let Some(p) = pos {
                set(&mut result, p);
            }
            // A commit that cannot be read (a repository grafted shallow
            // itself) leaves the client's set unknown, not the fetch failed.
            let Ok(commit) = repo.objects.find_commit_iter(&c, &mut buf) else {
                return Ok(None);
            };
            for token in commit {
                match token {
                    Ok(gix::objs::commit::ref_iter::Token::Tree { .. }) => {}
                    Ok(gix::objs::commit::ref_iter::Token::Parent { id }) => stack.push(id),
                    Ok(_) => break,
                    Err(_) => return Ok(None),
                }
            }
        }
        let mut entry = Bits::new();
        for e in found {
            if self.entry_bits(e, &mut entry).is_none() {
                return Ok(None);
            }
            for (w, b) in result.iter_mut().zip(&entry) {
                *w |= b;
            }
        }
        Ok(Some(result))
    }

    /// Whether each of `wants` (commits) reaches one of `common` (commits)
    /// by the bitmaps. `None` if that cannot be told this way: a common
    /// commit outside the pack, a commit that cannot be read, or too many
    /// commits without a bitmap.
    pub fn each_reaches(
        &self,
        repo: &gix::Repository,
        wants: &[ObjectId],
        common: &HashSet<ObjectId>,
    ) -> Option<bool> {
        let positions: Vec<usize> = common.iter().map(|c| self.pos(c)).collect::<Option<_>>()?;
        for want in wants {
            if common.contains(want) {
                continue;
            }
            let closure = self
                .commit_closure(repo, std::slice::from_ref(want))
                .ok()??;
            if !positions.iter().any(|&p| test(&closure, p)) {
                return Some(false);
            }
        }
        Some(true)
    }

    /// The counts of a reachable set, pack objects in pack order first.
    ///
    /// Pack objects come with their location (entry sizes follow from the
    /// offsets), which spares gix from inflating every entry to find where
    /// it ends.
    pub fn counts(&self, r: &Reachable, db: &crate::objects::Db) -> Vec<Count> {
        let total = r.extra.len()
            + r.bits
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>();
        let mut out = Vec::with_capacity(total);
        let mut pack_id = None;
        for (wi, &w) in r.bits.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                let pos = wi * 64 + bit;
                let idx = self.pack_to_idx[pos];
                let id = self.index.oid_at_index(idx).to_owned();
                let offset = self.index.pack_offset_at_index(idx);
                if pack_id.is_none() {
                    pack_id = Some(self.store_pack_id(db, &id, offset));
                }
                let entry_pack_location = match pack_id {
                    Some(Some(pack_id)) => {
                        let end = match self.pack_to_idx.get(pos + 1) {
                            Some(&next) => self.index.pack_offset_at_index(next),
                            None => self.pack_len.saturating_sub(20),
                        };
                        PackLocation::LookedUp(Some(Location {
                            pack_id,
                            pack_offset: offset,
                            entry_size: (end - offset) as usize,
                        }))
                    }
                    _ => PackLocation::NotLookedUp,
                };
                out.push(Count {
                    id,
                    entry_pack_location,
                });
            }
        }
        out.extend(r.extra.iter().map(|&id| Count {
            id,
            entry_pack_location: PackLocation::NotLookedUp,
        }));
        out
    }

    /// The object store's id for this pack, found through one object whose
    /// location the store reports at the same offset.
    fn store_pack_id(&self, db: &crate::objects::Db, id: &ObjectId, offset: u64) -> Option<u32> {
        use gix_pack::Find;
        let loc = db.location_by_oid(id, &mut Vec::new()).ok()??;
        (loc.pack_offset == offset).then_some(loc.pack_id)
    }

    /// Whether the reachable set is exactly the objects of the pack.
    pub fn covers_whole_pack(&self, r: &Reachable) -> bool {
        r.extra.is_empty()
            && r.bits
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>()
                == self.idx_to_pack.len()
    }

    /// The bitmapped pack, ready to be streamed whole.
    pub fn stored_pack(&self) -> Option<crate::reuse::StoredPack> {
        let offsets = self
            .pack_to_idx
            .iter()
            .map(|&i| self.index.pack_offset_at_index(i))
            .collect();
        crate::reuse::StoredPack::open_with_offsets(&self.index, offsets)
    }

    /// Whether `id` is in the reachable set.
    pub fn contains(&self, r: &Reachable, id: &ObjectId) -> bool {
        match self.pos(id) {
            Some(p) => test(&r.bits, p),
            None => r.extra_seen.contains(id),
        }
    }
}

/// The repository's bitmap, opened when first needed and shared by the
/// steps of one fetch (readiness, enumeration, what a thin pack may
/// leave out).
pub(crate) struct SharedBitmap<'r> {
    repo: &'r gix::Repository,
    enabled: bool,
    opened: OnceCell<Option<Arc<PackBitmap>>>,
}

impl<'r> SharedBitmap<'r> {
    /// With `enabled` false, [`Self::get`] never finds a bitmap.
    pub fn new(repo: &'r gix::Repository, enabled: bool) -> Self {
        SharedBitmap {
            repo,
            enabled,
            opened: OnceCell::new(),
        }
    }

    /// The bitmap, if the repository has a usable one.
    pub fn get(&self) -> Option<&Arc<PackBitmap>> {
        self.opened
            .get_or_init(|| {
                self.enabled
                    .then(|| PackBitmap::open(self.repo.objects.store_ref().path()))
                    .flatten()
                    .map(Arc::new)
            })
            .as_ref()
    }
}

/// What a fetching client has, from the bitmaps of its common commits,
/// and where the bitmapped pack's entries are: a thin pack may send any
/// stored delta whose base is in the client's set, and the pack's order
/// gives entry sizes and base ids without inflating anything.
pub(crate) struct ClientBitmap {
    bitmap: Arc<PackBitmap>,
    /// Pack positions of objects the client has.
    haves: Bits,
    /// The object store's id for the bitmapped pack.
    pack_id: u32,
}

impl ClientBitmap {
    /// The repository's bitmap and what `haves` (commits the client has,
    /// in a repository that is not shallow for it) reach: the bitmaps of
    /// the nearest bitmapped commits, and the commits on the way (their
    /// trees are not expanded: a subset of what the client has is all a
    /// thin pack needs, and the walk stays cheap). `None` without a usable
    /// bitmap.
    pub fn new(
        bitmap: Arc<PackBitmap>,
        repo: &gix::Repository,
        db: &crate::objects::Db,
        haves: &[ObjectId],
    ) -> Result<Option<ClientBitmap>, Fail> {
        let Some(haves) = bitmap.commit_closure(repo, haves)? else {
            return Ok(None);
        };
        Ok(Self::with_haves(bitmap, db, haves))
    }

    /// The client has exactly `have` (of the pack's objects; it may have
    /// objects outside the pack too).
    pub fn of_reachable(
        bitmap: Arc<PackBitmap>,
        db: &crate::objects::Db,
        have: Reachable,
    ) -> Option<ClientBitmap> {
        Self::with_haves(bitmap, db, have.bits)
    }

    fn with_haves(
        bitmap: Arc<PackBitmap>,
        db: &crate::objects::Db,
        haves: Bits,
    ) -> Option<ClientBitmap> {
        let &first = bitmap.pack_to_idx.first()?;
        let id = bitmap.index.oid_at_index(first).to_owned();
        let offset = bitmap.index.pack_offset_at_index(first);
        let pack_id = bitmap.store_pack_id(db, &id, offset)?;
        Some(ClientBitmap {
            bitmap,
            haves,
            pack_id,
        })
    }

    /// Whether the client has `id`.
    pub fn has(&self, id: &ObjectId) -> bool {
        self.bitmap.pos(id).is_some_and(|p| test(&self.haves, p))
    }

    /// Where `id` is stored, if in the bitmapped pack.
    pub fn locate(&self, id: &ObjectId) -> Option<Location> {
        let b = &self.bitmap;
        let idx = b.index.lookup(id)?;
        let pos = *b.idx_to_pack.get(idx as usize)? as usize;
        let offset = b.index.pack_offset_at_index(idx);
        let end = match b.pack_to_idx.get(pos + 1) {
            Some(&next) => b.index.pack_offset_at_index(next),
            None => b.pack_len.checked_sub(20)?,
        };
        Some(Location {
            pack_id: self.pack_id,
            pack_offset: offset,
            entry_size: usize::try_from(end.checked_sub(offset)?).ok()?,
        })
    }

    /// The id of the entry at `offset` of the store's pack `pack_id`, if
    /// that is the bitmapped pack and an entry starts there.
    pub fn id_at(&self, pack_id: u32, offset: u64) -> Option<ObjectId> {
        if pack_id != self.pack_id {
            return None;
        }
        let b = &self.bitmap;
        let order = &b.pack_to_idx;
        let pos = order.partition_point(|&i| b.index.pack_offset_at_index(i) < offset);
        let &idx = order.get(pos)?;
        (b.index.pack_offset_at_index(idx) == offset).then(|| b.index.oid_at_index(idx).to_owned())
    }
}

/// The result of [`PackBitmap::reachable`].
pub(crate) struct Reachable {
    bits: Bits,
    /// Objects outside the bitmapped pack (pushed since it was written).
    extra: Vec<ObjectId>,
    extra_seen: HashSet<ObjectId>,
    /// The commits among `extra`.
    extra_commits: Vec<ObjectId>,
    /// Number of commits in the set.
    pub commits: usize,
}

fn missing(id: ObjectId) -> Fail {
    Fail::new(format!("object {} not found", id.to_hex()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ewah_bytes(num_bits: u32, words: &[u64]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&num_bits.to_be_bytes());
        v.extend_from_slice(&(words.len() as u32).to_be_bytes());
        for w in words {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(&0u32.to_be_bytes());
        v
    }

    #[test]
    fn ewah_runs_and_literals() {
        // A run of 2 one-words, then 1 literal word; then a run of 1 zero-word and 1 literal.
        let rlw1 = 1 | (2 << 1) | (1u64 << 33);
        let rlw2 = (1 << 1) | (1u64 << 33);
        let data = ewah_bytes(300, &[rlw1, 0b1010, rlw2, 0b1]);
        let (bits, used) = ewah(&data, 300).unwrap();
        assert_eq!(used, data.len());
        assert_eq!(bits, vec![!0, !0, 0b1010, 0, 0b1]);
    }

    #[test]
    fn ewah_rejects_overflowing_runs() {
        let rlw = 1 | (10 << 1);
        assert!(ewah(&ewah_bytes(64, &[rlw]), 64).is_none());
        assert!(
            ewah(&ewah_bytes(64, &[1u64 << 33]), 64).is_none(),
            "literal word missing"
        );
        assert!(ewah(&[0, 0], 64).is_none());
    }
}

#[cfg(test)]
mod with_git {

    use crate::test_git::{commit_each, git, init_work, object_ids};
    use std::path::Path;

    /// git's reverse index gives the pack order; one that is not in
    /// ascending offset order, or belongs to another pack, is refused.
    #[test]
    fn reads_git_reverse_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = init_work(d);
        commit_each(&r, 0..3, |i, r| {
            std::fs::write(r.join(format!("f{i}")), format!("{i}\n")).unwrap();
        });
        git(
            &r,
            &["-c", "pack.writeReverseIndex=true", "repack", "-adbq"],
        );
        let pack_dir = r.join(".git/objects/pack");
        let rev_path = std::fs::read_dir(&pack_dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "rev"))
            .expect("git wrote a reverse index");
        let index =
            gix_pack::index::File::at(rev_path.with_extension("idx"), gix::hash::Kind::Sha1)
                .unwrap();
        let rev = std::fs::read(&rev_path).unwrap();
        let mut sorted: Vec<u32> = (0..index.num_objects()).collect();
        sorted.sort_by_key(|&i| index.pack_offset_at_index(i));
        assert_eq!(super::pack_order(&index, &rev), Some(sorted));
        let mut swapped = rev.clone();
        swapped.copy_within(12..16, 16);
        swapped[12..16].copy_from_slice(&rev[16..20]);
        assert_eq!(super::pack_order(&index, &swapped), None);
        let mut other = rev.clone();
        other[12 + 4 * index.num_objects() as usize] ^= 1;
        assert_eq!(super::pack_order(&index, &other), None);
    }

    /// The bitmap git writes is found, parsed and gives the same closure
    /// as `git rev-list --objects`, for a commit with a bitmap and for a
    /// newer one without.
    #[test]
    fn reads_git_bitmaps() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = init_work(d);
        commit_each(&r, 0..5, |i, r| {
            std::fs::create_dir_all(r.join(format!("d{i}"))).unwrap();
            std::fs::write(r.join(format!("d{i}/f")), format!("{i}\n")).unwrap();
            std::fs::write(r.join("top"), format!("{i}\n")).unwrap();
        });
        git(&r, &["repack", "-adb", "-q"]);
        std::fs::write(r.join("top"), "new\n").unwrap();
        git(&r, &["commit", "-q", "-am", "after"]);

        let repo = gix::open(&r).unwrap();
        let bitmap = super::PackBitmap::open(&r.join(".git/objects")).expect("usable bitmap");
        for rev in ["HEAD~1", "HEAD", "HEAD~3"] {
            let id = repo.rev_parse_single(rev).unwrap().detach();
            let reach = bitmap
                .reachable(&repo, &[id], &[], usize::MAX)
                .unwrap()
                .unwrap();
            let expected = git(&r, &["rev-list", "--objects", rev]).lines().count();
            let db = crate::pack::tests_db(&repo);
            assert_eq!(bitmap.counts(&reach, &db).len(), expected, "{rev}");
            let commits = git(&r, &["rev-list", "--count", rev]);
            assert_eq!(reach.commits.to_string(), commits.trim(), "{rev}");
        }
    }

    /// What wants reach minus what haves reach is what `git rev-list
    /// --objects <want> --not <have>` lists, with commits pushed after the
    /// bitmapped pack on either side; and readiness follows reachability.
    #[test]
    fn difference_and_readiness() {
        use gix::ObjectId;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = init_work(d);
        let change = |i: usize, r: &Path| {
            std::fs::create_dir_all(r.join(format!("d{}", i % 3))).unwrap();
            std::fs::write(r.join(format!("d{}/f", i % 3)), format!("{i}\n")).unwrap();
            std::fs::write(r.join("top"), format!("top {i}\n").repeat(10)).unwrap();
        };
        commit_each(&r, 0..8, change);
        git(&r, &["branch", "side", "HEAD~5"]);
        git(&r, &["repack", "-adb", "-q"]);
        commit_each(&r, 8..11, change);
        let repo = gix::open(&r).unwrap();
        let db = crate::pack::tests_db(&repo);
        let bitmap = super::PackBitmap::open(&r.join(".git/objects")).expect("usable bitmap");
        let id = |rev: &str| repo.rev_parse_single(rev).unwrap().detach();
        for (want, have) in [
            ("HEAD", "HEAD~4"),
            ("HEAD~4", "HEAD~6"),
            ("HEAD", "HEAD~1"),
            ("side", "HEAD"),
        ] {
            let w = bitmap
                .reachable(&repo, &[id(want)], &[], usize::MAX)
                .unwrap()
                .unwrap();
            let h = bitmap
                .reachable(&repo, &[id(have)], &[], usize::MAX)
                .unwrap()
                .unwrap();
            let send = bitmap.difference(&w, &h);
            let mut ours: Vec<ObjectId> = bitmap.counts(&send, &db).iter().map(|c| c.id).collect();
            ours.sort();
            let mut expected = object_ids(&r, &[want, &format!("^{have}")]);
            expected.sort();
            assert_eq!(ours, expected, "{want} --not {have}");
            let commits = git(&r, &["rev-list", "--count", want, &format!("^{have}")]);
            assert_eq!(
                send.commits.to_string(),
                commits.trim(),
                "{want} --not {have}"
            );
        }
        let common: gix::hashtable::HashSet<ObjectId> = [id("HEAD~6")].into_iter().collect();
        assert_eq!(
            bitmap.each_reaches(&repo, &[id("HEAD"), id("HEAD~2")], &common),
            Some(true)
        );
        let common: gix::hashtable::HashSet<ObjectId> = [id("HEAD~4")].into_iter().collect();
        assert_eq!(
            bitmap.each_reaches(&repo, &[id("HEAD"), id("side")], &common),
            Some(false)
        );
        // A common commit newer than the bitmapped pack: not told this way.
        let common: gix::hashtable::HashSet<ObjectId> = [id("HEAD~1")].into_iter().collect();
        assert_eq!(bitmap.each_reaches(&repo, &[id("HEAD")], &common), None);
    }

    /// The client's bitmap: part of what its haves reach (at least the
    /// commits) and nothing newer, and
    /// entry locations and ids by offset as gix sees them.
    #[test]
    fn client_bitmap_of_haves() {
        use gix::ObjectId;
        use gix_pack::Find;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let r = init_work(d);
        commit_each(&r, 0..6, |i, r| {
            std::fs::write(r.join("f"), format!("version {i}\n").repeat(20)).unwrap();
        });
        git(&r, &["repack", "-adb", "-q"]);
        let repo = gix::open(&r).unwrap();
        let db = crate::pack::tests_db(&repo);
        let have = repo.rev_parse_single("HEAD~3").unwrap().detach();
        let bitmap = super::PackBitmap::open(&r.join(".git/objects")).expect("usable bitmap");
        let client = super::ClientBitmap::new(std::sync::Arc::new(bitmap), &repo, &db, &[have])
            .unwrap()
            .expect("usable bitmap");
        let old = object_ids(&r, &["HEAD~3"]);
        let all = object_ids(&r, &["HEAD"]);
        let old_commits = git(&r, &["rev-list", "HEAD~3"]);
        for line in old_commits.lines() {
            assert!(client.has(&ObjectId::from_hex(line.as_bytes()).unwrap()));
        }
        for id in &all {
            // Never more than the client has; at least its commits.
            assert!(!client.has(id) || old.contains(id), "{id}");
            let ours = client.locate(id).expect("in the pack");
            let theirs = db.location_by_oid(id, &mut Vec::new()).unwrap().unwrap();
            assert_eq!(
                (ours.pack_id, ours.pack_offset, ours.entry_size),
                (theirs.pack_id, theirs.pack_offset, theirs.entry_size)
            );
            assert_eq!(client.id_at(ours.pack_id, ours.pack_offset), Some(*id));
            assert_eq!(client.id_at(ours.pack_id, ours.pack_offset + 1), None);
            assert_eq!(client.id_at(ours.pack_id + 1, ours.pack_offset), None);
        }
    }
}
