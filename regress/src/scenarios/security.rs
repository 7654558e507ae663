//! Security checks: what a client can learn and reach.
//!
//! * `existence_hidden`: a user in no rule gets byte-for-byte the same reply
//!   for an existing repository as for one that does not exist.
//! * `repo_names_refused`: names that would reach outside the configured
//!   repositories (`..`, absolute paths of real repositories, newlines) are
//!   refused before anything is served, for reads and writes, and the
//!   repository next door is left untouched. Names gotsh would never pass
//!   (NUL, newline, overlong) are also sent straight to gotd's socket, as a
//!   local user bypassing gotsh could, and refused there.
//! * `children_confined`: the repo children of a fetch and of a push run as
//!   the daemon user with no capabilities, `no_new_privs` and a seccomp
//!   filter, and report Landlock rules confining them to their repository
//!   (read-only for readers).

use anyhow::{Context, Result};

use super::lifecycle::Foreground;
use super::{ensure, ensure_contains, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::pkt;
use crate::repo::{self, RepoKind};
use crate::{cmd, procfs, redact};
use gotd_wire::ipc::Channel;
use gotd_wire::request::{Reply, Request, Service};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "existence_hidden",
            about: "a user in no rule gets the same reply for an existing and a missing repository",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    // Rules that name other users only.
                    rules: |w| {
                        vec![
                            format!("permit rw {}", w.test_user.name),
                            format!("deny {}", w.gotd_user.name),
                        ]
                    },
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: existence_hidden,
            },
        },
        Scenario {
            name: "repo_names_refused",
            about: "`..`, absolute paths and newlines in repository names are refused",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Standard,
                    // root too, for the requests sent straight to the
                    // socket (as a local user bypassing gotsh would).
                    rules: |w| {
                        vec![
                            format!("permit rw {}", w.devuser.name),
                            "permit ro root".to_string(),
                        ]
                    },
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: repo_names_refused,
            },
        },
        Scenario {
            name: "children_confined",
            about:
                "reader and writer children: unprivileged, seccomp, Landlock on their repository",
            skip_if: None,
            body: Body::Served {
                setup: Setup {
                    repo: RepoKind::Large,
                    rules: super::write::permit_rw,
                    global: none,
                    extra_repos: none,
                    start: StartMode::Default,
                },
                run: children_confined,
            },
        },
    ]
}

/// Exit status, stdout and stderr of a raw ssh request, with `name`
/// replaced so that replies for different names can be compared.
fn reply(ctx: &Ctx, service: &str, name: &str, input: &[u8]) -> Result<String> {
    let out = ctx
        .client()
        .ssh(&format!("{service} '{name}'"), input)
        .with_context(|| format!("{service} {name}"))?;
    Ok(format!(
        "exit {}\nstdout {:?}\nstderr {:?}",
        cmd::status_text(out.status),
        String::from_utf8_lossy(&out.stdout).replace(name, "[NAME]"),
        cmd::stderr_text(&out).replace(name, "[NAME]")
    ))
}

fn existence_hidden(ctx: &mut Ctx) -> Result<()> {
    let existing = ctx.w.settings.repo_name.clone();
    for service in ["git-upload-pack", "git-receive-pack"] {
        for input in [&b"0000"[..], b""] {
            let a = reply(ctx, service, &existing, input)?;
            let b = reply(ctx, service, "no-such-repo", input)?;
            let c = reply(ctx, service, &format!("{existing}.git"), input)?;
            ensure(a == b && b == c, || {
                format!("{service}: replies differ:\nexisting: {a}\nmissing: {b}\nwith .git: {c}")
            })?;
            ensure_contains(&a, "no git repository found")?;
        }
    }
    // git sees the same too.
    let url = ctx.url();
    let missing = ctx.client().url("no-such-repo");
    let e1 = ctx.git_fails_in(".", &["ls-remote", &url])?;
    let e2 = ctx.git_fails_in(".", &["ls-remote", &missing])?;
    // git's own verdict lines; the `gotsh:` line ssh relays may come
    // before or after them (or be lost), so it is checked separately.
    let (v1, v2) = (redact::error_lines(&e1), redact::error_lines(&e2));
    ensure(v1 == v2, || format!("git ls-remote: {v1:?} vs {v2:?}"))?;
    ensure_contains(&v1, "no git repository found")?;
    redact::gotsh_lines_agree(&e1).map_err(anyhow::Error::msg)?;
    redact::gotsh_lines_agree(&e2).map_err(anyhow::Error::msg)
}

fn repo_names_refused(ctx: &mut Ctx) -> Result<()> {
    // A real repository next to the served one that is not in the
    // configuration, owned by the daemon user like the served one.
    let outside = ctx.dir.join("outside.git");
    repo::create(RepoKind::Standard, &outside, &ctx.w.gotd_user, 0, ctx.t())?;
    let outside_refs = repo::refs(&outside, ctx.t())?;
    let name = ctx.w.settings.repo_name.clone();
    let abs_repo = ctx.repo.display().to_string();
    let abs_outside = outside.display().to_string();
    let cases: Vec<(String, &str)> = vec![
        ("../outside".into(), "no git repository found"),
        ("../outside.git".into(), "no git repository found"),
        (format!("{name}/../outside"), "no git repository found"),
        ("../../../../../etc".into(), "no git repository found"),
        ("/../../../../etc/passwd".into(), "no git repository found"),
        (abs_outside.clone(), "no git repository found"),
        (abs_repo.clone(), "no git repository found"),
        ("..".into(), "no git repository found"),
        (".".into(), "no git repository found"),
        (format!("{name}\n"), "bad path"),
        (format!("{name}\nmore"), "bad path"),
    ];
    let zero = "0".repeat(40);
    let head = repo::ref_id(&outside, "refs/heads/main", ctx.t())?.context("outside main")?;
    // A push attempt: delete main (needs no pack).
    let push = format!(
        "{}0000",
        pkt(&format!(
            "{head} {zero} refs/heads/main\0report-status delete-refs"
        ))
    );
    for (n, want) in &cases {
        for (service, input) in [
            ("git-upload-pack", "0000".to_string()),
            ("git-receive-pack", push.clone()),
        ] {
            let out = ctx
                .client()
                .ssh(&format!("{service} '{n}'"), input.as_bytes())?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = cmd::stderr_text(&out);
            ensure(!out.status.success(), || {
                format!("{service} {n:?} succeeded: {stdout:?}")
            })?;
            ensure(stdout.contains(&format!("ERR {want}")), || {
                format!(
                    "{service} {n:?}: expected ERR {want}, got stdout {stdout:?} stderr {stderr:?}"
                )
            })?;
            ensure(!stdout.contains("refs/heads/"), || {
                format!("{service} {n:?}: refs were advertised: {stdout:?}")
            })?;
            ensure(stderr.contains(&format!("gotsh: {want}")), || {
                format!("{service} {n:?}: stderr {stderr:?}")
            })?;
        }
    }
    ensure(repo::refs(&outside, ctx.t())? == outside_refs, || {
        "the unconfigured repository's refs changed".into()
    })?;
    raw_names(ctx)?;
    // Names that normalise to the configured one are served as upstream
    // serves them (`..` is resolved like a path, never outside the config).
    ctx.git_in(
        ".",
        &["ls-remote", &ctx.client().url(&format!("x/../{name}"))],
    )
    .context("a name that normalises to the configured one")?;
    Ok(())
}

/// Sends `Request::Git` for `name` straight to gotd's socket (as root,
/// whom the scenario's rules permit to read) with two pipes as the
/// client's input and output; returns the reply and what the repo child
/// wrote. The input is a flush and then EOF, so a served request ends
/// after the advertisement.
fn raw_request(ctx: &Ctx, name: &str) -> Result<(Reply, Vec<u8>)> {
    use std::io::Read;
    use std::os::fd::AsFd;
    let sock = std::os::unix::net::UnixStream::connect(&ctx.w.sock)?;
    sock.set_read_timeout(Some(ctx.t()))?;
    let mut ch = Channel::new(sock);
    let (in_r, in_w) = nix::unistd::pipe()?;
    let (out_r, out_w) = nix::unistd::pipe()?;
    let mut out_r = std::fs::File::from(out_r);
    let req = Request::Git {
        service: Service::UploadPack,
        repo: name.to_string(),
        protocol: String::new(),
    };
    ch.send(&req, &[in_r.as_fd(), out_w.as_fd()])
        .context("sending the request")?;
    drop((in_r, out_w));
    // A flush instead of wants (what `git ls-remote` sends), then EOF.
    let _ = std::io::Write::write_all(&mut std::fs::File::from(in_w), b"0000");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_r.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    let reply = ch
        .recv::<Reply>()
        .context("reading gotd's reply")?
        .context("gotd closed without a reply")?;
    let output = rx.recv_timeout(ctx.t()).unwrap_or_default();
    Ok((reply, output))
}

/// Names refused when sent to the socket directly; the configured name is
/// served the same way (so the refusals are not an artefact).
fn raw_names(ctx: &Ctx) -> Result<()> {
    let name = ctx.w.settings.repo_name.clone();
    let (reply, out) = raw_request(ctx, &name)?;
    ensure(reply == Reply::Ok && out.starts_with(b"00"), || {
        format!(
            "the configured name over the socket: {reply:?}, output {:?}",
            String::from_utf8_lossy(&out)
        )
    })?;
    let long = format!("{name}/{}", "x".repeat(300));
    let cases = [
        format!("{name}\0"),
        format!("\0{name}"),
        format!("{name}\0/../../../etc"),
        format!("{name}\n"),
        format!("{name}\nx"),
        long,
        "/etc".to_string(),
        ctx.repo.display().to_string(),
    ];
    for n in &cases {
        let (reply, out) = raw_request(ctx, n)?;
        let refused = matches!(&reply, Reply::Error { message, .. }
            if ["no git repository found", "bad path", "buffer too small"]
                .iter()
                .any(|m| message == m));
        ensure(refused && out.is_empty(), || {
            format!(
                "name {n:?} sent to the socket: {reply:?}, output {:?}",
                String::from_utf8_lossy(&out)
            )
        })?;
    }
    Ok(())
}

/// `/proc/PID/status` fields of a live process.
fn status_field(pid: i32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

/// Checks one live repo child of `parent`; returns its pid.
fn check_child(ctx: &Ctx, parent: i32, what: &str) -> Result<i32> {
    let deadline = std::time::Instant::now() + ctx.t();
    let pid = loop {
        let live: Vec<i32> = procfs::children(parent)
            .into_iter()
            .filter(|p| p.state != 'Z')
            .map(|p| p.pid)
            .collect();
        if let Some(p) = live.first() {
            break *p;
        }
        ensure(std::time::Instant::now() < deadline, || {
            format!("no repo child during the {what}")
        })?;
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let uid = status_field(pid, "Uid:").context("child exited too early")?;
    let want_uid = ctx.w.gotd_user.uid.to_string();
    ensure(uid.split_whitespace().all(|u| u == want_uid), || {
        format!("{what} child {pid} uids {uid:?}, want {want_uid} for all")
    })?;
    let gid = status_field(pid, "Gid:").unwrap_or_default();
    ensure(gid.split_whitespace().all(|g| g != "0"), || {
        format!("{what} child {pid} has gid 0: {gid:?}")
    })?;
    for (key, want) in [
        ("NoNewPrivs:", "1"),
        ("Seccomp:", "2"),
        ("CapEff:", "0000000000000000"),
        ("CapPrm:", "0000000000000000"),
    ] {
        let got = status_field(pid, key).unwrap_or_default();
        ensure(got == want, || {
            format!("{what} child {pid}: {key} {got:?}, want {want}")
        })?;
    }
    Ok(pid)
}

/// The sandbox line gotd logged for `pid` (waits for it to appear).
fn sandbox_line(ctx: &Ctx, fg: &Foreground, pid: i32) -> Result<String> {
    let needle = format!("repo child {pid}: sandbox: ");
    let deadline = std::time::Instant::now() + ctx.w.settings.settle_timeout;
    loop {
        let log = fg.log_text();
        if let Some(l) = log.lines().find(|l| l.contains(&needle)) {
            return Ok(l.to_string());
        }
        ensure(std::time::Instant::now() < deadline, || {
            format!("gotd logged no sandbox line for child {pid}")
        })?;
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn children_confined(ctx: &mut Ctx) -> Result<()> {
    // In the foreground, so that the log is readable.
    let fg = Foreground::start(ctx)?;
    // A reader, held mid-pack (the client stops reading).
    let cmdline = format!("git-upload-pack '{}'", ctx.w.settings.repo_name);
    let mut s = ctx.client().ssh_open(&cmdline)?;
    let adv = s.read_advertisement()?;
    let main = adv
        .iter()
        .map(|p| String::from_utf8_lossy(p).to_string())
        .find(|l| l.contains(" refs/heads/main"))
        .and_then(|l| l.split(' ').next().map(str::to_string))
        .context("main not advertised")?;
    let reader = check_child(ctx, fg.pid, "fetch")?;
    s.send(pkt(&format!("want {main} side-band-64k ofs-delta\n")).as_bytes())?;
    s.send(b"0000")?;
    s.send(pkt("done\n").as_bytes())?;
    s.read_at_least(1024)?;
    let line = sandbox_line(ctx, &fg, reader)?;
    ctx.note(format!(
        "reader: {}",
        line.split("sandbox: ").nth(1).unwrap_or("")
    ));
    s.kill();
    ensure_contains(&line, "landlock: fully enforced, repository read-only")
        .or_else(|e| landlock_unavailable(&line).ok_or(e))?;
    fg.settle(ctx)?;

    // A writer, held while reading the command list.
    let cmdline = format!("git-receive-pack '{}'", ctx.w.settings.repo_name);
    let mut s = ctx.client().ssh_open(&cmdline)?;
    s.read_advertisement()?;
    let writer = check_child(ctx, fg.pid, "push")?;
    let line = sandbox_line(ctx, &fg, writer)?;
    ctx.note(format!(
        "writer: {}",
        line.split("sandbox: ").nth(1).unwrap_or("")
    ));
    s.kill();
    ensure(
        line.contains("landlock: fully enforced") && !line.contains("read-only"),
        || format!("writer sandbox: {line}"),
    )
    .or_else(|e| landlock_unavailable(&line).ok_or(e))?;
    fg.settle(ctx)?;
    fg.stop(ctx)
}

/// Ok when the kernel has no Landlock (the daemon logs that it degraded);
/// the other checks still apply.
fn landlock_unavailable(line: &str) -> Option<()> {
    (line.contains("landlock: not supported") || line.contains("landlock: unavailable"))
        .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_kernel_without_landlock() {
        assert!(landlock_unavailable(
            "repo child 7: sandbox: no_new_privs: on, landlock: not supported by this kernel"
        )
        .is_some());
        assert!(landlock_unavailable(
            "repo child 7: sandbox: landlock: fully enforced, repository read-only"
        )
        .is_none());
    }
}
