//! Property tests of the planner: whatever the candidates, every delta
//! applies to its base and rebuilds its object, bases come first in
//! `base_first_order`, kinds never mix, chains respect the depth limit,
//! deltas are under half their object, base-only objects get no delta, and
//! each object is loaded at most once.

mod common;

use common::text;
use gotd_delta::{apply, base_first_order, try_plan_parallel, Candidate, DeltaChoice};
use proptest::prelude::*;

/// (kind, name, family, edit seed, truncation, base_only)
type Spec = (u8, u8, u8, u64, usize, bool);

fn build(specs: &[Spec]) -> (Vec<Candidate<()>>, Vec<Vec<u8>>) {
    let families: Vec<Vec<u8>> = (0..4).map(|f| text(f, 2000 + 700 * f as usize)).collect();
    let mut cands = Vec::new();
    let mut objects = Vec::new();
    for &(kind, name, family, seed, cut, base_only) in specs {
        let mut o = families[usize::from(family % 4)].clone();
        let at = (seed as usize) % o.len();
        o.splice(at..at, format!("edit {seed}\n").bytes());
        o.truncate(o.len().saturating_sub(cut));
        cands.push(Candidate {
            key: (),
            kind: kind % 3,
            name_hash: gotd_delta::name_hash(format!("f{}.c", name % 4).as_bytes()),
            size: o.len(),
            base_only,
        });
        objects.push(o);
    }
    (cands, objects)
}

fn check(
    cands: &[Candidate<()>],
    objects: &[Vec<u8>],
    choices: &[Option<DeltaChoice>],
    depth: usize,
) {
    assert_eq!(choices.len(), cands.len());
    let order = base_first_order(choices).expect("no cycles");
    let mut placed = vec![false; cands.len()];
    for i in order {
        if let Some(c) = &choices[i] {
            assert!(placed[c.base]);
            assert!(!cands[i].base_only);
            assert_eq!(cands[i].kind, cands[c.base].kind);
            assert!(c.delta.len() * 2 < objects[i].len());
            assert_eq!(apply(&objects[c.base], &c.delta).unwrap(), objects[i]);
        }
        placed[i] = true;
    }
    for mut choice in choices {
        let mut d = 0;
        while let Some(c) = choice {
            choice = &choices[c.base];
            d += 1;
        }
        assert!(d <= depth);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn plans_are_always_valid(
        specs in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u64>(), 0..3000usize, prop::bool::weighted(0.2)), 0..40),
        window in 0..6usize,
        depth in 0..5usize,
        threads in 1..4usize,
    ) {
        let (cands, objects) = build(&specs);
        let loads: Vec<std::sync::atomic::AtomicUsize> = (0..cands.len()).map(|_| Default::default()).collect();
        let choices: Result<_, ()> = try_plan_parallel(&cands, window, depth, threads, || {
            |i: usize| {
                loads[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(objects[i].clone())
            }
        });
        let choices = choices.unwrap();
        check(&cands, &objects, &choices, depth);
        prop_assert!(loads.iter().all(|n| n.load(std::sync::atomic::Ordering::Relaxed) <= 1));
    }
}

#[test]
fn the_generator_makes_deltable_objects() {
    let specs: Vec<Spec> = (0..20)
        .map(|i| (0, i % 2, i % 2, u64::from(i) * 977, 0, false))
        .collect();
    let (cands, objects) = build(&specs);
    let choices = gotd_delta::plan(&cands, 5, 3, |i| objects[i].clone());
    check(&cands, &objects, &choices, 3);
    assert!(choices.iter().filter(|c| c.is_some()).count() >= 15);
}
