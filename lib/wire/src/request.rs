//! What gotsh and gotctl say to gotd over its unix socket, and what gotd
//! answers.
//!
//! gotsh sends one [`Request::Git`] with its stdin and stdout attached as
//! descriptors, then waits for one [`Reply`]. gotctl sends one of the
//! control requests and reads one reply. Also here: parsing the command
//! sshd hands to gotsh (`git-upload-pack '/repo'`), with upstream's error
//! texts, because they reach git clients verbatim.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest repository name accepted (upstream's NAME_MAX bound: names of
/// 255 bytes or more are refused with `buffer too small`).
pub const MAX_REPO_NAME: usize = 254;

/// Which git service a client wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Service {
    /// `git-upload-pack`: clone and fetch (read).
    UploadPack,
    /// `git-receive-pack`: push (write).
    ReceivePack,
}

impl Service {
    /// The command name as git sends it.
    pub fn command(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
        }
    }

    /// Parses a command name.
    pub fn from_command(s: &str) -> Option<Service> {
        match s {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        }
    }

    pub fn is_write(self) -> bool {
        self == Service::ReceivePack
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}

/// A request on gotd's socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Serve a git service. Two descriptors come with it: the client's
    /// input (gotsh's stdin) and output (gotsh's stdout).
    Git {
        service: Service,
        /// The repository name as parsed by gotsh (quotes, spaces and
        /// leading slashes already trimmed; gotd trims again).
        repo: String,
        /// The client's `GIT_PROTOCOL` value, empty when unset.
        protocol: String,
    },
    /// `gotctl info`.
    Info,
    /// `gotctl stop` (root only).
    Stop,
    /// `gotctl reload` (root only).
    Reload(Reload),
}

/// `gotctl reload [-c conf] [-s secrets]`. gotctl opens the files (it runs
/// as root, the daemon may not) and attaches them as descriptors: first the
/// configuration when `config` is set, then the secrets when `secrets` is
/// set. A file not sent is re-read (configuration) or kept (secrets) from
/// what the daemon loaded last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reload {
    /// The configuration file's path as given, for diagnostics.
    pub config: Option<String>,
    /// The secrets file's path as given, for diagnostics.
    pub secrets: Option<String>,
}

impl Reload {
    /// How many descriptors come with this request.
    pub fn fd_count(&self) -> usize {
        usize::from(self.config.is_some()) + usize::from(self.secrets.is_some())
    }
}

/// gotd's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The request was carried out.
    Ok,
    /// It failed. When `client_told` is false the git client has not seen
    /// the message yet, and gotsh sends it as an `ERR` packet.
    Error { message: String, client_told: bool },
    /// The answer to `gotctl info`.
    Info(Info),
}

/// The state `gotctl info` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub pid: u32,
    pub verbosity: u32,
    pub repositories: Vec<RepoInfo>,
    /// Connected git clients (not the asking gotctl).
    pub clients: Vec<ClientInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub uid: u32,
    pub gid: u32,
    /// The repo child serving it, once started.
    pub repo_pid: Option<u32>,
    pub writing: bool,
    pub repo: String,
    /// Seconds since the epoch when the client connected.
    pub since: u64,
}

/// Why a command line handed to gotsh was refused (texts as upstream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command")]
    UnknownCommand,
    #[error("bad path")]
    BadPath,
    #[error("no git repository found")]
    NoRepository,
    #[error("buffer too small")]
    NameTooLong,
}

/// Trims what upstream trims from a requested repository path: quotes and
/// spaces at both ends, then leading slashes.
pub fn normalize_repo_name(raw: &str) -> &str {
    raw.trim_matches(|c| c == '\'' || c == '"' || c == ' ')
        .trim_start_matches('/')
}

/// Parses `git-upload-pack '/repo'` (the service, a space, the path).
pub fn parse_command(cmd: &str) -> Result<(Service, String), CommandError> {
    let (name, path) = cmd.split_once(' ').ok_or(CommandError::UnknownCommand)?;
    let service = Service::from_command(name).ok_or(CommandError::UnknownCommand)?;
    Ok((service, parse_path(path)?))
}

/// Validates and normalises a repository path argument.
pub fn parse_path(path: &str) -> Result<String, CommandError> {
    if path.contains('\n') {
        return Err(CommandError::BadPath);
    }
    let name = normalize_repo_name(path);
    if name.is_empty() {
        return Err(CommandError::NoRepository);
    }
    if name.len() > MAX_REPO_NAME {
        return Err(CommandError::NameTooLong);
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("git-upload-pack '/openbsd/ports.git'", Ok((Service::UploadPack, "openbsd/ports.git")))]
    #[case("git-receive-pack repo", Ok((Service::ReceivePack, "repo")))]
    #[case("git-upload-pack \"//repo\" ", Ok((Service::UploadPack, "repo")))]
    #[case("git-upload-pack  '/x'", Ok((Service::UploadPack, "x")))]
    #[case("git-upload-pack '/'", Err(CommandError::NoRepository))]
    #[case("git-upload-pack ''", Err(CommandError::NoRepository))]
    #[case("git-upload-pack 're\npo'", Err(CommandError::BadPath))]
    #[case("git-upload-pack", Err(CommandError::UnknownCommand))]
    #[case("git-upload-archive repo", Err(CommandError::UnknownCommand))]
    #[case("ls /", Err(CommandError::UnknownCommand))]
    fn commands(#[case] cmd: &str, #[case] want: Result<(Service, &str), CommandError>) {
        let got = parse_command(cmd);
        assert_eq!(got, want.map(|(s, n)| (s, n.to_string())));
    }

    #[test]
    fn name_length_bound() {
        assert!(parse_path(&"a".repeat(254)).is_ok());
        assert_eq!(parse_path(&"a".repeat(255)), Err(CommandError::NameTooLong));
    }

    #[test]
    fn messages_round_trip() {
        let r = Request::Git {
            service: Service::ReceivePack,
            repo: "r".into(),
            protocol: "version=2".into(),
        };
        let frame = crate::ipc::encode(&r).unwrap();
        let mut fb = crate::ipc::FrameBuf::new();
        fb.push(&frame, vec![]);
        assert_eq!(fb.next_frame::<Request>().unwrap(), Some(r));
    }
}
