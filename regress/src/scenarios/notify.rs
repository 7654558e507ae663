//! Push notifications: a mail relay stand-in (SMTP) and an HTTP endpoint,
//! both served by this process on 127.0.0.1, receive what gotd sends after
//! pushes that create, change and delete a branch, create a tag, carry a
//! commit message that is not UTF-8, and bring many commits at once. Each
//! commit listed in full carries a diffstat, checked line by line (mail)
//! and field by field (JSON).
//!
//! The ports are only known once the servers run, so each scenario
//! restarts gotd with a configuration that has the `notify` block and, for
//! HTTP, with `-s` naming a secrets file (Basic auth and HMAC key). The
//! HTTP endpoint refuses requests without the right credentials, and the
//! scenario checks the `X-Gotd-Signature` HMAC of every body itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ensure, ensure_contains, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::daemon::{self, Gotd, Launch, RepoConf};
use crate::repo::RepoKind;

const USER: &str = "flan";
const PASSWORD: &str = "password";
const HMAC_KEY: &str = "the hmac secret";
/// How long a notification may take to arrive.
const ARRIVAL: Duration = Duration::from_secs(30);

pub fn scenarios() -> Vec<Scenario> {
    let setup = || Setup {
        repo: RepoKind::Standard,
        rules: super::write::permit_rw,
        global: none,
        extra_repos: none,
        start: StartMode::Default,
    };
    vec![
        Scenario {
            name: "notify_email",
            about: "mail notifications for branch created/changed/removed, tags, bad UTF-8, many commits",
            skip_if: None,
            body: Body::Served {
                setup: setup(),
                run: notify_email,
            },
        },
        Scenario {
            name: "notify_http",
            about: "HTTP notifications with Basic auth and HMAC signature for the same pushes",
            skip_if: None,
            body: Body::Served {
                setup: setup(),
                run: notify_http,
            },
        },
    ]
}

/// One SMTP conversation as the relay saw it.
struct Mail {
    dialogue: String,
}

impl Mail {
    fn header(&self, name: &str) -> Option<&str> {
        self.dialogue
            .split("\r\n")
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
    }

    /// The body lines, after the blank line that ends the headers.
    fn body(&self) -> String {
        let data = self.dialogue.split("DATA\r\n").nth(1).unwrap_or("");
        let body = data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        body.split("\r\n.\r\n")
            .next()
            .unwrap_or("")
            .replace("\r\n", "\n")
    }
}

/// A relay that accepts any number of mails and reports each one.
fn smtp_relay() -> Result<(u16, Receiver<Mail>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            match converse(s) {
                Ok(dialogue) => {
                    if tx.send(Mail { dialogue }).is_err() {
                        return;
                    }
                }
                Err(e) => eprintln!("smtp stand-in: {e:#}"),
            }
        }
    });
    Ok((port, rx))
}

fn converse(s: TcpStream) -> Result<String> {
    s.set_read_timeout(Some(ARRIVAL))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut got = String::new();
    w.write_all(b"220 regress ESMTP\r\n")?;
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(got);
        }
        got.push_str(&line);
        if in_data {
            if line == ".\r\n" {
                in_data = false;
                w.write_all(b"250 queued\r\n")?;
            }
            continue;
        }
        let reply: &[u8] = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
            "HELO" | "EHLO" | "MAIL" | "RCPT" => b"250 ok\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                w.write_all(b"221 bye\r\n")?;
                return Ok(got);
            }
            _ => b"500 what\r\n",
        };
        w.write_all(reply)?;
    }
}

/// One POST as the endpoint saw it, its signature checked.
struct Post {
    body: serde_json::Value,
}

/// An endpoint that answers 401 without the right Basic credentials, 403
/// for a wrong signature, and 200 otherwise; every request is reported.
fn http_endpoint() -> Result<(u16, Receiver<Result<Post, String>>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let r = serve_post(s).unwrap_or_else(|e| Err(format!("{e:#}")));
            if tx.send(r).is_err() {
                return;
            }
        }
    });
    Ok((port, rx))
}

fn serve_post(s: TcpStream) -> Result<Result<Post, String>> {
    s.set_read_timeout(Some(ARRIVAL))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len.min(1 << 20)];
    r.read_exact(&mut body)?;
    let expected_auth = format!("Basic {}", base64_encode(&format!("{USER}:{PASSWORD}")));
    let (status, verdict) = if !head.starts_with("POST /notify HTTP/1.1\r\n") {
        (
            "400 Bad Request",
            Err(format!("unexpected request: {head}")),
        )
    } else if header("authorization").as_deref() != Some(&expected_auth) {
        ("401 Unauthorized", Err(format!("bad credentials: {head}")))
    } else if header("x-gotd-signature") != Some(signature(&body)) {
        ("403 Forbidden", Err(format!("bad signature: {head}")))
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => ("200 OK", Ok(Post { body: v })),
            Err(e) => ("400 Bad Request", Err(format!("not JSON: {e}"))),
        }
    };
    w.write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    Ok(verdict)
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_KEY.as_bytes()).expect("any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn base64_encode(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &c| acc << 8 | u32::from(c)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Restarts gotd with `notify` lines in the repository block and, if
/// given, a secrets file.
fn restart_with(ctx: &mut Ctx, notify: &[String], secrets: Option<&str>) -> Result<()> {
    let w = ctx.w;
    let mut rules = super::write::permit_rw(w);
    rules.push("notify {".into());
    rules.extend(notify.iter().cloned());
    rules.push("}".into());
    let repos = [RepoConf {
        name: w.settings.repo_name.clone(),
        path: ctx.repo.clone(),
        rules,
    }];
    let conf = ctx.dir.join("gotd.conf");
    std::fs::write(
        &conf,
        daemon::config_text(&w.sock, &w.gotd_user.name, &[], &repos),
    )?;
    let mut start_cmd = w.bins.start_command(&conf);
    if let Some(text) = secrets {
        let path = ctx.dir.join("gotd-secrets.conf");
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        start_cmd = format!("{start_cmd} -s {}", path.display());
    }
    ctx.gotd
        .stop()
        .context("stopping gotd for the new configuration")?;
    let launch = Launch {
        start_cmd,
        ..ctx.gotd.launch.clone()
    };
    ctx.gotd = Gotd::start(launch)?;
    let _ = crate::checks::info(&w.bins.gotctl(), &w.sock, w.settings.client_timeout);
    ctx.baseline_fds = crate::checks::stable_fd_count(ctx.gotd.pid, w.settings.settle_timeout)?;
    Ok(())
}

/// The pushes both scenarios make, each followed by `check`, which is
/// given what the push did.
fn pushes(ctx: &mut Ctx, check: &mut dyn FnMut(&Ctx, Pushed) -> Result<()>) -> Result<()> {
    ctx.clone("a", &[])?;
    let head = |ctx: &Ctx| ctx.git_in("a", &["rev-parse", "HEAD"]);
    // A branch changed: one line of alpha replaced.
    std::fs::write(ctx.path("a/alpha"), "change alpha\n")?;
    ctx.git_in("a", &["commit", "-q", "-a", "-m", "make changes"])?;
    let id = head(ctx)?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    check(
        ctx,
        Pushed::Changed {
            id,
            message: "make changes".into(),
        },
    )?;
    // Several files: modified, deleted, added in a subdirectory.
    std::fs::write(ctx.path("a/alpha"), "alpha again\n")?;
    std::fs::write(ctx.path("a/gamma/new"), "one\ntwo\nthree\n")?;
    ctx.git_in("a", &["rm", "-q", "beta"])?;
    ctx.git_in("a", &["add", "gamma/new"])?;
    ctx.git_in("a", &["commit", "-q", "-a", "-m", "several files"])?;
    let id = head(ctx)?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    check(ctx, Pushed::Several { id })?;
    // A branch created.
    ctx.git_in("a", &["checkout", "-q", "-b", "newbranch"])?;
    std::fs::write(ctx.path("a/alpha"), "change alpha on branch\n")?;
    ctx.git_in("a", &["commit", "-q", "-a", "-m", "on newbranch"])?;
    let id = head(ctx)?;
    ctx.git_in("a", &["push", "-q", "origin", "newbranch"])?;
    check(ctx, Pushed::Created { id: id.clone() })?;
    // A branch removed.
    ctx.git_in("a", &["push", "-q", "origin", ":newbranch"])?;
    check(ctx, Pushed::Removed { id })?;
    // A tag created.
    ctx.git_in("a", &["checkout", "-q", "main"])?;
    ctx.git_in("a", &["tag", "-a", "-m", "new tag", "1.0"])?;
    let target = head(ctx)?;
    ctx.git_in("a", &["push", "-q", "origin", "refs/tags/1.0"])?;
    check(ctx, Pushed::Tag { target })?;
    // A message that is not UTF-8, written as a raw object (`git commit`
    // would re-encode it).
    let tree = ctx.git_in("a", &["rev-parse", "HEAD^{tree}"])?;
    let parent = head(ctx)?;
    let mut raw = format!(
        "tree {tree}\nparent {parent}\nauthor Flan Hacker <flan@example.com> 1700000000 +0000\ncommitter Flan Hacker <flan@example.com> 1700000000 +0000\n\n"
    )
    .into_bytes();
    raw.extend_from_slice(b"make\xED\xA0\x80changes\n");
    let raw_path = ctx.path("bad-utf8-commit");
    std::fs::write(&raw_path, raw)?;
    let raw_arg = raw_path.display().to_string();
    let id = ctx.git_in("a", &["hash-object", "-t", "commit", "-w", &raw_arg])?;
    ctx.git_in("a", &["update-ref", "refs/heads/main", &id])?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    check(ctx, Pushed::BadUtf8 { id })?;
    // Many commits at once.
    for i in 1..=30 {
        ctx.git_in(
            "a",
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                &format!("change {i}"),
            ],
        )?;
    }
    let id = head(ctx)?;
    ctx.git_in("a", &["push", "-q", "origin", "main"])?;
    check(ctx, Pushed::Many { id, count: 30 })?;
    Ok(())
}

/// What a push did, for the checks.
enum Pushed {
    Changed { id: String, message: String },
    Several { id: String },
    Created { id: String },
    Removed { id: String },
    Tag { target: String },
    BadUtf8 { id: String },
    Many { id: String, count: usize },
}

fn notify_email(ctx: &mut Ctx) -> Result<()> {
    let (port, mails) = smtp_relay()?;
    let devuser = ctx.w.devuser.name.clone();
    restart_with(
        ctx,
        &[format!(
            "email from gotd@example.com to dev@example.com reply to list@example.com relay 127.0.0.1 port {port}"
        )],
        None,
    )?;
    let repo = ctx.w.settings.repo_name.clone();
    let next = || -> Result<Mail> {
        mails
            .recv_timeout(ARRIVAL)
            .context("no mail arrived at the relay")
    };
    pushes(ctx, &mut |_ctx, pushed| {
        let m = next()?;
        ensure_contains(
            &m.dialogue,
            "MAIL FROM:<gotd@example.com>\r\nRCPT TO:<dev@example.com>\r\nDATA\r\n",
        )?;
        ensure(m.header("Reply-To") == Some("list@example.com"), || {
            format!("no Reply-To: {}", m.dialogue)
        })?;
        let subject = m.header("Subject").unwrap_or("").to_string();
        let body = m.body();
        match pushed {
            Pushed::Changed { id, message } => {
                let want = format!("{repo}: {devuser} changed refs/heads/main: {}", &id[..12]);
                ensure(subject == want, || {
                    format!("subject {subject:?}, want {want:?}")
                })?;
                ensure_contains(&body, &format!("commit {id}\n"))?;
                ensure_contains(
                    &body,
                    &format!(
                        " {message}\n \n M  alpha  |  1+  1-\n\n\
                         1 file changed, 1 insertion(+), 1 deletion(-)\n"
                    ),
                )?;
            }
            Pushed::Several { id } => {
                ensure_contains(&body, &format!("commit {id}\n"))?;
                ensure_contains(
                    &body,
                    " several files\n \n \
                     M  alpha      |  1+  1-\n \
                     D  beta       |  0+  1-\n \
                     A  gamma/new  |  3+  0-\n\n\
                     3 files changed, 4 insertions(+), 2 deletions(-)\n",
                )?;
            }
            Pushed::Created { id } => {
                let want = format!(
                    "{repo}: {devuser} created refs/heads/newbranch: {}",
                    &id[..12]
                );
                ensure(subject == want, || {
                    format!("subject {subject:?}, want {want:?}")
                })?;
                ensure_contains(&body, &format!("commit {id}\n"))?;
                ensure_contains(
                    &body,
                    " on newbranch\n \n M  alpha  |  1+  1-\n\n\
                     1 file changed, 1 insertion(+), 1 deletion(-)\n",
                )?;
            }
            Pushed::Removed { id } => {
                let want = format!(
                    "{repo}: {devuser} removed refs/heads/newbranch: {}",
                    &id[..12]
                );
                ensure(subject == want, || {
                    format!("subject {subject:?}, want {want:?}")
                })?;
                ensure_contains(&body, &format!("Removed refs/heads/newbranch: {id}"))?;
            }
            Pushed::Tag { target } => {
                ensure_contains(
                    &subject,
                    &format!("{repo}: {devuser} created refs/tags/1.0: "),
                )?;
                ensure_contains(&body, "tag refs/tags/1.0\n")?;
                ensure_contains(&body, &format!("object: commit {target}\n"))?;
                ensure_contains(&body, " new tag\n")?;
            }
            Pushed::BadUtf8 { id } => {
                ensure_contains(&body, &format!("commit {id}\n"))?;
                ensure_contains(
                    &body,
                    " make\u{FFFD}\u{FFFD}\u{FFFD}changes\n \n\n\
                     0 files changed, 0 insertions(+), 0 deletions(-)\n",
                )?;
            }
            Pushed::Many { id, count } => {
                ensure_contains(&subject, &id[..12])?;
                let lines = body.lines().filter(|l| l.contains(" change ")).count();
                ensure(lines == count, || {
                    format!("{lines} summary lines, want {count}: {body}")
                })?;
                ensure_contains(&body, &format!(" {} ", &id[..7]))?;
                ensure(
                    !body.contains("commit ") && !body.contains(" changed, "),
                    || format!("not summarised: {body}"),
                )?;
            }
        }
        Ok(())
    })?;
    // One mail per notified ref, nothing else.
    if let Ok(m) = mails.recv_timeout(Duration::from_millis(500)) {
        bail!("an unexpected mail: {}", m.dialogue);
    }
    Ok(())
}

/// The JSON diffstat of a commit that replaced the one line of alpha, as
/// upstream sends it.
fn alpha_changed() -> serde_json::Value {
    serde_json::json!({
        "files": [{"action": "modified", "file": "alpha", "added": 1, "removed": 1}],
        "total": {"added": 1, "removed": 1},
    })
}

fn notify_http(ctx: &mut Ctx) -> Result<()> {
    let (port, posts) = http_endpoint()?;
    restart_with(
        ctx,
        &[format!(
            "url \"http://127.0.0.1:{port}/notify\" auth hook insecure hmac sig"
        )],
        Some(&format!(
            "auth hook user {USER} password {PASSWORD}\nhmac sig \"{HMAC_KEY}\"\n"
        )),
    )?;
    let repo = ctx.w.settings.repo_name.clone();
    let devuser = ctx.w.devuser.name.clone();
    let next = || -> Result<serde_json::Value> {
        match posts.recv_timeout(ARRIVAL) {
            Ok(Ok(p)) => Ok(p.body),
            Ok(Err(e)) => bail!("the endpoint refused a request: {e}"),
            Err(_) => bail!("no notification arrived at the endpoint"),
        }
    };
    pushes(ctx, &mut |_ctx, pushed| {
        let v = next()?;
        let all = v["notifications"].as_array().cloned().unwrap_or_default();
        let first = all.first().cloned().unwrap_or_default();
        let text = v.to_string();
        ensure(first["repo"] == repo.as_str(), || format!("repo: {text}"))?;
        ensure(first["authenticated_user"] == devuser.as_str(), || {
            format!("authenticated_user: {text}")
        })?;
        match pushed {
            Pushed::Changed { id, message } => {
                ensure(
                    first["type"] == "commit"
                        && first["id"] == id.as_str()
                        && first["short_message"] == message.as_str()
                        && first["short"] == false
                        && first["diffstat"] == alpha_changed(),
                    || format!("commit {id}: {text}"),
                )?;
            }
            Pushed::Several { id } => {
                let want = serde_json::json!({
                    "files": [
                        {"action": "modified", "file": "alpha", "added": 1, "removed": 1},
                        {"action": "deleted", "file": "beta", "added": 0, "removed": 1},
                        {"action": "added", "file": "gamma/new", "added": 3, "removed": 0},
                    ],
                    "total": {"added": 4, "removed": 2},
                });
                ensure(
                    first["id"] == id.as_str() && first["diffstat"] == want,
                    || format!("several files in {id}: {text}"),
                )?;
            }
            Pushed::Created { id } => {
                ensure(
                    first["type"] == "commit"
                        && first["id"] == id.as_str()
                        && all.len() == 1
                        && first["diffstat"] == alpha_changed(),
                    || format!("created at {id}: {text}"),
                )?;
            }
            Pushed::Removed { id } => {
                ensure(
                    first["type"] == "branch-deleted"
                        && first["ref"] == "refs/heads/newbranch"
                        && first["id"] == id.as_str(),
                    || format!("branch-deleted: {text}"),
                )?;
            }
            Pushed::Tag { target } => {
                ensure(
                    first["type"] == "tag"
                        && first["tag"] == "refs/tags/1.0"
                        && first["object"]["id"] == target.as_str()
                        && first["object"]["type"] == "commit"
                        && first["message"] == "new tag\n",
                    || format!("tag: {text}"),
                )?;
            }
            Pushed::BadUtf8 { id } => {
                let no_changes = serde_json::json!({
                    "files": [],
                    "total": {"added": 0, "removed": 0},
                });
                ensure(
                    first["id"] == id.as_str()
                        && first["short_message"] == "make\u{FFFD}\u{FFFD}\u{FFFD}changes"
                        && first["diffstat"] == no_changes,
                    || format!("bad UTF-8: {text}"),
                )?;
            }
            Pushed::Many { id, count } => {
                ensure(all.len() == count, || {
                    format!("{} entries, want {count}", all.len())
                })?;
                ensure(
                    all.iter()
                        .all(|n| n["short"] == true && n.get("diffstat").is_none())
                        && first["id"] == id.as_str(),
                    || format!("not summarised: {text}"),
                )?;
            }
        }
        Ok(())
    })?;
    if let Ok(r) = posts.recv_timeout(Duration::from_millis(500)) {
        bail!("an unexpected request: {:?}", r.map(|p| p.body));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_credentials() {
        assert_eq!(base64_encode("flan:password"), "ZmxhbjpwYXNzd29yZA==");
        assert_eq!(base64_encode("ab"), "YWI=");
        assert_eq!(base64_encode("abc"), "YWJj");
    }

    #[test]
    fn mail_parts() {
        let m = Mail {
            dialogue: "DATA\r\nSubject: s\r\nTo: t\r\n\r\nline 1\r\n..dot\r\n.\r\nQUIT\r\n".into(),
        };
        assert_eq!(m.header("Subject"), Some("s"));
        assert_eq!(m.body(), "line 1\n..dot");
    }
}
