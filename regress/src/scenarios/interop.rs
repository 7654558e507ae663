//! Interoperability with git's own behaviour: large blobs (upstream
//! large_files) and multi-round negotiation with many haves (upstream
//! test_git_interop).

use anyhow::{Context, Result};

use super::{ensure, fsck_clone, none, tree_files, Body, Ctx, Scenario, Setup, StartMode};
use crate::cmd;
use crate::repo::{self, RepoKind};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "large_files",
            about: "clone of a repository with 16 MiB blobs",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Large,
                    rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: large_files,
            },
        },
        Scenario {
            name: "git_interop",
            about: "git fetch with more than 16 haves (multi-round negotiation)",
            skip_if: None,
            body: Body::Served {
                setup: super::STANDARD_RW,
                run: git_interop,
            },
        },
    ]
}

fn large_files(ctx: &mut Ctx) -> Result<()> {
    ctx.clone("clone", &[]).context("git clone")?;
    fsck_clone(ctx, "clone")?;
    let mut want = super::read::standard_files();
    want.extend(["large_file1", "large_file2", "large_file3"].map(String::from));
    want.sort();
    let files = tree_files(&ctx.path("clone"));
    ensure(files == want, || format!("cloned tree: {files:?}"))?;
    for (name, bytes) in repo::large_blobs(ctx.w.settings.large_file_mib) {
        let got = std::fs::read(ctx.path("clone").join(name))?;
        ensure(got == bytes, || format!("{name} differs after clone"))?;
    }
    Ok(())
}

fn git_interop(ctx: &mut Ctx) -> Result<()> {
    ctx.clone("a", &[])?;
    ctx.git_in("a", &["branch", "newbranch"])?;
    // 24 local-only commits: git will send them as haves first.
    super::write::commit_n(ctx, "a", "alpha", 24, "local")?;
    ctx.clone("b", &[])?;
    super::write::commit_n(ctx, "b", "beta", 2, "remote")?;
    ctx.git_in("b", &["push", "-q", "origin", "main"])?;
    let mut fetch = ctx.client().git_cmd(&ctx.path("a"), &["fetch", "origin"]);
    fetch.env("GIT_TRACE_PACKET", "1");
    let out = cmd::run(&mut fetch, None, ctx.t()).context("git fetch")?;
    let trace = String::from_utf8_lossy(&out.stderr);
    ensure(out.status.success(), || {
        let tail: Vec<&str> = trace.lines().rev().take(6).collect();
        format!("git fetch failed: {}", tail.join(" | "))
    })?;
    let haves = trace.lines().filter(|l| l.contains("> have ")).count();
    ensure(haves > 16, || format!("git sent only {haves} haves"))?;
    ctx.note(format!("git sent {haves} haves"));
    let fetched = ctx.git_in("a", &["rev-parse", "origin/main"])?;
    let pushed = ctx.git_in("b", &["rev-parse", "main"])?;
    ensure(fetched == pushed, || {
        "origin/main after fetch is not the pushed tip".into()
    })?;
    fsck_clone(ctx, "a")
}
