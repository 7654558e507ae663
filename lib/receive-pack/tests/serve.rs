//! `serve` driven directly with hand-made requests and packs made by
//! `git pack-objects`: advertisement bytes, pack errors, connectivity,
//! compare-and-swap races and cleanup of refused packs.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use gotd_receive_pack::{serve, Error, Options, Outcome, Protection, Protocol};
use rstest::rstest;

fn opts() -> Options {
    Options::new("gotd/test", Protocol::V0, Protection::default(), 1000)
}

fn run(repo: &std::path::Path, input: &[u8], opts: &Options) -> (Result<Outcome, Error>, Vec<u8>) {
    let mut out = Vec::new();
    let mut input = input;
    let result = serve(repo, &mut input, &mut out, opts);
    (result, out)
}

/// A server with `main` at the client's first commit, and a client with
/// `main` one commit ahead.
fn ahead() -> (Fixture, String, String) {
    let f = Fixture::new();
    f.push_ok(&[], &["main"]);
    let base = f.client_rev("main");
    let tip = f.commit("beta", "beta\n");
    (f, base, tip)
}

#[test]
fn advertisement_of_an_empty_repository() {
    let f = Fixture::new();
    let (result, out) = run(&f.server, b"", &opts());
    assert!(result.unwrap().updates.is_empty());
    insta::assert_snapshot!(String::from_utf8_lossy(&out).replace('\0', "\\0"), @"00aa0000000000000000000000000000000000000000 capabilities^{}\\0 report-status report-status-v2 delete-refs ofs-delta side-band-64k quiet atomic push-options agent=gotd/test0000");
}

#[test]
fn protocol_v2_request_gets_the_v0_advertisement() {
    let f = Fixture::new();
    let (_, v0) = run(&f.server, b"", &opts());
    let mut v2 = opts();
    v2.protocol = Protocol::V2;
    let (_, out) = run(&f.server, b"", &v2);
    assert_eq!(out, v0);
}

#[test]
fn advertisement_sorted_with_peeled_tags_and_no_head() {
    let f = Fixture::new();
    git(&f.client, &["tag", "-a", "-m", "one", "v1.0"]);
    f.push_ok(&[], &["main", "main:refs/heads/a-first", "refs/tags/v1.0"]);
    let mut v1 = opts();
    v1.protocol = Protocol::V1;
    let (_, out) = run(&f.server, b"0000", &v1);
    insta::assert_snapshot!(String::from_utf8_lossy(&out).replace('\0', "\\0"));
}

#[test]
fn flush_only_is_a_clean_no_op() {
    let f = Fixture::new();
    let (result, out) = run(&f.server, b"0000", &opts());
    assert!(result.unwrap().updates.is_empty());
    assert!(out.ends_with(b"0000"));
    f.assert_clean();
}

#[test]
fn push_options_are_recorded() {
    let (f, base, tip) = ahead();
    let pack = make_pack(&f.client, &["main", &format!("^{base}")], false);
    let req = request(
        &[(&base, &tip, "refs/heads/main")],
        "report-status push-options",
        Some(&["ci.skip", "notify=no"]),
        &pack,
    );
    let (result, out) = run(&f.server, &req, &opts());
    let outcome = result.unwrap();
    assert_eq!(outcome.push_options, vec!["ci.skip", "notify=no"]);
    assert_eq!(outcome.updates[0].error, None);
    assert!(outcome.objects_received > 0);
    assert_eq!(
        after_advertisement(&out),
        "000eunpack ok\n0017ok refs/heads/main\n0000"
    );
    f.assert_clean();
}

#[test]
fn report_is_in_reverse_order_and_sideband_wrapped() {
    let (f, base, tip) = ahead();
    let pack = make_pack(&f.client, &["main", &format!("^{base}")], false);
    let req = request(
        &[
            (&base, &tip, "refs/heads/main"),
            (ZERO, &tip, "refs/heads/new"),
        ],
        "report-status side-band-64k",
        None,
        &pack,
    );
    let (result, out) = run(&f.server, &req, &opts());
    assert!(result.unwrap().updates.iter().all(|u| u.error.is_none()));
    insta::assert_snapshot!(after_advertisement(&out).replace('\u{1}', "<1>"), @r"
    0044<1>000eunpack ok
    0016ok refs/heads/new
    0017ok refs/heads/main
    00000000
    ");
    f.assert_clean();
}

/// The second of two pushes built on the same old value loses the
/// compare-and-swap and gets the upstream-like reason.
#[test]
fn stale_old_value_gets_ng() {
    let (f, base, tip) = ahead();
    git(&f.client, &["checkout", "-q", "-b", "side", &base]);
    let other = f.commit("gamma", "gamma\n");
    let pack_a = make_pack(&f.client, &["main", &format!("^{base}")], false);
    let pack_b = make_pack(&f.client, &["side", &format!("^{base}")], false);
    let req_a = request(
        &[(&base, &tip, "refs/heads/main")],
        "report-status",
        None,
        &pack_a,
    );
    let req_b = request(
        &[(&base, &other, "refs/heads/main")],
        "report-status",
        None,
        &pack_b,
    );
    assert_eq!(
        run(&f.server, &req_a, &opts()).0.unwrap().updates[0].error,
        None
    );
    let (result, out) = run(&f.server, &req_b, &opts());
    let reason =
        "refs/heads/main has been modified by someone else while transaction was in progress: \
                  reference cannot be updated; please try again";
    assert_eq!(result.unwrap().updates[0].error.as_deref(), Some(reason));
    assert!(after_advertisement(&out).contains(&format!("ng refs/heads/main {reason}\n")));
    assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
    f.assert_clean();
}

#[test]
fn creating_an_existing_ref_gets_ng() {
    let (f, _base, tip) = ahead();
    let req = request(
        &[(ZERO, &tip, "refs/heads/main")],
        "report-status",
        None,
        &make_pack(&f.client, &["main"], false),
    );
    let (result, _) = run(&f.server, &req, &opts());
    let err = result.unwrap().updates[0].error.clone().unwrap();
    assert!(
        err.starts_with("refs/heads/main has been created by someone else"),
        "{err}"
    );
    f.assert_clean();
}

/// Two pushes race for one ref from two threads: exactly one wins.
#[test]
fn concurrent_pushes_to_one_ref_have_one_winner() {
    for _ in 0..4 {
        let (f, base, tip) = ahead();
        git(&f.client, &["checkout", "-q", "-b", "side", &base]);
        let other = f.commit("gamma", "gamma\n");
        let reqs = [
            request(
                &[(&base, &tip, "refs/heads/main")],
                "report-status",
                None,
                &make_pack(&f.client, &["main", &format!("^{base}")], false),
            ),
            request(
                &[(&base, &other, "refs/heads/main")],
                "report-status",
                None,
                &make_pack(&f.client, &["side", &format!("^{base}")], false),
            ),
        ];
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = reqs
                .iter()
                .map(|req| {
                    let barrier = barrier.clone();
                    let server = f.server.clone();
                    s.spawn(move || {
                        barrier.wait();
                        run(&server, req, &opts()).0.unwrap().updates[0]
                            .error
                            .clone()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<usize> = (0..2).filter(|&i| results[i].is_none()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        let loser = results[1 - winners[0]].as_deref().unwrap();
        assert!(
            loser.contains("has been modified by someone else")
                || loser.contains("could not acquire"),
            "{loser}"
        );
        let expected = if winners[0] == 0 { &tip } else { &other };
        assert_eq!(f.server_rev("refs/heads/main").as_ref(), Some(expected));
        f.assert_clean();
    }
}

fn bad_pack(kind: &str, good: &[u8]) -> Vec<u8> {
    match kind {
        "short" => good[..7].to_vec(),
        "signature" => [b"KCAP", &good[4..]].concat(),
        "version" => [&good[..7], &[9u8][..], &good[8..]].concat(),
        "checksum" => {
            let mut p = good.to_vec();
            *p.last_mut().unwrap() ^= 0xff;
            p
        }
        "truncated" => good[..good.len() / 2].to_vec(),
        "nothing" => Vec::new(),
        _ => unreachable!(),
    }
}

#[rstest]
#[case("short", "short pack file")]
#[case("nothing", "short pack file")]
#[case("signature", "bad packfile signature")]
#[case("version", "bad packfile version")]
#[case("checksum", "pack file checksum error")]
#[case("truncated", "unexpected end of file")]
fn bad_packs_are_refused_without_leftovers(#[case] kind: &str, #[case] reason: &str) {
    let (f, base, tip) = ahead();
    std::fs::write(f.client.join("big"), "x".repeat(100_000)).unwrap();
    git(&f.client, &["add", "big"]);
    git(&f.client, &["commit", "-q", "-m", "big"]);
    let tip2 = f.client_rev("main");
    let _ = tip;
    let good = make_pack(&f.client, &["main", &format!("^{base}")], false);
    let before = f.server_refs();
    let req = request(
        &[
            (&base, &tip2, "refs/heads/main"),
            (ZERO, &tip2, "refs/heads/new"),
        ],
        "report-status",
        None,
        &bad_pack(kind, &good),
    );
    let (result, out) = run(&f.server, &req, &opts());
    assert_eq!(result.unwrap_err().to_string(), reason);
    assert_eq!(
        after_advertisement(&out),
        String::from_utf8(
            [
                pkt(&format!("unpack {reason}\n")),
                pkt("ng refs/heads/new unpacker error\n"),
                pkt("ng refs/heads/main unpacker error\n"),
                b"0000".to_vec(),
            ]
            .concat()
        )
        .unwrap()
    );
    assert_eq!(f.server_refs(), before);
    f.assert_clean();
}

#[test]
fn without_report_status_a_pack_error_is_an_err_packet() {
    let (f, base, tip) = ahead();
    let req = request(
        &[(&base, &tip, "refs/heads/main")],
        "ofs-delta",
        None,
        b"PACK",
    );
    let (result, out) = run(&f.server, &req, &opts());
    assert_eq!(result.unwrap_err().to_string(), "short pack file");
    assert_eq!(after_advertisement(&out), "0017ERR short pack file");
}

#[test]
fn with_sideband_a_fatal_error_is_band_3() {
    let (f, base, _) = ahead();
    let req = request(
        &[(&base, ZERO, "refs/got/x")],
        "report-status side-band-64k",
        None,
        b"",
    );
    let (result, out) = run(&f.server, &req, &opts());
    assert_eq!(
        result.unwrap_err().to_string(),
        "refs/got/: reference namespace is protected"
    );
    assert_eq!(
        after_advertisement(&out),
        "0030\u{3}refs/got/: reference namespace is protected"
    );
}

#[rstest]
#[case(|o: &mut Options| o.limits.max_pack_bytes = 200, "pack file is larger than the limit of 200 bytes")]
#[case(|o: &mut Options| o.limits.max_objects = 2, "pack file has 3 objects, more than the limit of 2")]
fn limits(#[case] set: fn(&mut Options), #[case] reason: &str) {
    let (f, base, tip) = ahead();
    let pack = make_pack(&f.client, &["main", &format!("^{base}")], false);
    let req = request(
        &[(&base, &tip, "refs/heads/main")],
        "report-status",
        None,
        &pack,
    );
    let mut o = opts();
    set(&mut o);
    let (result, _) = run(&f.server, &req, &o);
    assert_eq!(result.unwrap_err().to_string(), reason);
    assert_eq!(f.server_rev("refs/heads/main"), Some(base));
    f.assert_clean();
}

#[test]
fn empty_pack_for_an_unknown_tip() {
    let f = Fixture::new();
    let empty = make_pack(&f.client, &[], false);
    let missing = "1234567890123456789012345678901234567890";
    let req = request(
        &[(ZERO, missing, "refs/heads/x")],
        "report-status",
        None,
        &empty,
    );
    let (result, _) = run(&f.server, &req, &opts());
    assert_eq!(
        result.unwrap_err().to_string(),
        "bad packfile with zero objects"
    );
    f.assert_clean();
}

/// Hands out its input one chunk per `read` and records how far it got.
struct Chunked {
    chunks: Vec<Vec<u8>>,
    next: usize,
}

impl std::io::Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(chunk) = self.chunks.get_mut(self.next) else {
            return Ok(0);
        };
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.next += 1;
        }
        Ok(n)
    }
}

/// git writes an empty pack's header and trailer with two writes; the
/// trailer must be read (and checked) before the report goes out, or the
/// connection may close under the client's second write.
#[rstest]
#[case::intact(false, None)]
#[case::corrupt_trailer(true, Some("pack file checksum error"))]
fn empty_pack_trailer_is_read_before_the_report(
    #[case] corrupt: bool,
    #[case] error: Option<&str>,
) {
    let f = Fixture::new();
    f.push_ok(&[], &["main"]);
    let tip = f.client_rev("main");
    let mut empty = make_pack(&f.client, &[], false);
    assert_eq!(empty.len(), 32);
    if corrupt {
        empty[31] ^= 1;
    }
    let req = request(
        &[(ZERO, &tip, "refs/heads/copy")],
        "report-status",
        None,
        &[],
    );
    let mut input = Chunked {
        chunks: vec![req, empty[..12].to_vec(), empty[12..].to_vec()],
        next: 0,
    };
    let mut out = Vec::new();
    let result = serve(&f.server, &mut input, &mut out, &opts());
    assert_eq!(input.next, 3, "the trailer was left unread");
    match error {
        None => {
            result.unwrap();
        }
        Some(e) => assert!(result.unwrap_err().to_string().contains(e)),
    }
    f.assert_clean();
}

/// A pack whose commit's tree is neither in the pack nor in the repository.
#[test]
fn disconnected_pack_is_refused() {
    let f = Fixture::new();
    let commit = f.client_rev("main");
    let tree = f.client_rev("main^{tree}");
    let pack = {
        use std::io::Write;
        let mut child = std::process::Command::new("git")
            .current_dir(&f.client)
            .args(["pack-objects", "--stdout", "-q"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{commit}").unwrap();
        child.wait_with_output().unwrap().stdout
    };
    let req = request(
        &[(ZERO, &commit, "refs/heads/main")],
        "report-status",
        None,
        &pack,
    );
    let (result, _) = run(&f.server, &req, &opts());
    assert_eq!(
        result.unwrap_err().to_string(),
        format!("object {tree} referenced by {commit} is missing: bad pack file")
    );
    assert_eq!(f.server_refs(), "");
    f.assert_clean();
}

#[test]
fn thin_pack_is_completed_from_the_repository() {
    let f = Fixture::new();
    let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    f.commit("big", &text);
    f.push_ok(&[], &["main"]);
    let base = f.client_rev("main");
    let tip = f.commit("big", &format!("{text}one more\n"));
    let pack = make_pack(&f.client, &["main", &format!("^{base}")], true);
    let req = request(
        &[(&base, &tip, "refs/heads/main")],
        "report-status",
        None,
        &pack,
    );
    let (result, _) = run(&f.server, &req, &opts());
    assert_eq!(result.unwrap().updates[0].error, None);
    assert_eq!(f.server_rev("refs/heads/main"), Some(tip));
    f.assert_clean();
}

#[test]
fn deleting_a_missing_ref_is_refused() {
    let (f, base, _) = ahead();
    let req = request(
        &[(&base, ZERO, "refs/heads/nope")],
        "report-status",
        None,
        b"",
    );
    let (result, _) = run(&f.server, &req, &opts());
    assert_eq!(
        result.unwrap_err().to_string(),
        "refs/heads/nope: bad object id"
    );
}

/// `git pack-objects` of exactly `objects` (no traversal).
fn pack_of(repo: &std::path::Path, objects: &[String]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .current_dir(repo)
        .args(["pack-objects", "--stdout", "-q", "--window=50"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for o in objects {
            writeln!(stdin, "{o}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A deltified tree naming a blob that is not sent is caught, as is a tag
/// whose target is missing.
#[test]
fn missing_objects_behind_deltas_and_tags() {
    let f = Fixture::new();
    for i in 0..60 {
        std::fs::write(
            f.client.join(format!("file{i:02}")),
            format!("content {i}\n"),
        )
        .unwrap();
    }
    git(&f.client, &["add", "."]);
    git(&f.client, &["commit", "-q", "-m", "many"]);
    let c1 = f.client_rev("HEAD");
    std::fs::write(f.client.join("file07"), "changed\n").unwrap();
    git(&f.client, &["commit", "-q", "-am", "change"]);
    let c2 = f.client_rev("HEAD");
    // git keeps the newest tree whole and stores the older one as a delta;
    // the blob only the older tree names is left out.
    let t1 = f.client_rev("HEAD~1^{tree}");
    let missing = f.client_rev("HEAD~1:file07");
    let mut objects: Vec<String> = git(&f.client, &["rev-list", "--objects", "HEAD"])
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .filter(|id| *id != missing)
        .collect();
    objects.sort();
    let pack = pack_of(&f.client, &objects);
    let verify = {
        let p = f.tmp.path().join("check.pack");
        std::fs::write(&p, &pack).unwrap();
        git(f.tmp.path(), &["index-pack", p.to_str().unwrap()]);
        git(f.tmp.path(), &["verify-pack", "-v", p.to_str().unwrap()])
    };
    assert!(
        verify
            .lines()
            .any(|l| l.starts_with(&t1) && l.split_whitespace().count() > 5),
        "the first tree should be a delta:\n{verify}"
    );
    let req = request(
        &[(ZERO, &c2, "refs/heads/main")],
        "report-status",
        None,
        &pack,
    );
    let (result, _) = run(&f.server, &req, &opts());
    assert_eq!(
        result.unwrap_err().to_string(),
        format!("object {missing} referenced by {t1} is missing: bad pack file")
    );
    f.assert_clean();

    git(&f.client, &["tag", "-a", "-m", "t", "v1", &c1]);
    let tag = f.client_rev("refs/tags/v1");
    let req = request(
        &[(ZERO, &tag, "refs/tags/v1")],
        "report-status",
        None,
        &pack_of(&f.client, std::slice::from_ref(&tag)),
    );
    let (result, _) = run(&f.server, &req, &opts());
    assert_eq!(
        result.unwrap_err().to_string(),
        format!("object {c1} referenced by {tag} is missing: bad pack file")
    );
    assert_eq!(f.server_refs(), "");
    f.assert_clean();
}
