//! The diffstat of a commit: its tree compared with its first parent's (a
//! root commit's with the empty tree), recursively, in path order.
//!
//! * A file present on one side only is added or deleted; all its lines
//!   count. A name that is a file on one side and a directory on the other
//!   is the file deleted (or added) and every file of the directory added
//!   (or deleted).
//! * A file whose content changed is modified, with the counts of a
//!   minimal line diff ([`crate::diffstat`]); a mode change alone
//!   (executable bit) is modified with 0 and 0, and so is any change
//!   involving a submodule (a commit entry).
//! * At most [`FILE_LIMIT`] files are listed; the others are only counted
//!   (their blobs are not read). Directories deeper than [`DEPTH_LIMIT`]
//!   are not compared.
//! * Reading and comparing blobs and trees spends a [`Budget`] shared by
//!   every commit of a push. Once it is spent, files are still listed but
//!   count 0 and 0, and trees not yet compared are skipped: diffstats are
//!   best effort, and never keep the write child busy for long.

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryMode;
use gix::ObjectId;

use crate::diffstat::{self, Limits, LineCounts, SIZE_LIMIT};
use crate::summary::{DiffStat, FileAction, FileStat, FILE_LIMIT};

/// Work charged per byte of an object read (inflating, applying deltas).
pub const READ_COST: u64 = 4;

/// Nesting of directories compared at most.
pub const DEPTH_LIMIT: usize = 256;

/// Work a push's diffstats may do in all, in the units of
/// [`Limits::work`] (roughly nanoseconds): [`READ_COST`] per byte of blobs
/// and trees read, plus what [`diffstat::count`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub remaining: u64,
}

impl Default for Budget {
    /// Well under a second of work on a current machine.
    fn default() -> Self {
        Budget {
            remaining: 512 << 20,
        }
    }
}

impl Budget {
    fn spend(&mut self, n: u64) {
        self.remaining = self.remaining.saturating_sub(n);
    }

    fn spent(&self) -> bool {
        self.remaining == 0
    }
}

/// The diffstat of `commit`, or `None` if its tree cannot be read.
pub fn diffstat(
    repo: &gix::Repository,
    commit: &gix::Commit<'_>,
    budget: &mut Budget,
) -> Option<DiffStat> {
    let new = commit.tree_id().ok()?.detach();
    let old = match commit.parent_ids().next() {
        Some(p) => Some(repo.find_commit(p).ok()?.tree_id().ok()?.detach()),
        None => None,
    };
    let mut walk = Walk {
        repo,
        budget,
        stat: DiffStat::default(),
    };
    walk.trees(&mut Vec::new(), old, Some(new), 0);
    Some(walk.stat)
}

/// One tree entry, owned.
struct Entry {
    name: Vec<u8>,
    mode: EntryMode,
    id: ObjectId,
}

/// One side of a file change.
#[derive(Clone, Copy)]
struct Side {
    mode: EntryMode,
    id: ObjectId,
}

struct Walk<'a, 'r> {
    repo: &'r gix::Repository,
    budget: &'a mut Budget,
    stat: DiffStat,
}

impl Walk<'_, '_> {
    /// The entries of tree `id` (none for `None` or an unreadable tree).
    fn entries(&mut self, id: Option<ObjectId>) -> Vec<Entry> {
        let Some(id) = id else { return Vec::new() };
        let Ok(tree) = self.repo.find_tree(id) else {
            return Vec::new();
        };
        self.budget.spend(READ_COST * tree.data.len() as u64);
        let Ok(decoded) = tree.decode() else {
            return Vec::new();
        };
        decoded
            .entries
            .iter()
            .map(|e| Entry {
                name: e.filename.to_vec(),
                mode: e.mode,
                id: e.oid.to_owned(),
            })
            .collect()
    }

    /// Compares trees `old` and `new` found at `path` (empty or ending
    /// with `/`).
    fn trees(
        &mut self,
        path: &mut Vec<u8>,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        depth: usize,
    ) {
        if depth > DEPTH_LIMIT || self.budget.spent() {
            return;
        }
        let a = self.entries(old);
        let b = self.entries(new);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let order = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => gix::objs::tree::EntryRef::cmp(&entry_ref(x), &entry_ref(y)),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    self.one_side(path, &a[i], depth, FileAction::Deleted);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    self.one_side(path, &b[j], depth, FileAction::Added);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    let (x, y) = (&a[i], &b[j]);
                    if x.id != y.id || x.mode != y.mode {
                        let len = path.len();
                        path.extend_from_slice(&x.name);
                        if x.mode.is_tree() {
                            path.push(b'/');
                            self.trees(path, Some(x.id), Some(y.id), depth + 1);
                        } else {
                            let old = Side {
                                mode: x.mode,
                                id: x.id,
                            };
                            let new = Side {
                                mode: y.mode,
                                id: y.id,
                            };
                            self.file(path, FileAction::Modified, Some(old), Some(new));
                        }
                        path.truncate(len);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
    }

    /// An entry present on one side only: a file, or a whole directory.
    fn one_side(&mut self, path: &mut Vec<u8>, e: &Entry, depth: usize, action: FileAction) {
        let len = path.len();
        path.extend_from_slice(&e.name);
        if e.mode.is_tree() {
            path.push(b'/');
            let (old, new) = match action {
                FileAction::Deleted => (Some(e.id), None),
                _ => (None, Some(e.id)),
            };
            self.trees(path, old, new, depth + 1);
        } else {
            let side = Some(Side {
                mode: e.mode,
                id: e.id,
            });
            match action {
                FileAction::Deleted => self.file(path, action, side, None),
                _ => self.file(path, action, None, side),
            }
        }
        path.truncate(len);
    }

    /// Records one changed file, counting its lines if it is listed.
    fn file(&mut self, path: &[u8], action: FileAction, old: Option<Side>, new: Option<Side>) {
        if self.stat.files.len() >= FILE_LIMIT {
            self.stat.more_files += 1;
            return;
        }
        let counts = self.counts(old, new);
        self.stat.files.push(FileStat {
            action,
            path: path.to_str_lossy().into_owned(),
            added: counts.added,
            removed: counts.removed,
        });
    }

    fn counts(&mut self, old: Option<Side>, new: Option<Side>) -> LineCounts {
        let is_submodule = |s: &Option<Side>| s.is_some_and(|s| s.mode.is_commit());
        if is_submodule(&old) || is_submodule(&new) || self.budget.spent() {
            return LineCounts::default();
        }
        if let (Some(o), Some(n)) = (old, new) {
            if o.id == n.id {
                return LineCounts::default();
            }
        }
        let Some(old_data) = self.blob(old) else {
            return LineCounts::default();
        };
        let Some(new_data) = self.blob(new) else {
            return LineCounts::default();
        };
        let limits = Limits {
            work: Limits::default().work.min(self.budget.remaining),
            ..Limits::default()
        };
        let (counts, work) = diffstat::count(&old_data, &new_data, limits);
        self.budget.spend(work);
        counts
    }

    /// The content of a side (empty for none), or `None` if it is too
    /// large or cannot be read.
    fn blob(&mut self, side: Option<Side>) -> Option<Vec<u8>> {
        let Some(side) = side else {
            return Some(Vec::new());
        };
        let header = self.repo.find_header(side.id).ok()?;
        if header.size() > SIZE_LIMIT as u64 || READ_COST * header.size() > self.budget.remaining {
            return None;
        }
        let object = self.repo.find_object(side.id).ok()?;
        self.budget.spend(READ_COST * header.size());
        Some(object.detach().data)
    }
}

fn entry_ref(e: &Entry) -> gix::objs::tree::EntryRef<'_> {
    gix::objs::tree::EntryRef {
        mode: e.mode,
        filename: e.name.as_bstr(),
        oid: &e.id,
    }
}
