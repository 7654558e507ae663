//! Read access: clones by permitted users and groups, and the refusals for
//! denied users/groups and users no rule mentions (upstream repo_read*).

use anyhow::{Context, Result};

use super::{ensure, fsck_clone, none, tree_files, Body, Ctx, Scenario, Setup, StartMode};
use crate::repo::{self, RepoKind};
use crate::world::World;
use crate::{redact, snapshot};

fn served(
    name: &'static str,
    about: &'static str,
    rules: fn(&World) -> Vec<String>,
    run: fn(&mut Ctx) -> Result<()>,
) -> Scenario {
    Scenario {
        name,
        about,
        skip_if: None,
        body: Body::Served {
            setup: Setup {
                repo: RepoKind::Standard,
                rules,
                global: none,
                extra_repos: none,
                start: StartMode::Default,
            },
            run,
        },
    }
}

fn permit_ro_user(w: &World) -> Vec<String> {
    vec![format!("permit ro {}", w.devuser.name)]
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "repo_read_repacked",
            about: "clone of a gc-ed repository gets its stored pack unchanged; push, then fetch from it",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Repacked,
                    rules: super::write::permit_rw,
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: read_repacked,
            },
        },
        served(
            "repo_read",
            "git clone of a read-only repository; push refused",
            permit_ro_user,
            read_ok,
        ),
        Scenario {
            name: "repo_read_got",
            about: "got clone of a read-only repository",
            skip_if: Some(|_| {
                which("got")
                    .is_none()
                    .then(|| "got is not installed (no `got` in PATH)".to_string())
            }),
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    rules: permit_ro_user,
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: got_clone,
            },
        },
        served(
            "repo_read_group",
            "git clone permitted through the user's group",
            |w| vec![format!("permit ro :{}", w.devuser.name)],
            read_ok,
        ),
        served(
            "repo_read_denied_user",
            "deny of the user after a permit: Permission denied",
            |w| {
                vec![
                    format!("permit ro {}", w.devuser.name),
                    format!("deny {}", w.devuser.name),
                ]
            },
            |c| read_refused(c, "repo_read_denied"),
        ),
        served(
            "repo_read_denied_group",
            "deny of the user's group after a permit: Permission denied",
            |w| {
                vec![
                    format!("permit ro {}", w.devuser.name),
                    format!("deny :{}", w.devuser.name),
                ]
            },
            |c| read_refused(c, "repo_read_denied"),
        ),
        served(
            "repo_read_bad_user",
            "only another user permitted: no git repository found",
            |w| vec![format!("permit ro {}", w.gotd_user.name)],
            |c| read_refused(c, "repo_read_not_found"),
        ),
        served(
            "repo_read_bad_group",
            "only a group the user is not in permitted: no git repository found",
            |w| vec![format!("permit ro :{}", w.settings.foreign_group)],
            |c| read_refused(c, "repo_read_not_found"),
        ),
    ]
}

/// Finds `prog` in PATH.
pub fn which(prog: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(prog))
            .find(|c| c.is_file())
    })
}

/// The standard tree's files as listed by [`tree_files`].
pub fn standard_files() -> Vec<String> {
    let mut v: Vec<String> = vec![
        "alpha".into(),
        "beta".into(),
        "epsilon".into(),
        "epsilon/zeta".into(),
        "gamma".into(),
        "gamma/delta".into(),
    ];
    v.sort();
    v
}

fn read_ok(ctx: &mut Ctx) -> Result<()> {
    let before = repo::listing(&ctx.repo);
    let refs_before = repo::refs(&ctx.repo, ctx.t())?;
    ctx.clone("clone", &[]).context("git clone")?;
    fsck_clone(ctx, "clone")?;
    let files = tree_files(&ctx.path("clone"));
    ensure(files == standard_files(), || {
        format!("cloned tree: {files:?}")
    })?;
    // HEAD is advertised as a symref: the clone checks out main.
    let head = ctx.git_in("clone", &["symbolic-ref", "HEAD"])?;
    ensure(head == "refs/heads/main", || format!("clone HEAD: {head}"))?;
    let alpha = std::fs::read_to_string(ctx.path("clone/alpha"))?;
    ensure(alpha == "alpha\n", || format!("alpha: {alpha:?}"))?;
    // Reading changed nothing on the server.
    ensure(
        repo::listing(&ctx.repo) == before && repo::refs(&ctx.repo, ctx.t())? == refs_before,
        || "the server repository changed during a clone".into(),
    )?;
    // Pushing to a read-only repository is refused with the config name.
    std::fs::write(ctx.path("clone/alpha"), "modified alpha\n")?;
    ctx.git_in("clone", &["commit", "-q", "-a", "-m", "modified alpha"])?;
    let err = ctx.git_fails_in("clone", &["push", "origin", "main"])?;
    redact::gotsh_lines_agree(&err).map_err(anyhow::Error::msg)?;
    snapshot::check("repo_read_push_denied", &redact::error_lines(&err))?;
    ensure(repo::refs(&ctx.repo, ctx.t())? == refs_before, || {
        "a refused push changed the server's refs".into()
    })
}

fn read_refused(ctx: &mut Ctx, snap: &str) -> Result<()> {
    let err = ctx.git_fails_in(".", &["clone", "-q", &ctx.url(), "clone"])?;
    ensure(!ctx.path("clone/.git").exists(), || {
        "a refused clone left a repository behind".into()
    })?;
    redact::gotsh_lines_agree(&err).map_err(anyhow::Error::msg)?;
    snapshot::check(snap, &redact::error_lines(&err))
}

fn got_clone(ctx: &mut Ctx) -> Result<()> {
    let url = ctx.url();
    super::run_as_test_user(ctx, "got", &["clone", "-q", &url, "clone.git"])?;
    ctx.git_in("clone.git", &["fsck", "--strict", "--no-progress"])?;
    let tree = super::run_as_test_user(ctx, "got", &["tree", "-r", "clone.git", "-R"])?;
    for f in ["alpha", "beta", "epsilon/zeta", "gamma/delta"] {
        super::ensure_contains(&tree, f)?;
    }
    Ok(())
}

/// Names of the pack files in `objects/pack` of the git directory `dir`.
fn pack_names(dir: &std::path::Path) -> Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("objects/pack"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pack"))
        .collect();
    v.sort();
    Ok(v)
}

fn read_repacked(ctx: &mut Ctx) -> Result<()> {
    let stored = pack_names(&ctx.repo)?;
    ensure(stored.len() == 1, || format!("server packs: {stored:?}"))?;
    // A clone of everything: the client indexes the very pack the server
    // stores (a pack's name is its checksum).
    ctx.clone("a", &[])
        .context("clone of the repacked repository")?;
    fsck_clone(ctx, "a")?;
    let got = pack_names(&ctx.path("a/.git"))?;
    ensure(got == stored, || {
        format!("clone received {got:?}, the server stores {stored:?}")
    })?;
    ctx.note(format!("the clone received the stored {}", stored[0]));
    let tag = ctx.git_in("a", &["cat-file", "-t", "v1.0"])?;
    ensure(tag == "tag", || format!("v1.0 is a {tag}"))?;
    // A second clone falls behind; the first pushes (a second pack on the
    // server), and the second fetches: a thin pack against its objects.
    ctx.clone("b", &[]).context("second clone")?;
    super::write::commit_n(ctx, "a", "alpha", 3, "after the repack")?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    ctx.git_in("b", &["fetch", "-q", "origin"])?;
    fsck_clone(ctx, "b")?;
    let want = ctx.git_in("a", &["rev-parse", "main"])?;
    let have = ctx.git_in("b", &["rev-parse", "origin/main"])?;
    ensure(want == have, || format!("fetched {have}, pushed {want}"))?;
    // A fresh clone now spans two packs and still passes fsck.
    ctx.clone("c", &[]).context("clone of two packs")?;
    fsck_clone(ctx, "c")
}
