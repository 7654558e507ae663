//! Round trips: apply(base, encode(base, target)) == target for random and
//! edited pairs, and apply never panics on arbitrary deltas.

mod common;

use common::{text, Rng};
use gotd_delta::{apply, encode, parse_header, DeltaIndex};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Edit {
    Insert { at: f64, bytes: Vec<u8> },
    Delete { at: f64, len: usize },
    Replace { at: f64, bytes: Vec<u8> },
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), prop::collection::vec(any::<u8>(), 1..200))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (at.clone(), 1..300usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (at, prop::collection::vec(any::<u8>(), 1..50))
            .prop_map(|(at, bytes)| Edit::Replace { at, bytes }),
    ]
}

fn apply_edits(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut t = base.to_vec();
    for e in edits {
        let pos = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
        match e {
            Edit::Insert { at, bytes } => {
                let p = pos(*at, t.len());
                t.splice(p..p, bytes.iter().copied());
            }
            Edit::Delete { at, len } => {
                let p = pos(*at, t.len());
                let end = (p + len).min(t.len());
                t.drain(p..end);
            }
            Edit::Replace { at, bytes } => {
                let p = pos(*at, t.len());
                let end = (p + bytes.len()).min(t.len());
                t.splice(p..end, bytes.iter().copied());
            }
        }
    }
    t
}

/// Random bytes, or bytes from a tiny alphabet (many repeated blocks).
fn base_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..6000),
        prop::collection::vec(prop::sample::select(b"ab \n".to_vec()), 0..6000),
        (any::<u64>(), 0..8000usize).prop_map(|(seed, n)| text(seed, n)),
    ]
}

fn round_trip(base: &[u8], target: &[u8]) {
    let delta = encode(base, target);
    let header = parse_header(&delta).unwrap();
    assert_eq!(header.source_size, base.len() as u64);
    assert_eq!(header.target_size, target.len() as u64);
    assert_eq!(apply(base, &delta).unwrap(), target);
}

proptest! {
    #[test]
    fn edited_targets_round_trip(base in base_bytes(), edits in prop::collection::vec(edit(), 0..12)) {
        let target = apply_edits(&base, &edits);
        round_trip(&base, &target);
    }

    #[test]
    fn unrelated_pairs_round_trip(base in base_bytes(), target in base_bytes()) {
        round_trip(&base, &target);
    }

    #[test]
    fn empty_base_or_target_round_trips(data in base_bytes()) {
        round_trip(&[], &data);
        round_trip(&data, &[]);
    }

    #[test]
    fn limited_encoding_respects_the_limit(base in base_bytes(), edits in prop::collection::vec(edit(), 0..12), max in 0..3000usize) {
        let target = apply_edits(&base, &edits);
        let full = encode(&base, &target);
        match DeltaIndex::new(&base).encode(&target, max) {
            Some(delta) => {
                prop_assert!(delta.len() <= max);
                prop_assert_eq!(delta, full);
            }
            None => prop_assert!(full.len() > max),
        }
    }

    #[test]
    fn apply_never_panics_on_random_deltas(base in prop::collection::vec(any::<u8>(), 0..300), delta in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = apply(&base, &delta);
    }

    #[test]
    fn apply_never_panics_with_a_matching_header(base in prop::collection::vec(any::<u8>(), 0..300), target_size in 0..1000u64, body in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut delta = Vec::new();
        for mut v in [base.len() as u64, target_size] {
            while v >= 0x80 { delta.push(v as u8 | 0x80); v >>= 7; }
            delta.push(v as u8);
        }
        delta.extend_from_slice(&body);
        if let Ok(out) = apply(&base, &delta) {
            prop_assert_eq!(out.len() as u64, target_size);
        }
    }

    #[test]
    fn corrupted_deltas_fail_cleanly(base in base_bytes(), edits in prop::collection::vec(edit(), 1..6), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), cut in any::<prop::sample::Index>()) {
        let target = apply_edits(&base, &edits);
        let mut delta = encode(&base, &target);
        for (i, x) in &flips {
            let i = i.index(delta.len());
            delta[i] ^= x;
        }
        let _ = apply(&base, &delta);
        let cut = cut.index(delta.len());
        let _ = apply(&base, &delta[..cut]);
    }
}

#[test]
fn large_edited_pair_over_64k_round_trips() {
    let mut rng = Rng::new(7);
    let base = rng.bytes(300 * 1024);
    let mut target = base.clone();
    for _ in 0..50 {
        let at = rng.below(target.len());
        let n = rng.below(100);
        let new = rng.bytes(n);
        let end = (at + rng.below(100)).min(target.len());
        target.splice(at..end, new);
    }
    let delta = encode(&base, &target);
    assert_eq!(apply(&base, &delta).unwrap(), target);
    assert!(delta.len() < 20_000, "delta of {} bytes", delta.len());
}

#[test]
fn identical_large_object_is_copies_only() {
    let base = text(1, 200 * 1024);
    let delta = encode(&base, &base);
    assert_eq!(apply(&base, &delta).unwrap(), base);
    // Four copies of at most 64 KiB, each at most 6 bytes, plus a 6-byte header.
    assert!(delta.len() <= 6 + 4 * 6, "delta of {} bytes", delta.len());
}

#[test]
fn over_16_mib_round_trips() {
    let mut rng = Rng::new(16);
    let base = rng.bytes(17 << 20);
    let mut target = Vec::with_capacity(base.len() + 4096);
    target.extend_from_slice(b"new header\n");
    target.extend_from_slice(&base[..9 << 20]);
    target.extend_from_slice(&rng.bytes(1000));
    target.extend_from_slice(&base[(9 << 20) + 500..]);
    target.extend_from_slice(&base[100..5000]);
    let delta = encode(&base, &target);
    assert_eq!(apply(&base, &delta).unwrap(), target);
    assert!(delta.len() < 4000, "delta of {} bytes", delta.len());
}
