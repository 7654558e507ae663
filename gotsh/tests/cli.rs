//! gotsh's command line and its errors before and at connecting, without a
//! daemon.

use assert_cmd::Command;
use rstest::rstest;

const USAGE: &str = "usage: gotsh -c 'git-receive-pack|git-upload-pack repository-path'\n";

fn gotsh() -> Command {
    Command::cargo_bin("gotsh").unwrap()
}

#[rstest]
#[case(&[])]
#[case(&["-c"])]
#[case(&["-x", "git-upload-pack repo"])]
#[case(&["-c", "git-upload-pack"])]
#[case(&["-c", "ls /"])]
#[case(&["-c", "git-upload-pack repo", "extra"])]
fn usage_errors_do_not_contact_gotd(#[case] args: &[&str]) {
    gotsh()
        .args(args)
        .env("GOTD_UNIX_SOCKET", "/nonexistent/gotd.sock")
        .assert()
        .code(1)
        .stdout("")
        .stderr(USAGE);
}

#[rstest]
#[case("git-upload-pack '/'", "no git repository found")]
#[case("git-upload-pack ''", "no git repository found")]
#[case("git-receive-pack 'a\nb'", "bad path")]
fn path_errors_reach_the_client(#[case] cmd: &str, #[case] msg: &str) {
    gotsh()
        .args(["-c", cmd])
        .env("GOTD_UNIX_SOCKET", "/nonexistent/gotd.sock")
        .assert()
        .code(1)
        .stdout(format!("{:04x}ERR {msg}", msg.len() + 8))
        .stderr(format!("gotsh: {msg}\n"));
}

#[test]
fn connect_failure_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    gotsh()
        .args(["-c", "git-upload-pack '/repo'"])
        .env("GOTD_UNIX_SOCKET", &sock)
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "gotsh: connect: {}: No such file or directory\n",
            sock.display()
        ));
}

#[test]
fn argv0_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("git-upload-pack");
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("gotsh"), &link).unwrap();
    let sock = dir.path().join("none.sock");
    // Parsed as `git-upload-pack /repo`: it gets as far as connecting.
    std::process::Command::new(&link)
        .arg("/repo")
        .env("GOTD_UNIX_SOCKET", &sock)
        .output()
        .map(|o| {
            assert_eq!(o.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&o.stderr).starts_with("gotsh: connect: "));
        })
        .unwrap();
    // Without a path it is a usage error.
    let o = std::process::Command::new(&link).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stderr), USAGE);
}
