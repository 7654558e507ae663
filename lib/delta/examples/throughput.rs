//! Encoder and decoder throughput on synthetic inputs.
//!
//! ```text
//! cargo run --release -p gotd-delta --example throughput
//! ```

use std::time::Instant;

/// xorshift64*: reproducible bytes without a dependency.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn edit(base: &[u8], every: usize) -> Vec<u8> {
    let mut t = base.to_vec();
    let mut at = every / 2;
    while at + 8 < t.len() {
        t[at..at + 8].copy_from_slice(b"EDITED!!");
        at += every;
    }
    t
}

fn run(name: &str, base: &[u8], target: &[u8]) {
    let start = Instant::now();
    let index = gotd_delta::DeltaIndex::new(base);
    let indexed = start.elapsed();
    let start = Instant::now();
    let delta = index.encode(target, usize::MAX).unwrap();
    let encoded = start.elapsed();
    let start = Instant::now();
    let out = gotd_delta::apply(base, &delta).unwrap();
    let applied = start.elapsed();
    assert_eq!(out, target);
    let mib = |n: usize, d: std::time::Duration| n as f64 / (1 << 20) as f64 / d.as_secs_f64();
    println!(
        "{name:28} base {:>9} target {:>9} delta {:>8}: index {:7.0} MiB/s, encode {:7.0} MiB/s, apply {:7.0} MiB/s",
        base.len(),
        target.len(),
        delta.len(),
        mib(base.len(), indexed),
        mib(target.len(), encoded),
        mib(target.len(), applied),
    );
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("small-unrelated") {
        // For profiling the in-cache miss path.
        let (a, b) = (bytes(1, 64 << 10), bytes(2, 64 << 10));
        let index = gotd_delta::DeltaIndex::new(&a);
        let start = Instant::now();
        for _ in 0..500 {
            std::hint::black_box(index.encode(&b, usize::MAX));
        }
        let mib = 500.0 * 64.0 / 1024.0 / start.elapsed().as_secs_f64();
        println!("64 KiB unrelated x500: {mib:.0} MiB/s");
        return;
    }
    for size in [64 << 10, 1 << 20] {
        let random = bytes(1, size);
        run("random, edit every 64 B", &random, &edit(&random, 64));
        run("random, unrelated", &random, &bytes(2, size));
    }
    let random = bytes(1, 32 << 20);
    run("random, identical", &random, &random);
    run("random, edit every 4 KiB", &random, &edit(&random, 4096));
    run("random, edit every 64 B", &random, &edit(&random, 64));
    run("random, unrelated", &random, &bytes(2, 32 << 20));
    let zeros = vec![0u8; 32 << 20];
    run("zeros vs random", &zeros, &random);
    run("zeros, edit every 4 KiB", &zeros, &edit(&zeros, 4096));
}
