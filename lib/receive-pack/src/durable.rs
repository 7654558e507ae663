//! fsync helpers: gix writes packs and refs without syncing, so durability
//! is added here (files by path, then their directories).

use std::fs::File;
use std::io;
use std::path::Path;

/// fsyncs the file at `path` (any open file description syncs the inode).
pub(crate) fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsyncs the directory at `path`, making renames and removals in it durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsyncs `dir` and each of its parents up to and including `top`.
pub(crate) fn sync_dirs_up_to(dir: &Path, top: &Path) -> io::Result<()> {
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if !d.starts_with(top) {
            break;
        }
        if d.exists() {
            sync_dir(d)?;
        }
        if d == top {
            break;
        }
        cur = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_files_and_directories() {
        let t = tempfile::tempdir().unwrap();
        let sub = t.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("f"), b"x").unwrap();
        sync_file(&sub.join("f")).unwrap();
        sync_dirs_up_to(&sub, t.path()).unwrap();
        assert!(sync_file(&sub.join("missing")).is_err());
    }
}
