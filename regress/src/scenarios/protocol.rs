//! Git protocol v2 over ssh (GIT_PROTOCOL passed through sshd's AcceptEnv):
//! clone, ls-remote with ref prefixes, and an incremental fetch.

use anyhow::{Context, Result};

use super::{ensure, ensure_contains, fsck_clone, Body, Ctx, Scenario};
use crate::cmd;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "protocol_v1",
            about: "clone and fetch with GIT_PROTOCOL=version=1",
            skip_if: None,
            body: Body::Served {
                setup: super::STANDARD_RW,
                run: protocol_v1,
            },
        },
        Scenario {
            name: "protocol_v2",
            about: "clone, ls-remote and fetch with git protocol version 2",
            skip_if: None,
            body: Body::Served {
                setup: super::STANDARD_RW,
                run: protocol_v2,
            },
        },
    ]
}

fn protocol_v1(ctx: &mut Ctx) -> Result<()> {
    let url = ctx.url();
    let mut c = ctx.client().git_cmd(
        &ctx.work,
        &["-c", "protocol.version=1", "clone", "-q", &url, "a"],
    );
    c.env("GIT_TRACE_PACKET", "1");
    let out = cmd::run(&mut c, None, ctx.t())?;
    let trace = cmd::stderr_text(&out);
    ensure(out.status.success(), || {
        let tail: Vec<&str> = trace.lines().rev().take(6).collect();
        format!("v1 clone: {}", tail.join(" | "))
    })?;
    // A version 1 server says so before its advertisement.
    ensure_contains(&trace, "< version 1")?;
    fsck_clone(ctx, "a")
}

const V2: [&str; 2] = ["-c", "protocol.version=2"];

/// Runs git with protocol v2 and packet tracing; returns (stdout, trace).
fn git_v2(ctx: &Ctx, dir: &str, args: &[&str]) -> Result<(String, String)> {
    let mut all: Vec<&str> = V2.to_vec();
    all.extend_from_slice(args);
    let mut c = ctx.client().git_cmd(&ctx.path(dir), &all);
    c.env("GIT_TRACE_PACKET", "1");
    let out = cmd::run(&mut c, None, ctx.t())?;
    let trace = cmd::stderr_text(&out);
    ensure(out.status.success(), || {
        let tail: Vec<&str> = trace.lines().rev().take(6).collect();
        format!("git {}: {}", args.join(" "), tail.join(" | "))
    })?;
    Ok((cmd::stdout_text(&out), trace))
}

fn spoke_v2(trace: &str, what: &str) -> Result<()> {
    ensure(trace.contains("< version 2"), || {
        format!("{what}: the server did not answer with protocol version 2")
    })
}

fn protocol_v2(ctx: &mut Ctx) -> Result<()> {
    let url = ctx.url();
    let (_, trace) = git_v2(ctx, ".", &["clone", "-q", &url, "a"]).context("v2 clone")?;
    spoke_v2(&trace, "clone")?;
    ensure_contains(&trace, "> command=ls-refs")?;
    ensure_contains(&trace, "> command=fetch")?;
    fsck_clone(ctx, "a")?;
    let files = super::tree_files(&ctx.path("a"));
    ensure(files == super::read::standard_files(), || {
        format!("cloned tree: {files:?}")
    })?;

    // Push a branch and a tag (pushes are v0), then list with prefixes.
    ctx.git_in("a", &["branch", "topic"])?;
    ctx.git_in("a", &["tag", "-a", "-m", "v1", "v1"])?;
    ctx.git_in("a", &["push", "-q", "origin", "topic", "refs/tags/v1"])?;
    let (heads, trace) = git_v2(ctx, "a", &["ls-remote", "--heads", "origin"])?;
    spoke_v2(&trace, "ls-remote")?;
    ensure_contains(&trace, "ref-prefix refs/heads/")?;
    ensure(
        heads.lines().count() == 2 && heads.contains("refs/heads/topic"),
        || format!("ls-remote --heads: {heads:?}"),
    )?;
    ensure(!heads.contains("refs/tags/"), || {
        format!("ref-prefix not honoured: {heads:?}")
    })?;
    let (tags, _) = git_v2(ctx, "a", &["ls-remote", "--tags", "origin"])?;
    ensure(tags.contains("refs/tags/v1^{}"), || {
        format!("peeled tag missing: {tags:?}")
    })?;

    // An incremental fetch negotiates with haves.
    ctx.clone("b", &[])?;
    super::write::commit_n(ctx, "b", "beta", 3, "v2 fetch")?;
    ctx.git_in("b", &["push", "-q", "origin", "main"])?;
    let (_, trace) = git_v2(ctx, "a", &["fetch", "origin"]).context("v2 fetch")?;
    spoke_v2(&trace, "fetch")?;
    ensure_contains(&trace, "> have ")?;
    let fetched = ctx.git_in("a", &["rev-parse", "origin/main"])?;
    let pushed = ctx.git_in("b", &["rev-parse", "main"])?;
    ensure(fetched == pushed, || {
        "v2 fetch did not get the new tip".into()
    })?;
    fsck_clone(ctx, "a")
}
