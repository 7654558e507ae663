//! What gotd logs at its default verbosity.
//!
//! * `connection_log`: a clone, a refused request and a push each leave
//!   exactly one summary line (uid, service, repository, result, bytes in
//!   and out, duration) in the log of `gotd -d`, and nothing chattier is
//!   logged.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::lifecycle::Foreground;
use super::{ensure, Body, Ctx, Scenario, STANDARD_RW};

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "connection_log",
        about: "one log line per connection (uid, service, repository, result, bytes, duration)",
        skip_if: None,
        body: Body::Served {
            setup: STANDARD_RW,
            run: connection_log,
        },
    }]
}

/// The summary lines of a log.
fn summaries(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(" bytes out, "))
        .map(str::to_string)
        .collect()
}

/// Bytes in and out of a summary line.
fn bytes(line: &str) -> Result<(u64, u64)> {
    let tail = line.rsplit_once("; ").context("no figures")?.1;
    let words: Vec<&str> = tail.split_whitespace().collect();
    ensure(words.len() == 8 && words[7] == "s", || {
        format!("summary figures {tail:?}")
    })?;
    Ok((words[0].parse()?, words[3].parse()?))
}

fn connection_log(ctx: &mut Ctx) -> Result<()> {
    let fg = Foreground::start_with(ctx, "")?;
    let uid = ctx.w.devuser.uid;
    let repo = ctx.w.settings.repo_name.clone();

    ctx.clone("a", &[])?;
    let s = ctx
        .client()
        .ssh_open("git-upload-pack 'no-such-repository'")?;
    let _ = s.finish(ctx.t());
    super::write::commit_n(ctx, "a", "logged", 1, "logged push")?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;

    let deadline = Instant::now() + ctx.w.settings.settle_timeout;
    while summaries(&fg.log_text()).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = fg.log_text();
    let lines = summaries(&log);
    ensure(lines.len() == 3, || {
        format!("want 3 summary lines, log: {log:?}")
    })?;
    let want = [
        format!("uid {uid}: git-upload-pack \"{repo}\": ok; "),
        format!(
            "uid {uid}: git-upload-pack \"no-such-repository\": no git repository found; 0 bytes in, 0 bytes out, "
        ),
        format!("uid {uid}: git-receive-pack \"{repo}\": ok; "),
    ];
    for (line, prefix) in lines.iter().zip(&want) {
        ensure(line.contains(prefix.as_str()), || {
            format!("want {prefix:?} in {line:?}")
        })?;
        ctx.note(line.clone());
    }
    let (clone_in, clone_out) = bytes(&lines[0])?;
    ensure(clone_in > 0 && clone_out > clone_in, || {
        format!("clone figures: {}", lines[0])
    })?;
    let (push_in, push_out) = bytes(&lines[2])?;
    ensure(push_in > 0 && push_out > 0, || {
        format!("push figures: {}", lines[2])
    })?;
    ensure(!log.contains("sandbox:"), || {
        format!("informational lines at the default verbosity: {log:?}")
    })?;
    fg.settle(ctx)?;
    fg.stop(ctx)
}
