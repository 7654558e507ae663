//! HTTP notifications: the JSON body for one updated ref and the POST that
//! delivers it, with Basic authentication and an HMAC-SHA256 signature of
//! the body in `X-Gotd-Signature: sha256=<hex>` when configured.
//!
//! The body is `{"notifications":[…]}` with one entry per listed commit
//! (`"type":"commit"`, in short form past [`FULL_LIMIT`] commits), a
//! `"branch-deleted"` entry for a removed ref, or a `"tag"` entry for an
//! annotated tag, with upstream gotd's field names. A commit in full form
//! carries a `"diffstat"`: `{"files":[{"action","file","added",
//! "removed"}],"total":{"added","removed"}}`, the total over the listed
//! files; when files were left out, `"unlisted_files"` (our extension)
//! says how many.
//!
//! [`FULL_LIMIT`]: crate::summary::FULL_LIMIT

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::date;
use crate::summary::{Change, DiffStat, Person, RefSummary};
use crate::Error;

/// Where and how to POST.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// Basic authentication (user, password).
    pub auth: Option<(String, String)>,
    /// HMAC key for `X-Gotd-Signature`.
    pub hmac: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("auth", &self.auth.as_ref().map(|(u, _)| u))
            .field("hmac", &self.hmac.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn person(p: &Person) -> Value {
    json!({"full": p.full(), "name": p.name, "mail": p.email, "user": p.user()})
}

fn diffstat(d: &DiffStat) -> Value {
    let files: Vec<Value> = d
        .files
        .iter()
        .map(|f| {
            json!({
                "action": f.action.word(),
                "file": f.path,
                "added": f.added,
                "removed": f.removed,
            })
        })
        .collect();
    let (added, removed) = d.total();
    let mut v = json!({
        "files": files,
        "total": {"added": added, "removed": removed},
    });
    if d.more_files > 0 {
        v["unlisted_files"] = json!(d.more_files);
    }
    v
}

/// The JSON body for one ref.
pub fn body(repo: &str, user: &str, s: &RefSummary) -> String {
    let mut items = Vec::new();
    if s.change == Change::Removed {
        items.push(json!({
            "type": "branch-deleted",
            "repo": repo,
            "authenticated_user": user,
            "ref": s.refname,
            "id": s.old,
        }));
    } else if let Some(t) = &s.tag {
        items.push(json!({
            "type": "tag",
            "repo": repo,
            "authenticated_user": user,
            "tag": s.refname,
            "tagger": person(&t.tagger),
            "date": date::long(t.time),
            "object": {"type": t.object_kind, "id": t.object_id},
            "message": t.message,
        }));
    } else {
        let short = s.is_short();
        for c in &s.commits {
            items.push(if short {
                json!({
                    "type": "commit",
                    "short": true,
                    "repo": repo,
                    "authenticated_user": user,
                    "id": c.id,
                    "committer": {"user": c.committer.user()},
                    "date": date::short(c.time),
                    "short_message": c.short_message(),
                })
            } else {
                let mut v = json!({
                    "type": "commit",
                    "short": false,
                    "repo": repo,
                    "authenticated_user": user,
                    "id": c.id,
                    "author": person(&c.author),
                    "committer": person(&c.committer),
                    "date": date::long(c.time),
                    "short_message": c.short_message(),
                    "message": c.message,
                });
                if let Some(d) = &c.diffstat {
                    v["diffstat"] = diffstat(d);
                }
                v
            });
        }
    }
    let mut doc = json!({ "notifications": items });
    let unlisted = s.total_commits.saturating_sub(s.commits.len());
    if unlisted > 0 && s.tag.is_none() && s.change != Change::Removed {
        doc["unlisted_commits"] = json!(unlisted);
    }
    doc.to_string()
}

/// `sha256=<hex of HMAC-SHA256(key, body)>`.
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// `Basic <base64(user:password)>`.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// POSTs `body`; any status other than 2xx is an error. `timeout` bounds
/// the whole request.
pub fn post(ep: &Endpoint, body: &str, timeout: Duration) -> Result<(), Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("gotd/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent
        .post(&ep.url)
        .header("Content-Type", "application/json");
    if let Some((u, p)) = &ep.auth {
        req = req.header("Authorization", basic_auth(u, p));
    }
    if let Some(key) = &ep.hmac {
        req = req.header("X-Gotd-Signature", signature(key, body.as_bytes()));
    }
    let resp = req
        .send(body.as_bytes())
        .map_err(|e| Error::Http(format!("{}: {e}", ep.url)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Error::Http(format!("{}: HTTP status {status}", ep.url)))
    }
}
