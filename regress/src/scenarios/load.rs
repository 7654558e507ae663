//! `load`: 64 concurrent clones and 16 concurrent pushes (each to a branch
//! of its own) of one repository through sshd, all at once, twice. Every
//! connection succeeds (or is refused with a clear limit error, which
//! fails the scenario here since the limit admits them all), every pushed
//! ref holds its commit, fsck is clean, and gotd's RSS and fd count are
//! flat between the two rounds.

use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::{ensure, none, parallel, Body, Ctx, Scenario, Setup, StartMode};
use crate::repo::{self, RepoKind};
use crate::world::World;
use crate::{checks, procfs};

const CLONES: usize = 64;
const PUSHES: usize = 16;

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "load",
        about: "64 concurrent clones + 16 concurrent pushes, twice: all succeed, RSS and fds flat",
        skip_if: None,
        body: Body::Served {
            setup: Setup {
                repo: RepoKind::Standard,
                rules: super::write::permit_rw,
                global: limit,
                extra_repos: none,
                start: StartMode::Default,
            },
            run: load,
        },
    }]
}

/// A per-user limit that admits every client of a round.
fn limit(w: &World) -> Vec<String> {
    vec![format!(
        "connection limit user {} {}",
        w.devuser.name,
        CLONES + PUSHES + 8
    )]
}

/// One round: every clone and push at the same time. Returns the pushed
/// commit of each pusher.
fn round(ctx: &Ctx, r: usize) -> Result<Vec<String>> {
    let mut heads = Vec::new();
    for j in 0..PUSHES {
        let dir = format!("p{j}");
        let file = format!("round-{r}");
        std::fs::write(
            ctx.path(&dir).join(&file),
            format!("pusher {j} round {r}\n"),
        )?;
        ctx.git_in(&dir, &["add", &file])?;
        ctx.git_in(&dir, &["commit", "-q", "-m", &format!("round {r}")])?;
        heads.push(ctx.git_in(&dir, &["rev-parse", "HEAD"])?);
    }
    let jobs: Vec<usize> = (0..CLONES + PUSHES).collect();
    let url = ctx.url();
    let errors = parallel(&jobs, jobs.len(), |_, &i| {
        if i < CLONES {
            let dest = format!("r{r}-c{i}");
            ctx.client()
                .git_ok(&ctx.work, &["clone", "-q", &url, &dest])
                .with_context(|| format!("clone {i}"))?;
            let _ = std::fs::remove_dir_all(ctx.work.join(&dest));
        } else {
            let j = i - CLONES;
            ctx.git_in(
                &format!("p{j}"),
                &["push", "-q", "origin", &format!("HEAD:refs/heads/load-{j}")],
            )
            .with_context(|| format!("push {j}"))?;
        }
        Ok(())
    });
    if !errors.is_empty() {
        let n = errors.len();
        let first = errors.into_iter().next().expect("non-empty");
        bail!(
            "round {r}: {n} of {} connections failed; first: {first:#}",
            CLONES + PUSHES
        );
    }
    Ok(heads)
}

fn load(ctx: &mut Ctx) -> Result<()> {
    let pid = ctx.gotd.pid;
    let setup: Vec<usize> = (0..PUSHES).collect();
    let errors = parallel(&setup, 8, |_, &j| ctx.clone(&format!("p{j}"), &[]));
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("preparing the pushers' clones"));
    }
    let rss_start = procfs::rss_kib(pid).unwrap_or(0);
    let mut figures = Vec::new();
    let mut rss = Vec::new();
    for r in 0..2 {
        let started = Instant::now();
        let heads = round(ctx, r)?;
        let took = started.elapsed();
        ctx.settle().with_context(|| format!("after round {r}"))?;
        for (j, head) in heads.iter().enumerate() {
            let name = format!("refs/heads/load-{j}");
            ensure(ctx.server_ref(&name)?.as_deref() == Some(head), || {
                format!("round {r}: {name} does not hold pusher {j}'s commit")
            })?;
        }
        let fds = checks::stable_fd_count(pid, ctx.w.settings.settle_timeout)?;
        let kib = procfs::rss_kib(pid).unwrap_or(0);
        rss.push(kib);
        figures.push(format!(
            "round {r}: {:.1}s, RSS {kib} KiB, fds {fds}",
            took.as_secs_f64()
        ));
        ensure(fds == ctx.baseline_fds, || {
            format!(
                "round {r}: gotd has {fds} fds, baseline {}",
                ctx.baseline_fds
            )
        })?;
    }
    ctx.note(format!(
        "{CLONES} clones + {PUSHES} pushes at once; RSS at start {rss_start} KiB; {}",
        figures.join("; ")
    ));
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;
    let slack = ctx.w.settings.stress_rss_slack_kib;
    ensure(rss[1] <= rss[0] + slack, || {
        format!(
            "gotd RSS grew from {} KiB to {} KiB between rounds (allowed +{slack})",
            rss[0], rss[1]
        )
    })
}
