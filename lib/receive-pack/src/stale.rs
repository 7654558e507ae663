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
//!
//! `<ref>.lock` files of a writer killed during its (millisecond-long) ref
//! commit are handled by [`enter_writer`]: every gotd writer of a
//! repository holds a shared `flock` on the repository directory itself
//! while it runs (nothing is created for it),
//! so a writer that can take that lock exclusively knows no other gotd
//! writer is alive, and every ref lock file is a leftover. gotd assumes it is
//! the only program that updates the repository's refs (as upstream gotd
//! does); a git command updating refs in the same instant could see its
//! lock file removed and fail.

use std::fs::{self, File, OpenOptions};
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

/// Proof that the calling process is registered as a writer of a
/// repository; dropping it (or dying) unregisters.
#[derive(Debug)]
pub struct WriterGuard {
    _lock: Flock<File>,
}

/// Registers the calling process as a writer of the repository at `repo`.
/// When it is the only writer, it first removes the ref lock files
/// (`refs/**/*.lock`, `packed-refs.lock`) left by killed writers, and
/// returns how many it removed.
pub fn enter_writer(repo: &Path) -> io::Result<(WriterGuard, usize)> {
    // A directory opened read-only can carry an flock like any file.
    let dir = File::open(repo)?;
    let mut removed = 0;
    let file = match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
        Ok(alone) => {
            removed = remove_stale_ref_locks(repo)?;
            alone.unlock().map_err(|(_, e)| io::Error::from(e))?
        }
        // Another writer is alive: its lock files may be in use.
        Err((file, _)) => file,
    };
    let lock = Flock::lock(file, FlockArg::LockShared).map_err(|(_, e)| io::Error::from(e))?;
    Ok((WriterGuard { _lock: lock }, removed))
}

/// Removes `packed-refs.lock` and every `*.lock` file below `refs/`.
fn remove_stale_ref_locks(repo: &Path) -> io::Result<usize> {
    let mut removed = 0;
    match fs::remove_file(repo.join("packed-refs.lock")) {
        Ok(()) => removed += 1,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut dirs = vec![repo.join("refs")];
    while let Some(dir) = dirs.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_string_lossy().ends_with(".lock") {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    fn repo_with_locks() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("refs/heads/topic")).unwrap();
        fs::write(dir.path().join("refs/heads/main"), "x\n").unwrap();
        fs::write(dir.path().join("refs/heads/main.lock"), "").unwrap();
        fs::write(dir.path().join("refs/heads/topic/a.lock"), "").unwrap();
        fs::write(dir.path().join("packed-refs.lock"), "").unwrap();
        dir
    }

    #[test]
    fn the_only_writer_removes_ref_locks_of_killed_writers() {
        let dir = repo_with_locks();
        let (_guard, removed) = enter_writer(dir.path()).unwrap();
        assert_eq!(removed, 3);
        assert!(dir.path().join("refs/heads/main").exists());
        assert!(!dir.path().join("refs/heads/main.lock").exists());
        assert!(!dir.path().join("refs/heads/topic/a.lock").exists());
        assert!(!dir.path().join("packed-refs.lock").exists());
    }

    #[test]
    fn ref_locks_are_left_alone_while_another_writer_is_alive() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("refs/heads")).unwrap();
        // Another process's registration: a separate open file description
        // holding the shared lock, as a live writer child would.
        let (other, _) = enter_writer(dir.path()).unwrap();
        fs::write(dir.path().join("refs/heads/main.lock"), "").unwrap();
        let (_me, removed) = enter_writer(dir.path()).unwrap();
        assert_eq!(removed, 0);
        assert!(dir.path().join("refs/heads/main.lock").exists());
        drop(other);
    }
}
