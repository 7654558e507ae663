//! gotsh's exchange with gotd: connect, send the request with stdin and
//! stdout attached, wait for the final reply.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

use gotd_wire::ipc::Channel;
use gotd_wire::request::{Reply, Request, Service};

/// Runs one request; the exit code is gotsh's.
pub fn run(socket: &Path, service: Service, repo: String, protocol: String) -> ExitCode {
    let sock = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            say(&format!(
                "gotsh: connect: {}: {}",
                socket.display(),
                strerror(&e)
            ));
            return ExitCode::from(1);
        }
    };
    let mut ch = Channel::new(sock);
    let req = Request::Git {
        service,
        repo,
        protocol,
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Err(e) = ch.send(&req, &[stdin.as_fd(), stdout.as_fd()]) {
        return fail(&format!("sending request: {e}"), false);
    }
    match ch.recv::<Reply>() {
        Ok(Some(Reply::Ok)) => ExitCode::SUCCESS,
        Ok(Some(Reply::Error {
            message,
            client_told,
        })) => fail(&message, client_told),
        Ok(Some(other)) => fail(&format!("unexpected reply from gotd: {other:?}"), false),
        Ok(None) => fail("unexpected end of file", false),
        Err(e) => fail(&e.to_string(), false),
    }
}

/// Reports an error: an `ERR` packet for the git client unless it has
/// already been told, then `gotsh: <msg>` on stderr; exit status 1.
pub fn fail(message: &str, client_told: bool) -> ExitCode {
    if !client_told {
        let mut out = std::io::stdout().lock();
        let _ = gotd_wire::pkt::write_err(&mut out, message);
        let _ = out.flush();
    }
    say(&format!("gotsh: {message}"));
    ExitCode::from(1)
}

/// Writes one line to stderr in a single `write`, so that it is not cut
/// by the git client's own messages when sshd relays both to one terminal
/// (`eprintln!` writes the pieces of its format separately).
pub fn say(line: &str) {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    let _ = std::io::stderr().lock().write_all(buf.as_bytes());
}

/// The system's text for an I/O error, without Rust's "(os error N)".
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}
