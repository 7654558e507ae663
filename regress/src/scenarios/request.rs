//! Malformed requests sent as raw pkt-lines over ssh (upstream request_bad):
//! every one gets its exact `ERR` reply and `gotsh:` message, and the daemon
//! keeps serving afterwards.

use anyhow::{Context, Result};

use super::{ensure, none, Body, Ctx, Scenario, Setup, StartMode};
use crate::client::parse_pkts;
use crate::repo::RepoKind;
use crate::{cmd, redact, snapshot};

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "request_bad",
        about: "bad pkt-lines, wants and repository names get exact ERR replies",
        skip_if: None,
        body: Body::Served {
            setup: Setup {
                repo: RepoKind::Empty,
                rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                global: none,
                extra_repos: none,
                start: StartMode::Default,
            },
            run: request_bad,
        },
    }]
}

/// One raw request: the repository path and the bytes sent.
struct Case {
    name: &'static str,
    repo: String,
    input: Vec<u8>,
}

fn cases(repo: &str) -> Vec<Case> {
    let a40 = "a".repeat(40);
    let want = format!("want {a40} multi_ack side-band-64k ofs-delta\n");
    let odd = format!("want {a40} aaaaaaaaa bbbbbbbbbbbbb ccccccccc\n");
    let r = format!("'/{repo}'");
    let case = |name, repo: &str, input: String| Case {
        name,
        repo: repo.to_string(),
        input: input.into_bytes(),
    };
    vec![
        case("want of a missing object", &r, format!("0054{want}")),
        case("flush then data", &r, format!("0000{want}")),
        case("length 4", &r, format!("0004{want}")),
        case("length 2", &r, format!("0002{want}")),
        case("length beyond the data", &r, format!("ffff{want}")),
        case("want without known capabilities", &r, format!("0054{odd}")),
        case("unknown repository", "'/XXXX-XXXX'", "0000".into()),
        case(
            "repository name of 255 bytes",
            &format!("'{}'", "A".repeat(255)),
            "0000".into(),
        ),
    ]
}

/// What the client saw after the advertisement, for the snapshot: the
/// pkt-lines that follow the advertisement's flush (or all of them when
/// there was no advertisement) and gotsh's stderr.
fn describe_reply(stdout: &[u8], stderr: &[u8]) -> (String, bool) {
    let (pkts, rest) = parse_pkts(stdout);
    let adv_end = pkts.iter().position(|p| p.is_none());
    let advertised = adv_end.is_some()
        && pkts
            .first()
            .and_then(|p| p.as_ref())
            .is_some_and(|p| !p.starts_with(b"ERR "));
    let tail: &[Option<Vec<u8>>] = match (advertised, adv_end) {
        (true, Some(i)) => &pkts[i + 1..],
        _ => &pkts[..],
    };
    let mut s = String::new();
    for p in tail {
        match p {
            None => s.push_str("0000"),
            Some(b) => {
                s.push_str(&format!("{:04x}", b.len() + 4));
                s.push_str(&redact::visible(b));
            }
        }
    }
    s.push_str(&redact::visible(&rest));
    let err = String::from_utf8_lossy(stderr);
    (
        format!(
            "advertisement: {}\nreply: {}\nstderr: {}",
            if advertised { "yes" } else { "no" },
            redact::standard(&s),
            redact::standard(err.trim_end())
        ),
        advertised,
    )
}

fn request_bad(ctx: &mut Ctx) -> Result<()> {
    let mut report = String::new();
    for c in cases(&ctx.w.settings.repo_name) {
        let out = ctx
            .client()
            .ssh(&format!("git-upload-pack {}", c.repo), &c.input)
            .with_context(|| c.name)?;
        let (text, advertised) = describe_reply(&out.stdout, &out.stderr);
        if advertised {
            // The empty repository's advertisement: capabilities^{} and
            // the capabilities gotd promises.
            let adv = String::from_utf8_lossy(&out.stdout);
            for want in ["capabilities^{}", "agent=", "ofs-delta", "side-band-64k"] {
                ensure(adv.contains(want), || {
                    format!("{}: advertisement lacks {want}: {adv:?}", c.name)
                })?;
            }
        }
        report.push_str(&format!(
            "== {} (exit {})\n{text}\n",
            c.name,
            out.status
                .code()
                .map(|c| c.to_string())
                .unwrap_or("signal".into())
        ));
    }
    snapshot::check("request_bad", &report)?;

    // Ten sessions without a repository argument (a gotsh error or its
    // usage, never a crash of gotd), then a clone still works.
    for _ in 0..10 {
        let out = ctx.client().ssh("git-upload-pack", b"")?;
        let err = cmd::stderr_text(&out);
        ensure(
            out.status.code() == Some(1)
                && (err.starts_with("gotsh: ") || err.starts_with("usage: gotsh")),
            || {
                format!(
                    "git-upload-pack without a path: {}: {err:?}",
                    cmd::status_text(out.status)
                )
            },
        )?;
    }
    let out = ctx
        .client()
        .git(&ctx.work, &["clone", "-q", &ctx.url(), "clone"])?;
    ensure(out.status.success(), || {
        format!("clone after bad requests: {}", cmd::stderr_text(&out))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_lengths_match_upstream() {
        let c = cases("test-repo");
        // The first case's pkt-len counts the newline that echo appends.
        assert_eq!(c[0].input.len(), 0x54);
        assert_eq!(c[5].input.len(), 0x54);
    }

    #[test]
    fn reply_after_advertisement() {
        let out = format!(
            "{}0000{}",
            crate::client::pkt(&format!(
                "{} capabilities^{{}}\0 agent=gotd/1 ofs-delta",
                "0".repeat(40)
            )),
            crate::client::pkt(&format!("ERR object {} not found", "a".repeat(40)))
        );
        let (text, adv) = describe_reply(out.as_bytes(), b"gotsh: object x not found\n");
        assert!(adv);
        assert_eq!(
            text,
            "advertisement: yes\nreply: 0041ERR object [ID] not found\nstderr: gotsh: object x not found"
        );
    }

    #[test]
    fn reply_without_advertisement() {
        let (text, adv) = describe_reply(b"001fERR no git repository found", b"");
        assert!(!adv);
        assert_eq!(
            text,
            "advertisement: no\nreply: 001fERR no git repository found\nstderr: "
        );
    }
}
