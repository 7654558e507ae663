//! Slow clients: a client that sends nothing (over ssh, or straight to
//! gotd's socket without a request) and one that trickles its request one
//! byte per second are dropped at the configured request timeout, while
//! other clients are served normally in the meantime.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{ensure, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::pkt;
use crate::repo::RepoKind;

/// `connection request timeout` of the scenario, in seconds.
const TIMEOUT_SECS: u64 = 3;
/// How long past the timeout a slow client may stay connected (the
/// daemon's activity reports are coarse, about a second).
const SLACK: Duration = Duration::from_secs(4);
/// gotd's fixed deadline for the request frame on its socket (before any
/// git client is involved), used instead of a shorter request timeout.
const FIRST_REQUEST_SECS: u64 = 10;

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "slow_clients",
        about:
            "silent and trickling clients are dropped at the timeout; others are served meanwhile",
        skip_if: None,
        body: Body::Served {
            setup: Setup {
                repo: RepoKind::Standard,
                rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                global: |w| {
                    vec![
                        format!("connection request timeout {TIMEOUT_SECS}s"),
                        format!("connection limit user {} 16", w.devuser.name),
                    ]
                },
                extra_repos: super::none,
                start: StartMode::Default,
            },
            run: slow_clients,
        },
    }]
}

/// An ssh session whose output is drained by a thread that reports the
/// end of the output; the session is killed when dropped.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    start: Instant,
    closed: Receiver<Instant>,
}

impl Session {
    fn open(ctx: &Ctx, cmdline: &str) -> Result<Session> {
        let mut c = ctx.client().ssh_cmd(cmdline);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().context("starting ssh")?;
        let stdin = child.stdin.take();
        let closed = drain(child.stdout.take().context("ssh stdout")?);
        Ok(Session {
            child,
            stdin,
            start: Instant::now(),
            closed,
        })
    }

    /// Sends bytes; a closed session is not an error here.
    fn send(&mut self, b: &[u8]) {
        if let Some(i) = self.stdin.as_mut() {
            let _ = i.write_all(b).and_then(|_| i.flush());
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `r` to its end in a thread; the receiver hears when it ended.
fn drain(mut r: impl Read + Send + 'static) -> Receiver<Instant> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(Instant::now());
    });
    rx
}

/// When the output behind `rx` ended, measured from `start`; waits until
/// `limit` after `start` at most.
fn closed_after(start: Instant, rx: &Receiver<Instant>, limit: Duration) -> Option<Duration> {
    rx.recv_timeout(limit.saturating_sub(start.elapsed()))
        .ok()
        .map(|end| end.saturating_duration_since(start))
}

fn slow_clients(ctx: &mut Ctx) -> Result<()> {
    let timeout = Duration::from_secs(TIMEOUT_SECS);
    let limit = timeout + SLACK;
    let cmdline = format!("git-upload-pack '{}'", ctx.w.settings.repo_name);

    let main = ctx
        .server_ref("refs/heads/main")?
        .context("no main in the served repository")?;

    // 1. Straight to the socket, no request at all.
    let raw_start = Instant::now();
    let raw = UnixStream::connect(&ctx.w.sock).context("connecting to gotd's socket")?;
    let raw_rx = drain(raw);

    // 2. Over ssh: the advertisement, then silence.
    let idle = Session::open(ctx, &cmdline)?;

    // 3. Over ssh: the advertisement, then a want line one byte a second.
    let mut trickle = Session::open(ctx, &cmdline)?;
    let want = pkt(&format!("want {main} side-band-64k ofs-delta\n"));

    // Meanwhile other clients are served without waiting.
    let others = Instant::now();
    for i in 0..3 {
        ctx.clone(&format!("c{i}"), &[])
            .with_context(|| format!("clone {i} while slow clients are connected"))?;
    }
    let others = others.elapsed();
    ctx.note(format!(
        "3 clones took {:.1}s with slow clients connected",
        others.as_secs_f64()
    ));
    ensure(others < timeout * 3, || {
        format!(
            "clones took {:.1}s: blocked by slow clients",
            others.as_secs_f64()
        )
    })?;

    // Trickle until the server closes or the limit passes.
    let mut sent = 0;
    let trickle_end = loop {
        if trickle.start.elapsed() > limit * 2 {
            break None;
        }
        if sent < want.len() {
            trickle.send(&want.as_bytes()[sent..sent + 1]);
            sent += 1;
        }
        if let Ok(end) = trickle.closed.recv_timeout(Duration::from_secs(1)) {
            break Some(end.saturating_duration_since(trickle.start));
        }
    };
    let raw_end = closed_after(
        raw_start,
        &raw_rx,
        Duration::from_secs(FIRST_REQUEST_SECS) + limit,
    );
    let idle_end = closed_after(idle.start, &idle.closed, limit * 2);
    let show = |d: Option<Duration>| {
        d.map_or("still open".to_string(), |d| {
            format!("{:.1}s", d.as_secs_f64())
        })
    };
    ctx.note(format!(
        "closed after: no request {}, silent {}, trickle {} ({sent} bytes sent); timeout {TIMEOUT_SECS}s",
        show(raw_end),
        show(idle_end),
        show(trickle_end)
    ));
    let first_request = Duration::from_secs(FIRST_REQUEST_SECS.max(TIMEOUT_SECS)) + SLACK;
    for (what, end, max) in [
        ("a connection without a request", raw_end, first_request),
        ("a silent ssh client", idle_end, limit),
        ("a client trickling one byte per second", trickle_end, limit),
    ] {
        let Some(d) = end else {
            bail!(
                "{what} was still connected after {}s (request timeout {TIMEOUT_SECS}s)",
                (max * 2).as_secs()
            );
        };
        ensure(
            d + Duration::from_millis(500) >= timeout && d <= max,
            || {
                format!(
                    "{what} was dropped after {:.1}s, want {TIMEOUT_SECS}s to {}s",
                    d.as_secs_f64(),
                    max.as_secs()
                )
            },
        )?;
    }
    ctx.settle()?;
    ctx.clone("after", &[])
        .context("clone after the slow clients")
}
