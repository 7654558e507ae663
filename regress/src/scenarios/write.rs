//! Pushes: the upstream repo_write steps done with git (send, more history,
//! new empty branch, deletions, rewind), pushes into an empty repository, to
//! a repository without rules, and against protected references.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{ensure, ensure_contains, fsck_clone, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::{parse_pkts, pkt};
use crate::repo::{self, RepoKind};
use crate::world::World;
use crate::{redact, snapshot};

fn served(
    name: &'static str,
    about: &'static str,
    repo: RepoKind,
    rules: fn(&World) -> Vec<String>,
    run: fn(&mut Ctx) -> Result<()>,
) -> Scenario {
    Scenario {
        name,
        about,
        skip_if: None,
        body: Body::Served {
            setup: Setup {
                repo,
                rules,
                global: none,
                extra_repos: none,
                start: StartMode::Default,
            },
            run,
        },
    }
}

pub fn permit_rw(w: &World) -> Vec<String> {
    vec![format!("permit rw {}", w.devuser.name)]
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        served(
            "repo_write",
            "git push: basic send, more history, empty branch, deletions, rewind",
            RepoKind::Standard,
            permit_rw,
            repo_write,
        ),
        served(
            "repo_write_empty",
            "first push into an empty repository; HEAD is not rewritten",
            RepoKind::Empty,
            permit_rw,
            repo_write_empty,
        ),
        served(
            "repo_write_readonly",
            "push to a repository without rules: no git repository found",
            RepoKind::Empty,
            |_| Vec::new(),
            repo_write_readonly,
        ),
        served(
            "push_race",
            "simultaneous pushes to one branch: one wins, the rest leave nothing behind",
            RepoKind::Standard,
            |w| vec![format!("permit rw {}", w.devuser.name)],
            push_race,
        ),
        served(
            "repo_write_protected",
            "protected branches and tag namespace refuse rewrites and deletions",
            RepoKind::Standard,
            |w| {
                vec![
                    format!("permit rw {}", w.devuser.name),
                    "protect branch foo".into(),
                    "protect tag namespace \"refs/tags/\"".into(),
                    "protect {".into(),
                    "\tbranch \"refs/heads/main\"".into(),
                    "}".into(),
                ]
            },
            repo_write_protected,
        ),
    ]
}

/// Files in objects/pack.
fn pack_files(ctx: &Ctx) -> Vec<PathBuf> {
    repo::listing(&ctx.repo.join("objects/pack"))
}

/// Commits `n` changes to `file` in clone `dir`.
pub fn commit_n(ctx: &Ctx, dir: &str, file: &str, n: usize, tag: &str) -> Result<()> {
    let path = ctx.path(dir).join(file);
    for i in 0..n {
        std::fs::write(&path, format!("{tag} change {i}\n"))?;
        ctx.git_in(dir, &["add", file])?;
        ctx.git_in(dir, &["commit", "-q", "-m", &format!("{tag} {i}")])?;
    }
    Ok(())
}

fn head(ctx: &Ctx, dir: &str, rev: &str) -> Result<String> {
    ctx.git_in(dir, &["rev-parse", rev])
}

fn repo_write(ctx: &mut Ctx) -> Result<()> {
    send_basic(ctx).context("send basic")?;
    fetch_more_history(ctx).context("fetch more history")?;
    new_empty_branch(ctx).context("new empty branch")?;
    delete_branches(ctx).context("delete branches")?;
    reserved_namespaces(ctx).context("reserved namespaces")?;
    rewind_branch(ctx).context("rewind branch")
}

fn send_basic(ctx: &mut Ctx) -> Result<()> {
    let packs_before = pack_files(ctx);
    ctx.clone("a", &[])?;
    std::fs::write(ctx.path("a/alpha"), "modified alpha\n")?;
    std::fs::create_dir_all(ctx.path("a/psi"))?;
    std::fs::write(ctx.path("a/psi/new"), "new\n")?;
    ctx.git_in("a", &["add", "-A"])?;
    ctx.git_in(
        "a",
        &["commit", "-q", "-m", "modified alpha, added psi/new"],
    )?;
    ctx.git_in("a", &["branch", "newbranch"])?;
    ctx.git_in("a", &["tag", "-a", "-m", "tag 1.0", "1.0"])?;
    ctx.git_in(
        "a",
        &["push", "-q", "origin", "main", "newbranch", "refs/tags/1.0"],
    )?;
    let main = head(ctx, "a", "main")?;
    ensure(
        ctx.server_ref("refs/heads/main")?.as_deref() == Some(&main),
        || "server main not updated".into(),
    )?;
    ensure(
        ctx.server_ref("refs/heads/newbranch")?.as_deref() == Some(&main),
        || "server newbranch not created".into(),
    )?;
    ensure(ctx.server_ref("refs/tags/1.0")?.is_some(), || {
        "server tag 1.0 not created".into()
    })?;
    // Exactly one new pack and its index, nothing else left behind.
    let new: Vec<PathBuf> = pack_files(ctx)
        .into_iter()
        .filter(|p| !packs_before.contains(p))
        .collect();
    let names: Vec<String> = new.iter().map(|p| p.display().to_string()).collect();
    ensure(new.len() == 2, || {
        format!("new files in objects/pack: {names:?}")
    })?;
    for p in &names {
        let ok = p.strip_prefix("pack-").is_some_and(|rest| {
            let (hex, ext) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
            hex.len() == 40
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && (ext == ".pack" || ext == ".idx")
        });
        ensure(ok, || format!("unexpected file objects/pack/{p}"))?;
    }
    // A second clone sees the new file; pull and a no-op push work.
    ctx.clone("b", &[])?;
    fsck_clone(ctx, "b")?;
    let new_file = std::fs::read_to_string(ctx.path("b/psi/new"))?;
    ensure(new_file == "new\n", || format!("psi/new: {new_file:?}"))?;
    ctx.git_in("a", &["pull", "-q", "--ff-only"])?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    Ok(())
}

fn fetch_more_history(ctx: &mut Ctx) -> Result<()> {
    commit_n(ctx, "a", "alpha", 50, "history")?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    ctx.clone("c", &[])?;
    fsck_clone(ctx, "c")?;
    ensure(head(ctx, "c", "HEAD")? == head(ctx, "a", "main")?, || {
        "fresh clone is not at the pushed tip".into()
    })?;
    commit_n(ctx, "a", "beta", 3, "more")?;
    ctx.git_in("a", &["rm", "-q", "epsilon/zeta"])?;
    ctx.git_in("a", &["commit", "-q", "-m", "removing epsilon/zeta"])?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    // Both earlier clones pick the new commits up.
    for dir in ["b", "c"] {
        ctx.git_in(dir, &["pull", "-q", "--ff-only"])?;
        ensure(!ctx.path(dir).join("epsilon/zeta").exists(), || {
            format!("{dir}: epsilon/zeta still present after pull")
        })?;
        ensure(head(ctx, dir, "HEAD")? == head(ctx, "a", "main")?, || {
            format!("{dir}: not at the pushed tip after pull")
        })?;
    }
    Ok(())
}

fn new_empty_branch(ctx: &mut Ctx) -> Result<()> {
    // Every object is already on the server: git sends an empty pack.
    ctx.git_in("a", &["branch", "newbranch2"])?;
    ctx.git_in("a", &["push", "-q", "origin", "newbranch2"])?;
    let remote = ctx.git_in("a", &["ls-remote", "origin"])?;
    ensure_contains(&remote, "refs/heads/newbranch2")?;
    ensure(
        ctx.server_ref("refs/heads/newbranch2")? == Some(head(ctx, "a", "main")?),
        || "newbranch2 not at main".into(),
    )
}

fn delete_branches(ctx: &mut Ctx) -> Result<()> {
    ctx.git_in("a", &["branch", "foo"])?;
    ctx.git_in("a", &["push", "-q", "origin", "foo"])?;
    ctx.git_in("a", &["push", "-q", "-d", "origin", "foo"])?;
    ensure(ctx.server_ref("refs/heads/foo")?.is_none(), || {
        "foo not deleted".into()
    })?;
    // Two deletions in one raw push: report-status lists them in reverse
    // order of the commands, as upstream does (got prints them that way).
    let mut input = String::new();
    for (i, b) in ["newbranch", "newbranch2"].iter().enumerate() {
        let old = ctx
            .server_ref(&format!("refs/heads/{b}"))?
            .with_context(|| format!("{b} missing"))?;
        let caps = if i == 0 {
            "\0 report-status delete-refs"
        } else {
            ""
        };
        input.push_str(&pkt(&format!(
            "{old} {} refs/heads/{b}{caps}",
            "0".repeat(40)
        )));
    }
    input.push_str("0000");
    let out = ctx.client().ssh(
        &format!("git-receive-pack '{}'", ctx.w.settings.repo_name),
        input.as_bytes(),
    )?;
    let (pkts, _) = parse_pkts(&out.stdout);
    let report: Vec<String> = pkts
        .iter()
        .skip_while(|p| p.is_some())
        .skip(1)
        .map(|p| match p {
            Some(b) => redact::visible(b).trim_end().to_string(),
            None => "0000".to_string(),
        })
        .collect();
    snapshot::check("repo_write_delete_report", &report.join("\n"))?;
    for b in ["newbranch", "newbranch2"] {
        ensure(
            ctx.server_ref(&format!("refs/heads/{b}"))?.is_none(),
            || format!("{b} not deleted"),
        )?;
    }
    // A deletion and an update in one push.
    ctx.git_in("a", &["push", "-q", "origin", "foo"])?;
    commit_n(ctx, "a", "gamma/delta", 1, "with deletion")?;
    ctx.git_in("a", &["push", "-q", "origin", "main", ":foo"])?;
    ensure(ctx.server_ref("refs/heads/foo")?.is_none(), || {
        "foo not deleted with main update".into()
    })?;
    ensure(
        ctx.server_ref("refs/heads/main")? == Some(head(ctx, "a", "main")?),
        || "main not updated with foo deletion".into(),
    )?;
    let remote = redact::ids(&ctx.git_in("a", &["ls-remote", "origin"])?);
    snapshot::check("repo_write_ls_remote_after_delete", &remote)
}

fn reserved_namespaces(ctx: &mut Ctx) -> Result<()> {
    for ns in ["refs/got/", "refs/remotes/"] {
        let target = format!("main:{ns}x");
        let err = ctx.git_fails_in("a", &["push", "origin", &target])?;
        ensure_contains(&err, &format!("{ns}: reference namespace is protected"))?;
        ensure(ctx.server_ref(&format!("{ns}x"))?.is_none(), || {
            format!("{ns}x was created")
        })?;
    }
    Ok(())
}

fn rewind_branch(ctx: &mut Ctx) -> Result<()> {
    ctx.git_in("a", &["checkout", "-q", "-B", "foo", "main"])?;
    commit_n(ctx, "a", "alpha", 2, "foo")?;
    ctx.git_in("a", &["push", "-q", "origin", "foo"])?;
    ctx.git_in("a", &["reset", "-q", "--hard", "HEAD~1"])?;
    // A non-fast-forward needs force; foo is not protected.
    ctx.git_fails_in("a", &["push", "-q", "origin", "foo"])?;
    ctx.git_in("a", &["push", "-q", "-f", "origin", "foo"])?;
    ensure(
        ctx.server_ref("refs/heads/foo")? == Some(head(ctx, "a", "foo")?),
        || "foo not rewound on the server".into(),
    )
}

fn repo_write_empty(ctx: &mut Ctx) -> Result<()> {
    let before = repo::listing(&ctx.repo);
    ensure(repo::refs(&ctx.repo, ctx.t())?.is_empty(), || {
        "empty repository has refs".into()
    })?;
    let url = ctx.url();
    ctx.git_in(".", &["init", "-q", "-b", "master", "local"])?;
    for (name, content) in repo::STANDARD_TREE {
        let p = ctx.path("local").join(name);
        std::fs::create_dir_all(p.parent().expect("has parent"))?;
        std::fs::write(p, content)?;
    }
    ctx.git_in("local", &["add", "-A"])?;
    ctx.git_in("local", &["commit", "-q", "-m", "initial import"])?;
    ctx.git_in("local", &["remote", "add", "origin", &url])?;
    // ls-remote of an empty repository: no refs, success.
    let remote = ctx.git_in("local", &["ls-remote", "origin"])?;
    ensure(remote.is_empty(), || {
        format!("ls-remote of an empty repo: {remote}")
    })?;
    ctx.git_in("local", &["push", "-q", "origin", "master"])?;
    let refs = repo::refs(&ctx.repo, ctx.t())?;
    let master = head(ctx, "local", "master")?;
    ensure(refs == vec![format!("{master} refs/heads/master")], || {
        format!("server refs after first push: {refs:?}")
    })?;
    let head_file = std::fs::read_to_string(ctx.repo.join("HEAD"))?;
    ensure(head_file == "ref: refs/heads/main\n", || {
        format!("HEAD was rewritten: {head_file:?}")
    })?;
    ctx.clone("copy", &["-b", "master"])?;
    fsck_clone(ctx, "copy")?;
    let new: Vec<String> = repo::listing(&ctx.repo)
        .into_iter()
        .filter(|p| !before.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    let packs = new
        .iter()
        .filter(|p| p.starts_with("objects/pack/pack-"))
        .count();
    let unexpected: Vec<&String> = new
        .iter()
        .filter(|p| {
            !(p.starts_with("objects/pack/pack-") && (p.ends_with(".pack") || p.ends_with(".idx")))
                && p.as_str() != "refs/heads"
                && p.as_str() != "refs/heads/master"
        })
        .collect();
    ensure(packs == 2 && unexpected.is_empty(), || {
        format!("new paths in the repository: {new:?}")
    })
}

fn repo_write_readonly(ctx: &mut Ctx) -> Result<()> {
    let url = ctx.url();
    ctx.git_in(".", &["init", "-q", "-b", "main", "local"])?;
    std::fs::write(ctx.path("local/alpha"), "alpha\n")?;
    ctx.git_in("local", &["add", "-A"])?;
    ctx.git_in("local", &["commit", "-q", "-m", "initial"])?;
    let err = ctx.git_fails_in("local", &["push", &url, "main"])?;
    ensure(repo::refs(&ctx.repo, ctx.t())?.is_empty(), || {
        "a refused push created refs".into()
    })?;
    redact::gotsh_lines_agree(&err).map_err(anyhow::Error::msg)?;
    snapshot::check("repo_read_not_found", &redact::error_lines(&err))
}

fn repo_write_protected(ctx: &mut Ctx) -> Result<()> {
    ctx.clone("a", &[])?;
    // Creating the protected branch foo and the first tag are allowed.
    ctx.git_in("a", &["branch", "foo"])?;
    ctx.git_in("a", &["push", "-q", "origin", "foo"])?;
    ctx.git_in("a", &["tag", "-a", "-m", "tag 1.0", "1.0"])?;
    ctx.git_in("a", &["push", "-q", "origin", "refs/tags/1.0"])?;
    let tag = ctx
        .server_ref("refs/tags/1.0")?
        .context("tag 1.0 not created")?;

    // Moving the tag is refused.
    commit_n(ctx, "a", "alpha", 1, "retag")?;
    ctx.git_in("a", &["tag", "-f", "-a", "-m", "tag 1.0 again", "1.0"])?;
    let err = ctx.git_fails_in("a", &["push", "-f", "origin", "refs/tags/1.0"])?;
    ensure_contains(&err, "refs/tags/: reference namespace is protected")?;
    // Deleting it is refused.
    let err = ctx.git_fails_in("a", &["push", "-d", "origin", "refs/tags/1.0"])?;
    ensure_contains(&err, "refs/tags/: reference namespace is protected")?;
    ensure(
        ctx.server_ref("refs/tags/1.0")?.as_deref() == Some(&tag),
        || "protected tag changed".into(),
    )?;

    // Deleting main is refused.
    let main = ctx.server_ref("refs/heads/main")?.context("no main")?;
    let err = ctx.git_fails_in("a", &["push", "-d", "origin", "main"])?;
    ensure_contains(&err, "refs/heads/main: reference is protected")?;
    // Rewriting main (not a descendant) is refused, even forced.
    ctx.git_in("a", &["reset", "-q", "--hard", "origin/main"])?;
    ctx.git_in("a", &["commit", "-q", "--amend", "-m", "rewritten"])?;
    let err = ctx.git_fails_in("a", &["push", "-f", "origin", "main"])?;
    ensure_contains(&err, "refs/heads/main: reference is protected")?;
    ensure(
        ctx.server_ref("refs/heads/main")?.as_deref() == Some(&main),
        || "protected main changed".into(),
    )?;
    // Rewinding the protected branch foo is refused too.
    ctx.git_in("a", &["checkout", "-q", "-B", "foo", "origin/main"])?;
    commit_n(ctx, "a", "beta", 2, "foo")?;
    ctx.git_in("a", &["push", "-q", "origin", "foo"])?;
    ctx.git_in("a", &["reset", "-q", "--hard", "HEAD~1"])?;
    let err = ctx.git_fails_in("a", &["push", "-f", "origin", "foo"])?;
    ensure_contains(&err, "refs/heads/foo: reference is protected")?;

    // A fast-forward of main to a commit the server already has (via bar):
    // an empty pack, and it must succeed.
    ctx.git_in("a", &["checkout", "-q", "-B", "bar", "origin/main"])?;
    commit_n(ctx, "a", "gamma/delta", 1, "bar")?;
    ctx.git_in("a", &["push", "-q", "origin", "bar"])?;
    let bar = head(ctx, "a", "bar")?;
    ctx.git_in("a", &["push", "-q", "origin", "bar:main"])?;
    ensure(ctx.server_ref("refs/heads/main")? == Some(bar), || {
        "fast-forward of protected main refused".into()
    })
}

fn push_race(ctx: &mut Ctx) -> Result<()> {
    const N: usize = 4;
    let before = pack_files(ctx);
    for i in 0..N {
        let dir = format!("c{i}");
        ctx.clone(&dir, &[])?;
        std::fs::write(
            ctx.path(&dir).join(format!("racer{i}")),
            repo::noise(64 * 1024, i as u64),
        )?;
        ctx.git_in(&dir, &["add", "-A"])?;
        ctx.git_in(&dir, &["commit", "-q", "-m", &format!("racer {i}")])?;
    }
    let ids: Vec<String> = (0..N)
        .map(|i| head(ctx, &format!("c{i}"), "HEAD"))
        .collect::<Result<_>>()?;
    let won = std::sync::Mutex::new(Vec::new());
    let racers: Vec<usize> = (0..N).collect();
    let errors = super::parallel(&racers, N, |_, &i| {
        let out = ctx.client().git(
            &ctx.path(&format!("c{i}")),
            &["push", "-q", "origin", "main"],
        )?;
        if out.status.success() {
            won.lock().unwrap_or_else(|e| e.into_inner()).push(i);
        }
        Ok(())
    });
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let won = won.into_inner().unwrap_or_default();
    ensure(won.len() == 1, || format!("pushes that succeeded: {won:?}"))?;
    ensure(
        ctx.server_ref("refs/heads/main")?.as_deref() == Some(&ids[won[0]]),
        || "main is not the winner's commit".into(),
    )?;
    // The settle checks run first so that every loser's child is gone.
    ctx.settle()?;
    let new: Vec<String> = pack_files(ctx)
        .into_iter()
        .filter(|p| !before.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    ensure(new.len() == 2, || {
        format!("objects/pack after one winning push: {new:?}")
    })
}
