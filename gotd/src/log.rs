//! Logging for the daemon: to stderr in the foreground (`-d`), otherwise to
//! syslog (facility daemon) through `/dev/log`.
//!
//! Errors, warnings and notices (one summary line per git connection, see
//! [`connection`]) are always logged; `-v` adds informational messages
//! (access decisions, sandbox status, ref updates) and `-vv` debugging
//! detail.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

/// Where log lines go.
enum Sink {
    Stderr,
    Syslog(Option<UnixDatagram>),
}

struct Logger {
    sink: Sink,
    verbosity: u32,
    ident: String,
}

static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);

/// Severity, mapped to syslog priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warn,
    Notice,
    Info,
    Debug,
}

impl Level {
    fn syslog_priority(self) -> u8 {
        match self {
            Level::Warn => 4,
            Level::Notice => 5,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }

    fn min_verbosity(self) -> u32 {
        match self {
            Level::Warn | Level::Notice => 0,
            Level::Info => 1,
            Level::Debug => 2,
        }
    }
}

/// Sets up logging. `foreground` selects stderr; otherwise syslog.
pub fn init(ident: &str, foreground: bool, verbosity: u32) {
    let sink = if foreground {
        Sink::Stderr
    } else {
        Sink::Syslog(connect_syslog())
    };
    *LOGGER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Logger {
        sink,
        verbosity,
        ident: ident.to_string(),
    });
}

fn connect_syslog() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect("/dev/log").ok()?;
    Some(s)
}

/// The configured verbosity (0 before [`init`]).
pub fn verbosity() -> u32 {
    LOGGER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or(0, |l| l.verbosity)
}

/// Logs one message at `level`.
pub fn log(level: Level, msg: &str) {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(logger) = guard.as_mut() else {
        eprintln!("{msg}");
        return;
    };
    if logger.verbosity < level.min_verbosity() {
        return;
    }
    match &mut logger.sink {
        Sink::Stderr => {
            let _ = writeln!(std::io::stderr().lock(), "{msg}");
        }
        Sink::Syslog(sock) => {
            // Facility daemon (3).
            let line = format!(
                "<{}>{}[{}]: {}",
                3 * 8 + level.syslog_priority(),
                logger.ident,
                std::process::id(),
                msg
            );
            if let Some(s) = sock {
                if s.send(line.as_bytes()).is_err() {
                    *sock = connect_syslog();
                    if let Some(s) = sock {
                        let _ = s.send(line.as_bytes());
                    }
                }
            }
        }
    }
}

/// Logs a warning (always shown).
#[macro_export]
macro_rules! log_warn {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warn, &format!($($t)*)) };
}

/// Logs a notice (always shown).
#[macro_export]
macro_rules! log_notice {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Notice, &format!($($t)*)) };
}

/// Logs an informational message (shown with `-v`).
#[macro_export]
macro_rules! log_info {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($t)*)) };
}

/// Logs a debugging message (shown with `-vv`).
#[macro_export]
macro_rules! log_debug {
    ($($t:tt)*) => { $crate::log::log($crate::log::Level::Debug, &format!($($t)*)) };
}

/// The summary line of one git connection, logged as a notice when it
/// ends: who, which service on which repository, the result (`ok` or the
/// error the client saw), the bytes received from and sent to the client,
/// and how long the connection lasted. `repo` is the configured name when
/// the request was resolved, else the requested name (escaped).
///
/// `uid 1001: git-upload-pack "src": ok; 95 bytes in, 1043527 bytes out, 0.214 s`
pub fn connection(
    uid: u32,
    service: &str,
    repo: &str,
    result: &str,
    received: u64,
    sent: u64,
    duration: std::time::Duration,
) -> String {
    format!(
        "uid {uid}: {service} \"{}\": {}; {received} bytes in, {sent} bytes out, {:.3} s",
        repo.escape_debug(),
        result.replace('\n', " "),
        duration.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connection_summary() {
        assert_eq!(
            connection(
                1001,
                "git-upload-pack",
                "src",
                "ok",
                95,
                1043527,
                Duration::from_millis(214)
            ),
            "uid 1001: git-upload-pack \"src\": ok; 95 bytes in, 1043527 bytes out, 0.214 s"
        );
        assert_eq!(
            connection(7, "git-receive-pack", "a\"\n", "x", 0, 0, Duration::ZERO),
            "uid 7: git-receive-pack \"a\\\"\\n\": x; 0 bytes in, 0 bytes out, 0.000 s"
        );
    }
}
