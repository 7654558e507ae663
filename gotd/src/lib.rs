//! gotd: the daemon.
//!
//! The parent process accepts clients on a unix socket, checks access rules
//! and forks one sandboxed repo child per client on demand (by re-executing
//! its own binary). See `ARCHITECTURE.md` at the top of the source tree.

/// Version string, also sent as `agent=gotd/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
