//! The rendered mail and JSON for each kind of update (insta snapshots).

use gotd_notify::email::{self, Envelope};
use gotd_notify::http;
use gotd_notify::summary::{
    Change, CommitInfo, DiffStat, FileAction, FileStat, Person, RefSummary, TagInfo,
};

fn flan() -> Person {
    Person {
        name: "Flan Hacker".into(),
        email: "flan_hacker@openbsd.org".into(),
    }
}

fn file(action: FileAction, path: &str, added: u64, removed: u64) -> FileStat {
    FileStat {
        action,
        path: path.into(),
        added,
        removed,
    }
}

/// `alpha` with one line replaced, as in upstream's tests.
fn alpha_changed() -> DiffStat {
    DiffStat {
        files: vec![file(FileAction::Modified, "alpha", 1, 1)],
        more_files: 0,
    }
}

fn commit(i: usize, message: &str) -> CommitInfo {
    CommitInfo {
        id: format!("{:040x}", 0xabc000 + i),
        author: flan(),
        committer: flan(),
        time: 1_796_420_740 + i as i64 * 60,
        message: message.into(),
        diffstat: Some(alpha_changed()),
    }
}

/// A commit in short form: no diffstat.
fn short_commit(i: usize, message: &str) -> CommitInfo {
    CommitInfo {
        diffstat: None,
        ..commit(i, message)
    }
}

fn summary(change: Change, commits: Vec<CommitInfo>, total: usize) -> RefSummary {
    RefSummary {
        refname: "refs/heads/main".into(),
        change,
        old: if change == Change::Created {
            "0".repeat(40)
        } else {
            "1".repeat(40)
        },
        new: if change == Change::Removed {
            "0".repeat(40)
        } else {
            "2".repeat(40)
        },
        commits,
        total_commits: total,
        tag: None,
    }
}

fn both(s: &RefSummary) -> String {
    let env = Envelope {
        from: "got@example.com".into(),
        to: "dev@example.com".into(),
        reply_to: Some("list@example.com".into()),
        relay_host: "127.0.0.1".into(),
        relay_port: 25,
    };
    let subject = email::subject("test-repo", "gotdev", s);
    let mail = email::message(&env, &subject, &email::body(s), 1_796_420_740);
    let json: serde_json::Value =
        serde_json::from_str(&http::body("test-repo", "gotdev", s)).unwrap();
    format!(
        "{}\n----\n{}",
        mail.replace("\r\n", "\n"),
        serde_json::to_string_pretty(&json).unwrap()
    )
}

#[test]
fn branch_changed() {
    let s = summary(
        Change::Changed,
        vec![commit(1, "make changes\n\nwith a body\n.leading dot\n")],
        1,
    );
    insta::assert_snapshot!(both(&s));
}

#[test]
fn branch_created() {
    let mut s = summary(Change::Created, vec![commit(2, "newbranch\n")], 1);
    s.refname = "refs/heads/newbranch".into();
    insta::assert_snapshot!(both(&s));
}

#[test]
fn branch_removed() {
    let mut s = summary(Change::Removed, vec![], 0);
    s.refname = "refs/heads/newbranch".into();
    insta::assert_snapshot!(both(&s));
}

#[test]
fn tag_created() {
    let mut s = summary(Change::Created, vec![], 0);
    s.refname = "refs/tags/1.0".into();
    s.tag = Some(TagInfo {
        tagger: flan(),
        time: 1_796_420_740,
        object_kind: "commit".into(),
        object_id: "2".repeat(40),
        message: "new tag\n".into(),
    });
    insta::assert_snapshot!(both(&s));
}

#[test]
fn many_commits_are_summarised() {
    let commits = (0..3).map(|i| short_commit(i, "make changes")).collect();
    let s = summary(Change::Changed, commits, 123);
    insta::assert_snapshot!(both(&s));
}

#[test]
fn one_file_changed_is_byte_exact_with_upstream() {
    let s = summary(Change::Changed, vec![commit(1, "make changes\n")], 1);
    let body = email::body(&s);
    let want = "commit 0000000000000000000000000000000000abc001\n\
                from: Flan Hacker <flan_hacker@openbsd.org>\n\
                date: Fri Dec  4 21:46:40 2026 UTC\n\
                messagelen: 13\n \n make changes\n \n \
                M  alpha  |  1+  1-\n\n\
                1 file changed, 1 insertion(+), 1 deletion(-)\n\n";
    assert_eq!(body, want);
    let json: serde_json::Value =
        serde_json::from_str(&http::body("test-repo", "gotdev", &s)).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        r#"{"files":[{"action":"modified","file":"alpha","added":1,"removed":1}],
            "total":{"added":1,"removed":1}}"#,
    )
    .unwrap();
    assert_eq!(json["notifications"][0]["diffstat"], want);
}

#[test]
fn diffstat_columns_line_up() {
    let mut c = commit(1, "reorganise\n");
    c.diffstat = Some(DiffStat {
        files: vec![
            file(FileAction::Deleted, "alpha", 0, 1),
            file(FileAction::Added, "doc/README", 120, 0),
            file(FileAction::Modified, "gamma/delta", 3, 17),
            file(FileAction::Modified, "logo.png", 0, 0),
        ],
        more_files: 0,
    });
    let s = summary(Change::Changed, vec![c], 1);
    insta::assert_snapshot!(both(&s));
}

#[test]
fn diffstat_with_unlisted_files() {
    let mut c = commit(1, "import\n");
    c.diffstat = Some(DiffStat {
        files: vec![
            file(FileAction::Added, "a", 1, 0),
            file(FileAction::Added, "b", 2, 0),
        ],
        more_files: 250,
    });
    let s = summary(Change::Changed, vec![c], 1);
    insta::assert_snapshot!(both(&s));
}

#[test]
fn commit_without_changes() {
    let mut c = commit(1, "empty\n");
    c.diffstat = Some(DiffStat::default());
    let s = summary(Change::Changed, vec![c], 1);
    let body = email::body(&s);
    assert!(
        body.ends_with(" empty\n \n\n0 files changed, 0 insertions(+), 0 deletions(-)\n\n"),
        "{body:?}"
    );
}

#[test]
fn bad_utf8_is_replaced() {
    let msg = String::from_utf8_lossy(b"make\xED\xA0\x80changes\n").into_owned();
    let s = summary(Change::Changed, vec![commit(1, &msg)], 1);
    let out = both(&s);
    assert!(out.contains("make\u{FFFD}\u{FFFD}\u{FFFD}changes"), "{out}");
}

#[test]
fn subject_header_cannot_be_split() {
    let mut s = summary(Change::Changed, vec![], 0);
    s.refname = "refs/heads/a\r\nBcc: x@example.com".into();
    let env = Envelope {
        from: "a@b".into(),
        to: "c@d".into(),
        reply_to: None,
        relay_host: "h".into(),
        relay_port: 25,
    };
    let m = email::message(&env, &email::subject("r", "u", &s), "", 0);
    assert!(!m.contains("\r\nBcc:"), "{m}");
}
