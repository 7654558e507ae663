//! Malformed and out-of-order requests: each gets one `ERR` packet with the
//! exact upstream text after the advertisement, and `serve` returns it.
//! The first cases are upstream gotd's request_bad table, sent as
//! `echo <line> | git-upload-pack` would (with the trailing newline).

mod common;

use common::{pkts, serve_bytes, Fixture};
use gotd_upload_pack::Protocol;
use rstest::rstest;

const ADVERT_END: &[u8] = b"agent=gotd/test0000";

fn a40() -> String {
    "a".repeat(40)
}

#[rstest]
#[case::object_not_found(
    format!("0054want {} multi_ack side-band-64k ofs-delta\n", a40()),
    format!("0041ERR object {} not found", a40())
)]
#[case::flush_then_data(format!("0000want {}\n", a40()), "0028ERR unexpected flush packet received".into())]
#[case::length_4(format!("0004want {}\n", a40()), "0018ERR packet too short".into())]
#[case::length_2(format!("0002want {}\n", a40()), "0018ERR packet too short".into())]
#[case::length_beyond_data(format!("ffffwant {}\n", a40()), "001eERR unexpected end of file".into())]
#[case::unknown_capabilities(
    format!("0054want {} aaaaaaaaa bbbbbbbbbbbbb ccccccccc\n", a40()),
    "0025ERR unexpected want-line received".into()
)]
#[case::no_capabilities(format!("0032want {}\n", a40()), "0025ERR unexpected want-line received".into())]
#[case::have_first(format!("0032have {}\n", a40()), "0020ERR unexpected 'have' packet".into())]
#[case::done_first("0009done\n".into(), "0020ERR unexpected 'done' packet".into())]
#[case::shallow(format!("0035shallow {}\n", a40()), "001bERR bad packet received".into())]
#[case::bad_length("zzzz".into(), "0028ERR packet length has invalid format".into())]
#[case::eof_mid_packet("00".into(), "001eERR unexpected end of file".into())]
fn empty_repository(#[case] input: String, #[case] reply_tail: String) {
    let f = Fixture::new();
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, input.as_bytes());
    let msg = &reply_tail[8..];
    assert_eq!(res, Err(msg.to_string()));
    let mut expected = ADVERT_END.to_vec();
    expected.extend_from_slice(reply_tail.as_bytes());
    assert!(
        out.ends_with(&expected),
        "reply ends with {:?}",
        String::from_utf8_lossy(&out[out.len().saturating_sub(80)..])
    );
}

/// Cases that need objects: the ids come from a small repository.
#[rstest]
#[case::wrong_type("want {blob} ofs-delta\n|0000", "wrong type of object")]
#[case::later_want_with_caps(
    "want {head} ofs-delta\n|want {head} side-band\n",
    "unexpected capability announcement received"
)]
#[case::want_after_flush(
    "want {head} ofs-delta\n|0000|want {head}\n",
    "unexpected 'want' packet"
)]
#[case::eof_in_haves("want {head} ofs-delta\n|0000|have {head}\n", "unexpected end of file")]
#[case::eof_in_wants("want {head} ofs-delta\n", "unexpected end of file")]
#[case::garbage_in_haves("want {head} ofs-delta\n|0000|deepen 1\n", "bad packet received")]
#[case::short_id("want 1234 ofs-delta\n", "bad packet received")]
fn with_objects(#[case] script: &str, #[case] msg: &str) {
    let f = Fixture::new();
    f.commits("main", 1);
    let head = common::run(&f.srv(), &["rev-parse", "main"])
        .trim()
        .to_owned();
    let blob = common::run(&f.srv(), &["rev-parse", "main:dir0/file.txt"])
        .trim()
        .to_owned();
    let script = script.replace("{head}", &head).replace("{blob}", &blob);
    let lines: Vec<&str> = script.split('|').collect();
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, &pkts(&lines));
    assert_eq!(res, Err(msg.to_string()));
    let err = format!("{:04x}ERR {msg}", msg.len() + 8);
    assert!(
        out.ends_with(err.as_bytes()),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[rstest]
#[case::unknown_command(&["command=push\n", "0000"], "invalid command 'push'")]
#[case::missing_want(&["command=fetch\n", "0001", "want 0123\n", "0000"], "bad packet received")]
#[case::no_command(&["ls-refs\n", "0000"], "unexpected line: 'ls-refs'")]
#[case::eof_in_args(&["command=ls-refs\n", "0001", "peel\n"], "unexpected end of file")]
#[case::unknown_argument(&["command=ls-refs\n", "0001", "frobnicate\n", "0000"], "unexpected line: 'frobnicate'")]
#[case::fetch_without_wants(&["command=fetch\n", "0001", "done\n", "0000"], "expected want")]
fn v2(#[case] lines: &[&str], #[case] msg: &str) {
    let f = Fixture::new();
    f.commits("main", 1);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V2, &pkts(lines));
    assert_eq!(res, Err(msg.to_string()));
    let err = format!("{:04x}ERR {msg}", msg.len() + 8);
    assert!(
        out.ends_with(err.as_bytes()),
        "{}",
        String::from_utf8_lossy(&out)
    );
}
