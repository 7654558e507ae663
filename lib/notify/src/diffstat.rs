//! Counting changed lines between two blobs, as a minimal line diff would
//! count them (`git diff --numstat`): how many lines the new blob inserts
//! and how many lines of the old one it deletes.
//!
//! Lines end with `\n`; a last line without one still counts (and differs
//! from the same text with a newline). Lines are interned to integers, the
//! common prefix and suffix are trimmed, and Myers' greedy forward search
//! finds the edit distance `D` of what is left: with `N` old and `M` new
//! lines, a minimal diff deletes `(D − M + N) / 2` and inserts
//! `(D + M − N) / 2` of them.
//!
//! Bounds, so that a push of pathological blobs cannot keep the write child
//! busy for long:
//! * a binary blob (a NUL byte in its first [`BINARY_PROBE`] bytes) or one
//!   larger than [`SIZE_LIMIT`] counts 0 insertions and 0 deletions;
//! * the search stops after [`Limits::work`] steps (and past
//!   [`Limits::max_d`] edits); the counts are then "every line between the
//!   common prefix and suffix changed", an upper bound of the minimal
//!   counts that still satisfies `insertions − deletions = M − N`.

use std::collections::HashMap;

/// Bytes inspected for a NUL to call a blob binary (as git does).
pub const BINARY_PROBE: usize = 8000;
/// Largest blob whose lines are counted.
pub const SIZE_LIMIT: usize = 16 << 20;

/// Work charged per line interned, in the units of [`Limits::work`] (a
/// hash table insertion costs about a hundred comparison steps).
pub const LINE_COST: u64 = 100;

/// Lines inserted and deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    pub added: u64,
    pub removed: u64,
}

/// How much searching one count may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest edit distance searched for.
    pub max_d: usize,
    /// Steps (diagonals visited plus lines compared) before giving up.
    pub work: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_d: 10_000,
            work: 20_000_000,
        }
    }
}

/// Whether `data` counts as binary: a NUL byte near its start.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// Whether the lines of `data` are counted at all.
pub fn is_countable(data: &[u8]) -> bool {
    data.len() <= SIZE_LIMIT && !is_binary(data)
}

/// The lines of `data`, each with its `\n` (the last one may lack it).
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split_inclusive(|&b| b == b'\n')
}

/// Number of lines in `data` (0 for an empty blob), or 0 if not countable.
pub fn line_count(data: &[u8]) -> u64 {
    if !is_countable(data) {
        return 0;
    }
    lines(data).count() as u64
}

/// Insertions and deletions turning `old` into `new`, within `limits`.
/// Returns the counts and the work spent: search steps, plus a byte per
/// byte and [`LINE_COST`] per line interned.
pub fn count(old: &[u8], new: &[u8], limits: Limits) -> (LineCounts, u64) {
    if !is_countable(old) || !is_countable(new) {
        return (LineCounts::default(), 0);
    }
    let mut ids: HashMap<&[u8], u32> = HashMap::new();
    let mut intern = |data| -> Vec<u32> {
        lines(data)
            .map(|l| {
                let next = ids.len() as u32;
                *ids.entry(l).or_insert(next)
            })
            .collect()
    };
    let a = intern(old);
    let b = intern(new);
    let read = (old.len() + new.len()) as u64 + LINE_COST * (a.len() + b.len()) as u64;
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let (n, m) = (a.len() as u64, b.len() as u64);
    let (d, work) = match edit_distance(a, b, limits) {
        (Some(d), work) => (d as u64, work),
        // Upper bound: everything between prefix and suffix changed.
        (None, work) => (n + m, work),
    };
    let counts = LineCounts {
        added: (d + m - n) / 2,
        removed: (d + n - m) / 2,
    };
    (counts, work + read)
}

/// Myers' greedy forward search: the least number of single-line
/// insertions and deletions turning `a` into `b`, or `None` once the search
/// would exceed `limits`. Also returns the steps taken.
fn edit_distance(a: &[u32], b: &[u32], limits: Limits) -> (Option<usize>, u64) {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return (Some(n + m), 0);
    }
    let max_d = limits.max_d.min(n + m);
    // v[k + off]: the furthest x reached on diagonal k = x − y.
    let off = max_d as isize + 1;
    let mut v = vec![0usize; 2 * max_d + 3];
    let mut work: u64 = 0;
    for d in 0..=max_d as isize {
        let mut k = -d;
        while k <= d {
            let i = (k + off) as usize;
            let mut x = if k == -d || (k != d && v[i - 1] < v[i + 1]) {
                v[i + 1]
            } else {
                v[i - 1] + 1
            };
            let start = x;
            // y = x − k; x ≥ k on every diagonal the search reaches.
            let mut y = (x as isize - k) as usize;
            while x < n && y < m && a[x] == b[y] {
                x += 1;
                y += 1;
            }
            work += 1 + (x - start) as u64;
            v[i] = x;
            if x >= n && y >= m {
                return (Some(d as usize), work);
            }
            k += 2;
        }
        if work > limits.work {
            return (None, work);
        }
    }
    (None, work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn counts(old: &str, new: &str) -> (u64, u64) {
        let (c, _) = count(old.as_bytes(), new.as_bytes(), Limits::default());
        (c.added, c.removed)
    }

    #[rstest]
    #[case("", "", (0, 0))]
    #[case("", "a\nb\n", (2, 0))]
    #[case("a\nb\n", "", (0, 2))]
    #[case("alpha\n", "change alpha\n", (1, 1))]
    #[case("a\nb\nc\n", "a\nc\n", (0, 1))]
    #[case("a\nc\n", "a\nb\nc\n", (1, 0))]
    #[case("a", "a\n", (1, 1))]
    #[case("a\nb", "a\nb\nc", (2, 1))]
    #[case("a\nb\nc\nd\n", "d\nc\nb\na\n", (3, 3))]
    #[case("x\n", "x\0\n", (0, 0))]
    fn table(#[case] old: &str, #[case] new: &str, #[case] want: (u64, u64)) {
        assert_eq!(counts(old, new), want);
    }

    #[test]
    fn binary_and_huge_blobs_count_nothing() {
        assert!(is_binary(b"a\0b"));
        let mut late_nul = vec![b'a'; BINARY_PROBE];
        late_nul.push(0);
        assert!(!is_binary(&late_nul));
        let huge = vec![b'\n'; SIZE_LIMIT + 1];
        assert_eq!(
            count(b"", &huge, Limits::default()).0,
            LineCounts::default()
        );
        assert_eq!(line_count(&huge), 0);
    }

    #[test]
    fn past_the_limits_every_middle_line_counts() {
        let old = "p\na\nb\nc\ns\n";
        let new = "p\nc\nb\na\ns\n";
        let tight = Limits { max_d: 1, work: 0 };
        let (c, _) = count(old.as_bytes(), new.as_bytes(), tight);
        assert_eq!((c.added, c.removed), (3, 3));
        let (c, _) = count(old.as_bytes(), new.as_bytes(), Limits::default());
        assert_eq!((c.added, c.removed), (2, 2));
    }

    /// `git diff --no-index --numstat` of two files.
    fn git_numstat(old: &str, new: &str) -> (u64, u64) {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, old).unwrap();
        std::fs::write(&b, new).unwrap();
        let out = std::process::Command::new("git")
            .args(["diff", "--no-index", "--numstat"])
            .arg(&a)
            .arg(&b)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut f = text.split('\t');
        let mut num = || f.next().unwrap().parse().unwrap();
        (num(), num())
    }

    #[rstest]
    #[case("alpha\n", "change alpha\n")]
    #[case("a\nb\nc\nd\ne\n", "a\nc\nd\nx\ne\ny\n")]
    #[case("one\ntwo\nthree\nfour\nfive\n", "one\n2\nthree\nfive\nsix\nseven")]
    #[case("a\nb\na\nb\na\nb\n", "b\na\nb\na\n")]
    #[case("x\n\n\ny\n\n", "\n\nx\n\ny\n")]
    #[case("no newline", "no newline\n")]
    fn like_git(#[case] old: &str, #[case] new: &str) {
        assert_eq!(counts(old, new), git_numstat(old, new));
    }

    /// Edit distance by the textbook LCS table, for comparison.
    fn reference(a: &[u32], b: &[u32]) -> usize {
        let mut t = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in 0..a.len() {
            for j in 0..b.len() {
                t[i + 1][j + 1] = if a[i] == b[j] {
                    t[i][j] + 1
                } else {
                    t[i][j + 1].max(t[i + 1][j])
                };
            }
        }
        a.len() + b.len() - 2 * t[a.len()][b.len()]
    }

    fn text(lines: &[u32]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    proptest! {
        #[test]
        fn minimal_like_the_lcs_table(
            a in proptest::collection::vec(0u32..4, 0..40),
            b in proptest::collection::vec(0u32..4, 0..40),
        ) {
            let (d, _) = edit_distance(&a, &b, Limits::default());
            prop_assert_eq!(d, Some(reference(&a, &b)));
        }

        #[test]
        fn invariants(
            a in proptest::collection::vec(0u32..6, 0..60),
            b in proptest::collection::vec(0u32..6, 0..60),
        ) {
            let (old, new) = (text(&a), text(&b));
            let (ins, del) = counts(&old, &new);
            prop_assert_eq!(ins as i64 - del as i64, b.len() as i64 - a.len() as i64);
            prop_assert_eq!(counts(&old, &old), (0, 0));
            prop_assert_eq!(counts("", &new), (b.len() as u64, 0));
            prop_assert_eq!(counts(&old, ""), (0, a.len() as u64));
            prop_assert_eq!(counts(&new, &old), (del, ins));
        }
    }
}
