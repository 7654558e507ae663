//! `gotctl reload` with `-c`, `-s` and `-n`: files opened by gotctl and
//! passed to the daemon, located errors from gotctl's own check, and the
//! settings that need a restart.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn gotctl(site: &Site, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(bin("gotctl"));
    c.arg("-f").arg(site.socket());
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn lists(site: &Site, repo: &str) -> bool {
    site.gotsh(&format!("git-upload-pack '/{repo}'"), b"0000")
        .status
        .success()
}

/// Writes the site's configuration to `path` instead of gotd.conf.
fn conf_at(site: &Site, path: &Path, repos: &[(&str, &str)]) {
    site.write_conf("", repos);
    std::fs::rename(site.conf(), path).unwrap();
}

#[test]
fn reload_with_c_sends_the_file_and_later_reloads_reread_it() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    site.add_repo("second");
    // A file only root can read: the daemon (nobody, when the tests run as
    // root) still gets it, because gotctl opens it.
    let private = site.path("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let other = private.join("other.conf");
    let rules = format!("permit ro \"{}\"", me());
    conf_at(&site, &other, &[("repo", &rules), ("second", &rules)]);
    assert!(!lists(&site, "second"));

    let out = gotctl(&site, &[&"reload", &"-c", &other]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(lists(&site, "second"));

    // A plain reload now re-reads the file last sent, which the daemon
    // cannot open itself when it runs as nobody.
    conf_at(&site, &other, &[("repo", &rules)]);
    let out = if is_root() {
        gotctl(&site, &[&"reload", &"-c", &other])
    } else {
        gotctl(&site, &[&"reload"])
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!lists(&site, "second"));
    assert!(lists(&site, "repo"));
}

#[test]
fn broken_file_is_refused_by_gotctl_with_its_located_error() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let bad = site.path("bad.conf");
    std::fs::write(&bad, "repository \"x\" {\n  permit\n}\n").unwrap();
    let out = gotctl(&site, &[&"reload", &"-c", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("gotctl: {}:2: ", bad.display())),
        "{err}"
    );
    assert!(lists(&site, "repo"));
    // -n checks without contacting anyone.
    let out = gotctl(&site, &[&"reload", &"-n", &"-c", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let out = gotctl(&site, &[&"reload", &"-n", &"-c", &site.conf()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "configuration OK\n");
}

#[test]
fn a_new_socket_or_user_needs_a_restart() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let moved = site.path("moved.conf");
    let text_now = std::fs::read_to_string(site.conf()).unwrap();
    let elsewhere = text_now.replace("gotd.sock", "other.sock");
    std::fs::write(&moved, elsewhere).unwrap();
    let out = gotctl(&site, &[&"reload", &"-c", &moved]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("the socket can only change with a restart"),
        "{err}"
    );
    assert!(lists(&site, "repo"));
    let out = site.gotctl("info");
    assert!(out.status.success());
}

#[test]
fn secrets_sent_with_s_must_be_private() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let secrets = site.path("secrets");
    std::fs::write(&secrets, "hmac ci s3cret\n").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = gotctl(&site, &[&"reload", &"-c", &site.conf(), &"-s", &secrets]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("world read/writable"),
        "{}",
        text(&out.stderr)
    );
    // Private, and a url that uses its label: accepted.
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let notify = format!(
        "permit rw \"{}\"\n  notify {{\n    url \"https://127.0.0.1:9/hook\" hmac ci\n  }}",
        me()
    );
    site.write_conf("", &[("repo", &notify)]);
    let out = gotctl(&site, &[&"reload", &"-c", &site.conf(), &"-s", &secrets]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Without -s the daemon keeps the secrets it has: the label still works.
    let out = gotctl(&site, &[&"reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
