//! gotctl: shows and controls a running gotd.
//!
//! `gotctl [-hV] [-f socket] info|stop|reload [-n] [-c config] [-s secrets]`;
//! commands may be abbreviated to any prefix (`i`, `s`, `r`). `reload`'s
//! options are in [`reload`].

mod format;
mod reload;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use gotd_wire::ipc::Channel;
use gotd_wire::request::{Reply, Request};

const USAGE: &str = "usage: gotctl [-hV] [-f socket] command";
const COMMANDS: [&str; 3] = ["info", "stop", "reload"];

fn main() -> ExitCode {
    let mut socket = PathBuf::from(gotd_config::DEFAULT_SOCKET_PATH);
    let mut args = std::env::args().skip(1).peekable();
    while let Some(a) = args.peek().cloned() {
        if !a.starts_with('-') || a == "-" {
            break;
        }
        args.next();
        match a.as_str() {
            "--" => break,
            "-h" => {
                println!("{USAGE}");
                println!("commands: {}", COMMANDS.join(", "));
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("gotctl {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "-f" => match args.next() {
                Some(p) => socket = PathBuf::from(p),
                None => return usage(),
            },
            f if f.starts_with("-f") => socket = PathBuf::from(&f[2..]),
            _ => return usage(),
        }
    }
    let rest: Vec<String> = args.collect();
    let Some((cmd, cmd_args)) = rest.split_first() else {
        return usage();
    };
    let Some(name) = match_command(cmd) else {
        eprintln!("gotctl: {cmd}: unknown command");
        return usage();
    };
    let (req, fds) = match name {
        "info" | "stop" if !cmd_args.is_empty() => return usage(),
        "info" => (Request::Info, Vec::new()),
        "stop" => (Request::Stop, Vec::new()),
        _ => match prepare_reload(cmd_args) {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return ExitCode::SUCCESS,
            Err(code) => return code,
        },
    };
    match run(&socket, name, req, &fds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gotctl: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Checks and opens what `reload` sends; `Ok(None)` when `-n` is done.
fn prepare_reload(args: &[String]) -> Result<Option<(Request, Vec<OwnedFd>)>, ExitCode> {
    let Some(opts) = reload::parse_args(args) else {
        eprintln!("{}", reload::USAGE);
        return Err(ExitCode::from(1));
    };
    let failed = |msg: String| {
        for line in msg.lines() {
            eprintln!("gotctl: {line}");
        }
        ExitCode::from(1)
    };
    if opts.check_only || opts.config.is_some() {
        let default = std::path::Path::new(gotd_config::DEFAULT_CONFIG_PATH);
        let config = opts.config.as_deref().unwrap_or(default);
        let warnings =
            reload::check(config, opts.secrets.as_deref()).map_err(|e| failed(e.to_string()))?;
        for w in warnings {
            eprintln!("gotctl: {w}");
        }
        if opts.check_only {
            println!("configuration OK");
            return Ok(None);
        }
    }
    let (r, fds) = reload::request(&opts).map_err(|e| failed(format!("reload: {e}")))?;
    Ok(Some((Request::Reload(r), fds)))
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(1)
}

/// The command `word` abbreviates (upstream matches by prefix).
fn match_command(word: &str) -> Option<&'static str> {
    if word.is_empty() {
        return None;
    }
    COMMANDS.into_iter().find(|c| c.starts_with(word))
}

fn run(socket: &std::path::Path, name: &str, req: Request, fds: &[OwnedFd]) -> Result<(), String> {
    let sock = UnixStream::connect(socket)
        .map_err(|e| format!("connect: {}: {}", socket.display(), strerror(&e)))?;
    let mut ch = Channel::new(sock);
    let fds: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
    ch.send(&req, &fds).map_err(|e| format!("{name}: {e}"))?;
    match ch.recv::<Reply>() {
        Ok(Some(Reply::Info(info))) => {
            print!("{}", format::info(&info));
            Ok(())
        }
        Ok(Some(Reply::Ok)) => Ok(()),
        // gotd exits right after acknowledging a stop; end of file is fine.
        Ok(None) if name == "stop" => Ok(()),
        Ok(None) => Err(format!("{name}: unexpected end of file")),
        Ok(Some(Reply::Error { message, .. })) => Err(format!("{name}: {message}")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(match_command("i"), Some("info"));
        assert_eq!(match_command("sto"), Some("stop"));
        assert_eq!(match_command("r"), Some("reload"));
        assert_eq!(match_command("reloadx"), None);
        assert_eq!(match_command(""), None);
        assert_eq!(match_command("x"), None);
    }
}
