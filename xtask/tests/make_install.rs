//! `make install DESTDIR=…` and `make uninstall DESTDIR=…` from the
//! workspace root: the three binaries land in `$DESTDIR/usr/local/bin` with
//! mode 0755 and go away again. Needs no root.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const BINARIES: [&str; 3] = ["gotd", "gotsh", "gotctl"];

#[test]
fn make_install_and_uninstall_with_destdir() {
    let dest = tempfile::tempdir().unwrap();
    let destdir = format!("DESTDIR={}", dest.path().display());
    Command::new("make")
        .current_dir(root())
        .args(["-s", "install", &destdir])
        .env_remove("PREFIX")
        .env_remove("BINDIR")
        .assert()
        .success();
    let bin = dest.path().join("usr/local/bin");
    for b in BINARIES {
        let meta = std::fs::metadata(bin.join(b)).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755, "{b}");
    }
    let mut entries: Vec<String> = std::fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, vec!["gotctl", "gotd", "gotsh"]);

    Command::new("make")
        .current_dir(root())
        .args(["-s", "uninstall", &destdir])
        .env_remove("PREFIX")
        .env_remove("BINDIR")
        .assert()
        .success();
    for b in BINARIES {
        assert!(!bin.join(b).exists(), "{b} still installed");
    }
}

#[test]
fn install_honours_prefix_and_bindir() {
    let dest = tempfile::tempdir().unwrap();
    // The binaries exist after the test above or any release build; build
    // them if this test runs first.
    Command::new("make")
        .current_dir(root())
        .args(["-s", "all"])
        .assert()
        .success();
    Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["xtask", "install", "--prefix", "/opt/gotd", "--destdir"])
        .arg(dest.path())
        .assert()
        .success();
    assert!(dest.path().join("opt/gotd/bin/gotd").is_file());
    Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["xtask", "install", "--bindir", "/sbin", "--destdir"])
        .arg(dest.path())
        .assert()
        .success();
    assert!(dest.path().join("sbin/gotsh").is_file());
}

#[test]
fn install_rejects_unknown_options() {
    let out = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["xtask", "install", "--frobnicate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown option --frobnicate"), "{err}");
}
