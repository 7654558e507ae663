//! Large blobs (upstream's large_files scenario): a 16 MiB random file and
//! two copies with 32 KiB appended, committed as loose objects, then
//! cloned and fetched.

mod common;

use common::{run, server_bin, Fixture};
use rstest::rstest;

/// Deterministic pseudo-random bytes (xorshift64*).
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[rstest]
#[case(0)]
#[case(2)]
fn large_blobs(#[case] version: u32) {
    let f = Fixture::new();
    f.commits("main", 1);
    let w = f.work();
    let big = random_bytes(16 << 20, 0x9e37_79b9_7f4a_7c15);
    let mut grown = big.clone();
    grown.extend_from_slice(&random_bytes(32 << 10, 42));
    std::fs::write(w.join("large_file1"), &big).unwrap();
    std::fs::write(w.join("large_file2"), &grown).unwrap();
    std::fs::write(w.join("large_file3"), &grown).unwrap();
    run(&w, &["add", "-A"]);
    run(&w, &["commit", "-q", "-m", "large files"]);
    run(&w, &["push", "-q", "origin", "HEAD:refs/heads/main"]);

    let pv = format!("protocol.version={version}");
    let up = format!("--upload-pack={}", server_bin());
    let top = f.dir.path();
    run(top, &["-c", &pv, "clone", "-q", &up, &f.url(), "clone"]);
    let clone = top.join("clone");
    run(&clone, &["fsck", "--strict"]);
    assert_eq!(std::fs::read(clone.join("large_file2")).unwrap(), grown);
    let tree = run(&clone, &["ls-tree", "--name-only", "HEAD"]);
    assert_eq!(tree, "dir0\nlarge_file1\nlarge_file2\nlarge_file3\n");
}
