//! gotctl: `info` layout as root, `Operation not permitted` for other users,
//! and `stop` tearing down a daemon that still has clients.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use anyhow::{Context, Result};

use super::{ensure, ensure_contains, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::repo::RepoKind;
use crate::{checks, cmd, redact, snapshot};

pub fn scenarios() -> Vec<Scenario> {
    let setup = || Setup {
        repo: RepoKind::Standard,
        rules: |w| vec![format!("permit ro {}", w.devuser.name)],
        global: none,
        extra_repos: none,
        start: StartMode::Default,
    };
    vec![
        Scenario {
            name: "gotctl_info",
            about: "gotctl info as root lists clients; as another user it is refused",
            skip_if: None,
            body: Body::Served {
                setup: setup(),
                run: gotctl_info,
            },
        },
        Scenario {
            name: "gotctl_reload",
            about: "gotctl reload applies new rules; a bad config is refused and the old stays",
            skip_if: None,
            body: Body::Served {
                setup: setup(),
                run: gotctl_reload,
            },
        },
        Scenario {
            name: "gotctl_stop",
            about: "gotctl stop with a client connected: everything exits",
            skip_if: None,
            body: Body::Served {
                setup: setup(),
                run: gotctl_stop,
            },
        },
    ]
}

/// `gotctl info` with pids, ids, paths and times made stable.
pub fn redact_info(text: &str, repo_path: &str) -> String {
    let text = text.replace(repo_path, "[REPO]");
    let text = redact::numbers_after(&text, &["PID: ", "PID ", "UID ", "GID ", "verbosity: "]);
    text.lines()
        .map(|l| match l.find(" since ") {
            Some(i) => format!("{} since [TIME]", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn gotctl_info(ctx: &mut Ctx) -> Result<()> {
    let gotctl = ctx.w.bins.gotctl();
    let cmdline = format!("git-upload-pack {}", ctx.w.settings.repo_name);
    let mut session = ctx.client().ssh_open(&cmdline)?;
    let adv = session.read_at_least(4)?;
    ensure(!adv.is_empty(), || "no advertisement".into())?;
    let info = checks::info(&gotctl, &ctx.w.sock, ctx.t())?;
    ensure_contains(&info, &format!("gotd PID: {}", ctx.gotd.pid))?;
    ensure_contains(
        &info,
        &format!(
            "client UID {}, GID {}",
            ctx.w.devuser.uid, ctx.w.devuser.gid
        ),
    )?;
    let repo_path = ctx.repo.display().to_string();
    snapshot::check("gotctl_info", &redact_info(&info, &repo_path))?;

    // Any other user is refused, and the daemon keeps running.
    for verb in ["info", "stop"] {
        let mut c = Command::new(&gotctl);
        cmd::as_user(&mut c, &ctx.w.test_user, Some(&ctx.w.client.home))
            .arg("-f")
            .arg(&ctx.w.sock)
            .arg(verb);
        let out = cmd::run(&mut c, None, ctx.t())?;
        let err = cmd::stderr_text(&out);
        ensure(!out.status.success(), || {
            format!("gotctl {verb} as {} succeeded", ctx.w.test_user.name)
        })?;
        ensure(err.starts_with("gotctl: "), || {
            format!("gotctl {verb}: {err:?}")
        })?;
        ensure_contains(&err, "Operation not permitted")?;
    }
    ensure(ctx.gotd.alive(), || {
        "gotd exited after a refused gotctl stop".into()
    })?;
    session.finish(ctx.t())?;
    Ok(())
}

fn gotctl_stop(ctx: &mut Ctx) -> Result<()> {
    let cmdline = format!("git-upload-pack {}", ctx.w.settings.repo_name);
    let mut session = ctx.client().ssh_open(&cmdline)?;
    let adv = session.read_at_least(4)?;
    ensure(!adv.is_empty(), || "no advertisement".into())?;
    let pid = ctx.gotd.pid;
    ctx.gotd
        .stop()
        .context("gotctl stop with a client connected")?;
    ensure(!crate::procfs::alive(pid), || "gotd still running".into())?;
    // The client's session ends instead of hanging.
    session
        .finish(ctx.t())
        .context("client session after stop")?;
    ensure(
        !ctx.w.sock.exists() || std::os::unix::net::UnixStream::connect(&ctx.w.sock).is_err(),
        || "the socket still accepts connections after stop".into(),
    )
}

fn gotctl(ctx: &Ctx, verb: &str, as_test_user: bool) -> Result<std::process::Output> {
    gotctl_args(ctx, &[verb.as_ref()], as_test_user)
}

fn gotctl_args(
    ctx: &Ctx,
    args: &[&std::ffi::OsStr],
    as_test_user: bool,
) -> Result<std::process::Output> {
    let mut c = Command::new(ctx.w.bins.gotctl());
    if as_test_user {
        cmd::as_user(&mut c, &ctx.w.test_user, Some(&ctx.w.client.home));
    }
    c.arg("-f").arg(&ctx.w.sock).args(args);
    cmd::run(&mut c, None, ctx.t())
}

fn gotctl_reload(ctx: &mut Ctx) -> Result<()> {
    ctx.clone("a", &[])?;
    std::fs::write(ctx.path("a/alpha"), "reloaded\n")?;
    ctx.git_in("a", &["commit", "-q", "-a", "-m", "after reload"])?;
    let err = ctx.git_fails_in("a", &["push", "origin", "main"])?;
    ensure_contains(&err, "Permission denied")?;

    // A client connected across the reload keeps being served.
    let cmdline = format!("git-upload-pack {}", ctx.w.settings.repo_name);
    let mut session = ctx.client().ssh_open(&cmdline)?;
    session.read_advertisement()?;

    let conf = ctx.gotd.launch.conf.clone();
    let text = std::fs::read_to_string(&conf)?;
    let rw = text.replace("permit ro ", "permit rw ");
    ensure(rw != text, || "no permit ro line to change".into())?;
    std::fs::write(&conf, &rw)?;
    let out = gotctl(ctx, "reload", true)?;
    ensure(!out.status.success(), || {
        "reload by another user succeeded".into()
    })?;
    ensure_contains(&cmd::stderr_text(&out), "Operation not permitted")?;
    let out = gotctl(ctx, "reload", false)?;
    ensure(out.status.success(), || {
        format!("gotctl reload: {}", cmd::stderr_text(&out))
    })?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])
        .context("push after reloading with permit rw")?;

    // A broken configuration is refused; the running one stays.
    std::fs::write(&conf, "repository {\n")?;
    let out = gotctl(ctx, "reload", false)?;
    ensure(!out.status.success(), || {
        "reload of a broken config succeeded".into()
    })?;
    ensure(cmd::stderr_text(&out).starts_with("gotctl: "), || {
        format!("gotctl reload error: {:?}", cmd::stderr_text(&out))
    })?;
    std::fs::write(&conf, &rw)?;
    super::write::commit_n(ctx, "a", "beta", 1, "after a bad reload")?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])
        .context("push after a refused reload")?;

    // `-c`: gotctl checks the file itself, then passes it open, so it may
    // live where only root can read it. The read-only rules come back.
    let private = ctx.path("root-only");
    std::fs::create_dir_all(&private)?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
    let ro_conf = private.join("gotd.conf");
    std::fs::write(&ro_conf, &text)?;
    let bad_conf = private.join("bad.conf");
    std::fs::write(&bad_conf, "repository \"x\" {\n  permit\n}\n")?;
    let out = gotctl_args(
        ctx,
        &[
            "reload".as_ref(),
            "-n".as_ref(),
            "-c".as_ref(),
            bad_conf.as_ref(),
        ],
        false,
    )?;
    ensure_contains(
        &cmd::stderr_text(&out),
        &format!("gotctl: {}:2: ", bad_conf.display()),
    )?;
    let out = gotctl_args(
        ctx,
        &[
            "reload".as_ref(),
            "-n".as_ref(),
            "-c".as_ref(),
            ro_conf.as_ref(),
        ],
        false,
    )?;
    ensure(out.status.success(), || {
        format!("reload -n: {}", cmd::stderr_text(&out))
    })?;
    ensure_contains(&String::from_utf8_lossy(&out.stdout), "configuration OK")?;
    let out = gotctl_args(
        ctx,
        &["reload".as_ref(), "-c".as_ref(), ro_conf.as_ref()],
        false,
    )?;
    ensure(out.status.success(), || {
        format!("reload -c: {}", cmd::stderr_text(&out))
    })?;
    super::write::commit_n(ctx, "a", "beta", 1, "after reloading read-only rules")?;
    let err = ctx.git_fails_in("a", &["push", "origin", "main"])?;
    ensure_contains(&err, "Permission denied")?;

    // The session from before the first reload ends cleanly (a flush
    // instead of wants, as ls-remote does).
    session.send(b"0000")?;
    let out = session.finish(ctx.t())?;
    ensure(out.status.success(), || {
        format!(
            "session across the reload: {}: {}",
            cmd::status_text(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_redaction() {
        let info = "gotd PID: 4242\nverbosity: 2\nnumber of repositories: 1\n\
                    number of connected clients: 1\n\
                    repository \"test-repo\", path /tmp/x/test-repo.git\n\
                    client UID 1001, GID 1001, repo PID 4250, reading from repository \"test-repo\" since Fri Dec  4 21:00:00 2026";
        assert_eq!(
            redact_info(info, "/tmp/x/test-repo.git"),
            "gotd PID: [N]\nverbosity: [N]\nnumber of repositories: 1\n\
             number of connected clients: 1\n\
             repository \"test-repo\", path [REPO]\n\
             client UID [N], GID [N], repo PID [N], reading from repository \"test-repo\" since [TIME]"
        );
    }
}
