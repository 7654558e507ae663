//! The suite's command line, without running any scenario: listing,
//! selection errors and the documented environment.

use assert_cmd::Command;

fn regress() -> Command {
    Command::cargo_bin("regress").unwrap()
}

#[test]
fn lists_every_upstream_scenario() {
    let out = regress().arg("--list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "repo_read",
        "repo_read_group",
        "repo_read_denied_user",
        "repo_read_denied_group",
        "repo_read_bad_user",
        "repo_read_bad_group",
        "repo_write",
        "repo_write_empty",
        "repo_write_readonly",
        "repo_write_protected",
        "request_bad",
        "connection_limit",
        "large_files",
        "git_interop",
        "protocol_v2",
        "concurrent_clients",
        "gotctl_info",
        "stress",
        "leaks",
    ] {
        assert!(
            text.lines().any(|l| l == name),
            "{name} not listed:\n{text}"
        );
    }
}

#[test]
fn list_honours_selection() {
    let out = regress()
        .args(["--list", "request_bad", "repo_read"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "repo_read\nrequest_bad\n"
    );
}

#[test]
fn unknown_scenario_is_named_and_fails() {
    let out = regress().arg("no_such_scenario").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown scenario(s): no_such_scenario"),
        "{err}"
    );
}

#[test]
fn help_documents_the_environment() {
    let out = regress().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for var in [
        "GOT_RELEASE",
        "PREFIX",
        "BINDIR",
        "GOTD_START_CMD",
        "GOTD_STOP_CMD",
        "GOTD_USER",
        "GOTD_DEVUSER",
        "GOTD_TEST_USER",
        "GOTD_TEST_SSH_PORT",
    ] {
        assert!(text.contains(var), "{var} missing from --help");
    }
}

#[test]
fn readme_documents_every_variable() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let out = regress().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text
        .lines()
        .skip_while(|l| !l.starts_with("Environment (regress.toml"))
    {
        if let Some(var) = line
            .split_whitespace()
            .next()
            .filter(|v| v.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            assert!(readme.contains(var), "{var} missing from regress/README.md");
        }
    }
}
