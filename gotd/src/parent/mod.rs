//! The daemon parent: a single-threaded tokio event loop that accepts
//! connections, answers gotctl, authorises git requests and supervises one
//! repo child per git client.
//!
//! * [`state`]: client table, per-uid counts, live children.
//! * [`client`]: one connection from request to teardown.
//! * [`children`]: spawning, SIGTERM/SIGKILL, SIGCHLD reaping.
//! * [`control`]: `gotctl info|stop|reload`.
//! * [`notify`]: delivering push notifications on a worker thread.

pub mod children;
pub mod client;
pub mod control;
pub mod notify;
pub mod state;

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::PathBuf;
use std::time::Duration;

use gotd_config::Config;
use gotd_wire::sys;
use nix::sys::signal::Signal;
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::{spawn_local, LocalSet};
use tokio::time::Instant;

use crate::achannel::AsyncChannel;
use crate::{log_debug, log_info, log_warn};
use state::{Admission, Instance, Shared, State};

/// How long accepting pauses when the process is out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Runs the daemon until SIGTERM, SIGINT or `gotctl stop`; then every child
/// is killed and reaped and the socket removed.
pub fn run(
    listener: StdUnixListener,
    socket_path: PathBuf,
    instance: Instance,
    config: Config,
) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = LocalSet::new();
    let state = State::new(instance, config);
    let result = local.block_on(&rt, serve(listener, &state));
    drop(local);
    match std::fs::remove_file(&socket_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => log_warn!("{}: unlink: {e}", socket_path.display()),
    }
    log_info!("exiting");
    result
}

async fn serve(listener: StdUnixListener, state: &Shared) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = UnixListener::from_std(listener)?;
    let mut sigchld = signal(SignalKind::child())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigusr1 = signal(SignalKind::user_defined1())?;
    {
        let st = state.clone();
        spawn_local(async move {
            while sigchld.recv().await.is_some() {
                children::reap(&st);
            }
        });
    }
    let mut shutdown = state.borrow().shutdown.subscribe();
    log_info!(
        "gotd {} started, pid {}",
        crate::VERSION,
        std::process::id()
    );
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => on_accept(state, stream),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                    log_warn!("accept: {e}; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                Err(e) => log_warn!("accept: {e}"),
            },
            _ = sigterm.recv() => { log_info!("received SIGTERM; shutting down"); break; }
            _ = sigint.recv() => { log_info!("received SIGINT; shutting down"); break; }
            _ = sighup.recv() => log_info!("ignoring SIGHUP; run 'gotctl reload' instead"),
            _ = sigusr1.recv() => log_info!("ignoring SIGUSR1"),
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    drop(listener);
    shut_down(state).await;
    Ok(())
}

fn on_accept(state: &Shared, stream: UnixStream) {
    let cred = match sys::peer_cred(stream.as_fd()) {
        Ok(c) => c,
        Err(e) => {
            log_warn!("getting peer credentials: {e}");
            return;
        }
    };
    log_debug!(
        "connection from uid {} gid {} pid {}",
        cred.uid,
        cred.gid,
        cred.pid
    );
    match State::admit(state, cred.uid, cred.gid) {
        Admission::Accept(slot) => {
            spawn_local(client::handle(
                state.clone(),
                AsyncChannel::new(stream),
                cred,
                slot,
            ));
        }
        Admission::OverLimit(slot) => {
            spawn_local(client::refuse_over_limit(
                AsyncChannel::new(stream),
                cred,
                slot,
            ));
        }
        Admission::Drop => log_warn!("too many connections; closing one from uid {}", cred.uid),
    }
}

/// Tells every connection to stop, then makes sure every child is gone.
async fn shut_down(state: &Shared) {
    state.borrow().shutdown.send_replace(true);
    children::signal_all(state, Signal::SIGTERM);
    let released = state.borrow().released.clone();
    let grace = Instant::now() + children::KILL_GRACE;
    let mut killed = false;
    let give_up = grace + Duration::from_secs(2);
    loop {
        let notified = released.notified();
        children::reap(state);
        if state.borrow().live_children() == 0 {
            break;
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(grace), if !killed => {
                log_warn!("children still running after SIGTERM; sending SIGKILL");
                children::signal_all(state, Signal::SIGKILL);
                killed = true;
            }
            _ = tokio::time::sleep_until(give_up) => {
                log_warn!("{} children could not be reaped", state.borrow().live_children());
                break;
            }
        }
    }
    // Let connection tasks send their last replies and release their slots.
    for _ in 0..100 {
        if state.borrow().connections() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
}
