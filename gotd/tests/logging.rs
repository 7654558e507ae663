//! The daemon's log at its default verbosity: one summary line per git
//! connection and nothing chattier.

mod common;

use common::*;

/// The summary lines in `log`.
fn summaries(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(" bytes out, ")).collect()
}

/// Splits `...: RESULT; N bytes in, M bytes out, S s` into its numbers.
fn figures(line: &str) -> (u64, u64, f64) {
    let tail = line.rsplit_once("; ").unwrap().1;
    let words: Vec<&str> = tail.split_whitespace().collect();
    assert_eq!(words.len(), 8, "{line}");
    (
        words[0].parse().unwrap(),
        words[3].parse().unwrap(),
        words[6].parse().unwrap(),
    )
}

#[test]
fn one_line_per_connection_with_result_bytes_and_duration() {
    let site = Site::new();
    site.default_conf();
    let d = Daemon::start_quiet(&site);
    let uid = nix::unistd::getuid().as_raw();

    let out = site.git(&["clone", "-q", "x:/repo", "work"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = site.gotsh("git-upload-pack '/nosuch'", b"");
    assert!(!out.status.success());
    let git_in = |args: &[&str]| {
        let out = site.git_in("work", args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    git_in(&["commit", "-q", "--allow-empty", "-m", "second"]);
    git_in(&["push", "-q", "origin", "main"]);

    wait_for("three summary lines", || {
        summaries(&d.log_text()).len() >= 3
    });
    let log = d.log_text();
    let lines = summaries(&log);
    assert_eq!(lines.len(), 3, "{log}");

    let clone = lines[0];
    assert!(
        clone.starts_with(&format!("uid {uid}: git-upload-pack \"repo\": ok; ")),
        "{clone}"
    );
    let (received, sent, secs) = figures(clone);
    assert!(received > 0 && sent > received, "{clone}");
    assert!(secs > 0.0 && secs < 60.0, "{clone}");

    let refused = lines[1];
    assert!(
        refused.starts_with(&format!(
            "uid {uid}: git-upload-pack \"nosuch\": no git repository found; 0 bytes in, 0 bytes out, "
        )),
        "{refused}"
    );

    let push = lines[2];
    assert!(
        push.starts_with(&format!("uid {uid}: git-receive-pack \"repo\": ok; ")),
        "{push}"
    );
    let (received, sent, _) = figures(push);
    assert!(received > 0 && sent > 0, "{push}");

    // Informational messages need -v.
    assert!(!log.contains("sandbox:"), "{log}");
    assert!(!log.contains("connection from uid"), "{log}");
}
