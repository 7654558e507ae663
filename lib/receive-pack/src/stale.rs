//! Removal of what a killed writer leaves behind.
//!
//! A push writes only inside its quarantine directory
//! (`objects/incoming-*`) until the pack is complete and checked, and holds
//! an exclusive `flock` on the directory's `lock` file while it runs. The
//! kernel drops that lock when the process dies, however it dies, so a
//! quarantine whose lock can be taken is stale and safe to remove — even
//! while other pushes to the same repository are running. This is safe to
//! call at any time, e.g. when a write child starts.
//!
//! Not handled here: `<ref>.lock` files of a writer killed during its
//! (millisecond-long) ref commit. Like git, those need manual removal;
//! pushes to that ref fail with `could not acquire exclusive file lock`.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::pack::{LOCK_FILE, QUARANTINE_PREFIX};

/// Removes stale quarantine directories of killed pushes in the repository
/// at `repo`; returns how many were removed.
pub fn remove_stale_temporaries(repo: &Path) -> io::Result<usize> {
    let objects = repo.join("objects");
    let mut removed = 0;
    for entry in fs::read_dir(&objects)? {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(QUARANTINE_PREFIX) || !entry.file_type()?.is_dir() {
            continue;
        }
        let dir = entry.path();
        let lock = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(LOCK_FILE))
        {
            Ok(f) => match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(held) => Some(held),
                // Locked: a live push owns it.
                Err(_) => continue,
            },
            // The writer died between creating the directory and its lock
            // file (or the directory is being created right now: then it is
            // younger than a second).
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let young = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age.as_secs() < 1);
                if young {
                    continue;
                }
                None
            }
            Err(e) => return Err(e),
        };
        fs::remove_dir_all(&dir)?;
        drop(lock);
        removed += 1;
    }
    Ok(removed)
}
