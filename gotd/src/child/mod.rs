//! A repo child: one client, one repository, sandboxed.
//!
//! Started by the parent as `gotd -T r|w -P <repository>` with its IPC
//! socket on fd 3. It sandboxes itself, says READY, receives the client's
//! descriptors and the request, serves the exchange with the upload-pack or
//! receive-pack library, reports the outcome and exits. It never reads
//! gotd.conf and holds no other descriptors than 0, 1, 2 and 3.

pub mod activity;
pub mod sandbox;
pub mod seccomp;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use gotd_wire::ipc::Channel;
use gotd_wire::{sys, Protocol};

use crate::msg::{RefUpdate, Serve, ToChild, ToParent};
use crate::opts::ChildKind;
use crate::{log_info, log_warn};

/// Why a child could not do its job (before or outside the exchange).
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("repo child must not run as root")]
    Root,
    #[error("{0}")]
    Fd3(std::io::Error),
    #[error("talking to the parent: {0}")]
    Ipc(#[from] gotd_wire::ipc::IpcError),
    #[error("the IPC channel is still in use after the exchange")]
    ChannelInUse,
    #[error("parent closed the connection before sending a request")]
    NoRequest,
}

/// Runs a repo child to completion.
pub fn run(kind: ChildKind, repo: &Path) -> Result<(), ChildError> {
    if nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root() {
        return Err(ChildError::Root);
    }
    let fd = sys::take_child_ipc_fd().map_err(ChildError::Fd3)?;
    let mut ch = Channel::new(UnixStream::from(fd));
    let write = kind == ChildKind::Writer;
    let report = sandbox::apply(repo, write);
    ch.send(&ToParent::Ready { sandbox: report }, &[])?;
    let Some(ToChild::Serve(req)) = ch.recv::<ToChild>()? else {
        return Err(ChildError::NoRequest);
    };
    // Writers register for as long as they run, so that the only writer of
    // a repository may remove ref lock files of killed writers.
    let _writer = if write {
        match gotd_receive_pack::enter_writer(&req.repo_path) {
            Ok((guard, 0)) => Some(guard),
            Ok((guard, n)) => {
                log_info!("removed {n} ref lock files of killed pushes");
                Some(guard)
            }
            Err(e) => {
                log_warn!("registering as a writer: {e}");
                None
            }
        }
    } else {
        None
    };
    if write {
        // Quarantine directories of writers that were killed; live pushes
        // hold a lock on theirs and are left alone.
        match gotd_receive_pack::remove_stale_temporaries(&req.repo_path) {
            Ok(0) => {}
            Ok(n) => log_info!("removed {n} stale temporary directories of killed pushes"),
            Err(e) => log_warn!("removing stale temporary files: {e}"),
        }
    }
    let mut fds = ch.take_fds(2)?.into_iter();
    let (Some(input), Some(output)) = (fds.next(), fds.next()) else {
        unreachable!("take_fds(2) returns two descriptors");
    };
    let tracker = activity::Tracker::new(ch);
    let mut input = activity::TrackedRead {
        inner: File::from(input),
        tracker: tracker.clone(),
    };
    let mut output = activity::TrackedWrite {
        inner: File::from(output),
        tracker: tracker.clone(),
    };
    let (error, updates) = serve(kind, &req, &mut input, &mut output);
    drop(input);
    drop(output);
    let (mut ch, traffic) =
        activity::Tracker::into_channel(tracker).ok_or(ChildError::ChannelInUse)?;
    let finished = ToParent::Finished {
        error,
        updates,
        traffic,
    };
    ch.send(&finished, &[])?;
    // The parent answers the client on `Finished`; reading the repository
    // for notifications happens after that, so it never delays the push.
    if let (
        Some(filter),
        ToParent::Finished {
            error: None,
            updates,
            ..
        },
    ) = (&req.notify, &finished)
    {
        let summaries = summarise(&req, updates, filter);
        ch.send(&ToParent::Notifications(summaries), &[])?;
    }
    Ok(())
}

/// Serves the exchange; returns the error the client was sent, if any, and
/// the ref updates a push requested.
fn serve(
    kind: ChildKind,
    req: &Serve,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> (Option<String>, Vec<RefUpdate>) {
    let agent = format!("gotd/{}", crate::VERSION);
    let protocol = Protocol::from_git_protocol(&req.protocol);
    match kind {
        ChildKind::Reader => {
            let opts = gotd_upload_pack::Options {
                agent,
                protocol,
                ..Default::default()
            };
            let r = gotd_upload_pack::serve(&req.repo_path, input, output, &opts);
            (r.err().map(|e| e.to_string()), Vec::new())
        }
        ChildKind::Writer => {
            let opts =
                gotd_receive_pack::Options::new(agent, protocol, req.protection.clone(), req.uid);
            match gotd_receive_pack::serve(&req.repo_path, input, output, &opts) {
                Ok(outcome) => {
                    let updates = outcome
                        .updates
                        .into_iter()
                        .map(|u| RefUpdate {
                            name: u.name,
                            old: u.old,
                            new: u.new,
                            error: u.error,
                        })
                        .collect();
                    (None, updates)
                }
                Err(e) => (Some(e.to_string()), Vec::new()),
            }
        }
    }
}

/// Room for notification summaries in the final status message, which must
/// stay below the IPC frame limit together with the list of updates.
const NOTIFY_BUDGET: usize = gotd_wire::ipc::MAX_FRAME - 8 * 1024;

/// Summaries of the applied updates `filter` wants, bounded in size.
fn summarise(
    req: &Serve,
    updates: &[RefUpdate],
    filter: &gotd_notify::RefFilter,
) -> Vec<gotd_notify::RefSummary> {
    let applied: Vec<(String, String, String)> = updates
        .iter()
        .filter(|u| u.error.is_none())
        .map(|u| (u.name.clone(), u.old.clone(), u.new.clone()))
        .collect();
    let mut out = match gotd_notify::collect(&req.repo_path, &applied, filter) {
        Ok(s) => s,
        Err(e) => {
            log_warn!("notifications: reading the repository: {e}");
            return Vec::new();
        }
    };
    let listed: usize = updates
        .iter()
        .map(|u| 96 + u.name.len() + u.error.as_ref().map_or(0, |e| e.len()))
        .sum();
    let dropped = gotd_notify::fit(&mut out, NOTIFY_BUDGET.saturating_sub(listed));
    if dropped > 0 {
        log_warn!("notifications: {dropped} updated references left out (too many at once)");
    }
    out
}
