//! Compares the planner with `git pack-objects` on a real repository.
//!
//! ```text
//! cargo run --release -p gotd-delta --example compare_pack -- <repo> [<rev-list args>...]
//! ```
//!
//! Both sides get the same objects (`git rev-list --objects`, default
//! `--all`), the same window (10) and depth (50), one thread, and no reuse of
//! existing deltas. Reported: the number of deltas, the sum of the
//! zlib-compressed entry payloads (ours) versus the pack size (git's, which
//! adds entry headers, base offsets and the 32-byte header/trailer), and
//! wall-clock times.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use gotd_delta::{name_hash, plan, Candidate, DEFAULT_MAX_DEPTH, DEFAULT_WINDOW};

fn kind_number(kind: &str) -> u8 {
    match kind {
        "commit" => 1,
        "tree" => 2,
        "blob" => 3,
        "tag" => 4,
        other => panic!("unknown object type {other}"),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let repo = args
        .next()
        .expect("usage: compare_pack <repo> [<rev-list args>...]");
    let mut revs: Vec<String> = args.collect();
    if revs.is_empty() {
        revs.push("--all".into());
    }
    let git = |a: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&repo).args(a);
        c
    };

    let listing = git(&["rev-list", "--objects"])
        .args(&revs)
        .output()
        .expect("git rev-list");
    let listing = String::from_utf8(listing.stdout).expect("utf-8 listing");
    let lines: Vec<(&str, &str)> = listing
        .lines()
        .map(|l| l.split_once(' ').unwrap_or((l, "")))
        .collect();

    let mut cat = git(&["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git cat-file");
    let mut cat_in = cat.stdin.take().unwrap();
    let mut cat_out = BufReader::new(cat.stdout.take().unwrap());
    let mut read_object = |id: &str| -> (u8, Vec<u8>) {
        writeln!(cat_in, "{id}").unwrap();
        cat_in.flush().unwrap();
        let mut header = String::new();
        cat_out.read_line(&mut header).unwrap();
        let f: Vec<&str> = header.split_whitespace().collect();
        let size: usize = f[2].parse().unwrap();
        let mut data = vec![0; size + 1];
        cat_out.read_exact(&mut data).unwrap();
        data.truncate(size);
        (kind_number(f[1]), data)
    };

    let start = Instant::now();
    let mut objects = Vec::with_capacity(lines.len());
    let mut candidates = Vec::with_capacity(lines.len());
    for (i, (id, path)) in lines.iter().enumerate() {
        let (kind, data) = read_object(id);
        candidates.push(Candidate {
            key: i,
            kind,
            name_hash: name_hash(path.as_bytes()),
            size: data.len(),
            base_only: false,
        });
        objects.push(data);
    }
    drop(cat_in);
    cat.wait().expect("git cat-file exits");
    let load_time = start.elapsed();
    let start = Instant::now();
    let choices = plan(&candidates, DEFAULT_WINDOW, DEFAULT_MAX_DEPTH, |i| {
        objects[i].clone()
    });
    let plan_time = start.elapsed();
    let mut whole = 0usize;
    let mut stored = 0usize;
    let mut raw = 0usize;
    let mut deltas = 0usize;
    let mut per_kind = [(0usize, 0usize, 0usize, 0usize, 0usize); 5];
    for (i, choice) in choices.iter().enumerate() {
        whole += zlib_len(&objects[i]);
        let payload = match choice {
            Some(c) => {
                deltas += 1;
                &c.delta
            }
            None => &objects[i],
        };
        raw += payload.len();
        let z = zlib_len(payload);
        stored += z;
        let k = &mut per_kind[usize::from(candidates[i].kind)];
        k.0 += 1;
        k.1 += usize::from(choice.is_some());
        k.2 += z;
        if choice.is_some() {
            k.3 += payload.len();
        } else {
            k.4 += payload.len();
        }
    }

    if let Ok(file) = std::env::var("PAYLOADS") {
        let dump: String = choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (len, base) = match c {
                    Some(c) => (c.delta.len(), lines[c.base].0),
                    None => (objects[i].len(), "-"),
                };
                format!("{} {} {} {}\n", lines[i].0, len, base, objects[i].len())
            })
            .collect();
        std::fs::write(file, dump).unwrap();
    }
    let list: String = lines
        .iter()
        .map(|(id, path)| format!("{id} {path}\n"))
        .collect();
    let start = Instant::now();
    let mut pack = git(&[
        "pack-objects",
        "--stdout",
        "-q",
        "--window=10",
        "--depth=50",
        "--threads=1",
        "--no-reuse-delta",
        "--no-reuse-object",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .expect("git pack-objects");
    let mut pin = pack.stdin.take().unwrap();
    let writer = std::thread::spawn(move || pin.write_all(list.as_bytes()));
    let out = pack.wait_with_output().expect("pack-objects output");
    writer.join().unwrap().unwrap();
    let git_time = start.elapsed();

    println!("objects: {}", lines.len());
    for (kind, name) in [(1, "commit"), (2, "tree"), (3, "blob"), (4, "tag")] {
        let (n, d, z, rd, rw) = per_kind[kind];
        println!("  {name:6} {n:>8} objects {d:>8} deltas {z:>12} bytes zlib; raw deltas {rd:>10} whole {rw:>10}");
    }
    println!("all whole, zlib:      {:>12} bytes", whole);
    println!(
        "ours: {deltas} deltas, raw payload {raw} bytes, zlib {stored} bytes; plan {:.2?} (loading {:.2?})",
        plan_time, load_time
    );
    println!(
        "git pack-objects: pack {} bytes in {:.2?}",
        out.stdout.len(),
        git_time
    );
    println!(
        "ratio ours/git: {:.3}",
        stored as f64 / out.stdout.len() as f64
    );
}

fn zlib_len(data: &[u8]) -> usize {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap().len()
}
