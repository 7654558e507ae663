//! gotsh: the login shell of git accounts.
//!
//! sshd runs `gotsh -c "git-upload-pack '/repo'"`; gotsh may also be
//! installed as `git-upload-pack` / `git-receive-pack`, taking the path as
//! its only argument. It hands the request and its own stdin and stdout to
//! gotd, then waits for the outcome: exit 0 on success; otherwise
//! `gotsh: <msg>` on stderr and exit 1, and when the git client has not
//! been told yet, one `ERR <msg>` packet (no newline) on stdout.

mod client;

use std::process::ExitCode;

use gotd_wire::request::{parse_command, CommandError};

const USAGE: &str = "usage: gotsh -c 'git-receive-pack|git-upload-pack repository-path'";

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let base = argv0.rsplit('/').next().unwrap_or("");
    let command = if base == "git-upload-pack" || base == "git-receive-pack" {
        match rest.as_slice() {
            [path] => format!("{base} {path}"),
            _ => return usage(),
        }
    } else {
        match rest.as_slice() {
            [flag, cmd] if flag == "-c" => cmd.clone(),
            _ => return usage(),
        }
    };
    let (service, repo) = match parse_command(&command) {
        Ok(r) => r,
        Err(CommandError::UnknownCommand) => return usage(),
        Err(e) => return client::fail(&e.to_string(), false),
    };
    let socket = std::env::var_os("GOTD_UNIX_SOCKET")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| gotd_config::DEFAULT_SOCKET_PATH.into());
    let protocol = std::env::var("GIT_PROTOCOL").unwrap_or_default();
    client::run(&socket, service, repo, protocol)
}

fn usage() -> ExitCode {
    client::say(USAGE);
    ExitCode::from(1)
}
