//! A path hash that sorts similar files next to each other.
//!
//! Delta candidates are sorted by this hash so that the window of objects
//! tried as bases holds versions of the same file, or at least files of the
//! same kind. Only the file name (after the last `/`) counts, so a file keeps
//! its hash when it moves between directories.
//!
//! Layout, most significant first:
//! * bits 31–24: the last byte of the name,
//! * bits 23–16: the byte before it,
//! * bits 15–10: the low six bits of the third byte from the end,
//! * bits 9–0: FNV-1a of the whole name, folded to ten bits.
//!
//! Sorting by the hash therefore groups names by their ending (`.c`, `.rs`,
//! `.md`, `Makefile`), and within one ending puts identical names together.

/// Hashes the file name of `path` for delta candidate ordering.
///
/// The empty path (objects without a name, such as commits) hashes to 0.
///
/// ```
/// use gotd_delta::name_hash;
/// assert_eq!(name_hash(b"src/main.rs"), name_hash(b"old/main.rs"));
/// assert_ne!(name_hash(b"src/main.rs"), name_hash(b"src/lib.rs"));
/// // Same ending: same top bits, so they sort next to each other.
/// assert_eq!(name_hash(b"a.rs") >> 16, name_hash(b"b.rs") >> 16);
/// ```
pub fn name_hash(path: &[u8]) -> u32 {
    let name = match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    };
    if name.is_empty() {
        return 0;
    }
    let from_end = |i: usize| -> u32 {
        name.len()
            .checked_sub(i + 1)
            .map_or(0, |at| u32::from(name[at]))
    };
    let suffix = (from_end(0) << 24) | (from_end(1) << 16) | ((from_end(2) & 0x3f) << 10);
    suffix | fold10(fnv1a(name))
}

/// 32-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Folds 32 bits into 10 by xoring the pieces together.
fn fold10(h: u32) -> u32 {
    (h ^ (h >> 10) ^ (h >> 20) ^ (h >> 30)) & 0x3ff
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(b"", 0)]
    #[case(b"dir/", 0)]
    fn nameless_paths_hash_to_zero(#[case] path: &[u8], #[case] want: u32) {
        assert_eq!(name_hash(path), want);
    }

    #[rstest]
    #[case(b"a.c", b"x/y/a.c")]
    #[case(b"Makefile", b"lib/Makefile")]
    fn directory_does_not_matter(#[case] a: &[u8], #[case] b: &[u8]) {
        assert_eq!(name_hash(a), name_hash(b));
    }

    #[test]
    fn top_bits_are_the_last_bytes() {
        assert_eq!(
            name_hash(b"x.rs") >> 16,
            (u32::from(b's') << 8) | u32::from(b'r')
        );
        assert_eq!(name_hash(b"c") >> 16, u32::from(b'c') << 8);
    }

    #[test]
    fn names_sort_by_ending() {
        let mut paths: Vec<&[u8]> = vec![b"a.rs", b"b.md", b"c.rs", b"d.md", b"a.rs"];
        paths.sort_by_key(|p| name_hash(p));
        let endings: Vec<&[u8]> = paths.iter().map(|p| &p[p.len() - 2..]).collect();
        assert_eq!(endings, [b"md", b"md", b"rs", b"rs", b"rs"]);
        assert_eq!(paths.iter().filter(|p| **p == b"a.rs").count(), 2);
        let a = paths.iter().position(|p| *p == b"a.rs").unwrap();
        assert_eq!(paths[a + 1], b"a.rs", "identical names are adjacent");
    }

    #[test]
    fn low_bits_separate_names_with_the_same_ending() {
        let hashes: std::collections::HashSet<u32> =
            ["main.rs", "lib.rs", "mod.rs", "util.rs", "error.rs"]
                .iter()
                .map(|n| name_hash(n.as_bytes()))
                .collect();
        assert_eq!(hashes.len(), 5);
    }
}
