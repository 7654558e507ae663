//! gotd.conf(5): the configuration of gotd.
//!
//! The grammar is upstream gotd's, unchanged, so an existing `/etc/gotd.conf`
//! works as it is (see [`parser`] for the grammar and [`lexer`] for quoting,
//! macros and line continuation). [`model`] holds the parsed configuration: a
//! plain, serde-serializable value that the daemon hands to its children.
//!
//! ```
//! use gotd_config::{parse_str, AccessDecision, FixedResolver};
//!
//! let users = FixedResolver::new().with_user("flan", 1000);
//! let parsed = parse_str(
//!     "gotd.conf",
//!     "repository \"src\" {\n  path \"/var/git/src.git\"\n  permit rw flan\n}\n",
//!     &users,
//! )
//! .unwrap();
//! let repo = parsed.config.find_repository("'/src.git'").unwrap();
//! assert_eq!(repo.check_access(1000, &[], true), AccessDecision::Granted);
//! assert_eq!(repo.check_access(1001, &[], false), AccessDecision::NoMatch);
//! // The path does not exist on this machine: a warning, not an error.
//! assert_eq!(parsed.warnings.len(), 1);
//! ```
//!
//! Errors name the file (as given) and the line, upstream style:
//! `gotd.conf:12: unknown user "flan"`. A [`ConfigError::Invalid`] displays
//! every problem found, one per line; see [`error`].
//!
//! User and group names are resolved through an [`IdResolver`]:
//! [`SystemResolver`] in the daemon, [`FixedResolver`] in tests.
//!
//! Credentials for HTTP notifications live in gotd-secrets.conf(5)
//! ([`secrets`]). [`parse_file`] does not look at them; the daemon, which
//! loads that file first, calls [`parse_file_with_secrets`] so that every
//! `auth`/`hmac` label is checked, as upstream does (with no secrets file,
//! pass an empty [`Secrets`]: any label is then an error).

pub mod access;
pub mod error;
pub mod lexer;
pub mod model;
pub mod parser;
pub mod resolve;
pub mod secrets;
pub mod validate;

use std::path::Path;

pub use access::{normalize_repo_name, AccessDecision};
pub use error::{ConfigError, Diagnostic};
pub use model::*;
pub use resolve::{FixedResolver, IdResolver, SystemResolver};
pub use secrets::{parse_secrets_file, parse_secrets_opened, parse_secrets_str, Secret, Secrets};

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
/// Largest `connection limit user` value (upstream's GOTD_MAXCLIENTS).
pub const MAX_CONNECTION_LIMIT: u32 = 1024;
/// Default secrets file.
pub const DEFAULT_SECRETS_PATH: &str = "/etc/gotd-secrets.conf";

/// A successfully parsed configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub config: Config,
    /// Problems that do not stop the daemon, e.g. a repository path that
    /// does not exist yet, formatted `<file>:<line>: <message>`. The library
    /// never prints them; the caller logs them.
    pub warnings: Vec<String>,
}

/// Reads and parses the configuration file at `path`. Diagnostics name the
/// file as `path` is written. Notification `auth`/`hmac` labels are not
/// checked (see [`parse_file_with_secrets`]).
pub fn parse_file(path: &Path, resolver: &dyn IdResolver) -> Result<Parsed, ConfigError> {
    parse_path(path, resolver, None)
}

/// Like [`parse_file`], and every `auth` and `hmac` label of a notification
/// URL must name an entry of `secrets` (``no auth secret `ci' defined``).
pub fn parse_file_with_secrets(
    path: &Path,
    resolver: &dyn IdResolver,
    secrets: &Secrets,
) -> Result<Parsed, ConfigError> {
    parse_path(path, resolver, Some(secrets))
}

/// Parses configuration `text`; `name` is the file name used in diagnostics.
pub fn parse_str(name: &str, text: &str, resolver: &dyn IdResolver) -> Result<Parsed, ConfigError> {
    parse_text(name, text, resolver, None)
}

/// Like [`parse_str`], checking notification labels against `secrets`.
pub fn parse_str_with_secrets(
    name: &str,
    text: &str,
    resolver: &dyn IdResolver,
    secrets: &Secrets,
) -> Result<Parsed, ConfigError> {
    parse_text(name, text, resolver, Some(secrets))
}

/// Parses the configuration read from `file`, an already opened file
/// (e.g. one passed by `gotctl reload`, which may open files the daemon
/// cannot); `path` names it in diagnostics. Labels are checked against
/// `secrets` when given.
pub fn parse_opened(
    path: &Path,
    mut file: std::fs::File,
    resolver: &dyn IdResolver,
    secrets: Option<&Secrets>,
) -> Result<Parsed, ConfigError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
    parse_bytes(path, bytes, resolver, secrets)
}

fn parse_path(
    path: &Path,
    resolver: &dyn IdResolver,
    secrets: Option<&Secrets>,
) -> Result<Parsed, ConfigError> {
    let file = std::fs::File::open(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_opened(path, file, resolver, secrets)
}

fn parse_bytes(
    path: &Path,
    bytes: Vec<u8>,
    resolver: &dyn IdResolver,
    secrets: Option<&Secrets>,
) -> Result<Parsed, ConfigError> {
    let name = path.display().to_string();
    match String::from_utf8(bytes) {
        Ok(text) => parse_text(&name, &text, resolver, secrets),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count() as u32;
            Err(ConfigError::Invalid(vec![Diagnostic {
                file: name,
                line,
                message: "invalid UTF-8 text".to_owned(),
            }]))
        }
    }
}

fn parse_text(
    name: &str,
    text: &str,
    resolver: &dyn IdResolver,
    secrets: Option<&Secrets>,
) -> Result<Parsed, ConfigError> {
    let outcome = parser::Parser::new(name, text, resolver, secrets).run();
    if outcome.diagnostics.is_empty() {
        Ok(Parsed {
            config: outcome.config,
            warnings: outcome.warnings,
        })
    } else {
        Err(ConfigError::Invalid(outcome.diagnostics))
    }
}
