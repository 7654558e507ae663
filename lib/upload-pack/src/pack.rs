//! Streams the pack for a finished negotiation.
//!
//! gix-pack turns the object set into entries (copying packed objects and
//! their deltas verbatim, in parallel) and writes them; between the two sits
//! [`SafeEntries`], which makes every delta resolvable by the client:
//! a REF_DELTA is kept only if its base was already sent in this pack (then
//! it becomes an OFS_DELTA for `ofs-delta` clients) or, with `thin-pack`, if
//! the client provably has the base; otherwise the object is sent whole.
//! A missing object aborts the pack with an error instead of a corrupt pack.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use gix::hashtable::HashSet;
use gix::ObjectId;
use gix_pack::data::output::{self, entry::Kind, Entry};
use gix_pack::Find;

use crate::bitmap::{ClientBitmap, SharedBitmap};
use crate::deflate::Deflater;
use crate::failure::io;
use crate::objects::{self, Db};
use crate::progress::PackSink;
use crate::ref_deltas;
use crate::refs::Refs;
use crate::request::Sideband;
use crate::{Fail, FetchRequest, Options};

/// Which response frames the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// v0/v1: the pack follows the last ACK/NAK directly.
    V0,
    /// v2: a `packfile` section header comes first.
    V2,
}

/// Counters reported to the client at the end.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    total: usize,
    deltas: usize,
    recompressed: usize,
    /// Deltas computed here (against bases the client has).
    computed: usize,
    /// Computed deltas that failed verification and were not used.
    rejected: usize,
}

/// Delta-base cache of the object database handle that loads objects for
/// computed deltas.
const PACK_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Delta-base cache of each thread copying entries: they copy stored data
/// and decode only objects that cannot be copied, so a small one will do.
const WORKER_PACK_CACHE_BYTES: usize = 1024 * 1024;

/// Below this many entries, gix copies them on the calling thread.
const THREADED_COPY_FROM: usize = 4000;

/// Longest chain of computed deltas.
const MAX_CHAIN: u8 = 50;

/// Versions of the same path tried as delta bases: the nearest this many
/// already sent on each side in walk order (neighbouring versions of the
/// file), whatever order the entries are written in.
const PATH_NEIGHBOURS: usize = 2;

/// Assumed chain depth of a delta copied from a stored pack.
const REUSED_DEPTH: u8 = 25;

/// Objects larger than this are sent as they are stored (like git's
/// `core.bigFileThreshold`): computing a delta would hold two copies.
const MAX_DELTA_TARGET: usize = 64 << 20;

/// Objects smaller than this are not worth a computed delta.
const MIN_DELTA_TARGET: usize = 64;

/// Enumerates, then streams the pack for `req`.
pub(crate) fn send(
    repo: &gix::Repository,
    req: &FetchRequest,
    refs: &Refs,
    out: &mut dyn Write,
    opts: &Options,
    framing: Framing,
    bitmap: &SharedBitmap<'_>,
) -> Result<(), Fail> {
    let db = db_handle(repo, PACK_CACHE_BYTES);
    let set = match objects::enumerate(repo, &db, req, refs, opts.threads, bitmap) {
        Ok(set) => set,
        // After the last ACK/NAK a v0/v1 client with side-band reads band
        // packets only: an ERR packet would be a "bad band". (A v2 client
        // still expects a section header and understands ERR.)
        Err(mut fail) if framing == Framing::V0 && req.caps.sideband != Sideband::None => {
            fail.reported = PackSink::new(out, req.caps.sideband, false).error(&fail.msg);
            return Err(fail);
        }
        Err(fail) => return Err(fail),
    };
    crate::trace(|| format!("enumerated {} objects", set.len()));
    if framing == Framing::V2 {
        gotd_wire::pkt::write_line(&mut &mut *out, "packfile").map_err(io)?;
    }
    let caps = req.caps;
    let mut sink = PackSink::new(out, caps.sideband, !caps.no_progress);
    let result = (|| {
        sink.progress(&format!(
            "Enumerating objects: {}, done.\nCounting commits: {}, done.\n",
            set.len(),
            set.commits
        ))
        .map_err(io)?;
        let stats = match set.whole_pack {
            Some(pack) => {
                let sent = pack.stream(&mut sink)?;
                Stats {
                    total: sent.objects,
                    deltas: sent.deltas,
                    ..Stats::default()
                }
            }
            None => {
                let compression = repo.pack_compression().unwrap_or_default();
                let workers = db_handle(repo, WORKER_PACK_CACHE_BYTES);
                write_pack(db, workers, set, &mut sink, caps, compression, opts.threads)?
            }
        };
        crate::trace(|| format!("wrote {stats:?}"));
        sink.progress(&format!("Total {} (delta {})\n", stats.total, stats.deltas))
            .map_err(io)?;
        sink.finish().map_err(io)
    })();
    result.map_err(|mut fail| {
        // Once pack bytes went out raw, an ERR packet would only corrupt
        // the stream further; the client sees a truncated pack.
        fail.reported =
            sink.error(&fail.msg) || sink.written > 0 || caps.sideband != Sideband::None;
        fail
    })
}

#[cfg(test)]
pub(crate) fn tests_db(repo: &gix::Repository) -> Db {
    db_handle(repo, PACK_CACHE_BYTES)
}

/// A shareable object database handle with a pack cache for delta bases.
fn db_handle(repo: &gix::Repository, cache_bytes: usize) -> Db {
    let mut db = repo.objects.store().to_cache_arc();
    db.prevent_pack_unload();
    db.ignore_replacements = true;
    db.set_pack_cache(move || {
        Box::new(gix_pack::cache::lru::MemoryCappedHashmap::new(cache_bytes))
    });
    db
}

fn write_pack(
    db: Db,
    workers: Db,
    set: objects::ObjectSet,
    sink: &mut PackSink<'_>,
    caps: crate::request::ClientCaps,
    compression: gix::zlib::Compression,
    threads: Option<usize>,
) -> Result<Stats, Fail> {
    let num =
        u32::try_from(set.counts.len()).map_err(|_| Fail::new("too many objects for one pack"))?;
    let thin_lookups = !set.client_has.is_empty() || set.client_bitmap.is_some();
    let client_bitmap = set.client_bitmap.as_ref();
    let (counts, stored_ref_deltas) =
        ref_deltas::split(&db, set.counts, threads, thin_lookups, client_bitmap)?;
    crate::trace(|| {
        format!(
            "located; {} stored deltas taken out",
            stored_ref_deltas.len()
        )
    });
    let entries = output::entry::iter_from_counts(
        counts,
        workers,
        Box::new(gix::progress::Discard),
        output::entry::iter_from_counts::Options {
            // Copying a few hundred entries takes less than starting threads.
            thread_limit: if (num as usize) < THREADED_COPY_FROM {
                Some(1)
            } else {
                threads
            },
            mode: output::entry::iter_from_counts::Mode::PackCopyAndBaseObjects,
            allow_thin_pack: false,
            chunk_size: 64,
            version: gix_pack::data::Version::V2,
            compression,
        },
    )
    .map_err(|e| Fail::internal("preparing pack", e))?;
    let failure = RefCell::new(None);
    let safe = SafeEntries {
        inner: gix::parallel::InOrderIter::from(entries),
        pending: ref_deltas::Pending::new(stored_ref_deltas),
        db,
        client_has: &set.client_has,
        client_bitmap,
        hints: &set.hints,
        sent_by_path: HashMap::new(),
        thin: caps.thin_pack,
        ofs: caps.ofs_delta,
        ids: Vec::with_capacity(num as usize),
        index: gix::hashtable::HashMap::with_capacity_and_hasher(num as usize, Default::default()),
        failure: &failure,
        stats: Stats::default(),
        buf: Vec::new(),
        unpacked: None,
        deflater: Deflater::new(compression),
    };
    let mut writer = output::bytes::FromEntriesIter::new(
        safe,
        &mut *sink,
        num,
        gix_pack::data::Version::V2,
        gix::hash::Kind::Sha1,
    );
    for step in writer.by_ref() {
        if let Err(e) = step {
            let msg = failure
                .borrow_mut()
                .take()
                .unwrap_or_else(|| format!("writing pack: {e}"));
            return Err(Fail::new(msg));
        }
    }
    Ok(writer.input.stats)
}

/// The entry filter between gix's entry generator and the pack writer.
struct SafeEntries<'a, I> {
    inner: I,
    /// Stored REF_DELTA entries, sent after everything `inner` yields.
    pending: ref_deltas::Pending,
    db: Db,
    client_has: &'a HashSet<ObjectId>,
    /// Everything the client's common commits reach, when known.
    client_bitmap: Option<&'a ClientBitmap>,
    hints: &'a objects::Hints,
    /// Path number -> walk ordinal -> (index, chain depth) of the entries
    /// sent from that path: the bases tried for other versions.
    sent_by_path: HashMap<u32, BTreeMap<u32, (usize, u8)>>,
    thin: bool,
    ofs: bool,
    /// Ids in the order they are written; `index` maps them back.
    ids: Vec<ObjectId>,
    index: gix::hashtable::HashMap<ObjectId, usize>,
    /// The client-visible reason when this iterator yields an error.
    failure: &'a RefCell<Option<String>>,
    stats: Stats,
    buf: Vec<u8>,
    /// The data of the entry being fixed, when `whole` made it a whole
    /// object and it is not compressed yet.
    unpacked: Option<Vec<u8>>,
    deflater: Deflater,
}

impl<I> SafeEntries<'_, I> {
    fn fail(&self, msg: String) -> gix::Error {
        *self.failure.borrow_mut() = Some(msg);
        gix::Error::from(gix::Exn::new(gix::error::message(
            "pack generation aborted",
        )))
    }

    fn fix(&mut self, entry: &mut Entry) -> Result<(), gix::Error> {
        self.unpacked = None;
        if entry.is_invalid() {
            return Err(self
                .fail("pack generation failed: an object is missing from the repository".into()));
        }
        // Depth of the delta chain ending at this entry. Reused deltas have
        // an unknown depth; they are assumed halfway to the limit (a longer
        // chain only costs the client time, it is never invalid).
        let mut chain = Some(REUSED_DEPTH);
        match entry.kind {
            Kind::Base(_) => {
                chain = self.compute_delta(entry)?;
            }
            Kind::DeltaRef { object_index } => {
                if !self.ofs {
                    entry.kind = Kind::DeltaOid {
                        id: self.ids[object_index],
                    };
                }
            }
            Kind::DeltaOid { id: base } => match self.index.get(&base) {
                Some(&i) if self.ofs => entry.kind = Kind::DeltaRef { object_index: i },
                Some(_) => {}
                None if self.thin && self.client_has_base(&base) => {}
                None => {
                    self.whole(entry)?;
                    chain = self.compute_delta(entry)?;
                }
            },
        }
        if let (Some(depth), Some(hint)) = (chain, self.hints.name.get(&entry.id)) {
            self.sent_by_path
                .entry(hint.path)
                .or_default()
                .insert(hint.ordinal, (self.ids.len(), depth));
        }
        if let Some(data) = self.unpacked.take() {
            entry.compressed_data = self.compress(&data)?;
        }
        if !matches!(entry.kind, Kind::Base(_)) {
            self.stats.deltas += 1;
        }
        self.stats.total += 1;
        self.index.insert(entry.id, self.ids.len());
        self.ids.push(entry.id);
        Ok(())
    }

    /// For a whole blob or tree, tries freshly computed deltas against the
    /// object the client has at the same path (thin packs) and against the
    /// versions sent from the same path nearest in walk order (the entries
    /// come in stored-pack order, which after many pushes is far from
    /// history order); the smallest verified one
    /// replaces the entry if it is smaller compressed. Returns the entry's
    /// chain depth.
    fn compute_delta(&mut self, entry: &mut Entry) -> Result<Option<u8>, gix::Error> {
        if !matches!(
            entry.kind,
            Kind::Base(gix::objs::Kind::Blob | gix::objs::Kind::Tree)
        ) {
            return Ok(Some(0));
        }
        if !(MIN_DELTA_TARGET..=MAX_DELTA_TARGET).contains(&entry.decompressed_size) {
            return Ok(Some(0));
        }
        // (base, how to refer to it, resulting chain depth)
        let mut candidates: Vec<(ObjectId, Kind, u8)> = Vec::new();
        if let Some(&base) = self.hints.client_base.get(&entry.id) {
            if self.thin && self.client_has.contains(&base) {
                candidates.push((base, Kind::DeltaOid { id: base }, 1));
            }
        }
        if let Some((sent, ordinal)) = self
            .hints
            .name
            .get(&entry.id)
            .and_then(|h| Some((self.sent_by_path.get(&h.path)?, h.ordinal)))
        {
            let usable = |(_, &(_, d)): &(&u32, &(usize, u8))| d < MAX_CHAIN;
            let older = sent.range(ordinal..).filter(usable).take(PATH_NEIGHBOURS);
            let newer = sent.range(..ordinal).rev().filter(usable);
            let near: Vec<(usize, u8)> = newer
                .take(PATH_NEIGHBOURS)
                .chain(older)
                .map(|(_, &v)| v)
                .collect();
            for (index, depth) in near {
                let base = self.ids[index];
                let as_kind = if self.ofs {
                    Kind::DeltaRef {
                        object_index: index,
                    }
                } else {
                    Kind::DeltaOid { id: base }
                };
                candidates.push((base, as_kind, depth + 1));
            }
        }
        if candidates.is_empty() {
            return Ok(Some(0));
        }
        let unpacked = self.unpacked.is_some();
        let target = match self.unpacked.take() {
            Some(data) => data,
            None => self.load_target(entry)?,
        };
        let mut best: Option<(Vec<u8>, Kind, u8)> = None;
        for (base, as_kind, depth) in candidates {
            let Some(base_data) = self.load(base) else {
                continue;
            };
            let limit = best
                .as_ref()
                .map_or(target.len() / 2, |b| b.0.len().saturating_sub(1));
            let Some(delta) = gotd_delta::DeltaIndex::new(&base_data).encode(&target, limit) else {
                continue;
            };
            // Never send a delta that does not rebuild the object.
            if gotd_delta::apply(&base_data, &delta).ok().as_deref() != Some(&target[..]) {
                self.stats.rejected += 1;
                continue;
            }
            best = Some((delta, as_kind, depth));
        }
        let Some((delta, as_kind, depth)) = best else {
            if unpacked {
                self.unpacked = Some(target);
            }
            return Ok(Some(0));
        };
        let compressed = self.compress(&delta)?;
        // A delta is at most half the object; an object made whole here is
        // not compressed at all unless no delta is found.
        if !unpacked && compressed.len() >= entry.compressed_data.len() {
            return Ok(Some(0));
        }
        *entry = Entry {
            id: entry.id,
            kind: as_kind,
            decompressed_size: delta.len(),
            compressed_data: compressed,
        };
        self.stats.computed += 1;
        Ok(Some(depth))
    }

    /// Whether the client surely has `base`.
    fn client_has_base(&self, base: &ObjectId) -> bool {
        self.client_has.contains(base) || self.client_bitmap.is_some_and(|b| b.has(base))
    }

    fn compress(&mut self, data: &[u8]) -> Result<Vec<u8>, gix::Error> {
        self.deflater.deflate(data).map_err(|msg| self.fail(msg))
    }

    fn load_target(&mut self, entry: &Entry) -> Result<Vec<u8>, gix::Error> {
        match self.load(entry.id) {
            Some(t) => Ok(t),
            None => Err(self.fail(format!("object {} not found", entry.id.to_hex()))),
        }
    }

    /// An object's decompressed data.
    fn load(&mut self, id: ObjectId) -> Option<Vec<u8>> {
        match self.db.try_find(&id, &mut self.buf) {
            Ok(Some((data, _))) => Some(data.data.to_vec()),
            _ => None,
        }
    }

    /// The next stored REF_DELTA entries whose bases were sent (or, when
    /// none are left with a sent base, the rest: `fix` sends those whole).
    fn stored_ref_deltas(&mut self) -> Result<Vec<Entry>, gix::Error> {
        let index = &self.index;
        let batch = self.pending.next_batch(|base| index.contains_key(base));
        let mut chunk = Vec::with_capacity(batch.len());
        for d in &batch {
            if d.base.is_none() {
                // A delta against a base that is not sent: `fix` sends it
                // whole (or deltified again).
                chunk.push(Entry {
                    id: d.id,
                    kind: Kind::DeltaOid {
                        id: ObjectId::null(gix::hash::Kind::Sha1),
                    },
                    decompressed_size: 0,
                    compressed_data: Vec::new(),
                });
                continue;
            }
            match ref_deltas::entry(&self.db, d) {
                Some(entry) => chunk.push(entry),
                None => return Err(self.fail(format!("object {} not found", d.id.to_hex()))),
            }
        }
        Ok(chunk)
    }

    /// Replaces a delta whose base the client cannot resolve by the object
    /// itself, leaving its data in `unpacked` for `compute_delta` (which
    /// may find a delta instead) and `fix` (which compresses it).
    fn whole(&mut self, entry: &mut Entry) -> Result<(), gix::Error> {
        let id = entry.id;
        let found = self.db.try_find(&id, &mut self.buf);
        let data = match found {
            Ok(Some((data, _))) => data,
            _ => return Err(self.fail(format!("object {} not found", id.to_hex()))),
        };
        let (kind, size) = (data.kind, data.data.len());
        self.unpacked = Some(data.data.to_vec());
        *entry = Entry {
            id,
            kind: Kind::Base(kind),
            decompressed_size: size,
            compressed_data: Vec::new(),
        };
        self.stats.recompressed += 1;
        Ok(())
    }
}

impl<I> Iterator for SafeEntries<'_, I>
where
    I: Iterator<Item = Result<Vec<Entry>, gix::Error>>,
{
    type Item = Result<Vec<Entry>, gix::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut chunk = match self.inner.next() {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return Some(Err(e)),
            None if self.pending.is_empty() => return None,
            None => match self.stored_ref_deltas() {
                Ok(chunk) => chunk,
                Err(e) => return Some(Err(e)),
            },
        };
        for entry in &mut chunk {
            if let Err(e) = self.fix(entry) {
                return Some(Err(e));
            }
        }
        Some(Ok(chunk))
    }
}
