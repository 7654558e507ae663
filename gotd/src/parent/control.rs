//! gotctl's requests: `info`, `stop` and `reload`.
//!
//! `info` is answered for root and for the daemon's own user. `stop` and
//! `reload` are for root only; when the daemon was started without root
//! (privilege separation off, e.g. for development and tests) its own user
//! may use them too, since that user could signal the daemon anyway.

use gotd_wire::request::{Reply, Request};
use gotd_wire::sys::PeerCred;

use super::state::Shared;
use crate::achannel::AsyncChannel;
use crate::{log_info, log_warn};

const EPERM: &str = "Operation not permitted";

/// Answers one control request.
pub async fn handle(state: &Shared, ch: &mut AsyncChannel, cred: PeerCred, id: u64, req: Request) {
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
        Request::Reload if may_control => reload(state),
        Request::Info | Request::Stop | Request::Reload => {
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

/// Re-reads the configuration for new connections. A configuration that
/// does not parse is refused and the old one stays in force.
pub fn reload(state: &Shared) -> Reply {
    let (path, secrets) = {
        let s = state.borrow();
        (s.instance.config_path.clone(), s.instance.secrets.clone())
    };
    match crate::load::config(&path, secrets.as_ref()) {
        Ok(parsed) => {
            for w in &parsed.warnings {
                log_warn!("{w}");
            }
            let mut s = state.borrow_mut();
            if parsed.config.listen_path != s.config.listen_path {
                log_warn!("reload: a new listen path takes effect only after a restart");
            }
            if parsed.config.user != s.config.user {
                log_warn!("reload: a new user takes effect only after a restart");
            }
            s.config = std::rc::Rc::new(parsed.config);
            log_info!("configuration reloaded from {}", path.display());
            Reply::Ok
        }
        Err(e) => {
            let message = e.to_string();
            log_warn!("reload refused: {message}");
            Reply::Error {
                message,
                client_told: false,
            }
        }
    }
}
