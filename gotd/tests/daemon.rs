//! End-to-end tests of the daemon: gotd started in the foreground on a
//! temporary site, driven with gotsh, git (through a fake ssh) and gotctl.

mod common;

use std::io::Read;
use std::process::Stdio;

use assert_cmd::Command;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rstest::rstest;

#[test]
fn config_check_ok() {
    let site = Site::new();
    site.default_conf();
    Command::new(bin("gotd"))
        .arg("-n")
        .arg("-f")
        .arg(site.conf())
        .assert()
        .success()
        .stdout("configuration OK\n");
}

#[test]
fn config_check_reports_located_error() {
    let site = Site::new();
    std::fs::write(
        site.conf(),
        format!(
            "listen on \"{}\"\nrepository \"r\" {{\n path \"/tmp\"\n permit rw no-such-user-gotd\n}}\n",
            site.socket().display()
        ),
    )
    .unwrap();
    let out = Command::new(bin("gotd"))
        .arg("-n")
        .arg("-f")
        .arg(site.conf())
        .assert()
        .failure()
        .code(1)
        .get_output()
        .clone();
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("gotd: {}:4: ", site.conf().display())),
        "{err}"
    );
    assert!(err.contains("no-such-user-gotd"), "{err}");
}

#[test]
fn usage_error() {
    let out = Command::new(bin("gotd"))
        .arg("-x")
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(
        text(&out.stderr),
        "gotd: unknown option -- x\nusage: gotd [-dnvV] [-f config-file] [-s secrets]\n"
    );
}

#[rstest]
#[case::v0("0")]
#[case::v1("1")]
#[case::v2("2")]
fn ls_remote_lists_refs(#[case] version: &str) {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let proto = format!("protocol.version={version}");
    let out = site.git(&["-c", &proto, "ls-remote", "x:/repo"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(listed.contains("\trefs/heads/main\n"), "{listed}");
    assert!(listed.contains("\tHEAD\n"), "{listed}");
}

#[test]
fn clone_works() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let out = site.git(&["clone", "-q", "x:/repo.git", "cloned"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::process::Command::new("git")
        .current_dir(site.path("cloned"))
        .args(["log", "--format=%s"])
        .output()
        .unwrap();
    assert_eq!(text(&log.stdout), "first\n");
}

/// Asserts gotsh failed with `msg`, both as an ERR packet and on stderr.
fn assert_refused(out: &std::process::Output, msg: &str) {
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), err_pkt(msg));
    assert_eq!(text(&out.stderr), format!("gotsh: {msg}\n"));
}

#[test]
fn unknown_repository() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let out = site.gotsh("git-upload-pack '/nope'", b"");
    assert_refused(&out, "no git repository found");
    assert_eq!(text(&out.stdout), "001fERR no git repository found");
}

#[test]
fn denied_user() {
    let site = Site::new();
    site.add_repo("secret");
    site.write_conf(
        "",
        &[
            ("repo", &format!("permit ro \"{}\"", me())),
            (
                "secret",
                &format!("permit rw \"{}\"\n  deny \"{}\"", me(), me()),
            ),
        ],
    );
    let _d = Daemon::start(&site);
    assert_refused(
        &site.gotsh("git-upload-pack '/secret.git'", b""),
        "secret: Permission denied",
    );
    // Read-only users may not push.
    assert_refused(
        &site.gotsh("git-receive-pack '/repo'", b""),
        "repo: Permission denied",
    );
    // And git shows the text.
    let out = site.git(&["ls-remote", "x:/secret"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("remote error: secret: Permission denied"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn no_matching_rule_hides_the_repository() {
    let site = Site::new();
    site.write_conf("", &[("repo", "permit rw no-such-uid-4242")]);
    // An unknown user name is a configuration error; use a numeric uid.
    site.write_conf("", &[("repo", "permit rw 4242")]);
    let _d = Daemon::start(&site);
    assert_refused(
        &site.gotsh("git-upload-pack '/repo'", b""),
        "no git repository found",
    );
}

#[test]
fn connection_limit() {
    let site = Site::new();
    site.write_conf(
        &format!("connection {{\n  limit user \"{}\" 2\n}}", me()),
        &[("repo", &format!("permit rw \"{}\"", me()))],
    );
    let d = Daemon::start(&site);
    // Two idle connections take both slots.
    let seen = d.log_text().matches("connection from uid").count();
    let a = std::os::unix::net::UnixStream::connect(site.socket()).unwrap();
    let b = std::os::unix::net::UnixStream::connect(site.socket()).unwrap();
    wait_for("both connections to be in the table", || {
        d.log_text().matches("connection from uid").count() >= seen + 2
    });
    assert_refused(
        &site.gotsh("git-upload-pack '/repo'", b"0000"),
        "connection limit exceeded",
    );
    drop(a);
    drop(b);
    // Slots free again once the daemon has seen the disconnects.
    wait_for("a slot to free", || {
        site.gotsh("git-upload-pack '/repo'", b"0000")
            .status
            .success()
    });
}

#[test]
fn bad_path_and_empty_path() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    assert_refused(
        &site.gotsh("git-upload-pack '/'", b""),
        "no git repository found",
    );
    assert_refused(&site.gotsh("git-upload-pack 're\npo'", b""), "bad path");
    assert_refused(
        &site.gotsh(&format!("git-upload-pack '{}'", "a".repeat(300)), b""),
        "buffer too small",
    );
}

/// One ls-remote-sized exchange through gotsh (v0: advertisement, flush).
fn one_exchange(site: &Site) {
    let out = site.gotsh("git-upload-pack '/repo'", b"0000");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("refs/heads/main"));
}

#[test]
fn no_leaks_after_many_connections() {
    let site = Site::new();
    site.write_conf(
        &format!("connection {{\n  limit user \"{}\" 64\n}}", me()),
        &[("repo", &format!("permit rw \"{}\"", me()))],
    );
    let d = Daemon::start(&site);
    one_exchange(&site);
    wait_for("the warm-up child to be reaped", || d.children().is_empty());
    let fds = d.fd_count();
    for _ in 0..200 {
        one_exchange(&site);
    }
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let mut c = site.gotsh_spawn("git-upload-pack '/repo'");
            drop(c.stdin.take()); // EOF after the advertisement
            c
        })
        .collect();
    for h in handles {
        let out = h.wait_with_output().unwrap();
        // With stdin closed at once the child sees EOF where a flush
        // should be; either way it must have been served and ended.
        assert!(
            text(&out.stdout).contains("refs/heads/main"),
            "{}",
            text(&out.stderr)
        );
    }
    wait_for("every child to be reaped", || d.children().is_empty());
    wait_for("the client table to empty", || {
        client_count(&text(&site.gotctl("info").stdout)) == 0
    });
    wait_for("the fd count to return to its baseline", || {
        d.fd_count() == fds
    });
    assert!(d.children().iter().all(|(_, s)| *s != 'Z'));
}

#[test]
fn killed_child_disconnects_only_its_client() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdout = held.stdout.take().unwrap();
    let adv = read_until_flush(&mut stdout);
    assert!(text(&adv).contains("refs/heads/main"));
    let info = text(&site.gotctl("info").stdout);
    assert_eq!(client_count(&info), 1, "{info}");
    let pids = repo_pids(&info);
    assert_eq!(pids.len(), 1, "{info}");
    kill(Pid::from_raw(pids[0]), Signal::SIGKILL).unwrap();
    let out = held.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "gotsh: unexpected end of file\n");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "no ERR packet after the stream started");
    one_exchange(&site);
    wait_for("every child to be reaped", || d.children().is_empty());
}

#[test]
fn client_disconnect_ends_its_child() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    let pids = repo_pids(&text(&site.gotctl("info").stdout));
    assert_eq!(pids.len(), 1);
    // gotsh dies (as when sshd's session ends); stdin stays open, so the
    // child would wait for the client forever.
    held.kill().unwrap();
    held.wait().unwrap();
    wait_for("the child to be ended and reaped", || {
        d.children().is_empty()
    });
    assert!(!std::path::Path::new(&format!("/proc/{}", pids[0])).exists());
    drop(stdout);
}

#[test]
fn reader_child_is_sandboxed() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    let pids = repo_pids(&text(&site.gotctl("info").stdout));
    let status = std::fs::read_to_string(format!("/proc/{}/status", pids[0])).unwrap();
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    let fds: Vec<_> = std::fs::read_dir(format!("/proc/{}/fd", pids[0]))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // 0-2, the IPC socket on 3, the client's input and output.
    let targets: Vec<String> = fds
        .iter()
        .map(|f| {
            std::fs::read_link(format!("/proc/{}/fd/{f}", pids[0]))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    eprintln!("child fds: {fds:?} -> {targets:?}");
    assert!(fds.len() <= 6, "child fds: {fds:?} -> {targets:?}");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        !uid_line.contains("\t0\t"),
        "child runs as root: {uid_line}"
    );
    let log = d.log_text();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("repo child {}: sandbox:", pids[0])))
        .unwrap_or_else(|| panic!("no sandbox report in the log:\n{log}"));
    assert!(line.contains("no_new_privs: on"), "{line}");
    assert!(
        line.contains("landlock: fully enforced, repository read-only")
            || line.contains("landlock: not supported"),
        "{line}"
    );
    drop(held.stdin.take());
    held.wait().unwrap();
}

#[test]
fn gotctl_stop_leaves_nothing_behind() {
    let site = Site::new();
    site.default_conf();
    let mut d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    let pids = repo_pids(&text(&site.gotctl("info").stdout));
    assert_eq!(pids.len(), 1);
    let out = site.gotctl("stop");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = d.wait_exit();
    assert_eq!(st.code(), Some(0), "{}", d.log_text());
    assert!(!site.socket().exists());
    assert!(!std::path::Path::new(&format!("/proc/{}", pids[0])).exists());
    let out = held.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[rstest]
#[case::term(Signal::SIGTERM)]
#[case::int(Signal::SIGINT)]
fn signal_shuts_down(#[case] sig: Signal) {
    let site = Site::new();
    site.default_conf();
    let mut d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    let pids = repo_pids(&text(&site.gotctl("info").stdout));
    kill(Pid::from_raw(d.pid()), sig).unwrap();
    assert_eq!(d.wait_exit().code(), Some(0));
    assert!(!site.socket().exists());
    assert!(!std::path::Path::new(&format!("/proc/{}", pids[0])).exists());
    drop(held.stdin.take());
    held.wait().unwrap();
}

#[test]
fn signals_blocked_by_the_starting_process_still_stop_gotd() {
    let site = Site::new();
    site.default_conf();
    let mut d = Daemon::start_with_signals_blocked(&site);
    one_exchange(&site);
    wait_for("the repo child to be reaped", || d.children().is_empty());
    kill(Pid::from_raw(d.pid()), Signal::SIGTERM).unwrap();
    assert_eq!(d.wait_exit().code(), Some(0), "{}", d.log_text());
    assert!(!site.socket().exists());
}

#[test]
fn sighup_is_ignored() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    kill(Pid::from_raw(d.pid()), Signal::SIGHUP).unwrap();
    wait_for("the SIGHUP message", || {
        d.log_text()
            .contains("ignoring SIGHUP; run 'gotctl reload' instead")
    });
    one_exchange(&site);
}

#[test]
fn gotctl_info_layout() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let out = site.gotctl("i");
    assert!(out.status.success());
    let info = text(&out.stdout);
    let expected_head = format!(
        "gotd PID: {}\nverbosity: 2\nnumber of repositories: 1\nnumber of connected clients: 0\nrepository \"repo\", path {}\n",
        d.pid(),
        site.path("repo.git").canonicalize().unwrap().display()
    );
    assert_eq!(info, expected_head);
}

#[test]
fn reload_applies_to_new_connections_and_refuses_bad_config() {
    use std::io::Write;
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    // A client connected across the reload keeps being served.
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut held_out = held.stdout.take().unwrap();
    read_until_flush(&mut held_out);
    site.add_repo("second");
    assert_refused(
        &site.gotsh("git-upload-pack '/second'", b"0000"),
        "no git repository found",
    );
    site.write_conf(
        "",
        &[
            ("repo", &format!("permit rw \"{}\"", me())),
            ("second", &format!("permit ro \"{}\"", me())),
        ],
    );
    let out = site.gotctl("reload");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(site
        .gotsh("git-upload-pack '/second'", b"0000")
        .status
        .success());
    let mut stdin = held.stdin.take().unwrap();
    stdin.write_all(b"0000").unwrap();
    drop(stdin);
    assert!(held.wait().unwrap().success());
    // A broken file is refused with its located error; the old one stays.
    std::fs::write(site.conf(), "repository {\n").unwrap();
    let out = site.gotctl("reload");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("gotctl: reload: "), "{err}");
    assert!(err.contains("gotd.conf:1:"), "{err}");
    assert!(site
        .gotsh("git-upload-pack '/second'", b"0000")
        .status
        .success());
}

#[test]
fn request_timeout_ends_the_child() {
    let site = Site::new();
    site.write_conf(
        "connection {\n  request timeout 1\n}",
        &[("repo", &format!("permit rw \"{}\"", me()))],
    );
    let d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    // Keep the client's input open: the child waits for wants.
    let stdin = held.stdin.take().unwrap();
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    let out = held.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "gotsh: request timeout\n");
    wait_for("the child to be reaped", || d.children().is_empty());
    assert!(d.log_text().contains("due to timeout"));
}

#[test]
fn stdio_is_inherited_only_as_passed() {
    // gotsh with closed stdio descriptors still reports clearly.
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let out = std::process::Command::new(bin("gotsh"))
        .args(["-c", "git-upload-pack '/repo'"])
        .env("GOTD_UNIX_SOCKET", site.socket())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // /dev/null input: the advertisement goes out, then end of file.
    assert!(text(&out.stdout).contains("refs/heads/main"));
}

#[test]
fn push_through_the_writer_child() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let out = site.git(&["clone", "-q", "x:/repo", "pushed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let work = site.path("pushed");
    let git = |args: &[&str]| site.git_in("pushed", args);
    std::fs::write(work.join("file"), "content\n").unwrap();
    assert!(git(&["add", "file"]).status.success());
    assert!(git(&["commit", "-q", "-m", "second"]).status.success());
    let out = git(&["push", "-q", "origin", "main", "main:refs/heads/topic"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        d.log_text()
    );
    let out = site.git(&["ls-remote", "x:/repo"]);
    let refs = text(&out.stdout);
    let head = text(&git(&["rev-parse", "HEAD"]).stdout);
    assert!(
        refs.contains(&format!("{}\trefs/heads/topic", head.trim())),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("{}\trefs/heads/main", head.trim())),
        "{refs}"
    );
    let log = d.log_text();
    assert!(
        log.contains("landlock: fully enforced, repository read-write")
            || log.contains("landlock: not supported"),
        "{log}"
    );
    assert!(log.contains("updated refs/heads/topic"), "{log}");
    let fsck = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "fsck", "--strict"])
        .current_dir(site.path("repo.git"))
        .output()
        .unwrap();
    assert!(fsck.status.success(), "{}", text(&fsck.stderr));
}

#[test]
fn daemonizes_without_d() {
    let site = Site::new();
    site.default_conf();
    let st = std::process::Command::new(bin("gotd"))
        .arg("-f")
        .arg(site.conf())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut info = String::new();
    wait_for("the daemon to answer", || {
        let out = site.gotctl("info");
        info = text(&out.stdout);
        out.status.success()
    });
    let pid: i32 = info
        .lines()
        .find_map(|l| l.strip_prefix("gotd PID: "))
        .unwrap()
        .parse()
        .unwrap();
    one_exchange(&site);
    assert!(site.gotctl("stop").status.success());
    wait_for("the daemon to exit", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    });
    assert!(!site.socket().exists());
}

#[test]
fn socket_is_world_connectable_and_owned_by_the_daemon_user() {
    use std::os::unix::fs::MetadataExt;
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let md = std::fs::metadata(site.socket()).unwrap();
    assert_eq!(md.mode() & 0o777, 0o666);
    let owner = nix::unistd::User::from_name(&daemon_user())
        .unwrap()
        .unwrap();
    assert_eq!(md.uid(), owner.uid.as_raw());
}

#[test]
fn refuses_to_run_as_root() {
    if !is_root() {
        return; // only meaningful when started as root
    }
    let site = Site::new();
    std::fs::write(
        site.conf(),
        format!(
            "listen on \"{}\"\nuser root\nrepository \"repo\" {{\n path \"{}\"\n permit ro root\n}}\n",
            site.socket().display(),
            site.path("repo.git").display()
        ),
    )
    .unwrap();
    let out = Command::new(bin("gotd"))
        .arg("-d")
        .arg("-f")
        .arg(site.conf())
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(
        text(&out.stderr),
        "gotd: user root: refusing to run gotd as root\n"
    );
    assert!(!site.socket().exists());
}

#[test]
fn control_needs_root_when_privileges_are_separated() {
    if !is_root() {
        return; // needs a second user to connect as
    }
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let as_nobody = |cmd: &str| {
        std::process::Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(bin("gotctl"))
            .arg("-f")
            .arg(site.socket())
            .arg(cmd)
            .output()
            .unwrap()
    };
    let out = as_nobody("stop");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "gotctl: stop: Operation not permitted\n");
    let out = as_nobody("reload");
    assert_eq!(
        text(&out.stderr),
        "gotctl: reload: Operation not permitted\n"
    );
    // The daemon's own user may look.
    assert!(as_nobody("info").status.success());
    assert!(d.children().is_empty());
    one_exchange(&site);
}

#[test]
fn secrets_file_is_checked() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    site.default_conf();
    let secrets = site.path("secrets.conf");
    std::fs::write(&secrets, "auth ci user \"flan\" password \"x\"\n").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(bin("gotd"))
        .args(["-n", "-s"])
        .arg(&secrets)
        .arg("-f")
        .arg(site.conf())
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        text(&out.stderr).starts_with("gotd: "),
        "{}",
        text(&out.stderr)
    );
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    Command::new(bin("gotd"))
        .args(["-n", "-s"])
        .arg(&secrets)
        .arg("-f")
        .arg(site.conf())
        .assert()
        .success()
        .stdout("configuration OK\n");
}

/// Sends `n` bytes of one long, never completed pkt-line, one byte every
/// `pace`, asserting meanwhile whether gotsh is still running.
fn trickle(
    held: &mut std::process::Child,
    stdin: &mut impl std::io::Write,
    n: usize,
    pace: std::time::Duration,
) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    let mut line =
        b"0200want 0000000000000000000000000000000000000000 multi_ack_detailed side-band-64k"
            .to_vec();
    line.resize(n, b'x');
    for b in line {
        if held.try_wait().unwrap().is_some() {
            return Some(start.elapsed());
        }
        if stdin.write_all(&[b]).and_then(|_| stdin.flush()).is_err() {
            return Some(start.elapsed());
        }
        // Pacing the client, not synchronising with the daemon.
        std::thread::sleep(pace);
    }
    None
}

#[test]
fn request_timeout_measures_idleness() {
    use std::time::Duration;
    let site = Site::new();
    site.write_conf(
        "connection {\n  request timeout 3\n}",
        &[("repo", &format!("permit rw \"{}\"", me()))],
    );
    let d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdin = held.stdin.take().unwrap();
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    // A slow client: 40 bytes a second for 5 s, longer than the timeout;
    // that is progress, so the exchange must stay alive meanwhile.
    let ended = trickle(&mut held, &mut stdin, 200, Duration::from_millis(25));
    assert_eq!(ended, None, "timed out despite traffic");
    // Now idle: the timeout ends it.
    let out = held.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(text(&out.stderr), "gotsh: request timeout\n");
    wait_for("the child to be reaped", || d.children().is_empty());
}

#[test]
fn a_trickling_client_is_dropped_at_the_timeout() {
    use std::time::Duration;
    let site = Site::new();
    site.write_conf(
        "connection {\n  request timeout 2\n}",
        &[("repo", &format!("permit rw \"{}\"", me()))],
    );
    let d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdin = held.stdin.take().unwrap();
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    // Three bytes a second never add up to a pkt-line's worth of progress
    // within the timeout: the client is dropped while still sending.
    let ended = trickle(&mut held, &mut stdin, 60, Duration::from_millis(300));
    assert!(ended.is_some(), "a trickling client outlived the timeout");
    let out = held.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(text(&out.stderr), "gotsh: request timeout\n");
    wait_for("the child to be reaped", || d.children().is_empty());
}

#[test]
fn idle_connection_is_dropped() {
    use std::io::Read;
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let mut idle = std::os::unix::net::UnixStream::connect(site.socket()).unwrap();
    // gotd closes a connection that sends no request within 10 s.
    let mut buf = [0u8; 1];
    let start = std::time::Instant::now();
    let n = idle.read(&mut buf).unwrap();
    assert_eq!(n, 0);
    assert!(start.elapsed() < DEADLINE);
    wait_for("the table to empty", || {
        client_count(&text(&site.gotctl("info").stdout)) == 0
    });
    assert!(d.log_text().contains("no request within"));
}

/// What a refused git client sees, for review: the ERR packet gotsh writes
/// and its stderr line, for each early refusal.
#[test]
fn refusals_snapshot() {
    let site = Site::new();
    site.add_repo("secret");
    site.write_conf(
        &format!("connection {{\n  limit user \"{}\" 1\n}}", me()),
        &[
            ("repo", &format!("permit ro \"{}\"", me())),
            ("secret", &format!("deny \"{}\"", me())),
        ],
    );
    let d = Daemon::start(&site);
    let mut shown = String::new();
    let mut show = |what: &str, out: std::process::Output| {
        shown.push_str(&format!(
            "## {what}\nexit: {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        ));
    };
    show(
        "unknown repository",
        site.gotsh("git-upload-pack '/nope'", b""),
    );
    show("denied", site.gotsh("git-upload-pack '/secret'", b""));
    show(
        "read-only push",
        site.gotsh("git-receive-pack '/repo'", b""),
    );
    show("empty path", site.gotsh("git-upload-pack '/'", b""));
    let seen = d.log_text().matches("connection from uid").count();
    let _idle = std::os::unix::net::UnixStream::connect(site.socket()).unwrap();
    wait_for("the idle connection to be seen", || {
        d.log_text().matches("connection from uid").count() > seen
    });
    show("over the limit", site.gotsh("git-upload-pack '/repo'", b""));
    insta::assert_snapshot!(shown);
}

#[rstest]
#[case::huge_length(&[0xff, 0xff, 0xff, 0xff])]
#[case::garbage(&[0, 0, 0, 3, 0xee, 0xee, 0xee])]
#[case::git_request_without_descriptors(&[0, 0, 0, 5, 0, 0, 1, b'r', 0])]
fn malformed_requests_are_refused(#[case] bytes: &[u8]) {
    use std::io::{Read, Write};
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start(&site);
    let mut s = std::os::unix::net::UnixStream::connect(site.socket()).unwrap();
    s.write_all(bytes).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    // A framed error reply, then the connection is closed.
    assert!(reply.len() > 4, "{reply:?}");
    one_exchange(&site);
    wait_for("the table to empty", || {
        client_count(&text(&site.gotctl("info").stdout)) == 0
    });
    assert!(d.children().is_empty());
}

#[test]
fn version_flag() {
    Command::new(bin("gotd"))
        .arg("-V")
        .assert()
        .success()
        .stdout(format!("gotd {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn child_mode_refuses_to_run_by_hand() {
    let out = Command::new(bin("gotd"))
        .args(["-T", "r", "-P", "/nonexistent"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = text(&out.stderr);
    if is_root() {
        assert!(err.contains("repo child must not run as root"), "{err}");
    } else {
        assert!(err.contains("fd 3 is not"), "{err}");
    }
}

#[test]
fn children_start_when_the_binary_is_out_of_the_daemon_users_reach() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        return; // needs a directory the daemon user cannot search
    }
    let site = Site::new();
    site.default_conf();
    let hidden = tempfile::tempdir().unwrap();
    std::fs::set_permissions(hidden.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let copy = hidden.path().join("gotd");
    std::fs::copy(bin("gotd"), &copy).unwrap();
    let log = std::fs::File::create(site.path("hidden.log")).unwrap();
    let mut child = spawn_copy(&site, &copy, &log);
    wait_for("gotd to answer", || site.gotctl("info").status.success());
    one_exchange(&site);
    assert!(site.gotctl("stop").status.success());
    wait_for("gotd to exit", || child.try_wait().unwrap().is_some());
}

#[test]
fn children_run_the_started_binary_after_it_is_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    site.default_conf();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("gotd");
    std::fs::copy(bin("gotd"), &copy).unwrap();
    let log = std::fs::File::create(site.path("replaced.log")).unwrap();
    // Killed if the test fails before stopping it.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(spawn_copy(&site, &copy, &log));
    wait_for("gotd to answer", || site.gotctl("info").status.success());
    // An upgrade installs a new file under the same name; a child started
    // from the path would now run this script and fail.
    let new = dir.path().join("gotd.new");
    std::fs::write(&new, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&new, &copy).unwrap();
    one_exchange(&site);
    assert!(site.gotctl("stop").status.success());
    wait_for("gotd to exit", || child.0.try_wait().unwrap().is_some());
}

/// Accepts one HTTP request on a fresh port; the receiver gets its head
/// and body.
fn one_http_request() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let mut w = s;
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
    });
    (port, rx)
}

#[test]
fn push_sends_an_http_notification() {
    let site = Site::new();
    let (port, rx) = one_http_request();
    site.write_conf(
        "",
        &[(
            "repo",
            &format!(
                "permit rw \"{}\"\n  notify {{\n    branch \"main\"\n    url \"http://127.0.0.1:{port}/hook\"\n  }}",
                me()
            ),
        )],
    );
    let d = Daemon::start(&site);
    let out = site.git(&["clone", "-q", "x:/repo", "pushed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let work = site.path("pushed");
    let git = |args: &[&str]| site.git_in("pushed", args);
    std::fs::write(work.join("file"), "content\n").unwrap();
    assert!(git(&["add", "file"]).status.success());
    assert!(git(&["commit", "-q", "-m", "on topic"]).status.success());
    // Not notified: only main is.
    let out = git(&["push", "-q", "origin", "main:refs/heads/topic"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(work.join("file"), "more\n").unwrap();
    assert!(git(&["commit", "-q", "-a", "-m", "second"])
        .status
        .success());
    let out = git(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (head, body) = rx
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("no notification arrived\n{}", d.log_text()));
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    let id = text(&git(&["rev-parse", "HEAD"]).stdout).trim().to_string();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let n = &v["notifications"][0];
    assert_eq!(n["type"], "commit", "{body}");
    assert_eq!(n["repo"], "repo", "{body}");
    assert_eq!(n["id"], id.as_str(), "{body}");
    assert_eq!(n["short_message"], "second", "{body}");
    assert_eq!(n["authenticated_user"], me().as_str(), "{body}");
    // Both commits are new on main, newest first.
    let all = v["notifications"].as_array().unwrap();
    assert_eq!(all.len(), 2, "{body}");
    assert_eq!(all[1]["short_message"], "on topic", "{body}");
}

#[test]
fn failed_notifications_do_not_fail_the_push() {
    // Nothing listens on port 1 of the loopback address.
    let site = Site::new();
    site.write_conf(
        "",
        &[(
            "repo",
            &format!(
                "permit rw \"{}\"\n  notify {{\n    url \"http://127.0.0.1:1/hook\"\n    email to nobody@example.invalid relay 127.0.0.1 port 1\n  }}",
                me()
            ),
        )],
    );
    let d = Daemon::start(&site);
    let out = site.git(&["clone", "-q", "x:/repo", "pushed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let git = |args: &[&str]| site.git_in("pushed", args);
    assert!(git(&["commit", "-q", "--allow-empty", "-m", "x"])
        .status
        .success());
    let start = std::time::Instant::now();
    let out = git(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Delivery (three attempts, 1 s and 2 s apart) happens after the push.
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
    wait_for("both deliveries to give up", || {
        d.log_text().matches("giving up").count() == 2
    });
    let log = d.log_text();
    assert!(
        log.contains("http://127.0.0.1:1/hook: attempt 1 failed"),
        "{log}"
    );
    assert!(
        log.contains("mail to nobody@example.invalid via 127.0.0.1:1"),
        "{log}"
    );
    // The daemon serves on.
    one_exchange(&site);
}

/// Starts a copy of gotd (`-dv` on the site's configuration) logging to
/// `log`. Another test thread forking while the copy was open for writing
/// can make exec fail with ETXTBSY for a moment, so that is retried.
fn spawn_copy(site: &Site, copy: &std::path::Path, log: &std::fs::File) -> std::process::Child {
    let mut spawned = None;
    wait_for(
        "the copy to be executable",
        || match std::process::Command::new(copy)
            .arg("-dv")
            .arg("-f")
            .arg(site.conf())
            .stdin(Stdio::null())
            .stderr(log.try_clone().unwrap())
            .spawn()
        {
            Ok(c) => {
                spawned = Some(c);
                true
            }
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => false,
            Err(e) => panic!("spawning {}: {e}", copy.display()),
        },
    );
    spawned.unwrap()
}

#[test]
fn reader_child_starts_clean_under_its_seccomp_filter() {
    let site = Site::new();
    site.default_conf();
    let _d = Daemon::start(&site);
    let mut held = site.gotsh_spawn("git-upload-pack '/repo'");
    let mut stdout = held.stdout.take().unwrap();
    read_until_flush(&mut stdout);
    let pids = repo_pids(&text(&site.gotctl("info").stdout));
    assert_eq!(pids.len(), 1);
    let pid = pids[0];
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key} in {status}"))
            .to_string()
    };
    // One filter, in filter mode; no signal blocked by the spawn.
    assert_eq!(field("Seccomp:"), "2");
    assert_eq!(field("Seccomp_filters:"), "1");
    assert_eq!(field("SigBlk:"), "0000000000000000");
    // stdin and stdout are /dev/null; the IPC socket is on 3.
    let link = |fd: i32| {
        std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    assert_eq!(link(0), "/dev/null");
    assert_eq!(link(1), "/dev/null");
    assert!(link(3).starts_with("socket:"), "fd 3: {}", link(3));
    drop(held.stdin.take());
    held.wait().unwrap();
}
