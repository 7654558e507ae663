//! Packs holding our deltas are accepted by git: a small pack writer builds
//! packs with OFS_DELTA and REF_DELTA entries, `git index-pack` indexes them,
//! `git cat-file` returns the targets and `git fsck --strict` is clean. Also
//! compares our delta sizes with the deltas `git pack-objects` makes.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{line_starts, replace_line, text, Rng};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use gotd_delta::{apply, base_first_order, encode, name_hash, plan, Candidate};
use rstest::rstest;

const BLOB: u8 = 3;
const OFS_DELTA: u8 = 6;
const REF_DELTA: u8 = 7;

fn blob_id(data: &[u8]) -> [u8; 20] {
    let mut h = sha1_smol::Sha1::new();
    h.update(format!("blob {}\0", data.len()).as_bytes());
    h.update(data);
    h.digest().bytes()
}

fn hex(id: &[u8; 20]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// Entry of a test pack.
enum Entry<'a> {
    Blob(&'a [u8]),
    /// Delta against the entry with this index (written earlier).
    Ofs(usize, &'a [u8]),
    /// Delta against the object with this id.
    Ref([u8; 20], &'a [u8]),
}

/// Writes a version 2 pack of `entries`.
fn write_pack(entries: &[Entry]) -> Vec<u8> {
    let mut pack = b"PACK".to_vec();
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    let mut offsets = Vec::new();
    for e in entries {
        let here = pack.len();
        offsets.push(here);
        let (kind, data) = match e {
            Entry::Blob(d) => (BLOB, *d),
            Entry::Ofs(_, d) => (OFS_DELTA, *d),
            Entry::Ref(_, d) => (REF_DELTA, *d),
        };
        let mut size = data.len();
        let mut byte = (kind << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            pack.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        pack.push(byte);
        match e {
            Entry::Blob(_) => {}
            Entry::Ofs(base, _) => {
                let mut n = here - offsets[*base];
                let mut bytes = vec![(n & 0x7f) as u8];
                n >>= 7;
                while n > 0 {
                    n -= 1;
                    bytes.push(0x80 | (n & 0x7f) as u8);
                    n >>= 7;
                }
                bytes.reverse();
                pack.extend_from_slice(&bytes);
            }
            Entry::Ref(id, _) => pack.extend_from_slice(id),
        }
        pack.extend_from_slice(&zlib(data));
    }
    let digest = sha1_smol::Sha1::from(&pack).digest().bytes();
    pack.extend_from_slice(&digest);
    pack
}

fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_DIR", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn bare_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "--bare", "."], None);
    dir
}

/// Indexes `pack` into a fresh repository, checks every object of
/// `objects` reads back and fsck is clean.
fn check_git_accepts(pack: &[u8], objects: &[&[u8]]) {
    let repo = bare_repo();
    git(
        repo.path(),
        &["index-pack", "--stdin", "--strict"],
        Some(pack),
    );
    for data in objects {
        let got = git(
            repo.path(),
            &["cat-file", "blob", &hex(&blob_id(data))],
            None,
        );
        assert!(got == *data, "object content differs");
    }
    let fsck = git(repo.path(), &["fsck", "--strict", "--no-dangling"], None);
    assert!(fsck.is_empty(), "fsck: {}", String::from_utf8_lossy(&fsck));
}

fn pairs() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let code = text(5, 100 * 1024);
    let n = line_starts(&code).len() / 3;
    let mut rng = Rng::new(11);
    let binary = rng.bytes(70 * 1024);
    let mut binary_edit = binary.clone();
    binary_edit[1000..1010].copy_from_slice(&rng.bytes(10));
    binary_edit.truncate(65 * 1024);
    // Over 16 MiB so copies need four offset bytes; edits near both ends.
    let big = rng.bytes(17 << 20);
    let mut big_edit = big.clone();
    big_edit[(16 << 20) + 5..(16 << 20) + 9].copy_from_slice(b"EDIT");
    big_edit.splice(100..200, b"moved".iter().copied());
    big_edit.extend_from_slice(&big[(1 << 20)..(1 << 20) + 70_000]);
    vec![
        ("17 MiB, 4-byte offsets", big, big_edit),
        (
            "one line changed",
            code.clone(),
            replace_line(&code, n, "x = 1;\n"),
        ),
        ("binary edit", binary, binary_edit),
        // No "empty target": git (2.39, 2.47) cannot read back a delta
        // whose result is empty, whoever made it; the planner never makes one.
        ("empty base", Vec::new(), code[..3000].to_vec()),
    ]
}

#[rstest]
#[case::ofs_delta(true)]
#[case::ref_delta(false)]
fn git_indexes_packs_with_our_deltas(#[case] ofs: bool) {
    for (name, base, target) in pairs() {
        let delta = encode(&base, &target);
        let entry = if ofs {
            Entry::Ofs(0, &delta)
        } else {
            Entry::Ref(blob_id(&base), &delta)
        };
        let pack = write_pack(&[Entry::Blob(&base), entry]);
        eprintln!("{name}: delta {} bytes", delta.len());
        check_git_accepts(&pack, &[&base, &target]);
    }
}

#[test]
fn git_indexes_a_planned_pack_with_chains() {
    let mut versions = vec![text(8, 30 * 1024)];
    for v in 0..15 {
        let prev = versions.last().unwrap();
        let n = line_starts(prev).len() * v / 16;
        versions.push(replace_line(prev, n, &format!("    version({v});\n")));
    }
    let others: Vec<Vec<u8>> = (0..5).map(|s| text(100 + s, 5000)).collect();
    let objects: Vec<&[u8]> = versions.iter().chain(&others).map(Vec::as_slice).collect();
    let cands: Vec<Candidate<usize>> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| Candidate {
            key: i,
            kind: BLOB,
            name_hash: name_hash(if i < versions.len() {
                b"src/lib.rs"
            } else {
                b"other.c"
            }),
            size: o.len(),
            base_only: false,
        })
        .collect();
    let choices = plan(&cands, 10, 4, |i| objects[i].to_vec());
    let deltas = choices.iter().filter(|c| c.is_some()).count();
    assert!(deltas >= versions.len() - 2, "only {deltas} deltas");
    let order = base_first_order(&choices).unwrap();
    let mut position = vec![usize::MAX; objects.len()];
    let mut entries = Vec::new();
    for &i in &order {
        position[i] = entries.len();
        entries.push(match &choices[i] {
            Some(c) => Entry::Ofs(position[c.base], &c.delta),
            None => Entry::Blob(objects[i]),
        });
    }
    check_git_accepts(&write_pack(&entries), &objects);
}

/// The delta git stores for a pack of `a` and `b`: whether `a` is the
/// base, and the delta's size; None when git stores both whole.
fn git_delta(a: &[u8], b: &[u8]) -> Option<(bool, usize)> {
    let repo = bare_repo();
    let write = |data: &[u8]| {
        let out = git(repo.path(), &["hash-object", "-w", "--stdin"], Some(data));
        String::from_utf8(out).unwrap().trim().to_string()
    };
    let (a, b) = (write(a), write(b));
    let list = format!("{a}\n{b}\n");
    git(
        repo.path(),
        &["pack-objects", "-q", "--window=10", "--depth=50", "pk"],
        Some(list.as_bytes()),
    );
    let idx = std::fs::read_dir(repo.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let verify = git(
        repo.path(),
        &["verify-pack", "-v", idx.to_str().unwrap()],
        None,
    );
    // "<id> blob <delta size> <size in pack> <offset> <depth> <base id>".
    String::from_utf8(verify).unwrap().lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 7).then(|| (f[6] == a, f[2].parse().unwrap()))
    })
}

#[test]
fn delta_sizes_are_close_to_gits() {
    let code = text(21, 100 * 1024);
    let lines = line_starts(&code).len();
    let mut rng = Rng::new(5);
    let mut scattered = code.clone();
    for i in 0..20 {
        let n = i * lines / 20 + rng.below(lines / 20);
        scattered = replace_line(&scattered, n, &format!("    edited({i});\n"));
    }
    let binary = rng.bytes(64 * 1024);
    let mut binary_edit = binary.clone();
    for _ in 0..10 {
        let at = rng.below(binary_edit.len() - 8);
        binary_edit[at..at + 8].copy_from_slice(&rng.bytes(8));
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "1 line changed",
            replace_line(&code, lines / 2, "    let changed = 1;\n"),
        ),
        ("20 lines changed", scattered),
        (
            "line added at top",
            [b"// new\n".as_slice(), &code].concat(),
        ),
        (
            "5 KiB cut from middle",
            [&code[..50_000], &code[55_000..]].concat(),
        ),
    ];
    let mut report = String::new();
    let mut check = |name: &str, base: &[u8], target: &[u8]| {
        let (base_first, theirs) = git_delta(base, target).expect("git made a delta");
        let (base, target) = if base_first {
            (base, target)
        } else {
            (target, base)
        };
        let ours = encode(base, target);
        assert_eq!(apply(base, &ours).unwrap(), target);
        report += &format!("{name:24} ours {:6} git {:6}\n", ours.len(), theirs);
        assert!(
            ours.len() <= theirs * 11 / 10 + 8,
            "{name}: ours {} bytes, git {theirs}",
            ours.len()
        );
    };
    for (name, target) in &cases {
        check(name, &code, target);
    }
    check("binary 10 edits", &binary, &binary_edit);
    eprintln!("{report}");
}

#[test]
fn git_completes_a_thin_pack_against_a_base_only_object() {
    let old = text(12, 20 * 1024);
    let new = replace_line(&old, 10, "    thin();\n");
    let cands: Vec<Candidate<()>> = [(&old, true), (&new, false)]
        .iter()
        .map(|(o, base_only)| Candidate {
            key: (),
            kind: BLOB,
            name_hash: name_hash(b"a.c"),
            size: o.len(),
            base_only: *base_only,
        })
        .collect();
    let objects = [&old, &new];
    let choices = plan(&cands, 10, 50, |i| objects[i].to_vec());
    let choice = choices[1]
        .as_ref()
        .expect("delta against the receiver's object");
    assert_eq!(choice.base, 0);
    let pack = write_pack(&[Entry::Ref(blob_id(&old), &choice.delta)]);

    let repo = bare_repo();
    git(repo.path(), &["hash-object", "-w", "--stdin"], Some(&old));
    git(
        repo.path(),
        &["index-pack", "--stdin", "--fix-thin", "--strict"],
        Some(&pack),
    );
    let got = git(
        repo.path(),
        &["cat-file", "blob", &hex(&blob_id(&new))],
        None,
    );
    assert!(got == new, "completed object differs");
    let fsck = git(repo.path(), &["fsck", "--strict", "--no-dangling"], None);
    assert!(fsck.is_empty(), "fsck: {}", String::from_utf8_lossy(&fsck));
}
