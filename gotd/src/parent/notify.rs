//! Delivery of push notifications, outside the event loop.
//!
//! The write child summarises the updated refs and sends the summaries
//! after its final status (which the parent has already passed on to the
//! client); [`queue`] turns them into one job per ref and
//! target (secrets resolved) and hands them to a single worker thread,
//! started on first use, which delivers them one at a time with
//! [`gotd_notify::deliver`] (timeouts on every network operation, up to
//! three attempts with backoff). Delivery never delays or fails a push: the
//! client has its status before the jobs are queued, and a full queue or a
//! failed delivery is only logged. Jobs still queued when the daemon
//! stops are dropped.
//!
//! A thread rather than a separate process: the parent already runs as the
//! unprivileged daemon user, the jobs need no repository access, and a
//! blocking thread keeps the single-threaded event loop responsive.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::time::Duration;

use gotd_config::{NotifyTarget, Secrets};
use gotd_notify::email::Envelope;
use gotd_notify::http::Endpoint;
use gotd_notify::{Job, RefSummary, Target};

use crate::{log_debug, log_info, log_warn};

/// Jobs waiting at most; more are dropped (and logged).
pub const QUEUE: usize = 256;
/// Wait after a failed attempt (doubled after each further one).
const BACKOFF: Duration = Duration::from_secs(1);

static WORKER: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();

fn worker() -> Option<&'static SyncSender<Job>> {
    WORKER
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            let timeout = gotd_notify::deliver::timeout_from_env();
            let spawned = std::thread::Builder::new()
                .name("notify".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let what = format!(
                            "{} {} to {}",
                            job.repo,
                            job.summary.refname,
                            job.target.describe()
                        );
                        let r = gotd_notify::deliver(&job, timeout, BACKOFF, |n, e| {
                            log_info!("notification {what}: attempt {n} failed: {e}; retrying")
                        });
                        match r {
                            Ok(()) => log_debug!("notification {what}: sent"),
                            Err(e) => log_warn!("notification {what}: giving up: {e}"),
                        }
                    }
                });
            match spawned {
                Ok(_) => Some(tx),
                Err(e) => {
                    log_warn!("notifications disabled: starting the notify thread: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// Resolves a configured target; `None` (logged) if a secret is missing.
pub fn target(t: &NotifyTarget, secrets: Option<&Secrets>, daemon_user: &str) -> Option<Target> {
    match t {
        NotifyTarget::Email {
            from,
            to,
            reply_to,
            relay_host,
            relay_port,
        } => Some(Target::Email(Envelope {
            from: from.clone().unwrap_or_else(|| {
                let host = nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| "localhost".into());
                format!("{daemon_user}@{host}")
            }),
            to: to.clone(),
            reply_to: reply_to.clone(),
            relay_host: relay_host.clone(),
            relay_port: *relay_port,
        })),
        NotifyTarget::Http {
            url, auth, hmac, ..
        } => {
            let auth = match auth {
                None => None,
                Some(label) => match secrets.and_then(|s| s.auth(label)) {
                    Some((u, p)) => Some((u.to_string(), p.to_string())),
                    None => {
                        log_warn!("notification to {url}: no auth {label} in the secrets file");
                        return None;
                    }
                },
            };
            let hmac = match hmac {
                None => None,
                Some(label) => match secrets.and_then(|s| s.hmac(label)) {
                    Some(k) => Some(k.to_string()),
                    None => {
                        log_warn!("notification to {url}: no hmac {label} in the secrets file");
                        return None;
                    }
                },
            };
            Some(Target::Http(Endpoint {
                url: url.clone(),
                auth,
                hmac,
            }))
        }
    }
}

/// Queues one job per summary and target.
pub fn queue(repo: &str, user: &str, targets: &[Target], summaries: Vec<RefSummary>) {
    if targets.is_empty() || summaries.is_empty() {
        return;
    }
    let Some(tx) = worker() else { return };
    for summary in summaries {
        for target in targets {
            let job = Job {
                target: target.clone(),
                repo: repo.to_string(),
                user: user.to_string(),
                summary: summary.clone(),
            };
            match tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(j)) => log_warn!(
                    "notification {} {} to {}: queue full; dropped",
                    j.repo,
                    j.summary.refname,
                    j.target.describe()
                ),
                Err(TrySendError::Disconnected(_)) => {
                    log_warn!("notifications: the notify thread is gone");
                    return;
                }
            }
        }
    }
}

/// The name of the user with `uid`, or the number.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}
