//! What a notification says about one updated ref: the model shared by the
//! write child (which fills it in) and the deliverers (which render it).

use serde::{Deserialize, Serialize};

/// Commits listed in full; past this many new commits a notification lists
/// them in one line each.
pub const FULL_LIMIT: usize = 20;
/// Commits listed at all; the rest are only counted.
pub const LIST_LIMIT: usize = 100;
/// Longest commit or tag message kept, in bytes.
pub const MESSAGE_LIMIT: usize = 4096;
/// Files listed per commit diffstat; the rest are only counted.
pub const FILE_LIMIT: usize = 100;

/// Which refs notify: `branch` and `reference namespace` lines of a
/// `notify` block. With neither, every ref notifies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefFilter {
    /// Full ref names.
    pub branches: Vec<String>,
    /// Prefixes ending with `/`.
    pub namespaces: Vec<String>,
}

impl RefFilter {
    /// Whether an update of `refname` notifies.
    pub fn wants(&self, refname: &str) -> bool {
        (self.branches.is_empty() && self.namespaces.is_empty())
            || self.branches.iter().any(|b| b == refname)
            || self
                .namespaces
                .iter()
                .any(|n| refname.starts_with(n.as_str()))
    }
}

/// How a ref changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Created,
    Changed,
    Removed,
}

impl Change {
    /// The verb used in mail subjects.
    pub fn verb(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Changed => "changed",
            Change::Removed => "removed",
        }
    }
}

/// An author, committer or tagger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub email: String,
}

impl Person {
    /// `Name <email>`.
    pub fn full(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }

    /// The local part of the address (upstream's short user name).
    pub fn user(&self) -> &str {
        self.email.split('@').next().unwrap_or("")
    }
}

/// One commit, with text made valid UTF-8 (invalid bytes replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    pub id: String,
    pub author: Person,
    pub committer: Person,
    /// Author time, seconds since the epoch.
    pub time: i64,
    /// The whole message (at most [`MESSAGE_LIMIT`] bytes), or only its
    /// first line when the commit is listed in short form.
    pub message: String,
    /// Changes against the first parent (a root commit: against the empty
    /// tree); `None` in short form.
    pub diffstat: Option<DiffStat>,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn short_message(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

/// What a commit did to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileAction {
    Added,
    Deleted,
    Modified,
}

impl FileAction {
    /// The status letter of a mail diffstat line.
    pub fn letter(self) -> char {
        match self {
            FileAction::Added => 'A',
            FileAction::Deleted => 'D',
            FileAction::Modified => 'M',
        }
    }

    /// The `action` of a JSON diffstat entry.
    pub fn word(self) -> &'static str {
        match self {
            FileAction::Added => "added",
            FileAction::Deleted => "deleted",
            FileAction::Modified => "modified",
        }
    }
}

/// One changed file: its path in the repository and its line counts (0
/// and 0 for binary and very large blobs, submodules and mode changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub action: FileAction,
    pub path: String,
    pub added: u64,
    pub removed: u64,
}

/// The files a commit changed, in path order: at most [`FILE_LIMIT`]
/// listed (fewer if [`fit`] needed the room), the rest only counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    pub files: Vec<FileStat>,
    /// Changed files not listed.
    pub more_files: usize,
}

impl DiffStat {
    /// Lines added and removed in the listed files.
    pub fn total(&self) -> (u64, u64) {
        self.files
            .iter()
            .fold((0, 0), |(a, r), f| (a + f.added, r + f.removed))
    }

    /// How many files changed, listed or not.
    pub fn changed_files(&self) -> usize {
        self.files.len() + self.more_files
    }

    /// Moves the files past the first `n` to the unlisted count.
    pub fn truncate(&mut self, n: usize) {
        if n < self.files.len() {
            self.more_files += self.files.len() - n;
            self.files.truncate(n);
        }
    }
}

/// An annotated tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    pub tagger: Person,
    pub time: i64,
    /// `commit`, `tree`, `blob` or `tag`.
    pub object_kind: String,
    pub object_id: String,
    pub message: String,
}

/// One updated ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefSummary {
    pub refname: String,
    pub change: Change,
    /// Hex ids; all zeros for creation (old) or removal (new).
    pub old: String,
    pub new: String,
    /// New commits, newest first, at most [`LIST_LIMIT`].
    pub commits: Vec<CommitInfo>,
    /// How many new commits there are in all (at least `commits.len()`).
    pub total_commits: usize,
    /// Set when the ref points at an annotated tag.
    pub tag: Option<TagInfo>,
}

impl RefSummary {
    /// Whether commits are listed one line each.
    pub fn is_short(&self) -> bool {
        self.total_commits > FULL_LIMIT
    }

    /// The id a subject line names: the new one, or the old one if removed.
    pub fn subject_id(&self) -> &str {
        match self.change {
            Change::Removed => &self.old,
            _ => &self.new,
        }
    }
}

fn person_size(p: &Person) -> usize {
    p.name.len() + p.email.len() + 8
}

fn file_size(f: &FileStat) -> usize {
    f.path.len() + 24
}

/// Size of a commit with its diffstat but none of its files.
fn commit_size(c: &CommitInfo) -> usize {
    32 + c.id.len()
        + person_size(&c.author)
        + person_size(&c.committer)
        + c.message.len()
        + c.diffstat.as_ref().map_or(0, |_| 16)
}

/// Size of a summary without its commit list, roughly as encoded.
fn base_size(r: &RefSummary) -> usize {
    64 + r.refname.len()
        + r.old.len()
        + r.new.len()
        + r.tag.as_ref().map_or(0, |t| {
            64 + person_size(&t.tagger) + t.object_id.len() + t.message.len()
        })
}

/// Shrinks `refs` to about `budget` bytes: every ref keeps its place
/// while they fit without commits (later ones are dropped), then commit
/// lists take what is left in order, cut from their end (the count stays
/// in `total_commits`), and last the diffstats' file lists, in the same
/// order, cut from their end (the count moves to `more_files`). Returns
/// how many refs were dropped.
pub fn fit(refs: &mut Vec<RefSummary>, budget: usize) -> usize {
    let mut used: usize = 0;
    let mut keep = refs.len();
    for (i, r) in refs.iter().enumerate() {
        let base = base_size(r);
        if used + base > budget {
            keep = i;
            break;
        }
        used += base;
    }
    let dropped = refs.len() - keep;
    refs.truncate(keep);
    for r in refs.iter_mut() {
        let mut n = 0;
        for c in &r.commits {
            let s = commit_size(c);
            if used + s > budget {
                break;
            }
            used += s;
            n += 1;
        }
        r.commits.truncate(n);
    }
    for stat in refs
        .iter_mut()
        .flat_map(|r| r.commits.iter_mut())
        .filter_map(|c| c.diffstat.as_mut())
    {
        let mut n = 0;
        for f in &stat.files {
            let s = file_size(f);
            if used + s > budget {
                break;
            }
            used += s;
            n += 1;
        }
        stat.truncate(n);
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&[], &[], "refs/heads/x", true)]
    #[case(&["refs/heads/main"], &[], "refs/heads/main", true)]
    #[case(&["refs/heads/main"], &[], "refs/heads/x", false)]
    #[case(&[], &["refs/tags/"], "refs/tags/1.0", true)]
    #[case(&[], &["refs/tags/"], "refs/heads/main", false)]
    #[case(&["refs/heads/main"], &["refs/tags/"], "refs/tags/1.0", true)]
    fn filter(
        #[case] branches: &[&str],
        #[case] namespaces: &[&str],
        #[case] refname: &str,
        #[case] want: bool,
    ) {
        let f = RefFilter {
            branches: branches.iter().map(|s| s.to_string()).collect(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(f.wants(refname), want);
    }

    fn summary(n: usize) -> RefSummary {
        RefSummary {
            refname: "refs/heads/main".into(),
            change: Change::Changed,
            old: "1".repeat(40),
            new: "2".repeat(40),
            commits: (0..n)
                .map(|i| CommitInfo {
                    id: format!("{i:040}"),
                    author: Person::default(),
                    committer: Person::default(),
                    time: 0,
                    message: "x".repeat(100),
                    diffstat: Some(DiffStat {
                        files: (0..50)
                            .map(|j| FileStat {
                                action: FileAction::Modified,
                                path: format!("dir/file{j}"),
                                added: 1,
                                removed: 1,
                            })
                            .collect(),
                        more_files: 3,
                    }),
                })
                .collect(),
            total_commits: n,
            tag: None,
        }
    }

    fn listed_files(r: &RefSummary) -> Vec<usize> {
        r.commits
            .iter()
            .map(|c| c.diffstat.as_ref().unwrap().files.len())
            .collect()
    }

    #[test]
    fn fit_cuts_file_lists_before_commits() {
        let mut refs = vec![summary(3)];
        assert_eq!(fit(&mut refs, 1 << 20), 0);
        assert_eq!(listed_files(&refs[0]), [50, 50, 50]);
        // Room for the commits and about 60 files.
        let mut refs = vec![summary(3)];
        let budget = 64 + 2 * 40 + 3 * (32 + 40 + 16 + 16 + 100) + 60 * 34;
        fit(&mut refs, budget);
        assert_eq!(refs[0].commits.len(), 3);
        let files = listed_files(&refs[0]);
        assert_eq!(files[0], 50);
        assert!(files[1] > 0 && files[1] < 50, "{files:?}");
        assert_eq!(files[2], 0);
        let stat = refs[0].commits[1].diffstat.as_ref().unwrap();
        assert_eq!(stat.changed_files(), 53, "the count stays");
        assert_eq!(stat.total(), (files[1] as u64, files[1] as u64));
    }

    #[test]
    fn fit_cuts_commit_lists_then_refs() {
        let mut refs = vec![summary(100), summary(100)];
        assert_eq!(fit(&mut refs, 1 << 20), 0);
        assert_eq!(refs[0].commits.len(), 100);
        let dropped = fit(&mut refs, 4000);
        assert_eq!(dropped, 0);
        assert!(refs[0].commits.len() < 100);
        assert!(refs[1].commits.is_empty());
        assert_eq!(refs[0].total_commits, 100);
        let dropped = fit(&mut refs, 200);
        assert_eq!(dropped, 1);
    }
}
