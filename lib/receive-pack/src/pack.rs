//! Pack intake: header checks and size limits, indexing with gix into a
//! private quarantine directory, and installing the fsynced pack into
//! `objects/pack`.
//!
//! The quarantine is `objects/incoming-uid<uid>-<pid>-<n>/`, holding an
//! exclusive `flock` on its `lock` file for as long as the push runs. Thin
//! packs are completed from the repository, so the stored pack is
//! self-contained. A pack that is refused never becomes visible to readers:
//! dropping the [`Quarantine`] removes the directory and everything in it.
//! A writer killed with SIGKILL leaves the directory behind, unlocked;
//! [`crate::remove_stale_temporaries`] removes it.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::durable;
use crate::Limits;

/// Prefix of quarantine directory names inside `objects/`.
pub(crate) const QUARANTINE_PREFIX: &str = "incoming-";
/// Name of the lock file inside a quarantine directory.
pub(crate) const LOCK_FILE: &str = "lock";

/// A private directory for one push's pack, removed on drop.
pub(crate) struct Quarantine {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Quarantine {
    pub(crate) fn create(repo: &gix::Repository, uid: u32) -> io::Result<Quarantine> {
        let objects = repo.objects.store_ref().path().to_owned();
        // A cleaner may take the lock in the instant between our creating
        // the lock file and locking it, and remove the directory; then we
        // hold a lock on an unlinked file and start again with a new name.
        for _ in 0..3 {
            if let Some(q) = Self::try_create(&objects, uid)? {
                return Ok(q);
            }
        }
        Err(io::Error::other(
            "quarantine directory removed while being created",
        ))
    }

    fn try_create(objects: &Path, uid: u32) -> io::Result<Option<Quarantine>> {
        use std::os::unix::fs::MetadataExt;
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = objects.join(format!(
            "{QUARANTINE_PREFIX}uid{uid}-{}-{n}",
            std::process::id()
        ));
        fs::create_dir(&dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let locked = File::create(&lock_path).and_then(|f| {
            Flock::lock(f, FlockArg::LockExclusiveNonblock)
                .map_err(|(_, errno)| io::Error::from(errno))
        });
        let lock = match locked {
            Ok(lock) => lock,
            // Only `remove_stale_temporaries` (another writer starting) can
            // hold the lock of a directory this process just made: it is
            // removing it; start over with a new name.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EWOULDBLOCK as i32) => {
                return Ok(None)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let ours = lock.metadata()?.ino();
        match fs::metadata(&lock_path) {
            Ok(m) if m.ino() == ours => Ok(Some(Quarantine { dir, _lock: lock })),
            _ => Ok(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Quarantine {
    fn drop(&mut self) {
        // Removed while still locked, so no cleaner can race with us.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A pack indexed into the quarantine.
pub(crate) struct Received {
    pub num_objects: u32,
    /// `None` for an empty pack (nothing was written).
    pub bundle: Option<gix_pack::Bundle>,
    files: Option<PackFiles>,
}

struct PackFiles {
    pack: PathBuf,
    idx: PathBuf,
    keep: Option<PathBuf>,
}

/// A refused pack.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The client-visible reason (the `unpack` status).
    pub reason: String,
    /// The pack was read to its end (only its checksum was wrong), so
    /// nothing more needs draining.
    pub read_to_end: bool,
}

impl From<String> for Refused {
    fn from(reason: String) -> Self {
        Refused {
            reason,
            read_to_end: false,
        }
    }
}

impl From<&str> for Refused {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Reads a pack from `input` and indexes it into `quarantine`.
pub(crate) fn receive(
    input: &mut dyn Read,
    repo: &gix::Repository,
    quarantine: &Quarantine,
    limits: &Limits,
) -> Result<Received, Refused> {
    let mut header = [0u8; 12];
    let got =
        gotd_wire::pkt::read_full(input, &mut header).map_err(|e| Refused::from(e.to_string()))?;
    if got < header.len() {
        return Err("short pack file".into());
    }
    if &header[..4] != b"PACK" {
        return Err("bad packfile signature".into());
    }
    let version = u32::from_be_bytes(header[4..8].try_into().expect("4 bytes"));
    if version != 2 && version != 3 {
        return Err("bad packfile version".into());
    }
    let count = u32::from_be_bytes(header[8..12].try_into().expect("4 bytes"));
    if count > limits.max_objects {
        return Err(format!(
            "pack file has {count} objects, more than the limit of {}",
            limits.max_objects
        )
        .into());
    }

    let mut reader = Limited {
        header,
        pos: 0,
        inner: input,
        total: 0,
        max: limits.max_pack_bytes,
        eof: false,
        over: false,
    };
    let interrupt = AtomicBool::new(false);
    let options = gix_pack::bundle::write::Options {
        thread_limit: limits.thread_limit,
        iteration_mode: gix_pack::data::input::Mode::Verify,
        index_version: gix_pack::index::Version::V2,
        alloc_limit_bytes: Some(limits.alloc_limit_bytes),
        ..Default::default()
    };
    let result = {
        let mut buffered = BufReader::with_capacity(64 * 1024, &mut reader);
        gix_pack::Bundle::write_to_directory(
            &mut buffered as &mut dyn BufRead,
            Some(quarantine.path()),
            &mut gix::progress::Discard,
            &interrupt,
            Some(repo.objects.clone()),
            gix::hash::Kind::Sha1,
            options,
        )
    };
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let reason = describe_error(&e, &reader);
            let read_to_end = reason == CHECKSUM_ERROR;
            return Err(Refused {
                reason,
                read_to_end,
            });
        }
    };
    if count == 0 {
        // An empty pack is its header and a trailer. Consume and check the
        // trailer even if the indexer stopped after the header: the client
        // may write it separately, and answering before it has been read
        // lets the connection close under the client's last write.
        finish_empty_pack(&mut reader)?;
    }
    let files = match (outcome.data_path.clone(), outcome.index_path.clone()) {
        (Some(pack), Some(idx)) => Some(PackFiles {
            pack,
            idx,
            keep: outcome.keep_path.clone(),
        }),
        _ => None,
    };
    let bundle = match outcome.to_bundle().transpose() {
        Ok(b) => b,
        Err(e) => {
            return Err(Refused {
                reason: format!("could not open received pack: {e}"),
                read_to_end: true,
            })
        }
    };
    Ok(Received {
        num_objects: outcome.index.num_objects,
        bundle,
        files,
    })
}

const CHECKSUM_ERROR: &str = "pack file checksum error";

/// Length of an empty pack: 12-byte header and 20-byte SHA-1 trailer.
const EMPTY_PACK_LEN: u64 = 32;

/// Reads whatever the indexer left of an empty pack's trailer and checks it.
fn finish_empty_pack(reader: &mut Limited<'_>) -> Result<(), Refused> {
    let Some(left) = EMPTY_PACK_LEN.checked_sub(reader.total) else {
        return Ok(());
    };
    let mut trailer = [0u8; 20];
    let start = trailer.len() - left as usize;
    let got = gotd_wire::pkt::read_full(reader, &mut trailer[start..])
        .map_err(|e| Refused::from(e.to_string()))?;
    if got < left as usize {
        return Err("short pack file".into());
    }
    if start > 0 {
        // The indexer read and verified part of it already.
        return Ok(());
    }
    let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
    hasher.update(&reader.header);
    let expected = hasher
        .try_finalize()
        .map_err(|e| Refused::from(e.to_string()))?;
    if expected.as_slice() != trailer {
        return Err(Refused {
            reason: CHECKSUM_ERROR.into(),
            read_to_end: true,
        });
    }
    Ok(())
}

/// Turns a gix failure into a short client-visible reason.
fn describe_error(e: &gix::Error, reader: &Limited<'_>) -> String {
    if reader.over {
        return format!("pack file is larger than the limit of {} bytes", reader.max);
    }
    let chain: Vec<String> = e.iter_errors().map(|e| e.to_string()).collect();
    if chain.iter().any(|m| m.contains("checksum")) {
        return CHECKSUM_ERROR.into();
    }
    let eof_kind = e
        .iter_errors()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::UnexpectedEof);
    if eof_kind || (reader.eof && chain.iter().any(|m| m.contains("incomplete"))) {
        return "unexpected end of file".into();
    }
    let mut text = String::new();
    for m in chain.iter().map(|m| without_paths(m)) {
        if text.contains(m.as_str()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&m);
    }
    text.replace('\n', " ")
}

/// Removes the ` at path "…"` parts gix adds to I/O errors: the client
/// has no business learning the server's file system layout.
fn without_paths(message: &str) -> String {
    const MARK: &str = " at path \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        let after = &rest[i + MARK.len()..];
        rest = match after.find('"') {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

impl Received {
    /// Makes pack, index and keep file durable (still in quarantine).
    pub(crate) fn sync(&self) -> io::Result<()> {
        if let Some(f) = &self.files {
            for p in [Some(&f.pack), Some(&f.idx), f.keep.as_ref()]
                .into_iter()
                .flatten()
            {
                durable::sync_file(p)?;
            }
        }
        Ok(())
    }

    /// Moves keep, pack and index (in that order: readers only use a pack
    /// once its index exists) into `objects/pack` and fsyncs the directory.
    /// Returns the keep file to remove once refs point into the pack, or
    /// `None` when the pack was already installed or was empty.
    pub(crate) fn publish(&self, repo: &gix::Repository) -> io::Result<Option<PathBuf>> {
        let Some(f) = &self.files else {
            return Ok(None);
        };
        let pack_dir = repo.objects.store_ref().path().join("pack");
        fs::create_dir_all(&pack_dir)?;
        let target = |p: &Path| pack_dir.join(p.file_name().expect("pack files have names"));
        let mut kept = None;
        if let Some(keep) = &f.keep {
            let t = target(keep);
            if !t.exists() {
                fs::rename(keep, &t)?;
                kept = Some(t);
            }
        }
        for p in [&f.pack, &f.idx] {
            let t = target(p);
            if !t.exists() {
                fs::rename(p, &t)?;
            }
        }
        durable::sync_dir(&pack_dir)?;
        Ok(kept)
    }
}

/// Reads and discards the client's whole pack (at most `max` bytes), so
/// that a refusal reaches a client that is still sending. The pack is
/// parsed to find its end, so a client that keeps its side open after the
/// pack is not waited for; if it cannot be parsed, reading goes on to the
/// end of the stream.
pub(crate) fn drain(input: &mut dyn Read, max: u64) {
    let mut limited = input.take(max);
    let parsed = skip_pack(&mut BufReader::with_capacity(64 * 1024, &mut limited));
    if parsed.is_none() {
        drain_rest(&mut limited, max);
    }
}

/// Skips one pack: header, entries, trailer. `None` if it is malformed.
fn skip_pack(r: &mut BufReader<&mut io::Take<&mut dyn Read>>) -> Option<()> {
    use gix_pack::data::input::{BytesToEntriesIter, EntryDataMode, Mode};
    let header = r.fill_buf().ok()?;
    let empty = header.len() >= 12 && &header[..4] == b"PACK" && header[8..12] == [0; 4];
    if empty {
        r.consume(12);
        let mut trailer = [0u8; 20];
        return r.read_exact(&mut trailer).ok();
    }
    let iter = BytesToEntriesIter::new_from_header(
        r,
        Mode::AsIs,
        EntryDataMode::Ignore,
        gix::hash::Kind::Sha1,
    )
    .ok()?;
    for entry in iter {
        entry.ok()?;
    }
    Some(())
}

/// Reads and discards everything up to the end of the stream (at most
/// `max` bytes): for a pack that failed part-way through.
pub(crate) fn drain_rest(input: &mut dyn Read, max: u64) {
    let _ = io::copy(&mut input.take(max), &mut io::sink());
}

/// The pack stream: the already-read header, then the client's bytes up to
/// the size limit.
struct Limited<'a> {
    header: [u8; 12],
    pos: usize,
    inner: &'a mut dyn Read,
    total: u64,
    max: u64,
    eof: bool,
    over: bool,
}

impl Read for Limited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.header.len() {
            let n = buf.len().min(self.header.len() - self.pos);
            buf[..n].copy_from_slice(&self.header[self.pos..self.pos + n]);
            self.pos += n;
            self.total += n as u64;
            return Ok(n);
        }
        if self.total >= self.max {
            self.over = true;
            return Err(io::Error::other("pack file too large"));
        }
        let room = (self.max - self.total).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        if n == 0 {
            self.eof = true;
        }
        self.total += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod path_tests {
    use super::without_paths;

    #[test]
    fn server_paths_are_removed_from_io_errors() {
        let m = "An IO operation failed while streaming an entry: No space left on device (os error 28) at path \"/srv/git/r.git/objects/incoming-uid1-2-0/.tmpX\"";
        assert_eq!(
            without_paths(m),
            "An IO operation failed while streaming an entry: No space left on device (os error 28)"
        );
        assert_eq!(without_paths("plain"), "plain");
        assert_eq!(without_paths("a at path \"x\" b at path \"y\""), "a b");
    }
}
