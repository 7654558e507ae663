//! One connection on the daemon socket, from the first request to the
//! release of every resource it used.
//!
//! gotctl requests are answered directly (see [`super::control`]). A git
//! request is checked against the configuration (repository, access
//! rules); errors at that stage go back to gotsh, which sends them to the
//! git client as an `ERR` packet. Otherwise a repo child is started, given
//! the client's descriptors, and watched until it finishes, the client
//! goes away, the request timeout expires or the daemon shuts down.

use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use gotd_config::{AccessDecision, Config};
use gotd_wire::ipc::IpcError;
use gotd_wire::request::{Reply, Request, Service, MAX_REPO_NAME};
use gotd_wire::sys::PeerCred;
use tokio::time::{timeout, Instant};

use super::children::{self, ChildProc};
use super::control;
use super::notify;
use super::state::{Shared, Slot};
use crate::achannel::AsyncChannel;
use crate::msg::{Serve, ToChild, ToParent, Traffic};
use crate::opts::ChildKind;
use crate::privsep::peer_groups;
use crate::{log_debug, log_info, log_notice, log_warn};

/// How long a new connection may take to send its request.
pub const FIRST_REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long a child may take to sandbox itself and say READY.
pub const CHILD_READY_DEADLINE: Duration = Duration::from_secs(10);

/// How long a writer may take to summarise a push for notifications.
const NOTIFICATIONS_DEADLINE: Duration = Duration::from_secs(30);

/// How long a child that has reported may take to exit before SIGTERM.
const EXIT_PATIENCE: Duration = Duration::from_secs(2);

/// How a child's run ended, with the reply for gotsh.
enum Outcome {
    /// The child reported and will exit by itself; `notes` when it will
    /// send notification summaries next.
    Finished(Reply, bool),
    /// Anything else: the child must be stopped.
    Failed(Reply),
}

/// Text sent when a child ends without reporting.
const CHILD_VANISHED: &str = "unexpected end of file";

/// Serves one admitted connection.
pub async fn handle(state: Shared, mut ch: AsyncChannel, cred: PeerCred, slot: Slot) {
    let started = Instant::now();
    let req = match timeout(FIRST_REQUEST_DEADLINE, ch.recv::<Request>()).await {
        Err(_) => {
            log_info!(
                "uid {}: no request within {:?}; disconnecting",
                cred.uid,
                FIRST_REQUEST_DEADLINE
            );
            return;
        }
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            log_info!("uid {}: bad request: {e}", cred.uid);
            let _ = reply_err(&mut ch, &e.to_string(), false).await;
            return;
        }
    };
    match req {
        Request::Git {
            service,
            repo,
            protocol,
        } => {
            let fds = match ch.take_fds(2) {
                Ok(f) => f,
                Err(e) => {
                    let _ = reply_err(&mut ch, &e.to_string(), false).await;
                    return;
                }
            };
            let (result, traffic, name) =
                serve_git(&state, ch, cred, slot, service, &repo, protocol, fds).await;
            log_notice!(
                "{}",
                crate::log::connection(
                    cred.uid,
                    service.command(),
                    name.as_deref().unwrap_or(&repo),
                    &result,
                    traffic.received,
                    traffic.sent,
                    started.elapsed()
                )
            );
        }
        other => {
            let expected = match &other {
                Request::Reload(r) => r.fd_count(),
                _ => 0,
            };
            let fds = match ch.take_fds(expected) {
                Ok(f) => f,
                Err(e) => {
                    let _ = reply_err(&mut ch, &e.to_string(), false).await;
                    return;
                }
            };
            control::handle(&state, &mut ch, cred, slot.id(), other, fds).await;
        }
    }
}

/// Answers a connection over its uid's limit.
pub async fn refuse_over_limit(mut ch: AsyncChannel, cred: PeerCred, _slot: Slot) {
    const MSG: &str = "connection limit exceeded";
    let started = Instant::now();
    // Read the request first so the refusal does not race the client's
    // write (closing with unread data would reset the connection).
    let req = timeout(FIRST_REQUEST_DEADLINE, ch.recv::<Request>()).await;
    let _ = reply_err(&mut ch, MSG, false).await;
    match req {
        Ok(Ok(Some(Request::Git { service, repo, .. }))) => log_notice!(
            "{}",
            crate::log::connection(
                cred.uid,
                service.command(),
                &repo,
                MSG,
                0,
                0,
                started.elapsed()
            )
        ),
        _ => log_info!("uid {}: {MSG}", cred.uid),
    }
}

async fn reply_err(
    ch: &mut AsyncChannel,
    message: &str,
    client_told: bool,
) -> Result<(), IpcError> {
    ch.send(
        &Reply::Error {
            message: message.to_string(),
            client_told,
        },
        &[],
    )
    .await
}

/// The access decision for a git request: the repository and child kind,
/// or the client-visible error.
pub fn authorize(
    config: &Config,
    cred: PeerCred,
    gids: &[u32],
    service: Service,
    requested: &str,
) -> Result<(String, std::path::PathBuf, gotd_config::Protection), String> {
    let name = gotd_config::normalize_repo_name(requested);
    if name.len() > MAX_REPO_NAME {
        return Err("buffer too small".into());
    }
    let repo = config
        .find_repository(&name)
        .ok_or_else(|| "no git repository found".to_string())?;
    match repo.check_access(cred.uid, gids, service.is_write()) {
        AccessDecision::Granted => Ok((
            repo.name.clone(),
            repo.path.clone(),
            repo.protection.clone(),
        )),
        AccessDecision::NoMatch => Err("no git repository found".into()),
        AccessDecision::Denied => Err(format!("{}: Permission denied", repo.name)),
    }
}

/// Serves a git request; returns the result for the connection's log line
/// (`ok` or the client's error), the bytes moved, and the configured
/// repository name once the request was resolved.
#[allow(clippy::too_many_arguments)]
async fn serve_git(
    state: &Shared,
    mut ch: AsyncChannel,
    cred: PeerCred,
    slot: Slot,
    service: Service,
    requested: &str,
    protocol: String,
    fds: Vec<OwnedFd>,
) -> (String, Traffic, Option<String>) {
    let config: Rc<Config> = state.borrow().config.clone();
    let gids = peer_groups(cred.uid, cred.gid);
    let (name, path, protection) = match authorize(&config, cred, &gids, service, requested) {
        Ok(r) => r,
        Err(msg) => {
            let _ = reply_err(&mut ch, &msg, false).await;
            return (msg, Traffic::default(), None);
        }
    };
    let writing = service.is_write();
    state.borrow_mut().update_client(slot.id(), |c| {
        c.repo = Some(name.clone());
        c.writing = writing;
    });
    let kind = if writing {
        ChildKind::Writer
    } else {
        ChildKind::Reader
    };
    let (child, mut child_ch) = match children::spawn(state, kind, &path) {
        Ok(c) => c,
        Err(e) => {
            log_warn!("starting repo child: {e}");
            let msg = format!("cannot start repository process: {e}");
            let _ = reply_err(&mut ch, &msg, false).await;
            return (msg, Traffic::default(), Some(name));
        }
    };
    state
        .borrow_mut()
        .update_client(slot.id(), |c| c.repo_pid = Some(child.pid as u32));
    log_info!(
        "uid {}: {} repository \"{name}\", repo child {}",
        cred.uid,
        if writing {
            "writing to"
        } else {
            "reading from"
        },
        child.pid
    );
    // Notification targets are resolved now, with the configuration this
    // connection was admitted under.
    let notify_conf = config
        .find_repository(&name)
        .map(|r| r.notify.clone())
        .unwrap_or_default();
    let targets: Vec<gotd_notify::Target> = if writing {
        let s = state.borrow();
        notify_conf
            .targets
            .iter()
            .filter_map(|t| notify::target(t, s.instance.secrets.as_ref(), &config.user))
            .collect()
    } else {
        Vec::new()
    };
    let request = Serve {
        repo_name: name.clone(),
        repo_path: path,
        protocol,
        uid: cred.uid,
        protection: if writing {
            protection
        } else {
            Default::default()
        },
        notify: (!targets.is_empty()).then(|| gotd_notify::RefFilter {
            branches: notify_conf.branches.clone(),
            namespaces: notify_conf.reference_namespaces.clone(),
        }),
    };
    let timeout_secs = config.request_timeout_secs;
    drop(config);
    let mut traffic = Traffic::default();
    let outcome = run_child(
        state,
        &mut ch,
        &mut child_ch,
        &child,
        request,
        fds,
        timeout_secs,
        &mut traffic,
    )
    .await;
    let result = match &outcome {
        Some(Outcome::Finished(reply, _) | Outcome::Failed(reply)) => match reply {
            Reply::Error { message, .. } => message.clone(),
            _ => "ok".to_string(),
        },
        None => "client disconnected".to_string(),
    };
    // The client's status goes out before teardown, which may take the
    // kill grace period.
    let finished = matches!(outcome, Some(Outcome::Finished(..)));
    let notes = match outcome {
        Some(Outcome::Finished(reply, notes)) => {
            let _ = ch.send(&reply, &[]).await;
            notes
        }
        Some(Outcome::Failed(reply)) => {
            let _ = ch.send(&reply, &[]).await;
            false
        }
        None => false,
    };
    drop(ch);
    if notes {
        // The client has its status; the child now reads what to notify.
        match timeout(NOTIFICATIONS_DEADLINE, child_ch.recv::<ToParent>()).await {
            Ok(Ok(Some(ToParent::Notifications(summaries)))) => {
                notify::queue(&name, &notify::user_name(cred.uid), &targets, summaries)
            }
            other => log_warn!(
                "repo child {}: no notifications: {}",
                child.pid,
                describe_recv(&other)
            ),
        }
    }
    drop(child_ch);
    // Keep the slot (and per-uid count) until the child is reaped. A child
    // that reported its outcome is about to exit by itself.
    if finished {
        child.finish(EXIT_PATIENCE).await;
    } else {
        child.terminate().await;
    }
    drop(slot);
    (result, traffic, Some(name))
}

/// Drives a child from READY to its final status. Returns the reply for
/// gotsh, or None when gotsh is gone; `traffic` holds the bytes the child
/// last reported.
#[allow(clippy::too_many_arguments)]
async fn run_child(
    state: &Shared,
    ch: &mut AsyncChannel,
    child_ch: &mut AsyncChannel,
    child: &ChildProc,
    request: Serve,
    fds: Vec<OwnedFd>,
    timeout_secs: u64,
    traffic: &mut Traffic,
) -> Option<Outcome> {
    let pid = child.pid;
    let uid = request.uid;
    // A writer asked for notifications sends them after a successful push.
    let notes = request.notify.is_some();
    let mut shutdown = state.borrow().shutdown.subscribe();
    // The request goes out at once, without waiting for READY: it waits in
    // the socket until the child, sandboxed, reads it. That keeps a round
    // trip through the parent off every connection's start.
    let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
    if let Err(e) = child_ch.send(&ToChild::Serve(request), &borrowed).await {
        log_warn!("repo child {pid}: sending request: {e}");
        return Some(Outcome::Failed(Reply::Error {
            message: "repository process failed to start".into(),
            client_told: false,
        }));
    }
    // The socket holds copies for the child now; ours must go so the
    // client sees end of file when the child is done.
    drop(borrowed);
    drop(fds);
    match timeout(CHILD_READY_DEADLINE, child_ch.recv::<ToParent>()).await {
        Ok(Ok(Some(ToParent::Ready { sandbox }))) => {
            log_info!("repo child {pid}: sandbox: {}", sandbox.join(", "));
        }
        other => {
            log_warn!(
                "repo child {pid} did not become ready: {}",
                describe_recv(&other)
            );
            return Some(Outcome::Failed(Reply::Error {
                message: "repository process failed to start".into(),
                client_told: false,
            }));
        }
    }
    // The request timeout measures idleness: the child reports activity
    // while bytes flow (at most once per interval), and each report re-arms
    // it. The interval is added so that steady traffic never times out.
    let idle = Duration::from_secs(timeout_secs.max(1)) + crate::child::activity::INTERVAL;
    let mut deadline = Instant::now() + idle;
    loop {
        tokio::select! {
            msg = child_ch.recv::<ToParent>() => match msg {
                Ok(Some(ToParent::Active(t))) => {
                    *traffic = t;
                    deadline = Instant::now() + idle;
                }
                Ok(Some(ToParent::Finished { error, updates, traffic: t })) => {
                    *traffic = t;
                    for u in &updates {
                        match &u.error {
                            None => log_info!("repo child {pid}: updated {} {} -> {}", u.name, u.old, u.new),
                            Some(e) => log_info!("repo child {pid}: refused {}: {e}", u.name),
                        }
                    }
                    return Some(match error {
                        None => {
                            log_info!("repo child {pid}: done");
                            Outcome::Finished(Reply::Ok, notes)
                        }
                        Some(message) => {
                            log_info!("repo child {pid}: {message}");
                            Outcome::Finished(Reply::Error { message, client_told: true }, false)
                        }
                    });
                }
                other => {
                    log_warn!("repo child {pid} ended without a status: {}", describe_recv(&Ok::<_, tokio::time::error::Elapsed>(other)));
                    return Some(Outcome::Failed(Reply::Error { message: CHILD_VANISHED.into(), client_told: true }));
                }
            },
            r = ch.recv::<Request>() => {
                log_debug!("repo child {pid}: client disconnected ({})", match r {
                    Ok(None) => "end of file".to_string(),
                    Ok(Some(_)) => "unexpected message".to_string(),
                    Err(e) => e.to_string(),
                });
                return None;
            }
            _ = tokio::time::sleep_until(deadline) => {
                log_info!("disconnecting uid {uid} due to timeout");
                return Some(Outcome::Failed(Reply::Error { message: "request timeout".into(), client_told: true }));
            }
            _ = shutdown.wait_for(|s| *s) => {
                return Some(Outcome::Failed(Reply::Error { message: "gotd is shutting down".into(), client_told: true }));
            }
        }
    }
}

fn describe_recv<E: std::fmt::Display>(
    r: &Result<Result<Option<ToParent>, IpcError>, E>,
) -> String {
    match r {
        Err(e) => format!("timeout ({e})"),
        Ok(Ok(None)) => "connection closed".into(),
        Ok(Ok(Some(m))) => format!("unexpected message {m:?}"),
        Ok(Err(e)) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotd_config::{Access, AccessRule, Identity, Mode, Repository};
    use rstest::rstest;

    fn config() -> Config {
        let rule = |access, uid| AccessRule {
            access,
            identity: Identity::User {
                name: format!("u{uid}"),
                uid,
            },
        };
        Config {
            listen_path: "/s".into(),
            user: "u".into(),
            request_timeout_secs: 10,
            connection_limits: vec![],
            repositories: vec![Repository {
                name: "foo".into(),
                path: "/git/foo.git".into(),
                rules: vec![
                    rule(Access::Permit(Mode::ReadWrite), 1),
                    rule(Access::Permit(Mode::ReadOnly), 2),
                    rule(Access::Deny, 3),
                    rule(Access::Permit(Mode::ReadOnly), 4),
                    rule(Access::Deny, 4),
                ],
                protection: Default::default(),
                notify: Default::default(),
            }],
        }
    }

    #[rstest]
    #[case(1, Service::ReceivePack, "foo", Ok(()))]
    #[case(1, Service::UploadPack, "/foo.git", Ok(()))]
    #[case(2, Service::UploadPack, "'foo'", Ok(()))]
    #[case(2, Service::ReceivePack, "foo", Err("foo: Permission denied"))]
    #[case(3, Service::UploadPack, "foo", Err("foo: Permission denied"))]
    #[case(4, Service::UploadPack, "foo", Err("foo: Permission denied"))]
    #[case(5, Service::UploadPack, "foo", Err("no git repository found"))]
    #[case(1, Service::UploadPack, "bar", Err("no git repository found"))]
    #[case(1, Service::UploadPack, "foo.gitx", Err("no git repository found"))]
    fn decisions(
        #[case] uid: u32,
        #[case] service: Service,
        #[case] name: &str,
        #[case] want: Result<(), &str>,
    ) {
        let cred = PeerCred {
            pid: 1,
            uid,
            gid: 100,
        };
        let got = authorize(&config(), cred, &[100], service, name).map(|_| ());
        assert_eq!(got, want.map_err(|e| e.to_string()));
    }

    #[test]
    fn long_names_are_refused() {
        let cred = PeerCred {
            pid: 1,
            uid: 1,
            gid: 1,
        };
        let got = authorize(&config(), cred, &[1], Service::UploadPack, &"a".repeat(300));
        assert_eq!(got.unwrap_err(), "buffer too small");
    }
}
