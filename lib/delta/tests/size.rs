//! Delta sizes for typical source-code edits.

mod common;

use common::{line_starts, replace_line, text, Rng};
use gotd_delta::{apply, encode};
use rstest::rstest;

#[test]
fn one_line_change_in_100k_text_is_tiny() {
    let base = text(42, 100 * 1024);
    let n = line_starts(&base).len() / 2;
    let target = replace_line(&base, n, "    let changed = value + 1;\n");
    let delta = encode(&base, &target);
    assert_eq!(apply(&base, &delta).unwrap(), target);
    assert!(delta.len() < 200, "delta of {} bytes", delta.len());
}

/// An edit to a 100 KiB code-like file and the most its delta may take.
#[rstest]
#[case::append_line(|t: &[u8]| [t, b"fn appended() {}\n"].concat(), 60)]
#[case::prepend_line(|t: &[u8]| [b"// header comment\n", t].concat(), 60)]
#[case::delete_middle(|t: &[u8]| [&t[..40_000], &t[45_000..]].concat(), 60)]
#[case::truncate(|t: &[u8]| t[..70_000].to_vec(), 40)]
#[case::twenty_line_edits(twenty_edits, 20 * 60)]
#[case::move_block(|t: &[u8]| [&t[50_000..60_000], &t[..50_000], &t[60_000..]].concat(), 60)]
fn typical_edits(#[case] edit: fn(&[u8]) -> Vec<u8>, #[case] max: usize) {
    let base = text(9, 100 * 1024);
    let target = edit(&base);
    let delta = encode(&base, &target);
    assert_eq!(apply(&base, &delta).unwrap(), target);
    assert!(delta.len() <= max, "delta of {} bytes", delta.len());
}

fn twenty_edits(t: &[u8]) -> Vec<u8> {
    let mut rng = Rng::new(3);
    let lines = line_starts(t).len();
    let mut out = t.to_vec();
    for i in 0..20 {
        let n = i * lines / 20 + rng.below(lines / 20);
        out = replace_line(&out, n, &format!("    edited({i});\n"));
    }
    out
}

#[test]
fn repetitive_content_stays_cheap() {
    // Every block of the base occurs thousands of times: buckets are
    // sampled, and matches still run to the edit.
    let base = b"    same_line();\n".repeat(6000);
    let mut target = base.clone();
    let at = 50_000;
    target.splice(at..at, b"    other_line();\n".iter().copied());
    let delta = encode(&base, &target);
    assert_eq!(apply(&base, &delta).unwrap(), target);
    assert!(delta.len() < 80, "delta of {} bytes", delta.len());
    // Unrelated target against a highly repetitive base.
    let other = text(3, 50_000);
    let delta = encode(&base, &other);
    assert_eq!(apply(&base, &delta).unwrap(), other);
}
