//! Faults on the client side: a fetch and a push killed mid-transfer, and a
//! client that goes silent. gotd must release everything, the repository must
//! stay intact (refs old or new, no stray files, fsck clean) and the next
//! client must be served.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{ensure, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::pkt;
use crate::repo::{self, RepoKind};
use crate::{cmd, redact};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "fetch_killed",
            about: "a client killed while a large pack is sent is cleaned up",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Large,
                    rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: fetch_killed,
            },
        },
        Scenario {
            name: "push_killed",
            about: "a push killed mid-pack leaves refs and objects/pack untouched",
            skip_if: None,
            body: Body::Served {
                setup: super::STANDARD_RW,
                run: push_killed,
            },
        },
        Scenario {
            name: "writer_killed",
            about:
                "the repository writer killed mid-push: refs intact, fsck clean, next push works",
            skip_if: None,
            body: Body::Served {
                setup: super::STANDARD_RW,
                run: writer_killed,
            },
        },
        Scenario {
            name: "request_timeout",
            about: "an idle client is disconnected after `connection request timeout`",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                    global: |_| vec!["connection request timeout 2s".into()],
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: request_timeout,
            },
        },
    ]
}

/// The id advertised for `name` in advertisement payloads.
fn advertised(adv: &[Vec<u8>], name: &str) -> Option<String> {
    adv.iter().find_map(|p| {
        let line = String::from_utf8_lossy(p);
        let line = line.split('\0').next().unwrap_or("").trim_end().to_string();
        let (id, n) = line.split_once(' ')?;
        (n == name).then(|| id.to_string())
    })
}

fn fetch_killed(ctx: &mut Ctx) -> Result<()> {
    let cmdline = format!("git-upload-pack '{}'", ctx.w.settings.repo_name);
    let mut s = ctx.client().ssh_open(&cmdline)?;
    let adv = s.read_advertisement()?;
    let main = advertised(&adv, "refs/heads/main").context("main not advertised")?;
    s.send(pkt(&format!("want {main} side-band-64k ofs-delta\n")).as_bytes())?;
    s.send(b"0000")?;
    s.send(pkt("done\n").as_bytes())?;
    // Read part of the pack, then vanish while the server is writing.
    let got = s.read_at_least(256 * 1024)?;
    ensure(got.len() >= 256 * 1024, || {
        format!(
            "the pack ended after {} bytes: {}",
            got.len(),
            redact::visible(&got[..got.len().min(200)])
        )
    })?;
    s.kill();
    ctx.settle().context("after the killed fetch")?;
    ctx.clone("clone", &[])
        .context("clone after the killed fetch")
}

fn push_killed(ctx: &mut Ctx) -> Result<()> {
    let (new, pack) = big_commit(ctx, "a")?;
    let refs_before = repo::refs(&ctx.repo, ctx.t())?;
    let files_before = repo::listing(&ctx.repo.join("objects"));
    let cmdline = format!("git-receive-pack '{}'", ctx.w.settings.repo_name);
    let mut s = ctx.client().ssh_open(&cmdline)?;
    s.read_advertisement()?;
    let zero = "0".repeat(40);
    s.send(
        pkt(&format!(
            "{zero} {new} refs/heads/killed\0 report-status ofs-delta"
        ))
        .as_bytes(),
    )?;
    s.send(b"0000")?;
    s.send(&pack[..pack.len() / 2])?;
    s.kill();
    ctx.settle().context("after the killed push")?;
    ensure(repo::refs(&ctx.repo, ctx.t())? == refs_before, || {
        "a killed push changed the refs".into()
    })?;
    let files_after = repo::listing(&ctx.repo.join("objects"));
    let stray: Vec<String> = files_after
        .iter()
        .filter(|p| !files_before.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    ensure(stray.is_empty(), || {
        format!("a killed push left files behind: {stray:?}")
    })?;
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;
    // The same push, completed, goes through.
    ctx.git_in("a", &["push", "-q", "origin", "HEAD:refs/heads/killed"])?;
    ensure(
        ctx.server_ref("refs/heads/killed")?.as_deref() == Some(&new),
        || "the repeated push did not create the ref".into(),
    )
}

/// A clone with one new commit holding a 4 MiB blob; returns the commit
/// and a pack with it (what `git push` would send).
fn big_commit(ctx: &Ctx, dir: &str) -> Result<(String, Vec<u8>)> {
    ctx.clone(dir, &[])?;
    std::fs::write(ctx.path(dir).join("big"), repo::noise(4 * 1024 * 1024, 11))?;
    ctx.git_in(dir, &["add", "big"])?;
    ctx.git_in(dir, &["commit", "-q", "-m", "a big file"])?;
    let new = ctx.git_in(dir, &["rev-parse", "HEAD"])?;
    let mut pack_objects = ctx.client().git_cmd(
        &ctx.path(dir),
        &["pack-objects", "--stdout", "--revs", "-q"],
    );
    let pack = cmd::run_ok(&mut pack_objects, Some(b"HEAD\n^origin/main\n"), ctx.t())?.stdout;
    ensure(pack.starts_with(b"PACK"), || {
        "git pack-objects made no pack".into()
    })?;
    Ok((new, pack))
}

fn writer_killed(ctx: &mut Ctx) -> Result<()> {
    let (new, pack) = big_commit(ctx, "a")?;
    let refs_before = repo::refs(&ctx.repo, ctx.t())?;
    let files_before = repo::listing(&ctx.repo.join("objects"));
    let cmdline = format!("git-receive-pack '{}'", ctx.w.settings.repo_name);
    let mut s = ctx.client().ssh_open(&cmdline)?;
    s.read_advertisement()?;
    let zero = "0".repeat(40);
    s.send(
        pkt(&format!(
            "{zero} {new} refs/heads/killed\0 report-status ofs-delta"
        ))
        .as_bytes(),
    )?;
    s.send(b"0000")?;
    s.send(&pack[..pack.len() / 2])?;
    // The writer is the daemon's live child now; kill it mid-pack.
    let writers: Vec<i32> = crate::procfs::children(ctx.gotd.pid)
        .into_iter()
        .filter(|p| p.state != 'Z')
        .map(|p| p.pid)
        .collect();
    ensure(!writers.is_empty(), || {
        "no repository child during the push".into()
    })?;
    for pid in &writers {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let out = s
        .finish(ctx.t())
        .context("the client after the writer died")?;
    ensure(!out.status.success(), || "the push reported success".into())?;
    ctx.settle().context("after the killed writer")?;
    ensure(repo::refs(&ctx.repo, ctx.t())? == refs_before, || {
        "a killed writer changed the refs".into()
    })?;
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;
    let stray: Vec<String> = repo::listing(&ctx.repo.join("objects"))
        .iter()
        .filter(|p| !files_before.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    if !stray.is_empty() {
        ctx.note(format!(
            "temporary files left by the killed writer: {}",
            stray.len()
        ));
    }
    ctx.git_in("a", &["push", "-q", "origin", "HEAD:refs/heads/killed"])
        .context("push after the killed writer")?;
    ensure(
        ctx.server_ref("refs/heads/killed")?.as_deref() == Some(&new),
        || "the repeated push did not create the ref".into(),
    )?;
    // The next writer removes what the killed one left behind.
    let objects = ctx.repo.join("objects");
    let left: Vec<&String> = stray.iter().filter(|p| objects.join(p).exists()).collect();
    ensure(left.is_empty(), || {
        format!("the next push did not remove the killed writer's files: {left:?}")
    })
}

fn request_timeout(ctx: &mut Ctx) -> Result<()> {
    let cmdline = format!("git-upload-pack '{}'", ctx.w.settings.repo_name);
    let mut s = ctx.client().ssh_open(&cmdline)?;
    s.read_advertisement()?;
    let waited = s.wait_closed(Duration::from_secs(30))?;
    ctx.note(format!(
        "idle session closed after {:.1}s (timeout 2s)",
        waited.as_secs_f64()
    ));
    ensure(waited >= Duration::from_millis(1500), || {
        format!("closed after only {:.1}s", waited.as_secs_f64())
    })?;
    ctx.settle()?;
    ctx.clone("clone", &[]).context("clone after the timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_advertised_refs() {
        let adv = vec![
            format!(
                "{} HEAD\0 agent=x symref=HEAD:refs/heads/main\n",
                "1".repeat(40)
            )
            .into_bytes(),
            format!("{} refs/heads/main\n", "2".repeat(40)).into_bytes(),
        ];
        assert_eq!(advertised(&adv, "HEAD"), Some("1".repeat(40)));
        assert_eq!(advertised(&adv, "refs/heads/main"), Some("2".repeat(40)));
        assert_eq!(advertised(&adv, "refs/heads/x"), None);
    }
}
