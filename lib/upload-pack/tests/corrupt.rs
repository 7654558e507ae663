//! A repository with a missing object: the client gets an error instead of
//! a corrupt pack — on side-band 3 once a v0/v1 side-band stream has
//! started, as an ERR packet otherwise.

mod common;

use common::{pkts, run, serve_bytes, Fixture};
use gotd_upload_pack::Protocol;

/// A one-commit repository of loose objects with one object deleted.
fn with_missing(rev: &str) -> (Fixture, String, String) {
    let f = Fixture::new();
    f.commits("main", 1);
    let head = run(&f.srv(), &["rev-parse", "main"]).trim().to_owned();
    let gone = run(&f.srv(), &["rev-parse", rev]).trim().to_owned();
    std::fs::remove_file(f.srv().join("objects").join(&gone[..2]).join(&gone[2..])).unwrap();
    (f, head, gone)
}

#[test]
fn missing_tree_v0_sideband_reports_on_band_3() {
    let (f, head, gone) = with_missing("main^{tree}");
    let input = pkts(&[
        &format!("want {head} side-band-64k ofs-delta\n"),
        "0000",
        "done\n",
    ]);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, &input);
    let msg = format!("object {gone} not found");
    assert_eq!(res, Err(msg.clone()));
    let band3 = format!("{:04x}\x03{msg}", msg.len() + 5);
    assert!(
        out.ends_with(format!("0008NAK\n{band3}").as_bytes()),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn missing_tree_v2_is_an_err_packet() {
    let (f, head, gone) = with_missing("main^{tree}");
    let want = format!("want {head}\n");
    let input = pkts(&["command=fetch\n", "0001", &want, "done\n", "0000"]);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V2, &input);
    let msg = format!("object {gone} not found");
    assert_eq!(res, Err(msg.clone()));
    assert!(out.ends_with(format!("{:04x}ERR {msg}", msg.len() + 8).as_bytes()));
}

#[test]
fn missing_blob_aborts_the_pack() {
    let (f, head, _) = with_missing("main:dir0/file.txt");
    let input = pkts(&[
        &format!("want {head} side-band-64k ofs-delta\n"),
        "0000",
        "done\n",
    ]);
    let (out, res) = serve_bytes(&f.srv(), Protocol::V0, &input);
    let msg = "pack generation failed: an object is missing from the repository";
    assert_eq!(res, Err(msg.to_string()));
    let band3 = format!("{:04x}\x03{msg}", msg.len() + 5);
    assert!(
        out.ends_with(band3.as_bytes()),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // No flush packet: the pack stream was not ended as if complete.
    assert!(!out.ends_with(b"0000"));
}
