//! Pushes that stop half-way: a client that disconnects mid-pack, and a
//! writer killed with SIGKILL mid-pack. Refs must stay unchanged and the
//! repository consistent; what a killed writer leaves behind is removed by
//! `remove_stale_temporaries`, which must never touch a live push.

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gotd_receive_pack::{remove_stale_temporaries, serve, Options, Protection, Protocol};

/// A server with main at the first commit and a request moving main to a
/// new commit with a ~100 KB pack, split in two halves.
fn half_push() -> (Fixture, Vec<u8>, Vec<u8>) {
    let f = Fixture::new();
    f.push_ok(&[], &["main"]);
    let base = f.client_rev("main");
    let noise: String = (0..20_000u32)
        .map(|i| format!("{:x}\n", i.wrapping_mul(2654435761)))
        .collect();
    let tip = f.commit("noise", &noise);
    let pack = make_pack(&f.client, &["main", &format!("^{base}")], false);
    let req = request(
        &[(&base, &tip, "refs/heads/main")],
        "report-status",
        None,
        &pack,
    );
    let half = req.len() - pack.len() / 2;
    (f, req[..half].to_vec(), req[half..].to_vec())
}

fn quarantines(repo: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(repo.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("incoming-")
        })
        .collect()
}

/// Polls until a quarantine directory holds a temporary pack file.
fn wait_for_quarantine(repo: &Path) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(q) = quarantines(repo)
            .into_iter()
            .find(|q| std::fs::read_dir(q).map(|d| d.count() > 1).unwrap_or(false))
        {
            return q;
        }
        assert!(Instant::now() < deadline, "no quarantine appeared");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn client_disconnecting_mid_pack_changes_nothing() {
    let (f, first, _) = half_push();
    let before = f.server_refs();
    let mut input = &first[..];
    let mut out = Vec::new();
    let opts = Options::new("gotd/test", Protocol::V0, Protection::default(), 0);
    let err = serve(&f.server, &mut input, &mut out, &opts).unwrap_err();
    assert_eq!(err.to_string(), "unexpected end of file");
    assert_eq!(f.server_refs(), before);
    f.assert_clean();
}

#[test]
fn a_live_push_is_not_cleaned_up() {
    let (f, first, _) = half_push();
    let before = f.server_refs();
    let (mut client, server_end) = UnixStream::pair().unwrap();
    let repo = f.server.clone();
    let worker = std::thread::spawn(move || {
        let mut input = &server_end;
        let mut output = &server_end;
        let opts = Options::new("gotd/test", Protocol::V0, Protection::default(), 0);
        serve(&repo, &mut input, &mut output, &opts)
    });
    client.write_all(&first).unwrap();
    let q = wait_for_quarantine(&f.server);
    assert_eq!(remove_stale_temporaries(&f.server).unwrap(), 0);
    assert!(q.exists(), "a running push's quarantine must survive");
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let err = worker.join().unwrap().unwrap_err();
    assert_eq!(err.to_string(), "unexpected end of file");
    assert!(!q.exists(), "the refused push removed its quarantine");
    assert_eq!(f.server_refs(), before);
    f.assert_clean();
}

#[test]
fn writer_killed_mid_pack_leaves_refs_unchanged_and_is_cleaned_up() {
    let (f, first, _) = half_push();
    let before = f.server_refs();
    let mut child = Command::new(stdio_bin())
        .arg(&f.server)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The stdin pipe stays open: the writer stalls waiting for the rest.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&first).unwrap();
    let q = wait_for_quarantine(&f.server);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);

    assert_eq!(f.server_refs(), before);
    // Only the quarantine survives a SIGKILL: nothing in objects/pack.
    let left = temporaries(&f.server);
    assert_eq!(
        left,
        vec![format!(
            "objects/{}",
            q.file_name().unwrap().to_string_lossy()
        )]
    );
    let out = git_output(&f.server, &["fsck", "--strict", "--no-dangling"]);
    assert!(out.status.success(), "fsck with a stale quarantine");

    assert_eq!(remove_stale_temporaries(&f.server).unwrap(), 1);
    assert!(!q.exists());
    f.assert_clean();
    // And the repository still takes pushes.
    f.push_ok(&[], &["main"]);
    f.assert_clean();
}

/// A refusal decided before the pack is sent once the whole pack was read,
/// even when the client keeps its side of the connection open.
#[rstest::rstest]
#[case::bad_line("refs/got/x", "refs/got/: reference namespace is protected", true)]
#[case::protected_tag("refs/tags/v1", "refs/tags/: reference namespace is protected", true)]
#[case::empty_pack("refs/tags/v1", "refs/tags/: reference namespace is protected", false)]
fn refusal_reaches_a_client_that_keeps_the_connection_open(
    #[case] name: &str,
    #[case] msg: &str,
    #[case] with_objects: bool,
) {
    let f = Fixture::new();
    git(&f.client, &["tag", "v1"]);
    f.push_ok(&[], &["main", "refs/tags/v1"]);
    let base = f.client_rev("main");
    let tip = f.commit("beta", "beta\n");
    let revs = if with_objects {
        vec!["main".to_string(), format!("^{base}")]
    } else {
        vec![]
    };
    let revs: Vec<&str> = revs.iter().map(String::as_str).collect();
    let pack = make_pack(&f.client, &revs, false);
    let req = request(&[(&base, &tip, name)], "report-status", None, &pack);
    let (mut client, server_end) = UnixStream::pair().unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let repo = f.server.clone();
    let worker = std::thread::spawn(move || {
        let mut input = &server_end;
        let mut output = &server_end;
        let mut opts = Options::new("gotd/test", Protocol::V0, Protection::default(), 0);
        opts.protection.tag_namespaces.push("refs/tags/".into());
        let result = serve(&repo, &mut input, &mut output, &opts).map(|_| ());
        // Whatever the server did not read is still in the socket.
        server_end.set_nonblocking(true).unwrap();
        let unread = std::io::Read::read(&mut &server_end, &mut [0u8; 1]);
        let drained = matches!(&unread, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        (result, drained)
    });
    client.write_all(&req).unwrap();
    let mut got = Vec::new();
    let want = format!("ERR {msg}").into_bytes();
    let mut buf = [0u8; 4096];
    while !got.windows(want.len()).any(|w| w == want) {
        let n = std::io::Read::read(&mut client, &mut buf)
            .expect("the refusal arrives without EOF from the client");
        assert!(n > 0, "server closed without the refusal");
        got.extend_from_slice(&buf[..n]);
    }
    let (result, drained) = worker.join().unwrap();
    assert_eq!(result.unwrap_err().to_string(), msg);
    assert!(drained, "the server read the whole pack before answering");
    f.assert_clean();
}

/// A quarantine without a lock file (its writer died before creating it)
/// is removed once it is not brand new; other entries are left alone.
#[test]
fn stale_quarantine_without_lock_file() {
    let f = Fixture::new();
    let objects = f.server.join("objects");
    let old = objects.join("incoming-uid0-1-0");
    let young = objects.join("incoming-uid0-2-0");
    let other = objects.join("info");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join(".tmpXYZ"), b"partial").unwrap();
    std::fs::create_dir(&young).unwrap();
    let touched = Command::new("touch")
        .args(["-d", "1 hour ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(touched.success());
    assert_eq!(remove_stale_temporaries(&f.server).unwrap(), 1);
    assert!(!old.exists());
    assert!(
        young.exists(),
        "a directory being created right now is kept"
    );
    assert!(other.exists());
}
