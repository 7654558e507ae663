//! The ref advertisement and protocol v2 ls-refs, byte for byte.

mod common;

use common::{pkts, serve_bytes, visible, Fixture};
use gotd_upload_pack::Protocol;

#[test]
fn empty_repository_v0() {
    let f = Fixture::new();
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, b"0000");
    assert_eq!(res, Ok(()));
    insta::assert_snapshot!(visible(&out));
    assert!(
        out.ends_with(b"agent=gotd/test0000"),
        "no newline before the flush"
    );
}

#[test]
fn refs_head_and_peeled_tags_v0() {
    let f = Fixture::new();
    f.commits("main", 2);
    f.tag("v1.0");
    f.commits("feature", 1);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, b"0000");
    assert_eq!(res, Ok(()));
    insta::assert_snapshot!(visible(&out));
}

#[test]
fn version_1_prefix() {
    let f = Fixture::new();
    f.commits("main", 1);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V1, b"0000");
    assert_eq!(res, Ok(()));
    assert!(out.starts_with(b"000eversion 1\n"));
}

#[test]
fn end_of_input_without_flush_is_an_error() {
    let f = Fixture::new();
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, b"");
    assert_eq!(res, Err("unexpected end of file".into()));
    assert!(out.ends_with(b"0000001eERR unexpected end of file"));
}

#[test]
fn missing_repository() {
    let dir = tempfile::tempdir().unwrap();
    let (out, res) = serve_bytes(&dir.path().join("nope"), Protocol::V0, b"0000");
    assert_eq!(res, Err("no git repository found".into()));
    assert_eq!(out, b"001fERR no git repository found");
}

#[test]
fn v2_capabilities_and_ls_refs() {
    let f = Fixture::new();
    f.commits("main", 1);
    f.tag("v1.0");
    let input = pkts(&[
        "command=ls-refs\n",
        "agent=git/2\n",
        "0001",
        "peel\n",
        "symrefs\n",
        "unborn\n",
        "ref-prefix HEAD\n",
        "ref-prefix refs/tags/\n",
        "0000",
        "command=ls-refs\n",
        "0001",
        "ref-prefix refs/heads/\n",
        "0000",
        "0000",
    ]);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V2, &input);
    assert_eq!(res, Ok(()));
    insta::assert_snapshot!(visible(&out));
}

#[test]
fn v2_unborn_head() {
    let f = Fixture::new();
    let input = pkts(&["command=ls-refs\n", "0001", "symrefs\n", "unborn\n", "0000"]);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V2, &input);
    assert_eq!(res, Ok(()));
    assert!(visible(&out).ends_with("002eunborn HEAD symref-target:refs/heads/main\n0000"));
}
