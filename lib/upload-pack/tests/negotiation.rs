//! Acknowledgments and pack framing, byte for byte, for each negotiated
//! acknowledgment mode and both protocol families.

mod common;

use common::{pkts, run, serve_bytes, Fixture};
use gotd_upload_pack::Protocol;
use gotd_wire::pkt::{Packet, PktReader};

/// A readable transcript of everything after the v0 advertisement (or the
/// v2 capability list): text packets verbatim, side-band data summarised.
fn transcript(out: &[u8], v2: bool, ids: &[(&str, &str)]) -> String {
    let mut rd = if v2 {
        PktReader::new_v2(out)
    } else {
        PktReader::new(out)
    };
    // Skip the advertisement.
    while let Some(p) = rd.read_packet().unwrap() {
        if p == Packet::Flush {
            break;
        }
    }
    let mut t = String::new();
    let mut raw = false;
    let mut pack_bytes = 0;
    loop {
        let rest = rd.get_ref();
        if rest.starts_with(b"PACK") {
            raw = true;
            pack_bytes = rest.len();
            break;
        }
        let Some(p) = rd.read_packet().unwrap() else {
            break;
        };
        match p {
            Packet::Flush => {
                flush_pack(&mut t, &mut pack_bytes);
                t.push_str("0000\n");
            }
            Packet::Delim => t.push_str("0001\n"),
            Packet::ResponseEnd => t.push_str("0002\n"),
            Packet::Data(d) => match d[0] {
                1 => pack_bytes += d.len() - 1,
                2 | 3 => {
                    flush_pack(&mut t, &mut pack_bytes);
                    t.push_str(&format!(
                        "band {}: {}",
                        d[0],
                        String::from_utf8_lossy(&d[1..])
                    ));
                }
                _ => {
                    flush_pack(&mut t, &mut pack_bytes);
                    t.push_str(&String::from_utf8_lossy(&d));
                }
            },
        }
        if !matches!(t.chars().last(), Some('\n')) && !t.is_empty() {
            t.push('\n');
        }
    }
    if raw {
        t.push_str("(raw pack to end of stream)\n");
    } else {
        flush_pack(&mut t, &mut pack_bytes);
    }
    for (id, name) in ids {
        t = t.replace(id, name);
    }
    t
}

fn flush_pack(t: &mut String, bytes: &mut usize) {
    if *bytes > 0 {
        t.push_str("band 1: <pack data>\n");
        *bytes = 0;
    }
}

struct Repo {
    f: Fixture,
    c1: String,
    c2: String,
    c3: String,
}

/// main = c1 - c2 - c3.
fn repo() -> Repo {
    let f = Fixture::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        f.commits("main", 1);
        ids.push(run(&f.srv(), &["rev-parse", "main"]).trim().to_owned());
    }
    Repo {
        f,
        c1: ids[0].clone(),
        c2: ids[1].clone(),
        c3: ids[2].clone(),
    }
}

fn run_v0(r: &Repo, caps: &str, script: &[String]) -> String {
    let mut lines = vec![format!("want {} {caps}\n", r.c3), "0000".into()];
    lines.extend(script.iter().cloned());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (out, res) = serve_bytes(&r.f.srv(), Protocol::V0, &pkts(&refs));
    assert_eq!(res, Ok(()));
    transcript(
        &out,
        false,
        &[(&r.c1, "<c1>"), (&r.c2, "<c2>"), (&r.c3, "<c3>")],
    )
}

fn have(id: &str) -> String {
    format!("have {id}\n")
}

const UNKNOWN: &str = "1111111111111111111111111111111111111111";

#[test]
fn multi_ack_detailed() {
    let r = repo();
    let s = [
        have(&r.c2),
        have(UNKNOWN),
        "0000".into(),
        have(&r.c1),
        "done\n".into(),
    ];
    insta::assert_snapshot!(run_v0(&r, "multi_ack_detailed side-band-64k ofs-delta", &s));
}

#[test]
fn multi_ack() {
    let r = repo();
    let s = [
        have(UNKNOWN),
        "0000".into(),
        have(&r.c2),
        "0000".into(),
        "done\n".into(),
    ];
    insta::assert_snapshot!(run_v0(&r, "multi_ack side-band ofs-delta no-progress", &s));
}

#[test]
fn single_ack() {
    let r = repo();
    let s = [
        have(UNKNOWN),
        "0000".into(),
        have(&r.c2),
        have(&r.c1),
        "0000".into(),
        "done\n".into(),
    ];
    insta::assert_snapshot!(run_v0(&r, "ofs-delta", &s));
}

#[test]
fn no_common_haves() {
    let r = repo();
    let s = [have(UNKNOWN), "0000".into(), "done\n".into()];
    insta::assert_snapshot!(run_v0(&r, "multi_ack_detailed side-band-64k", &s));
}

#[test]
fn v2_acknowledgments_then_packfile() {
    let r = repo();
    let want = format!("want {}\n", r.c3);
    let lines = [
        // No common commit yet: acknowledgments only.
        "command=fetch\n",
        "0001",
        &want,
        &have(UNKNOWN),
        "ofs-delta\n",
        "0000",
        // c1 is common and c3 reaches it: ready, and the pack follows.
        "command=fetch\n",
        "0001",
        &want,
        &have(UNKNOWN),
        &have(&r.c1),
        "ofs-delta\n",
        "no-progress\n",
        "0000",
        // With done: no acknowledgments, just the pack.
        "command=fetch\n",
        "0001",
        &want,
        &have(&r.c1),
        "no-progress\n",
        "done\n",
        "0000",
    ];
    let (out, res) = serve_bytes(&r.f.srv(), Protocol::V2, &pkts(&lines));
    assert_eq!(res, Ok(()));
    insta::assert_snapshot!(transcript(&out, true, &[(&r.c1, "<c1>"), (&r.c3, "<c3>")]));
}

/// The pack for want c3 / have c1 holds exactly c2, c3 and what their trees
/// add; git indexes it on top of a repository that has c1.
#[test]
fn pack_is_exact_and_valid() {
    let r = repo();
    let lines = [
        format!("want {} ofs-delta\n", r.c3),
        "0000".into(),
        have(&r.c1),
        "done\n".into(),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (out, res) = serve_bytes(&r.f.srv(), Protocol::V0, &pkts(&refs));
    assert_eq!(res, Ok(()));
    let pack = &out[out.windows(4).position(|w| w == b"PACK").unwrap()..];
    let count = u32::from_be_bytes(pack[8..12].try_into().unwrap());
    let expected = run(
        &r.f.srv(),
        &["rev-list", "--objects", &r.c3, "--not", &r.c1],
    )
    .lines()
    .count();
    assert_eq!(count as usize, expected);

    let client = r.f.dir.path().join("client.git");
    run(r.f.dir.path(), &["init", "-q", "--bare", "client.git"]);
    let c1 = format!("{}:refs/heads/main", r.c1);
    run(&r.f.srv(), &["push", "-q", client.to_str().unwrap(), &c1]);
    let mut child = common::git(&client)
        .args(["index-pack", "--stdin", "--strict"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(pack).unwrap();
    let status = child.wait_with_output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}
