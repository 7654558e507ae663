//! gotd: the daemon.
//!
//! The parent process accepts clients on a unix socket, checks access rules
//! and forks one sandboxed repo child per client on demand (by re-executing
//! its own binary). See `ARCHITECTURE.md` at the top of the source tree.
//!
//! * [`opts`]: the command line.
//! * [`log`]: stderr or syslog.
//! * [`load`]: gotd.conf and gotd-secrets.conf.
//! * [`privsep`]: daemon user, socket creation, privilege drop, peer groups.
//! * [`parent`]: the event loop, client table, children and gotctl.
//! * [`child`]: the repo child and its sandbox.
//! * [`msg`], [`achannel`]: parent/child messages and the async channel.

pub mod achannel;
pub mod child;
pub mod load;
pub mod log;
pub mod msg;
pub mod opts;
pub mod parent;
pub mod privsep;

/// Version string, also sent as `agent=gotd/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
