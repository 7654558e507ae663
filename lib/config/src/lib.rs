//! gotd.conf(5): the configuration of gotd.
//!
//! The grammar is upstream gotd's, unchanged, so an existing `/etc/gotd.conf`
//! works as it is. [`model`] holds the parsed configuration: a plain,
//! serde-serializable value that the daemon hands to its children.

pub mod model;

pub use model::*;

/// Default configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/gotd.conf";
/// Default listening socket.
pub const DEFAULT_SOCKET_PATH: &str = "/var/run/gotd.sock";
/// Default user the daemon runs as.
pub const DEFAULT_USER: &str = "_gotd";
/// Default request timeout in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 3600;
/// Default number of concurrent connections per uid.
pub const DEFAULT_CONNECTION_LIMIT: u32 = 4;
/// Default secrets file.
pub const DEFAULT_SECRETS_PATH: &str = "/etc/gotd-secrets.conf";
