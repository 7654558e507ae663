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

#[rstest]
#[case(&["reload", "-x"])]
#[case(&["reload", "-c"])]
#[case(&["reload", "file"])]
#[case(&["r", "-n", "-s"])]
fn reload_usage_errors(#[case] args: &[&str]) {
    gotctl()
        .args(args)
        .assert()
        .code(1)
        .stderr("usage: gotctl reload [-n] [-c config] [-s secrets]\n");
}

#[test]
fn reload_n_checks_the_file_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    let conf = dir.path().join("gotd.conf");
    std::fs::write(
        &conf,
        format!(
            "user \"{me}\"\nrepository \"r\" {{\n  path \"{}\"\n  permit ro \"{me}\"\n}}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let sock = dir.path().join("none.sock");
    gotctl()
        .arg("-f")
        .arg(&sock)
        .args(["reload", "-n", "-c"])
        .arg(&conf)
        .assert()
        .success()
        .stdout("configuration OK\n");
    std::fs::write(&conf, "repository \"r\" {\n  permit\n}\n").unwrap();
    let out = gotctl()
        .args(["reload", "-nc"])
        .arg(&conf)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.starts_with(&format!("gotctl: {}:2: ", conf.display())),
        "{err}"
    );
}
