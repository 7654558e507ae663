//! Summaries read from a real repository made with git.

use std::path::Path;
use std::process::Command;

use gotd_notify::collect;
use gotd_notify::summary::{Change, RefFilter};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Flan Hacker",
            "-c",
            "user.email=flan@example.com",
        ])
        .args(["-c", "init.defaultBranch=main", "-c", "safe.directory=*"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const ZERO: &str = "0000000000000000000000000000000000000000";

fn update(name: &str, old: &str, new: &str) -> (String, String, String) {
    (name.into(), old.into(), new.into())
}

#[test]
fn summaries_of_each_kind_of_update() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "."]);
    git(d, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let first = git(d, &["rev-parse", "HEAD"]);
    // git would re-encode a message given to `git commit`; write the
    // object as it is.
    let tree = git(d, &["rev-parse", "HEAD^{tree}"]);
    let mut raw = format!(
        "tree {tree}\nparent {first}\nauthor Flan Hacker <flan@example.com> 1700000000 +0000\ncommitter Flan Hacker <flan@example.com> 1700000000 +0000\n\n"
    )
    .into_bytes();
    raw.extend_from_slice(b"bad\xED\xA0\x80utf8\n\nbody\n");
    std::fs::write(d.join("raw"), raw).unwrap();
    let bad = git(d, &["hash-object", "-t", "commit", "-w", "raw"]);
    git(d, &["update-ref", "refs/heads/main", &bad]);
    for i in 0..25 {
        git(
            d,
            &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
        );
    }
    let tip = git(d, &["rev-parse", "HEAD"]);
    git(d, &["tag", "-a", "-m", "new tag", "1.0"]);
    let tag = git(d, &["rev-parse", "refs/tags/1.0"]);
    git(d, &["branch", "side", &first]);

    let updates = [
        update("refs/heads/main", &first, &tip),
        update("refs/heads/side", ZERO, &first),
        update("refs/heads/gone", &first, ZERO),
        update("refs/tags/1.0", ZERO, &tag),
    ];
    let s = collect(&d.join(".git"), &updates, &RefFilter::default()).unwrap();
    assert_eq!(s.len(), 4);

    let main = &s[0];
    assert_eq!(main.change, Change::Changed);
    assert_eq!(main.total_commits, 26);
    assert!(main.is_short());
    assert_eq!(main.commits[0].id, tip);
    assert_eq!(main.commits[0].author.email, "flan@example.com");
    let bad = main.commits.last().unwrap();
    assert_eq!(
        bad.message, "bad\u{FFFD}\u{FFFD}\u{FFFD}utf8",
        "short form keeps one line"
    );
    assert!(
        main.commits.iter().all(|c| c.diffstat.is_none()),
        "short form has no diffstat"
    );

    // Created at a commit the repository had: that commit alone.
    assert_eq!(s[1].change, Change::Created);
    assert_eq!(s[1].commits.len(), 1);
    assert_eq!(s[1].commits[0].id, first);
    let empty = s[1].commits[0].diffstat.as_ref().expect("full form");
    assert_eq!(empty.changed_files(), 0);

    assert_eq!(s[2].change, Change::Removed);
    assert!(s[2].commits.is_empty());

    let t = s[3].tag.as_ref().expect("tag info");
    assert_eq!(t.object_id, tip);
    assert_eq!(t.object_kind, "commit");
    assert_eq!(t.message, "new tag\n");
    assert_eq!(t.tagger.name, "Flan Hacker");

    let only_tags = RefFilter {
        branches: vec![],
        namespaces: vec!["refs/tags/".into()],
    };
    let s = collect(&d.join(".git"), &updates, &only_tags).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].refname, "refs/tags/1.0");
}

/// (action letter, path, added, removed) as git sees the change from
/// `parent` (the empty tree if none) to `commit`; binary files count 0.
fn git_numstat(d: &Path, parent: Option<&str>, commit: &str) -> Vec<(char, String, u64, u64)> {
    let empty = git(d, &["hash-object", "-t", "tree", "/dev/null"]);
    let parent = parent.unwrap_or(&empty);
    let names = git(
        d,
        &["diff", "--no-renames", "--name-status", parent, commit],
    );
    let stats = git(d, &["diff", "--no-renames", "--numstat", parent, commit]);
    names
        .lines()
        .zip(stats.lines())
        .map(|(n, s)| {
            let (status, path) = n.split_once('\t').unwrap();
            let mut f = s.splitn(3, '\t');
            let num = |v: &str| v.parse().unwrap_or(0);
            let (added, removed) = (num(f.next().unwrap()), num(f.next().unwrap()));
            assert_eq!(f.next(), Some(path));
            (
                status.chars().next().unwrap(),
                path.to_string(),
                added,
                removed,
            )
        })
        .collect()
}

fn ours(d: &Path, old: &str, new: &str) -> Vec<gotd_notify::RefSummary> {
    collect(
        &d.join(".git"),
        &[update("refs/heads/main", old, new)],
        &RefFilter::default(),
    )
    .unwrap()
}

fn listed(c: &gotd_notify::CommitInfo) -> Vec<(char, String, u64, u64)> {
    c.diffstat
        .as_ref()
        .expect("a diffstat")
        .files
        .iter()
        .map(|f| (f.action.letter(), f.path.clone(), f.added, f.removed))
        .collect()
}

fn write(d: &Path, path: &str, content: &[u8]) {
    let p = d.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

#[test]
fn diffstats_match_git_numstat() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "."]);
    write(d, "alpha", b"alpha\n");
    write(d, "beta", b"one\ntwo\nthree\nfour\nfive\n");
    write(d, "gamma/delta", b"delta\n");
    write(d, "node", b"a file that becomes a directory\n");
    write(d, "logo.png", b"\x89PNG\0\0\0binary");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "root"]);
    let mut commits = vec![git(d, &["rev-parse", "HEAD"])];
    let mut step = |d: &Path, msg: &str| {
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", msg]);
        commits.push(git(d, &["rev-parse", "HEAD"]));
    };
    // Modify, add in a new subdirectory, delete.
    write(d, "alpha", b"change alpha\n");
    write(d, "beta", b"one\n2\nthree\nfive\nsix\nseven");
    write(d, "epsilon/zeta/eta", b"eta\ntheta\n");
    std::fs::remove_file(d.join("gamma/delta")).unwrap();
    step(d, "edits");
    // Rename (a delete and an add), binary change, file -> directory.
    std::fs::rename(d.join("alpha"), d.join("alpha2")).unwrap();
    write(d, "logo.png", b"\x89PNG\0\0\0other binary\n\n");
    std::fs::remove_file(d.join("node")).unwrap();
    write(d, "node/inner", b"x\ny\n");
    step(d, "moves");
    // Mode change alone.
    git(d, &["update-index", "--chmod=+x", "beta"]);
    git(d, &["commit", "-q", "-m", "exec"]);
    let exec = git(d, &["rev-parse", "HEAD"]);

    let all = ours(d, ZERO, &exec);
    let got = &all[0].commits;
    assert_eq!(got.len(), 4, "root, edits, moves, exec");
    // Newest first.
    let ids: Vec<&str> = got.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [&exec, &commits[2], &commits[1], &commits[0]]);
    let mut parent = None;
    for (c, want_id) in got.iter().rev().zip(commits.iter().chain([&exec])) {
        assert_eq!(&c.id, want_id);
        let want = git_numstat(d, parent, &c.id);
        assert_eq!(listed(c), want, "commit {}", c.message);
        parent = Some(want_id.as_str());
    }
    // The expectations git produced, spelt out for the interesting cases.
    let moves = listed(&got[1]);
    assert!(moves.contains(&('D', "alpha".into(), 0, 1)), "{moves:?}");
    assert!(moves.contains(&('A', "alpha2".into(), 1, 0)), "{moves:?}");
    assert!(moves.contains(&('M', "logo.png".into(), 0, 0)), "{moves:?}");
    let node: Vec<_> = moves.iter().filter(|f| f.1.starts_with("node")).collect();
    assert_eq!(
        node,
        [
            &('D', "node".into(), 0, 1),
            &('A', "node/inner".into(), 2, 0)
        ]
    );
    assert_eq!(listed(&got[0]), [('M', "beta".into(), 0, 0)]);
    assert_eq!(got[2].diffstat.as_ref().unwrap().total(), (6, 4));
}

#[test]
fn large_commits_list_a_hundred_files_and_count_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "."]);
    for i in 0..105 {
        write(d, &format!("dir/f{i:03}"), format!("{i}\n").as_bytes());
    }
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "import"]);
    let head = git(d, &["rev-parse", "HEAD"]);
    let s = ours(d, ZERO, &head);
    let stat = s[0].commits[0].diffstat.as_ref().unwrap();
    assert_eq!(stat.files.len(), 100);
    assert_eq!(stat.more_files, 5);
    assert_eq!(stat.files[99].path, "dir/f099");
    assert_eq!(stat.total(), (100, 0));
}

#[test]
fn submodules_count_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "."]);
    let sub = "1111111111111111111111111111111111111111";
    git(
        d,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{sub},lib"),
        ],
    );
    git(d, &["commit", "-q", "-m", "submodule"]);
    let head = git(d, &["rev-parse", "HEAD"]);
    let s = ours(d, ZERO, &head);
    assert_eq!(listed(&s[0].commits[0]), [('A', "lib".into(), 0, 0)]);
}

#[test]
fn a_spent_budget_lists_files_without_counting() {
    use gotd_notify::treediff::{diffstat, Budget};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "."]);
    write(d, "alpha", b"alpha\n");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "root"]);
    write(d, "alpha", b"change alpha\n");
    git(d, &["commit", "-q", "-a", "-m", "change"]);
    let head = git(d, &["rev-parse", "HEAD"]);
    let repo = gix::open(d.join(".git")).unwrap();
    let commit = repo
        .find_commit(gix::ObjectId::from_hex(head.as_bytes()).unwrap())
        .unwrap();
    let mut budget = Budget::default();
    let full = diffstat(&repo, &commit, &mut budget).unwrap();
    assert_eq!(full.total(), (1, 1));
    assert!(budget.remaining < Budget::default().remaining);
    let mut spent = Budget { remaining: 1 };
    let s = diffstat(&repo, &commit, &mut spent).unwrap();
    assert_eq!(s.files.len(), 1);
    assert_eq!((s.files[0].path.as_str(), s.total()), ("alpha", (0, 0)));
}
