//! Push scenarios: `git push --receive-pack=<server> file://…` from the
//! benchmark repository, with `gotd-receive-pack-stdio` or `git
//! receive-pack` as the server. A full push of main into an empty bare
//! repository, and an incremental push of the newest commits into a
//! repository that has the rest.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{check_fsck, copy_dir, git_ok, git_out, Ctx, Sample, Server, Service};

/// An empty bare repository at `dst` (replacing what was there).
fn empty_bare(dst: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dst);
    let parent = dst.parent().context("repository path has no parent")?;
    git_ok(
        parent,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            dst.to_str().context("utf-8 path")?,
        ],
    )
}

/// Pushes main into `dst` through `server`; checks the result.
fn push_into(ctx: &Ctx<'_>, server: Server, name: &str, dst: &Path) -> Result<Sample> {
    let url = format!("file://{}", dst.display());
    let s = ctx.measure(Service::Receive, server, name, |rp| {
        let mut c = ctx.git();
        c.current_dir(ctx.repo).args([
            "push",
            "-q",
            "--receive-pack",
            rp,
            &url,
            "refs/heads/main:refs/heads/main",
        ]);
        c
    })?;
    let want = git_out(ctx.repo, &["rev-parse", "refs/heads/main"])?;
    let got = git_out(dst, &["rev-parse", "refs/heads/main"])?;
    if want != got {
        bail!(
            "{name}: main is {} after the push, not {}",
            got.trim(),
            want.trim()
        );
    }
    if server == Server::Ours {
        check_fsck(dst).context(name.to_string())?;
    }
    Ok(s)
}

/// Full push of main into an empty bare repository.
pub(super) fn full(ctx: &Ctx<'_>, server: Server) -> Result<Sample> {
    let dst = ctx.work.join("push.git");
    empty_bare(&dst)?;
    let s = push_into(ctx, server, "push", &dst);
    let _ = std::fs::remove_dir_all(&dst);
    s
}

/// A bare repository holding main~`behind` as main, the starting point of
/// every incremental push.
pub(super) fn incremental_template(ctx: &Ctx<'_>, behind: usize) -> Result<PathBuf> {
    let t = ctx.work.join("push-template.git");
    empty_bare(&t)?;
    git_ok(
        ctx.repo,
        &[
            "push",
            "-q",
            t.to_str().context("utf-8 path")?,
            &format!("refs/heads/main~{behind}:refs/heads/main"),
        ],
    )?;
    Ok(t)
}

/// Push of the newest commits into a copy of `template`.
pub(super) fn incremental(ctx: &Ctx<'_>, server: Server, template: &Path) -> Result<Sample> {
    let dst = ctx.work.join("push-inc.git");
    let _ = std::fs::remove_dir_all(&dst);
    copy_dir(template, &dst)?;
    let s = push_into(ctx, server, "push-incremental", &dst);
    let _ = std::fs::remove_dir_all(&dst);
    s
}
