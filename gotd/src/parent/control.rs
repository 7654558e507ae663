//! gotctl's requests: `info`, `stop` and `reload`.
//!
//! `reload` replaces the configuration for new connections; clients already
//! connected finish with the configuration they started with. gotctl may
//! send the configuration and secrets files as open descriptors
//! (`gotctl reload -c FILE -s FILE`); a file not sent is re-read from the
//! path the daemon loaded last (configuration) or kept as loaded
//! (secrets). A new configuration that does not parse, or a secrets file
//! that is not private, is refused with its located error and nothing
//! changes. `listen on` and `user` cannot change without a restart: the
//! socket is bound and privileges dropped once, at startup; a reload that
//! changes them is refused rather than half-applied.
//!
//! `info` is answered for root and for the daemon's own user. `stop` and
//! `reload` are for root only; when the daemon was started without root
//! (privilege separation off, e.g. for development and tests) its own user
//! may use them too, since that user could signal the daemon anyway.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use gotd_config::{ConfigError, Parsed, Secrets};
use gotd_wire::request::{Reload, Reply, Request};
use gotd_wire::sys::PeerCred;

use super::state::Shared;
use crate::achannel::AsyncChannel;
use crate::{log_info, log_warn};

const EPERM: &str = "Operation not permitted";

/// Answers one control request.
pub async fn handle(
    state: &Shared,
    ch: &mut AsyncChannel,
    cred: PeerCred,
    id: u64,
    req: Request,
    fds: Vec<OwnedFd>,
) {
    let (may_view, may_control) = {
        let s = state.borrow();
        let own = cred.uid == s.instance.uid;
        (
            cred.uid == 0 || own,
            cred.uid == 0 || (own && !s.instance.privsep),
        )
    };
    let reply = match req {
        Request::Info if may_view => Reply::Info(state.borrow().info(id)),
        Request::Stop if may_control => {
            log_info!("stop requested by uid {}", cred.uid);
            let _ = ch.send(&Reply::Ok, &[]).await;
            state.borrow().shutdown.send_replace(true);
            return;
        }
        Request::Reload(r) if may_control => reload(state, &r, fds),
        Request::Info | Request::Stop | Request::Reload(_) => {
            log_info!("uid {}: control request refused", cred.uid);
            Reply::Error {
                message: EPERM.into(),
                client_told: false,
            }
        }
        Request::Git { .. } => unreachable!("git requests are handled by the caller"),
    };
    let _ = ch.send(&reply, &[]).await;
}

/// Loads a new configuration for new connections (see the module doc).
pub fn reload(state: &Shared, req: &Reload, fds: Vec<OwnedFd>) -> Reply {
    let mut fds = fds.into_iter().map(File::from);
    let (config_fd, secrets_fd) = (
        req.config.as_ref().and_then(|_| fds.next()),
        req.secrets.as_ref().and_then(|_| fds.next()),
    );
    let (old_path, old_secrets) = {
        let s = state.borrow();
        (s.instance.config_path.clone(), s.instance.secrets.clone())
    };
    let loaded = load(
        req.config.as_deref().map(PathBuf::from).unwrap_or(old_path),
        config_fd,
        req.secrets.as_deref().map(Path::new).zip(secrets_fd),
        old_secrets,
    )
    .and_then(|l| {
        let s = state.borrow();
        unchangeable(&s.config, &l.parsed.config).map_or(Ok(l), Err)
    });
    match loaded {
        Ok(l) => {
            for w in &l.parsed.warnings {
                log_warn!("{w}");
            }
            let mut s = state.borrow_mut();
            s.config = std::rc::Rc::new(l.parsed.config);
            s.instance.secrets = l.secrets;
            s.instance.config_path = l.path;
            log_info!(
                "configuration reloaded from {}",
                s.instance.config_path.display()
            );
            Reply::Ok
        }
        Err(message) => {
            log_warn!("reload refused: {message}");
            Reply::Error {
                message,
                client_told: false,
            }
        }
    }
}

/// A configuration and secrets ready to replace the current ones.
struct Loaded {
    parsed: Parsed,
    path: PathBuf,
    secrets: Option<Secrets>,
}

/// Parses the configuration (from `config_fd` when sent, else from `path`)
/// with the new secrets when sent, else the old ones.
fn load(
    path: PathBuf,
    config_fd: Option<File>,
    new_secrets: Option<(&Path, File)>,
    old_secrets: Option<Secrets>,
) -> Result<Loaded, String> {
    let secrets = match new_secrets {
        Some((name, file)) => {
            Some(gotd_config::parse_secrets_opened(name, file).map_err(|e| e.to_string())?)
        }
        None => old_secrets,
    };
    let parsed: Result<Parsed, ConfigError> = match config_fd {
        Some(file) => {
            gotd_config::parse_opened(&path, file, &gotd_config::SystemResolver, secrets.as_ref())
        }
        None => crate::load::config(&path, secrets.as_ref()),
    };
    let parsed = parsed.map_err(|e| e.to_string())?;
    Ok(Loaded {
        parsed,
        path,
        secrets,
    })
}

/// Why `new` cannot replace `old` without a restart, if it cannot.
fn unchangeable(old: &gotd_config::Config, new: &gotd_config::Config) -> Option<String> {
    if new.listen_path != old.listen_path {
        return Some(format!(
            "listen on {}: the socket can only change with a restart (it is {})",
            new.listen_path.display(),
            old.listen_path.display()
        ));
    }
    if new.user != old.user {
        return Some(format!(
            "user {}: the daemon's user can only change with a restart (it is {})",
            new.user, old.user
        ));
    }
    None
}
