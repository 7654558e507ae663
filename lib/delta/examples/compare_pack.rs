//! Compares the planner with `git pack-objects` on a real repository.
//!
//! ```text
//! cargo run --release -p gotd-delta --example compare_pack -- <repo> [--thin] [<revs>...]
//! ```
//!
//! Both sides get the same objects (`git rev-list --objects <revs>`, default
//! `--all`), the same window (10) and depth (50), the same number of threads
//! (`THREADS` in the environment, default 1), and no reuse of existing
//! deltas. With `--thin`, the trees and blobs of every `^<rev>` are
//! offered to the planner as base-only objects (what a thin pack may delta
//! against) and git gets `--thin`.
//!
//! Reported: deltas per object type, the zlib-compressed payloads, our
//! estimated pack size (payloads plus entry headers: type/size varint,
//! 20-byte base id for a delta against a base-only object, 3 bytes assumed
//! for an OFS_DELTA offset, 32 bytes of pack header and trailer) against
//! the size of git's pack, and wall-clock times.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use gotd_delta::{
    name_hash, plan, try_plan_parallel, Candidate, DEFAULT_MAX_DEPTH, DEFAULT_WINDOW,
};

const KINDS: [&str; 5] = ["", "commit", "tree", "blob", "tag"];

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        !args.is_empty(),
        "usage: compare_pack <repo> [--thin] [<revs>...]"
    );
    let repo = args.remove(0);
    let thin = args.first().is_some_and(|a| a == "--thin");
    if thin {
        args.remove(0);
    }
    let threads: usize = std::env::var("THREADS").map_or(1, |t| t.parse().expect("THREADS number"));
    let revs = if args.is_empty() {
        vec!["--all".to_string()]
    } else {
        args
    };
    let git = |a: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&repo).args(a);
        c
    };
    let run =
        |c: &mut Command| String::from_utf8(c.output().expect("git runs").stdout).expect("utf-8");

    // (id, path, base_only)
    let mut objects: Vec<(String, String, bool)> = run(git(&["rev-list", "--objects"]).args(&revs))
        .lines()
        .map(|l| {
            let (id, path) = l.split_once(' ').unwrap_or((l, ""));
            (id.to_string(), path.to_string(), false)
        })
        .collect();
    let sent = objects.len();
    if thin {
        let mut seen: HashSet<String> = objects.iter().map(|o| o.0.clone()).collect();
        for have in revs.iter().filter_map(|r| r.strip_prefix('^')) {
            for l in run(&mut git(&["ls-tree", "-r", "-t", have])).lines() {
                // "<mode> <type> <id>\t<path>"
                let (meta, path) = l.split_once('\t').unwrap();
                let meta: Vec<&str> = meta.split_whitespace().collect();
                let (kind, id) = (meta[1], meta[2]);
                // Submodule entries name commits of another repository.
                if kind != "commit" && seen.insert(id.to_string()) {
                    objects.push((id.to_string(), path.to_string(), true));
                }
            }
        }
    }

    let start = Instant::now();
    let mut cat = git(&["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git cat-file");
    let mut cat_in = cat.stdin.take().unwrap();
    let mut cat_out = BufReader::new(cat.stdout.take().unwrap());
    let mut contents = Vec::with_capacity(objects.len());
    let mut candidates = Vec::with_capacity(objects.len());
    for (i, (id, path, base_only)) in objects.iter().enumerate() {
        writeln!(cat_in, "{id}").unwrap();
        cat_in.flush().unwrap();
        let mut header = String::new();
        cat_out.read_line(&mut header).unwrap();
        let f: Vec<&str> = header.split_whitespace().collect();
        let size: usize = f[2].parse().unwrap();
        let mut data = vec![0; size + 1];
        cat_out.read_exact(&mut data).unwrap();
        data.truncate(size);
        candidates.push(Candidate {
            key: i,
            kind: KINDS.iter().position(|k| *k == f[1]).expect("object type") as u8,
            name_hash: name_hash(path.as_bytes()),
            size,
            base_only: *base_only,
        });
        contents.push(data);
    }
    drop(cat_in);
    cat.wait().expect("git cat-file exits");
    let load_time = start.elapsed();

    let start = Instant::now();
    let choices = if threads > 1 {
        let planned: Result<_, std::convert::Infallible> = try_plan_parallel(
            &candidates,
            DEFAULT_WINDOW,
            DEFAULT_MAX_DEPTH,
            threads,
            || |i: usize| Ok(contents[i].clone()),
        );
        planned.unwrap_or_else(|never| match never {})
    } else {
        plan(&candidates, DEFAULT_WINDOW, DEFAULT_MAX_DEPTH, |i| {
            contents[i].clone()
        })
    };
    let plan_time = start.elapsed();

    // per kind: objects, deltas, thin deltas, zlib bytes
    let mut per_kind = [(0usize, 0usize, 0usize, 0usize); 5];
    let mut stored = 0usize;
    let mut estimate = 32usize;
    for (i, choice) in choices.iter().enumerate().take(sent) {
        let payload = choice.as_ref().map_or(&contents[i], |c| &c.delta);
        let z = zlib_len(payload);
        let mut header =
            1 + (usize::BITS - (payload.len() >> 4).leading_zeros()).div_ceil(7) as usize;
        let k = &mut per_kind[usize::from(candidates[i].kind)];
        k.0 += 1;
        k.3 += z;
        if let Some(c) = choice {
            k.1 += 1;
            if candidates[c.base].base_only {
                k.2 += 1;
                header += 20;
            } else {
                header += 3;
            }
        }
        stored += z;
        estimate += z + header;
    }

    let threads_arg = format!("--threads={threads}");
    let mut pack_args = vec![
        "pack-objects",
        "--stdout",
        "-q",
        "--revs",
        "--window=10",
        "--depth=50",
        &threads_arg,
        "--no-reuse-delta",
        "--no-reuse-object",
    ];
    if thin {
        pack_args.push("--thin");
    }
    let mut stdin_revs = String::new();
    for r in &revs {
        if r.starts_with("--") {
            pack_args.push(r);
        } else {
            stdin_revs += &format!("{r}\n");
        }
    }
    let start = Instant::now();
    let mut pack = git(&pack_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git pack-objects");
    let mut pin = pack.stdin.take().unwrap();
    let writer = std::thread::spawn(move || pin.write_all(stdin_revs.as_bytes()));
    let out = pack.wait_with_output().expect("pack-objects output");
    writer.join().unwrap().unwrap();
    let git_time = start.elapsed();

    println!(
        "objects: {sent} sent, {} base-only; loading {load_time:.2?}",
        objects.len() - sent
    );
    for (kind, (n, d, t, z)) in per_kind.iter().enumerate().skip(1) {
        println!(
            "  {:6} {n:>8} objects {d:>8} deltas ({t} thin) {z:>12} bytes zlib",
            KINDS[kind]
        );
    }
    println!(
        "ours: zlib payloads {stored} bytes, pack estimate {estimate} bytes; plan {plan_time:.2?}"
    );
    println!(
        "git pack-objects: pack {} bytes in {git_time:.2?}",
        out.stdout.len()
    );
    println!(
        "ratio ours/git: {:.3}",
        estimate as f64 / out.stdout.len() as f64
    );
}

fn zlib_len(data: &[u8]) -> usize {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap().len()
}
