//! Random and mutated requests never panic `serve`: every one ends in
//! `Ok` or a client-visible error.

mod common;

use common::{pkts, run, serve_bytes, Fixture};
use gotd_upload_pack::Protocol;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid-looking requests with bytes flipped, cut short or spliced.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(4) {
            0 => v[at] = rng.next() as u8,
            1 => v.truncate(at),
            2 => v.insert(at, b"0123456789abcdef"[rng.below(16)]),
            _ => {
                let end = (at + rng.below(20)).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

#[test]
fn mutated_requests_end_cleanly() {
    let f = Fixture::new();
    f.commits("main", 2);
    f.tag("v1");
    let head = run(&f.srv(), &["rev-parse", "main"]).trim().to_owned();
    let base = run(&f.srv(), &["rev-parse", "main~1"]).trim().to_owned();
    let v0 = pkts(&[
        &format!("want {head} multi_ack_detailed side-band-64k ofs-delta thin-pack include-tag\n"),
        "0000",
        &format!("have {base}\n"),
        "0000",
        "done\n",
    ]);
    let v2 = pkts(&[
        "command=ls-refs\n",
        "0001",
        "peel\n",
        "symrefs\n",
        "0000",
        "command=fetch\n",
        "0001",
        &format!("want {head}\n"),
        &format!("have {base}\n"),
        "thin-pack\n",
        "ofs-delta\n",
        "done\n",
        "0000",
    ]);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..150 {
        for (protocol, base) in [(Protocol::V0, &v0), (Protocol::V2, &v2)] {
            let input = if i % 10 == 0 {
                (0..rng.below(200)).map(|_| rng.next() as u8).collect()
            } else {
                mutate(&mut rng, base)
            };
            let (out, res) = serve_bytes(&f.srv(), protocol, &input);
            if let Err(msg) = res {
                assert!(!msg.is_empty());
                assert!(!out.is_empty(), "the client was told something");
            }
        }
    }
}
