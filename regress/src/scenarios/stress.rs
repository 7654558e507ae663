//! Hundreds of connections (clones, ls-remotes, refused requests) with
//! bounded concurrency: gotd's RSS and fd count must stay flat and no zombie
//! may remain.

use std::time::Instant;

use anyhow::{bail, Result};

use super::{ensure, parallel, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::{Client, Master};
use crate::repo::RepoKind;
use crate::world::World;
use crate::{checks, procfs};

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "stress",
        about: "500 mixed connections: RSS and fds flat, no zombies",
        skip_if: None,
        body: Body::Served {
            setup: Setup {
                repo: RepoKind::Standard,
                rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                global: limit_for_load,
                extra_repos: denied_repo,
                start: StartMode::Default,
            },
            run: stress,
        },
    }]
}

/// A connection limit that admits the configured concurrency.
pub fn limit_for_load(w: &World) -> Vec<String> {
    vec![format!(
        "connection limit user {} {}",
        w.devuser.name,
        (w.settings.stress_concurrency + 2).min(1024)
    )]
}

/// A second repository that denies the ssh user.
pub fn denied_repo(w: &World) -> Vec<(String, Vec<String>)> {
    vec![(
        "denied-repo".to_string(),
        vec![
            format!("permit ro {}", w.devuser.name),
            format!("deny {}", w.devuser.name),
        ],
    )]
}

/// One connection of the mix; `i` picks its kind.
pub fn connection(ctx: &Ctx, client: &Client, i: usize) -> Result<()> {
    let url = ctx.url();
    match i % 5 {
        0 => {
            let dest = format!("clone{i}");
            client.git_ok(&ctx.work, &["clone", "-q", &url, &dest])?;
            let _ = std::fs::remove_dir_all(ctx.work.join(&dest));
            Ok(())
        }
        1 => {
            let denied = client.url("denied-repo");
            let out = client.git(&ctx.work, &["ls-remote", &denied])?;
            ensure(!out.status.success(), || {
                "denied ls-remote succeeded".into()
            })
        }
        2 => {
            let missing = client.url("no-such-repo");
            let out = client.git(&ctx.work, &["ls-remote", &missing])?;
            ensure(!out.status.success(), || {
                "ls-remote of a missing repo succeeded".into()
            })
        }
        _ => {
            let out = client.git_ok(&ctx.work, &["ls-remote", &url])?;
            ensure(out.contains("refs/heads/main"), || {
                format!("ls-remote: {out:?}")
            })
        }
    }
}

/// A multiplexing client for many connections.
pub fn fast_client(ctx: &Ctx, tag: &str) -> Result<(Client, Master)> {
    let path = ctx.w.client.home.join(format!("cm-{tag}"));
    let master = Master::start(&ctx.w.client, path.clone())?;
    let client = Client {
        control_path: Some(path),
        ..ctx.w.client.clone()
    };
    Ok((client, master))
}

fn stress(ctx: &mut Ctx) -> Result<()> {
    let total = ctx.w.settings.stress_connections;
    let width = ctx.w.settings.stress_concurrency;
    let pid = ctx.gotd.pid;
    let (client, _master) = fast_client(ctx, "stress")?;
    let rss_start = procfs::rss_kib(pid).unwrap_or(0);

    let warm = (total / 10).max(1).min(total);
    let jobs: Vec<usize> = (0..total).collect();
    let started = Instant::now();
    let errors = parallel(&jobs[..warm], width, |_, &i| connection(ctx, &client, i));
    if let Some(e) = errors.into_iter().next() {
        return Err(e.context("warm-up"));
    }
    ctx.settle()?;
    let rss_warm = procfs::rss_kib(pid).unwrap_or(0);
    let fds_warm = checks::stable_fd_count(pid, ctx.w.settings.settle_timeout)?;

    let errors = parallel(&jobs[warm..], width, |_, &i| connection(ctx, &client, i));
    let elapsed = started.elapsed();
    let failures = errors.len();
    if let Some(e) = errors.into_iter().next() {
        bail!("{failures} of {total} connections failed; first: {e:#}");
    }
    ctx.settle()?;
    let rss_end = procfs::rss_kib(pid).unwrap_or(0);
    let fds_end = checks::stable_fd_count(pid, ctx.w.settings.settle_timeout)?;
    ctx.note(format!(
        "{total} connections ({width} at a time) in {:.1}s, {:.1}/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64().max(0.001)
    ));
    ctx.note(format!(
        "gotd RSS KiB: start {rss_start}, after {warm} {rss_warm}, end {rss_end}; fds: baseline {}, after warm-up {fds_warm}, end {fds_end}",
        ctx.baseline_fds
    ));
    let slack = ctx.w.settings.stress_rss_slack_kib;
    ensure(rss_end <= rss_warm + slack, || {
        format!("gotd RSS grew from {rss_warm} KiB to {rss_end} KiB (allowed +{slack})")
    })?;
    ensure(fds_end == ctx.baseline_fds, || {
        format!("gotd has {fds_end} fds, baseline {}", ctx.baseline_fds)
    })
}
