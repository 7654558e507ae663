//! Fault injection at random points, from a seeded generator (the seed is
//! printed; `GOTD_TEST_FAULT_SEED` replays a run):
//!
//! * `writer_kill_random`: 50 pushes, the repository writer SIGKILLed after
//!   a random delay in each; every ref is always old or new, fsck is clean
//!   and nothing temporary is left once the next push has cleaned up.
//! * `disconnect_random`: clients vanishing at random byte offsets of a
//!   clone's pack and of a push's pack; nothing changes in the repository
//!   and the daemon releases everything each time.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{ensure, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::pkt;
use crate::repo::{self, RepoKind};
use crate::{cmd, procfs};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "writer_kill_random",
            about: "50 pushes, the writer SIGKILLed at random points: refs old or new, fsck clean",
            skip_if: None,
            body: Body::Served {
                setup: super::STANDARD_RW,
                run: writer_kill_random,
            },
        },
        Scenario {
            name: "disconnect_random",
            about: "clients vanish at random byte offsets of clones and pushes: nothing changes",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Large,
                    rules: super::write::permit_rw,
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: disconnect_random,
            },
        },
    ]
}

/// A small deterministic generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The run's generator: `GOTD_TEST_FAULT_SEED`, else a fixed default.
    pub fn from_env(ctx: &mut Ctx, default: u64) -> Rng {
        let seed = std::env::var("GOTD_TEST_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        ctx.note(format!(
            "seed {seed} (GOTD_TEST_FAULT_SEED={seed} replays it)"
        ));
        Rng::new(seed)
    }

    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The live (non-zombie) children of the daemon: its repo children.
pub fn live_children(ctx: &Ctx) -> Vec<i32> {
    procfs::children(ctx.gotd.pid)
        .into_iter()
        .filter(|p| p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// SIGKILLs every live repo child; returns how many.
pub fn kill_children(ctx: &Ctx) -> usize {
    let pids = live_children(ctx);
    for p in &pids {
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
    pids.len()
}

/// Files below `objects/` and `refs/` that are temporary: quarantine
/// directories, lock files, temporary packs.
pub fn temporaries(repo: &std::path::Path) -> Vec<String> {
    repo::listing(repo)
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| {
            p.contains("incoming-")
                || p.ends_with(".lock")
                || p.contains("/tmp_")
                || p.contains("tmp-")
        })
        .collect()
}

/// Makes a commit in the client clone `dir` with a fresh file of `size`
/// noise bytes; returns its id.
pub fn commit_noise(ctx: &Ctx, dir: &str, i: u64, size: usize) -> Result<String> {
    let file = format!("chaos-{}", i % 3);
    std::fs::write(ctx.path(dir).join(&file), repo::noise(size, 1000 + i))?;
    ctx.git_in(dir, &["add", &file])?;
    ctx.git_in(dir, &["commit", "-q", "-m", &format!("chaos {i}")])?;
    ctx.git_in(dir, &["rev-parse", "HEAD"])
}

/// Starts `git push -f origin HEAD:<refname>` in the clone `dir`.
fn spawn_push(ctx: &Ctx, dir: &str, refname: &str) -> Result<std::process::Child> {
    let mut push = ctx.client().git_cmd(
        &ctx.path(dir),
        &["push", "-q", "-f", "origin", &format!("HEAD:{refname}")],
    );
    push.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    push.spawn().context("starting git push")
}

/// Waits for a push to end, at most the client timeout.
fn wait_push(ctx: &Ctx, child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    let deadline = Instant::now() + ctx.t();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("a push did not end within {}s", ctx.t().as_secs());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How long an undisturbed push of a 1 MiB commit takes, start to end.
fn push_duration(ctx: &Ctx, dir: &str, refname: &str) -> Result<Duration> {
    commit_noise(ctx, dir, 999, 1 << 20)?;
    let started = Instant::now();
    let mut child = spawn_push(ctx, dir, refname)?;
    let st = wait_push(ctx, &mut child)?;
    ensure(st.success(), || "the undisturbed push failed".into())?;
    Ok(started.elapsed())
}

fn writer_kill_random(ctx: &mut Ctx) -> Result<()> {
    const PUSHES: u64 = 50;
    let mut rng = Rng::from_env(ctx, 0x5eed_0001);
    ctx.clone("w", &[])?;
    let refname = "refs/heads/chaos";
    let took = push_duration(ctx, "w", refname)?;
    ctx.note(format!(
        "an undisturbed push of 1 MiB takes {:.0} ms",
        took.as_secs_f64() * 1000.0
    ));
    let (mut killed, mut completed, mut refused) = (0, 0, 0);
    for i in 0..PUSHES {
        let size = 64 * 1024 + rng.below(1024 * 1024) as usize;
        let new = commit_noise(ctx, "w", i, size)?;
        let old = ctx.server_ref(refname)?;
        // The kill lands at a random instant. Even pushes: up to 1.2
        // times an undisturbed push's duration after the start (before
        // the writer exists, while it works, or after the push is over).
        // Odd pushes: up to 150 ms after the writer appears (while it
        // reads, indexes, fsyncs, commits refs).
        let started = Instant::now();
        let mut child = spawn_push(ctx, "w", refname)?;
        let from = if i % 2 == 0 {
            started
        } else {
            while live_children(ctx).is_empty()
                && child.try_wait()?.is_none()
                && started.elapsed() < ctx.t()
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Instant::now()
        };
        let delay = if i % 2 == 0 {
            Duration::from_micros(rng.below(took.as_micros() as u64 * 6 / 5))
        } else {
            Duration::from_micros(rng.below(150_000))
        };
        while from.elapsed() < delay && child.try_wait()?.is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let kills = if child.try_wait()?.is_none() {
            kill_children(ctx)
        } else {
            0
        };
        let status = wait_push(ctx, &mut child).with_context(|| format!("push {i}"))?;
        let now = ctx.server_ref(refname)?;
        ensure(now == old || now.as_deref() == Some(new.as_str()), || {
            format!("push {i}: {refname} is {now:?}, neither old {old:?} nor new {new}")
        })?;
        if status.success() {
            ensure(now.as_deref() == Some(new.as_str()), || {
                format!("push {i} succeeded but {refname} is {now:?}")
            })?;
            completed += 1;
        } else if kills > 0 {
            killed += 1;
        } else {
            refused += 1;
        }
        ctx.settle().with_context(|| format!("after push {i}"))?;
    }
    ctx.note(format!(
        "{PUSHES} pushes: {completed} completed, {killed} writers killed, {refused} failed otherwise"
    ));
    // How many pushes a kill hits depends on the machine's speed; a few
    // suffice to show kills land while writers run.
    ensure(killed >= 3 && completed >= 1, || {
        format!("{killed} of {PUSHES} pushes were hit by a kill and {completed} completed: the kill points are not spread")
    })?;
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;
    // The next push cleans up after the killed writers.
    let new = commit_noise(ctx, "w", PUSHES, 1024)?;
    let left = temporaries(&ctx.repo);
    ctx.git_in(
        "w",
        &["push", "-q", "-f", "origin", &format!("HEAD:{refname}")],
    )
    .with_context(|| format!("push after the killed writers (temporary files: {left:?})"))?;
    ensure(ctx.server_ref(refname)?.as_deref() == Some(&new), || {
        "the final push did not update the ref".into()
    })?;
    let left = temporaries(&ctx.repo);
    ensure(left.is_empty(), || {
        format!("temporary files left after the next push: {left:?}")
    })
}

fn disconnect_random(ctx: &mut Ctx) -> Result<()> {
    const ROUNDS: u64 = 10;
    let mut rng = Rng::from_env(ctx, 0x5eed_0002);
    let refs_before = repo::refs(&ctx.repo, ctx.t())?;
    let files_before = repo::listing(&ctx.repo);
    let main = ctx.server_ref("refs/heads/main")?.context("no main")?;

    // Clones: read a random number of bytes of the pack, then vanish.
    let cmdline = format!("git-upload-pack '{}'", ctx.w.settings.repo_name);
    for i in 0..ROUNDS {
        let offset = rng.below(8 << 20) as usize;
        let mut s = ctx.client().ssh_open(&cmdline)?;
        s.read_advertisement()?;
        s.send(pkt(&format!("want {main} side-band-64k ofs-delta\n")).as_bytes())?;
        s.send(b"0000")?;
        s.send(pkt("done\n").as_bytes())?;
        s.read_at_least(offset)
            .with_context(|| format!("clone {i}: reading {offset} bytes"))?;
        s.kill();
        ctx.settle()
            .with_context(|| format!("after clone {i} cut at byte {offset}"))?;
    }

    // Pushes: send a random prefix of the pack, then vanish.
    ctx.clone("p", &[])?;
    let new = commit_noise(ctx, "p", 0, 2 << 20)?;
    let mut pack_objects = ctx.client().git_cmd(
        &ctx.path("p"),
        &["pack-objects", "--stdout", "--revs", "-q"],
    );
    let pack = cmd::run_ok(&mut pack_objects, Some(b"HEAD\n^origin/main\n"), ctx.t())?.stdout;
    let zero = "0".repeat(40);
    let cmdline = format!("git-receive-pack '{}'", ctx.w.settings.repo_name);
    let mut cuts = Vec::new();
    for i in 0..ROUNDS {
        // Offsets inside the command list too, not only the pack.
        let commands = format!(
            "{}0000",
            pkt(&format!(
                "{zero} {new} refs/heads/cut\0report-status ofs-delta"
            ))
        );
        let mut input = commands.into_bytes();
        input.extend_from_slice(&pack);
        let cut = rng.below(input.len() as u64) as usize;
        cuts.push(cut);
        let mut s = ctx.client().ssh_open(&cmdline)?;
        s.read_advertisement()?;
        s.send(&input[..cut])?;
        s.kill();
        ctx.settle()
            .with_context(|| format!("after push {i} cut at byte {cut} of {}", input.len()))?;
    }
    ctx.note(format!("push cuts (bytes of {}): {cuts:?}", pack.len()));
    ensure(repo::refs(&ctx.repo, ctx.t())? == refs_before, || {
        "a cut push changed the refs".into()
    })?;
    let stray: Vec<String> = repo::listing(&ctx.repo)
        .iter()
        .filter(|p| !files_before.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    ensure(stray.is_empty(), || {
        format!("cut pushes left files behind: {stray:?}")
    })?;
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;
    ctx.git_in("p", &["push", "-q", "origin", "HEAD:refs/heads/cut"])
        .context("the push, uncut")?;
    ensure(
        ctx.server_ref("refs/heads/cut")?.as_deref() == Some(&new),
        || "the uncut push did not create the ref".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_temporary_files() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "objects/incoming-uid1-2-0/lock",
            "refs/heads/main.lock",
            "objects/pack/tmp_pack_abc",
            "objects/pack/pack-1.pack",
            "refs/heads/main",
        ] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let t = temporaries(d.path());
        assert_eq!(
            t,
            vec![
                "objects/incoming-uid1-2-0",
                "objects/incoming-uid1-2-0/lock",
                "objects/pack/tmp_pack_abc",
                "refs/heads/main.lock"
            ]
        );
    }

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let va: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let vb: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(va, vb);
        assert!(va.iter().all(|&v| v < 10));
        // Not constant.
        assert!(va.iter().any(|&v| v != va[0]));
        assert_ne!(Rng::new(8).next_u64(), Rng::new(7).next_u64());
    }
}
