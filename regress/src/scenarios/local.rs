//! Scenarios that run the binaries directly, without root, sshd or a running
//! gotd: configuration test mode, usage errors, a missing daemon.

use std::process::Command;

use anyhow::Result;

use super::{ensure, ensure_contains, Body, LocalCtx, Scenario};
use crate::{cmd, redact, snapshot, users};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "gotd_configtest",
            about: "gotd -n accepts a valid gotd.conf and names the line of a bad one",
            skip_if: None,
            body: Body::Local(configtest),
        },
        Scenario {
            name: "gotsh_usage",
            about: "gotsh without a command prints its usage and exits 1",
            skip_if: None,
            body: Body::Local(gotsh_usage),
        },
        Scenario {
            name: "no_daemon",
            about: "gotsh and gotctl name the socket they cannot reach",
            skip_if: None,
            body: Body::Local(no_daemon),
        },
    ]
}

fn daemon_user(ctx: &LocalCtx) -> String {
    match users::lookup(&ctx.settings.gotd_user) {
        Ok(Some(_)) => ctx.settings.gotd_user.clone(),
        _ => users::current()
            .map(|a| a.name)
            .unwrap_or_else(|_| ctx.user.name.clone()),
    }
}

fn configtest(ctx: &LocalCtx) -> Result<()> {
    let t = ctx.settings.client_timeout;
    let good = ctx.dir.join("good.conf");
    std::fs::write(
        &good,
        format!(
            "# a valid configuration\nlisten on \"{dir}/gotd.sock\"\nuser \"{user}\"\n\
             connection limit user \"{user}\" 3\n\
             repository \"test-repo\" {{\n\tpath \"{dir}/missing.git\"\n\tpermit ro \"{user}\"\n}}\n",
            dir = ctx.dir.display(),
            user = daemon_user(ctx),
        ),
    )?;
    let out = cmd::run(
        Command::new(ctx.bins.gotd()).arg("-n").arg("-f").arg(&good),
        None,
        t,
    )?;
    let text = format!("{}{}", cmd::stdout_text(&out), cmd::stderr_text(&out));
    ensure(out.status.success(), || {
        format!("gotd -n rejected a valid config: {text}")
    })?;
    ensure_contains(&text, "configuration OK")?;

    let bad = ctx.dir.join("bad.conf");
    std::fs::write(
        &bad,
        "listen on \"/tmp/x.sock\"\nrepository \"r\" {\n\tpathh \"/nowhere\"\n}\n",
    )?;
    let out = cmd::run(
        Command::new(ctx.bins.gotd()).arg("-n").arg("-f").arg(&bad),
        None,
        t,
    )?;
    let text = format!("{}{}", cmd::stdout_text(&out), cmd::stderr_text(&out));
    ensure(!out.status.success(), || {
        format!("gotd -n accepted a bad config: {text}")
    })?;
    ensure(!text.contains("configuration OK"), || {
        format!("gotd -n said OK for a bad config: {text}")
    })?;
    ensure_contains(&text, "bad.conf:3")
}

fn gotsh_usage(ctx: &LocalCtx) -> Result<()> {
    let out = cmd::run(
        Command::new(ctx.bins.gotsh()).env_remove("GOTD_UNIX_SOCKET"),
        None,
        ctx.settings.client_timeout,
    )?;
    ensure(out.status.code() == Some(1), || {
        format!("gotsh without arguments: {}", cmd::status_text(out.status))
    })?;
    snapshot::check(
        "gotsh_usage",
        &redact::standard(&String::from_utf8_lossy(&out.stderr)),
    )
}

fn no_daemon(ctx: &LocalCtx) -> Result<()> {
    let t = ctx.settings.client_timeout;
    let sock = ctx.dir.join("nobody-listens.sock");
    let out = cmd::run(
        Command::new(ctx.bins.gotsh())
            .env("GOTD_UNIX_SOCKET", &sock)
            .args(["-c", "git-upload-pack 'test-repo'"]),
        Some(b"0000"),
        t,
    )?;
    let err = cmd::stderr_text(&out);
    ensure(out.status.code() == Some(1), || {
        format!(
            "gotsh without gotd: {}: {err}",
            cmd::status_text(out.status)
        )
    })?;
    ensure(err.starts_with("gotsh: "), || {
        format!("gotsh stderr: {err:?}")
    })?;
    ensure_contains(&err, &sock.display().to_string())?;

    let out = cmd::run(
        Command::new(ctx.bins.gotctl())
            .arg("-f")
            .arg(&sock)
            .arg("info"),
        None,
        t,
    )?;
    let err = cmd::stderr_text(&out);
    ensure(!out.status.success(), || {
        "gotctl info without gotd succeeded".to_string()
    })?;
    ensure(err.starts_with("gotctl: "), || {
        format!("gotctl stderr: {err:?}")
    })?;
    ensure_contains(&err, &sock.display().to_string())
}
