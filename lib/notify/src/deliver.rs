//! Delivering one notification with bounded retries.

use std::time::Duration;

use crate::email::{self, Envelope};
use crate::http::{self, Endpoint};
use crate::summary::RefSummary;
use crate::Error;

/// Attempts per notification.
pub const ATTEMPTS: u32 = 3;
/// Default timeout of every network operation (`GOT_NOTIFY_TIMEOUT`
/// overrides it, in seconds).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a notification goes, with secrets resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Email(Envelope),
    Http(Endpoint),
}

impl Target {
    /// For the log: the address or URL.
    pub fn describe(&self) -> String {
        match self {
            Target::Email(e) => format!("mail to {} via {}:{}", e.to, e.relay_host, e.relay_port),
            Target::Http(h) => h.url.clone(),
        }
    }
}

/// One notification to send.
#[derive(Debug, Clone)]
pub struct Job {
    pub target: Target,
    /// Repository name as configured.
    pub repo: String,
    /// The pushing user's name.
    pub user: String,
    pub summary: RefSummary,
}

/// The timeout from `GOT_NOTIFY_TIMEOUT` (seconds), else the default.
pub fn timeout_from_env() -> Duration {
    std::env::var("GOT_NOTIFY_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

fn attempt(job: &Job, timeout: Duration, now: i64) -> Result<(), Error> {
    match &job.target {
        Target::Email(env) => {
            let subject = email::subject(&job.repo, &job.user, &job.summary);
            let body = email::body(&job.summary);
            email::send(env, &email::message(env, &subject, &body, now), timeout)
        }
        Target::Http(ep) => {
            http::post(ep, &http::body(&job.repo, &job.user, &job.summary), timeout)
        }
    }
}

/// Sends `job`, trying up to [`ATTEMPTS`] times with `backoff`, then twice
/// `backoff`, between attempts. `on_retry` hears about each failed attempt
/// that is followed by another. Returns the last error if all fail.
pub fn deliver(
    job: &Job,
    timeout: Duration,
    backoff: Duration,
    mut on_retry: impl FnMut(u32, &Error),
) -> Result<(), Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut wait = backoff;
    let mut n = 1;
    loop {
        match attempt(job, timeout, now) {
            Ok(()) => return Ok(()),
            Err(e) if n >= ATTEMPTS => return Err(e),
            Err(e) => {
                on_retry(n, &e);
                std::thread::sleep(wait);
                wait *= 2;
                n += 1;
            }
        }
    }
}
