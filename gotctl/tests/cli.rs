//! gotctl's command line, without a daemon.

use assert_cmd::Command;
use rstest::rstest;

fn gotctl() -> Command {
    Command::cargo_bin("gotctl").unwrap()
}

#[rstest]
#[case(&[])]
#[case(&["-x", "info"])]
#[case(&["info", "extra"])]
#[case(&["-f"])]
fn usage_errors(#[case] args: &[&str]) {
    gotctl()
        .args(args)
        .assert()
        .code(1)
        .stderr("usage: gotctl [-hV] [-f socket] command\n");
}

#[test]
fn unknown_command() {
    gotctl()
        .arg("frobnicate")
        .assert()
        .code(1)
        .stderr("gotctl: frobnicate: unknown command\nusage: gotctl [-hV] [-f socket] command\n");
}

#[test]
fn connect_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("x.sock");
    gotctl()
        .arg("-f")
        .arg(&sock)
        .arg("i")
        .assert()
        .code(1)
        .stderr(format!(
            "gotctl: connect: {}: No such file or directory\n",
            sock.display()
        ));
}

#[test]
fn help_and_version() {
    gotctl().arg("-h").assert().success();
    gotctl()
        .arg("-V")
        .assert()
        .success()
        .stdout(format!("gotctl {}\n", env!("CARGO_PKG_VERSION")));
}
