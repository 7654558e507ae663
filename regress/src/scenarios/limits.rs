//! Per-user connection limits (upstream connection_limit) and many clients
//! at once: parallel clones, ls-remotes and pushes to separate branches.

use std::time::Instant;

use anyhow::{Context, Result};

use super::{ensure, none, parallel, Body, Ctx, Scenario, Setup, StartMode};
use crate::repo::RepoKind;
use crate::{redact, snapshot};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "connection_limit",
            about: "a client beyond `connection limit user` is refused at once",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    rules: super::write::permit_rw,
                    global: |w| {
                        vec![format!(
                            "connection limit user {} {}",
                            w.devuser.name, w.settings.connection_limit
                        )]
                    },
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: connection_limit,
            },
        },
        Scenario {
            name: "concurrent_clients",
            about: "parallel clones, ls-remotes and pushes all succeed",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    rules: super::write::permit_rw,
                    global: |w| {
                        vec![format!(
                            "connection limit user {} {}",
                            w.devuser.name,
                            w.settings.concurrent_clients * 2 + 2
                        )]
                    },
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: concurrent_clients,
            },
        },
    ]
}

fn connection_limit(ctx: &mut Ctx) -> Result<()> {
    let limit = ctx.w.settings.connection_limit;
    let cmdline = format!("git-upload-pack {}", ctx.w.settings.repo_name);
    // Hold `limit` sessions open: each has received its advertisement.
    let mut held = Vec::new();
    for i in 0..limit {
        let mut s = ctx.client().ssh_open(&cmdline)?;
        let adv = s.read_at_least(4).with_context(|| format!("session {i}"))?;
        ensure(adv.len() >= 4, || {
            format!(
                "session {i} got no advertisement: {:?}",
                redact::visible(&adv)
            )
        })?;
        held.push(s);
    }
    // One more is refused.
    let out = ctx.client().ssh(&cmdline, b"")?;
    let mut lines = vec![String::from_utf8_lossy(&out.stderr).trim_end().to_string()];
    ensure(!out.status.success(), || {
        "the session beyond the limit was served".into()
    })?;
    let refused_stdout = redact::visible(&out.stdout);
    // Closing stdin ends the held sessions with "unexpected end of file".
    for s in held {
        let o = s.finish(ctx.t())?;
        lines.push(String::from_utf8_lossy(&o.stderr).trim_end().to_string());
    }
    lines.sort();
    snapshot::check(
        "connection_limit",
        &format!(
            "refused stdout: {refused_stdout}\nstderr:\n{}",
            redact::standard(&lines.join("\n"))
        ),
    )?;
    // Once the slots are free again a clone works.
    ctx.settle()?;
    ctx.clone("clone", &[]).context("clone after the limit")
}

fn concurrent_clients(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.w.settings.concurrent_clients.max(2);
    ctx.clone("base", &[])?;
    // Prepare one branch per pushing client.
    let pushers = n / 4 + 1;
    for i in 0..pushers {
        let dir = format!("push{i}");
        ctx.clone(&dir, &[])?;
        ctx.git_in(&dir, &["checkout", "-q", "-b", &format!("topic{i}")])?;
        super::write::commit_n(ctx, &dir, "alpha", 2, &format!("topic{i}"))?;
    }
    let jobs: Vec<usize> = (0..n + pushers).collect();
    let started = Instant::now();
    let url = ctx.url();
    let errors = parallel(&jobs, jobs.len(), |_, &j| {
        if j < pushers {
            let dir = format!("push{j}");
            ctx.git_in(&dir, &["push", "-q", "origin", &format!("topic{j}")])
                .map(|_| ())
        } else if j % 2 == 0 {
            ctx.git_in(".", &["clone", "-q", &url, &format!("c{j}")])
                .map(|_| ())
        } else {
            ctx.git_in("base", &["ls-remote", "origin"]).map(|_| ())
        }
    });
    ctx.note(format!(
        "{} clients in parallel took {:.1}s",
        jobs.len(),
        started.elapsed().as_secs_f64()
    ));
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    for i in 0..pushers {
        let want = ctx.git_in(&format!("push{i}"), &["rev-parse", "HEAD"])?;
        ensure(
            ctx.server_ref(&format!("refs/heads/topic{i}"))? == Some(want),
            || format!("topic{i} not on the server"),
        )?;
    }
    Ok(())
}
