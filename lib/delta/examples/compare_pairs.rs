//! Compares our encoder with git's on exactly the pairs git chose.
//!
//! ```text
//! git verify-pack -v pack-X.idx > verify.txt
//! cargo run --release -p gotd-delta --example compare_pairs -- <repo> verify.txt
//! ```
//!
//! For every deltified entry of the pack (`<id> <type> <delta size> <size in
//! pack> <offset> <depth> <base id>`), encodes the object against the same
//! base and compares the raw delta sizes, per object type; prints the pairs
//! where we do worst.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

fn main() {
    let mut args = std::env::args().skip(1);
    let repo = args
        .next()
        .expect("usage: compare_pairs <repo> <verify-pack -v output>");
    let verify = std::fs::read_to_string(args.next().expect("verify-pack output")).unwrap();
    let mut cat = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git cat-file");
    let mut cat_in = cat.stdin.take().unwrap();
    let mut cat_out = BufReader::new(cat.stdout.take().unwrap());
    let mut read_object = |id: &str| -> Vec<u8> {
        writeln!(cat_in, "{id}").unwrap();
        cat_in.flush().unwrap();
        let mut header = String::new();
        cat_out.read_line(&mut header).unwrap();
        let size: usize = header.split_whitespace().nth(2).unwrap().parse().unwrap();
        let mut data = vec![0; size + 1];
        cat_out.read_exact(&mut data).unwrap();
        data.truncate(size);
        data
    };
    let mut totals: std::collections::BTreeMap<String, (usize, usize, usize)> = Default::default();
    let mut worst = Vec::new();
    for line in verify.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 7 {
            continue;
        }
        let theirs: usize = f[2].parse().unwrap();
        let target = read_object(f[0]);
        let base = read_object(f[6]);
        let ours = gotd_delta::encode(&base, &target);
        assert_eq!(gotd_delta::apply(&base, &ours).unwrap(), target);
        let t = totals.entry(f[1].to_string()).or_default();
        t.0 += 1;
        t.1 += ours.len();
        t.2 += theirs;
        worst.push((
            ours.len() as i64 - theirs as i64,
            f[0].to_string(),
            ours.len(),
            theirs,
            target.len(),
        ));
    }
    drop(cat_in);
    cat.wait().expect("git cat-file exits");
    for (kind, (n, ours, theirs)) in &totals {
        println!(
            "{kind:6} {n:>7} pairs: ours {ours:>10} git {theirs:>10} ratio {:.3}",
            *ours as f64 / *theirs as f64
        );
    }
    worst.sort();
    for (diff, id, ours, theirs, size) in worst.iter().rev().take(8) {
        println!("  +{diff} {id} ours {ours} git {theirs} (object {size} bytes)");
    }
}
