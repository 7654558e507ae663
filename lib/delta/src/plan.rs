//! Choosing delta bases for the objects of a pack.
//!
//! The objects are sorted by kind, then [`name_hash`](crate::name_hash), then
//! size (largest first), so versions of one file end up next to each other
//! with the biggest one first. Walking that order, each object is encoded
//! against each of the `window` objects before it of the same kind, and the
//! smallest delta under half the object's size wins (weighted by the depth
//! of its base, which keeps chains bushy). A base is always earlier
//! in the order than the objects made from it, so the choices can never form
//! a cycle; chains are cut at `max_depth`.
//!
//! Objects the receiver already has (thin-pack bases) can take part as
//! [`Candidate::base_only`]: they serve as bases, sorted ahead of the objects
//! of the same name, but are never deltified themselves.
//!
//! The planner only sees bytes through the caller's `load` function (called
//! at most once per object, never for objects outside
//! [`MIN_OBJECT_SIZE`]`..=`[`MAX_OBJECT_SIZE`]) and holds at most
//! `window + 1` objects in memory, and no more than [`WINDOW_MEMORY`] bytes
//! of them beyond the newest object and the one being planned.

use std::collections::VecDeque;

use crate::encode::encode_with;
use crate::table::BlockTable;

/// Objects tried as bases for each object, as in git's `--window` default.
pub const DEFAULT_WINDOW: usize = 10;

/// Longest delta chain allowed, as in git's `--depth` default.
pub const DEFAULT_MAX_DEPTH: usize = 50;

/// Objects smaller than this are stored whole and never used as bases: the
/// few bytes a delta could save are eaten by the delta entry's base offset.
pub const MIN_OBJECT_SIZE: usize = 50;

/// Objects larger than this (512 MiB) are stored whole and never used as
/// bases, bounding the memory the planner holds.
pub const MAX_OBJECT_SIZE: usize = 512 << 20;

/// Memory the window may hold (object contents and their block tables,
/// 256 MiB); the oldest objects leave the window early to stay under it.
pub const WINDOW_MEMORY: usize = 256 << 20;

/// One object that could be stored as a delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<K> {
    /// The caller's identifier for the object (an object id, say); not used
    /// by the planner.
    pub key: K,
    /// Object type (e.g. the pack type number); deltas are only made between
    /// objects of the same kind.
    pub kind: u8,
    /// [`name_hash`](crate::name_hash) of the path the object was reached
    /// by, or 0.
    pub name_hash: u32,
    /// Size of the object's content in bytes.
    pub size: usize,
    /// The object is not written to the pack, but the receiver has it (a
    /// thin-pack base): it may be chosen as a base, to be referred to by
    /// REF_DELTA, and gets no choice itself.
    pub base_only: bool,
}

/// The plan for one object: store it as `delta` against candidate `base`.
///
/// When the base is a [`Candidate::base_only`] object, write the entry as a
/// REF_DELTA naming the base's id; otherwise OFS_DELTA (or REF_DELTA) to the
/// base's entry, which [`base_first_order`] places earlier in the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaChoice {
    /// Index (into the candidate slice) of the base object.
    pub base: usize,
    /// The delta, in git's format; applies to the base's content.
    pub delta: Vec<u8>,
}

/// Chooses a delta base for each candidate.
///
/// Candidates are sorted by kind, name hash, base-only first, then size
/// (largest first); each is encoded against the `window` objects before it
/// of the same kind and keeps the smallest delta (deeper bases count their
/// depth against the delta's size).
///
/// `load(i)` returns the content of `candidates[i]`. The result has one entry
/// per candidate: `Some` for objects to store as a delta, `None` for objects
/// to store whole. Every chosen base is itself either whole or a delta with a
/// shorter chain, chains are at most `max_depth` deltas long, and no delta is
/// made unless it is under half the size of its object.
pub fn plan<K>(
    candidates: &[Candidate<K>],
    window: usize,
    max_depth: usize,
    mut load: impl FnMut(usize) -> Vec<u8>,
) -> Vec<Option<DeltaChoice>> {
    let result: Result<_, std::convert::Infallible> =
        try_plan(candidates, window, max_depth, |i| Ok(load(i)));
    match result {
        Ok(choices) => choices,
        Err(never) => match never {},
    }
}

/// [`plan`] with a fallible `load`: the first error stops planning and is
/// returned.
pub fn try_plan<K, E>(
    candidates: &[Candidate<K>],
    window: usize,
    max_depth: usize,
    load: impl FnMut(usize) -> Result<Vec<u8>, E>,
) -> Result<Vec<Option<DeltaChoice>>, E> {
    plan_bounded(candidates, window, max_depth, WINDOW_MEMORY, load)
}

/// [`try_plan`] spread over `threads` threads.
///
/// The search order is cut into `threads` runs of about equal bytes, at
/// boundaries between names where possible, and each run is planned on its
/// own thread with its own window; only objects near a cut lose candidate
/// bases. `make_load` is called once per thread to make that thread's
/// loader (e.g. a thread-local repository handle). The first load error is
/// returned. With `threads <= 1` this is [`try_plan`].
pub fn try_plan_parallel<K, E, L>(
    candidates: &[Candidate<K>],
    window: usize,
    max_depth: usize,
    threads: usize,
    make_load: impl Fn() -> L + Sync,
) -> Result<Vec<Option<DeltaChoice>>, E>
where
    K: Sync,
    E: Send,
    L: FnMut(usize) -> Result<Vec<u8>, E>,
{
    let order = search_order(candidates);
    let runs = split(candidates, &order, threads, window);
    let results: Vec<Result<Vec<(usize, DeltaChoice)>, E>> = std::thread::scope(|scope| {
        let workers: Vec<_> = runs
            .iter()
            .map(|run| {
                let make_load = &make_load;
                scope.spawn(move || {
                    plan_run(
                        candidates,
                        run,
                        window,
                        max_depth,
                        WINDOW_MEMORY,
                        make_load(),
                    )
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut choices: Vec<Option<DeltaChoice>> = vec![None; candidates.len()];
    for result in results {
        for (i, choice) in result? {
            choices[i] = Some(choice);
        }
    }
    Ok(choices)
}

/// Cuts `order` into at most `parts` runs of about equal total size, each
/// ending where the kind or name hash changes unless that is more than
/// eight windows away.
fn split<'o, K>(
    candidates: &[Candidate<K>],
    order: &'o [usize],
    parts: usize,
    window: usize,
) -> Vec<&'o [usize]> {
    let weight = |i: usize| candidates[i].size.clamp(MIN_OBJECT_SIZE, MAX_OBJECT_SIZE) as u128;
    let total: u128 = order.iter().map(|&i| weight(i)).sum();
    let share = total / parts.max(1) as u128 + 1;
    let slack = window.saturating_mul(8).max(64);
    let group = |i: usize| (candidates[i].kind, candidates[i].name_hash);
    let mut runs = Vec::new();
    let (mut start, mut acc, mut over) = (0, 0u128, 0usize);
    for (at, &i) in order.iter().enumerate() {
        if acc >= share && runs.len() + 1 < parts {
            over += 1;
            if group(i) != group(order[at - 1]) || over > slack {
                runs.push(&order[start..at]);
                (start, acc, over) = (at, 0, 0);
            }
        }
        acc += weight(i);
    }
    runs.push(&order[start..]);
    runs
}

/// [`try_plan`] with the window's memory bound as a parameter.
fn plan_bounded<K, E>(
    candidates: &[Candidate<K>],
    window: usize,
    max_depth: usize,
    window_memory: usize,
    load: impl FnMut(usize) -> Result<Vec<u8>, E>,
) -> Result<Vec<Option<DeltaChoice>>, E> {
    let order = search_order(candidates);
    let mut choices: Vec<Option<DeltaChoice>> = vec![None; candidates.len()];
    for (i, choice) in plan_run(candidates, &order, window, max_depth, window_memory, load)? {
        choices[i] = Some(choice);
    }
    Ok(choices)
}

/// Plans the objects of `order` (a run of the search order) with one
/// window; returns the deltas chosen, by candidate index.
fn plan_run<K, E>(
    candidates: &[Candidate<K>],
    order: &[usize],
    window: usize,
    max_depth: usize,
    window_memory: usize,
    mut load: impl FnMut(usize) -> Result<Vec<u8>, E>,
) -> Result<Vec<(usize, DeltaChoice)>, E> {
    let mut chosen = Vec::new();
    if window == 0 || max_depth == 0 {
        return Ok(chosen);
    }
    let mut recent: VecDeque<Slot> = VecDeque::with_capacity(window.min(64));
    for &i in order {
        let kind = candidates[i].kind;
        if recent
            .back()
            .is_some_and(|s| candidates[s.index].kind != kind)
        {
            recent.clear();
        }
        let c = &candidates[i];
        if !(MIN_OBJECT_SIZE..=MAX_OBJECT_SIZE).contains(&c.size) {
            continue;
        }
        let data = load(i)?;
        let mut d = 0;
        if c.base_only {
            // Depth 0: the receiver has it whole.
        } else if let Some((slot, delta)) = best_delta(&mut recent, max_depth, &data) {
            let base = recent[slot].index;
            d = recent[slot].depth + 1;
            chosen.push((i, DeltaChoice { base, delta }));
        }
        // Objects at the depth limit cannot be bases, but still take their
        // turn in the window so that it keeps moving along the order.
        if recent.len() == window {
            recent.pop_front();
        }
        let data = if d < max_depth { data } else { Vec::new() };
        recent.push_back(Slot {
            index: i,
            depth: d,
            data,
            table: None,
        });
        // The newest object always stays: it is the likeliest base.
        let mut held: usize = recent.iter().map(Slot::memory).sum();
        while held > window_memory && recent.len() > 1 {
            held -= recent.pop_front().map_or(0, |s| s.memory());
        }
    }
    Ok(chosen)
}

/// An object in the window, with its block table built on first use.
struct Slot {
    index: usize,
    /// Length of the object's delta chain (0 when stored whole).
    depth: usize,
    data: Vec<u8>,
    table: Option<BlockTable>,
}

impl Slot {
    /// Heap bytes held: content plus block table.
    fn memory(&self) -> usize {
        self.data.capacity() + self.table.as_ref().map_or(0, BlockTable::heap_size)
    }
}

/// Candidate indices sorted by kind, name hash, base-only objects first,
/// size (largest first), then index so the order is deterministic.
fn search_order<K>(candidates: &[Candidate<K>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| {
        let c = &candidates[i];
        (
            c.kind,
            c.name_hash,
            !c.base_only,
            std::cmp::Reverse(c.size),
            i,
        )
    });
    order
}

/// Tries `target` against every slot, newest first; returns the slot and
/// delta of the best delta under half the target's size.
///
/// Deeper bases must earn their place: a delta against a base at depth `d`
/// counts as `len * max_depth / (max_depth - d)` bytes. This keeps chains
/// bushy rather than long, so a long history of one file does not run into
/// the depth limit and fall back to stale bases or whole objects.
fn best_delta(
    recent: &mut VecDeque<Slot>,
    max_depth: usize,
    target: &[u8],
) -> Option<(usize, Vec<u8>)> {
    // Cost of the best delta so far; a delta must cost strictly less than
    // half the target.
    let mut ceiling = target.len().checked_sub(1)? / 2;
    let mut best: Option<(usize, Vec<u8>)> = None;
    for slot in (0..recent.len()).rev() {
        let s = &mut recent[slot];
        let d = s.depth;
        if d >= max_depth {
            continue;
        }
        let limit = scale(ceiling, max_depth - d, max_depth);
        // Bytes the base lacks must be inserted literally.
        if target.len().saturating_sub(s.data.len()) > limit {
            continue;
        }
        let table = s.table.get_or_insert_with(|| BlockTable::new(&s.data));
        if let Some(delta) = encode_with(table, &s.data, target, limit) {
            let cost = scale(delta.len(), max_depth, max_depth - d);
            ceiling = cost.saturating_sub(1);
            best = Some((slot, delta));
        }
    }
    best
}

/// `value * num / den` without overflow (`den > 0`).
fn scale(value: usize, num: usize, den: usize) -> usize {
    let scaled = value as u128 * num as u128 / den as u128;
    usize::try_from(scaled).unwrap_or(usize::MAX)
}

/// An order in which to write the objects so that every base precedes the
/// deltas made from it (as OFS_DELTA requires), keeping the given order
/// otherwise.
///
/// Base-only candidates appear in the order as well; skip them when
/// writing. Returns `None` if a choice names a base out of range or the
/// choices form a cycle (which [`plan`] never produces).
pub fn base_first_order(choices: &[Option<DeltaChoice>]) -> Option<Vec<usize>> {
    const UNKNOWN: usize = usize::MAX;
    let mut depth = vec![UNKNOWN; choices.len()];
    let mut chain = Vec::new();
    for start in 0..choices.len() {
        let mut i = start;
        while depth[i] == UNKNOWN {
            match &choices[i] {
                None => depth[i] = 0,
                Some(choice) => {
                    if choice.base >= choices.len() || chain.len() > choices.len() {
                        return None;
                    }
                    chain.push(i);
                    i = choice.base;
                }
            }
        }
        let mut d = depth[i];
        while let Some(j) = chain.pop() {
            d += 1;
            depth[j] = d;
        }
    }
    let mut order: Vec<usize> = (0..choices.len()).collect();
    order.sort_by_key(|&i| depth[i]);
    Some(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply;

    fn text(lines: usize, seed: u32) -> Vec<u8> {
        (0..lines)
            .flat_map(|l| format!("line {l} of file {}: some words here\n", seed % 3).into_bytes())
            .collect()
    }

    fn candidate(kind: u8, name: &str, size: usize) -> Candidate<()> {
        Candidate {
            key: (),
            kind,
            name_hash: crate::name_hash(name.as_bytes()),
            size,
            base_only: false,
        }
    }

    fn check(
        cands: &[Candidate<()>],
        objects: &[Vec<u8>],
        choices: &[Option<DeltaChoice>],
        max_depth: usize,
    ) {
        let order = base_first_order(choices).expect("acyclic");
        let mut done = vec![false; objects.len()];
        for i in order {
            if let Some(c) = &choices[i] {
                assert!(done[c.base], "base written first");
                assert_eq!(cands[c.base].kind, cands[i].kind);
                assert!(c.delta.len() * 2 < objects[i].len());
                assert_eq!(apply(&objects[c.base], &c.delta).unwrap(), objects[i]);
            }
            done[i] = true;
        }
        for i in 0..choices.len() {
            let mut d = 0;
            let mut j = i;
            while let Some(c) = &choices[j] {
                j = c.base;
                d += 1;
            }
            assert!(d <= max_depth, "chain of {d} at {i}");
        }
    }

    #[test]
    fn versions_of_a_file_become_deltas_of_the_largest() {
        let mut objects = Vec::new();
        let mut cands = Vec::new();
        for v in 0..5 {
            let mut t = text(200, 0);
            t.truncate(t.len() - v * 40);
            cands.push(candidate(3, "file.txt", t.len()));
            objects.push(t);
        }
        let choices = plan(&cands, DEFAULT_WINDOW, DEFAULT_MAX_DEPTH, |i| {
            objects[i].clone()
        });
        assert!(choices[0].is_none(), "largest is the base");
        assert!(choices[1..].iter().all(|c| c.is_some()));
        check(&cands, &objects, &choices, DEFAULT_MAX_DEPTH);
    }

    #[test]
    fn kinds_never_mix_and_unrelated_objects_stay_whole() {
        let objects = [text(100, 0), text(100, 0), b"x".repeat(10), text(100, 1)];
        let cands = [
            candidate(3, "a", objects[0].len()),
            candidate(2, "a", objects[1].len()),
            candidate(3, "b", 10),
            candidate(3, "c", objects[3].len()),
        ];
        let choices = plan(&cands, DEFAULT_WINDOW, DEFAULT_MAX_DEPTH, |i| {
            objects[i].clone()
        });
        assert!(choices[1].is_none(), "only object of kind 2");
        assert!(choices[2].is_none(), "nothing like it");
        assert!(
            choices[0].is_some() != choices[3].is_some(),
            "one of the similar pair deltas"
        );
        check(&cands, &objects, &choices, DEFAULT_MAX_DEPTH);
    }

    #[test]
    fn depth_limit_is_respected() {
        // Each version grows, so each wants the previous (larger-first order
        // puts the biggest first) as base.
        let objects: Vec<Vec<u8>> = (0..12).map(|v| text(300 - v * 10, 0)).collect();
        let cands: Vec<_> = objects.iter().map(|o| candidate(3, "f", o.len())).collect();
        for max_depth in [1, 2, 3] {
            let choices = plan(&cands, 1, max_depth, |i| objects[i].clone());
            check(&cands, &objects, &choices, max_depth);
            assert!(choices.iter().filter(|c| c.is_some()).count() >= 6);
        }
    }

    #[test]
    fn long_histories_stay_compact_under_a_small_depth_limit() {
        // 120 versions of one file, each changing a different line; sorted
        // by size they are all equal, so the order is the input order.
        let mut versions = vec![text(400, 0)];
        for v in 1..120 {
            let mut next = versions[v - 1].clone();
            let at = (v * 97) % (next.len() - 10);
            next[at..at + 4].copy_from_slice(b"EDIT");
            versions.push(next);
        }
        let cands: Vec<_> = versions
            .iter()
            .map(|o| candidate(3, "f", o.len()))
            .collect();
        let choices = plan(&cands, 10, 5, |i| versions[i].clone());
        check(&cands, &versions, &choices, 5);
        let whole = choices.iter().filter(|c| c.is_none()).count();
        let stored: usize = choices
            .iter()
            .enumerate()
            .map(|(i, c)| c.as_ref().map_or(versions[i].len(), |c| c.delta.len()))
            .sum();
        // With depth 5 a few objects must be whole (chains of 1 + 5 + 5*5
        // ... fill quickly only if bases stay in the window); once the old
        // objects leave the window a new whole object is cheaper than a
        // delta against a stale base. Letting objects at the depth limit
        // hold their window slots forever stored about 8.3 objects' worth.
        assert!(whole <= 6, "{whole} objects stored whole");
        assert!(
            stored < 6 * versions[0].len(),
            "{stored} bytes stored, {whole} whole"
        );
    }

    #[test]
    fn unbounded_window_and_depth_are_accepted() {
        let objects = [text(50, 0), text(49, 0), text(48, 0)];
        let cands: Vec<_> = objects.iter().map(|o| candidate(3, "f", o.len())).collect();
        let choices = plan(&cands, usize::MAX, usize::MAX, |i| objects[i].clone());
        check(&cands, &objects, &choices, usize::MAX);
        assert!(choices[1].is_some() && choices[2].is_some());
    }

    #[test]
    fn window_memory_bound_evicts_the_oldest_objects() {
        // A, then B (unrelated to A), then a copy of A: with room for A and
        // B the copy deltas against A; with room for one object A is gone.
        let a = text(200, 0);
        let b: Vec<u8> = (0..a.len()).map(|i| (i * 7 % 251) as u8).collect();
        let objects = [a.clone(), b, a];
        let mut cands: Vec<_> = objects.iter().map(|o| candidate(3, "f", o.len())).collect();
        cands[1].size += 1; // sorted before the copy of A, after A
        cands[0].size += 2;
        let run = |memory| {
            plan_bounded::<(), std::convert::Infallible>(&cands, 10, 50, memory, |i| {
                Ok(objects[i].clone())
            })
            .unwrap()
        };
        let roomy = run(1 << 20);
        assert_eq!(roomy[2].as_ref().map(|c| c.base), Some(0));
        let tight = run(objects[0].len() * 3 / 2);
        assert_eq!(tight[2], None);
    }

    /// Five files of twenty versions each, shuffled.
    fn versions_of_files() -> (Vec<Candidate<()>>, Vec<Vec<u8>>) {
        let mut objects = Vec::new();
        let mut cands = Vec::new();
        for v in 0..20 {
            for f in 0..5u32 {
                let mut t = text(100 + f as usize * 10, f);
                t.truncate(t.len() - v * 30);
                t.extend_from_slice(format!("file {f}\n").as_bytes());
                cands.push(candidate(3, &format!("file{f}.txt"), t.len()));
                objects.push(t);
            }
        }
        (cands, objects)
    }

    #[test]
    fn parallel_plan_is_valid_and_nearly_as_good() {
        let (cands, objects) = versions_of_files();
        let sequential = plan(&cands, 10, 50, |i| objects[i].clone());
        let loads = std::sync::atomic::AtomicUsize::new(0);
        for threads in [1, 2, 3, 8] {
            loads.store(0, std::sync::atomic::Ordering::Relaxed);
            let got: Result<_, ()> = try_plan_parallel(&cands, 10, 50, threads, || {
                |i: usize| {
                    loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(objects[i].clone())
                }
            });
            let got = got.unwrap();
            check(&cands, &objects, &got, 50);
            assert_eq!(
                loads.load(std::sync::atomic::Ordering::Relaxed),
                objects.len()
            );
            let count = |c: &[Option<DeltaChoice>]| c.iter().filter(|c| c.is_some()).count();
            assert!(
                count(&got) + threads >= count(&sequential),
                "{threads} threads"
            );
            if threads == 1 {
                assert_eq!(got, sequential);
            }
        }
    }

    #[test]
    fn parallel_plan_returns_load_errors() {
        let (cands, _) = versions_of_files();
        let got: Result<_, String> = try_plan_parallel(&cands, 10, 50, 2, || {
            |i: usize| Err(format!("object {i} missing"))
        });
        assert!(got.unwrap_err().starts_with("object "));
    }

    #[test]
    fn split_covers_the_order_and_cuts_between_names() {
        let (cands, _) = versions_of_files();
        let order = search_order(&cands);
        for parts in [1, 2, 3, 5, 7, 500] {
            let runs = split(&cands, &order, parts, 10);
            assert!(runs.len() <= parts.max(1));
            assert_eq!(runs.concat(), order, "{parts} parts");
            for pair in runs.windows(2) {
                let (last, first) = (pair[0][pair[0].len() - 1], pair[1][0]);
                assert_ne!(
                    cands[last].name_hash, cands[first].name_hash,
                    "{parts} parts"
                );
            }
        }
        assert_eq!(split(&cands, &order, 2, 10).len(), 2);
        assert_eq!(split(&cands[..0], &[], 4, 10), vec![&[] as &[usize]]);
    }

    #[test]
    fn window_zero_or_depth_zero_makes_no_deltas() {
        let objects = [text(50, 0), text(50, 0)];
        let cands: Vec<_> = objects.iter().map(|o| candidate(3, "f", o.len())).collect();
        assert_eq!(plan(&cands, 0, 50, |i| objects[i].clone()), [None, None]);
        assert_eq!(plan(&cands, 10, 0, |i| objects[i].clone()), [None, None]);
    }

    #[test]
    fn each_object_is_loaded_once() {
        let objects: Vec<Vec<u8>> = (0..30).map(|v| text(50 + v, v as u32)).collect();
        let cands: Vec<_> = objects.iter().map(|o| candidate(3, "f", o.len())).collect();
        let mut loads = vec![0; objects.len()];
        let choices = plan(&cands, 4, 50, |i| {
            loads[i] += 1;
            objects[i].clone()
        });
        assert!(loads.iter().all(|&n| n == 1));
        check(&cands, &objects, &choices, 50);
    }

    #[test]
    fn load_errors_stop_planning() {
        let cands = [candidate(3, "f", 100), candidate(3, "g", 100)];
        let got: Result<_, String> =
            try_plan(&cands, 10, 50, |i| Err(format!("object {i} missing")));
        assert_eq!(got.unwrap_err(), "object 0 missing");
    }

    #[test]
    fn tiny_and_huge_objects_are_neither_loaded_nor_deltified() {
        let cands = [
            candidate(3, "f", 0),
            candidate(3, "f", MIN_OBJECT_SIZE - 1),
            candidate(3, "f", MAX_OBJECT_SIZE + 1),
            candidate(3, "f", MAX_OBJECT_SIZE + 2),
        ];
        let choices = plan(&cands, 10, 50, |i| panic!("object {i} loaded"));
        assert_eq!(choices, [None, None, None, None]);
    }

    #[test]
    fn base_only_objects_are_bases_but_never_deltas() {
        let old = text(100, 0);
        let mut new = old.clone();
        new.extend_from_slice(b"one more line\n");
        let objects = [new.clone(), old.clone(), new.clone()];
        let mut cands: Vec<_> = objects.iter().map(|o| candidate(3, "f", o.len())).collect();
        cands[1].base_only = true;
        cands[2].kind = 2;
        cands[2].base_only = true;
        let choices = plan(&cands, 10, 50, |i| objects[i].clone());
        let c = choices[0]
            .as_ref()
            .expect("delta against the receiver's copy");
        assert_eq!(c.base, 1);
        assert_eq!(apply(&old, &c.delta).unwrap(), new);
        assert_eq!(choices[1], None);
        assert_eq!(choices[2], None);
    }

    #[test]
    fn base_first_order_rejects_cycles_and_bad_bases() {
        let c = |base| {
            Some(DeltaChoice {
                base,
                delta: Vec::new(),
            })
        };
        assert_eq!(base_first_order(&[c(1), c(0)]), None);
        assert_eq!(base_first_order(&[c(0)]), None);
        assert_eq!(base_first_order(&[c(5)]), None);
        assert_eq!(base_first_order(&[c(1), None, c(0)]), Some(vec![1, 0, 2]));
    }
}
