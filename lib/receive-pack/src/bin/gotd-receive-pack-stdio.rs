//! Serves one receive-pack exchange on stdin/stdout, for tests and local
//! use: `git push --receive-pack='gotd-receive-pack-stdio [flags]' file:///repo`.
//!
//! ```text
//! gotd-receive-pack-stdio [--protect-branch REF]... [--protect-branch-namespace NS]...
//!                         [--protect-tag-namespace NS]... [--lock-timeout-ms N] <repo>
//! ```
//! Exits 1 after printing `gotd-receive-pack-stdio: <msg>` on failure.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use gotd_receive_pack::{remove_stale_temporaries, serve, Options, Protection, Protocol};

const USAGE: &str = "usage: gotd-receive-pack-stdio [--protect-branch REF]... \
[--protect-branch-namespace NS]... [--protect-tag-namespace NS]... [--lock-timeout-ms N] <repo>";

struct Args {
    repo: PathBuf,
    protection: Protection,
    lock_timeout: Option<Duration>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut protection = Protection::default();
    let mut lock_timeout = None;
    let mut repo = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{what} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--protect-branch" => protection.branches.push(value("--protect-branch")?),
            "--protect-branch-namespace" => protection
                .branch_namespaces
                .push(value("--protect-branch-namespace")?),
            "--protect-tag-namespace" => protection
                .tag_namespaces
                .push(value("--protect-tag-namespace")?),
            "--lock-timeout-ms" => {
                let v = value("--lock-timeout-ms")?;
                let ms = v
                    .parse()
                    .map_err(|_| format!("bad --lock-timeout-ms value {v}"))?;
                lock_timeout = Some(Duration::from_millis(ms));
            }
            a if a.starts_with('-') => return Err(format!("unknown option {a}\n{USAGE}")),
            a if repo.is_none() => repo = Some(PathBuf::from(a)),
            _ => return Err(USAGE.to_string()),
        }
    }
    Ok(Args {
        repo: repo.ok_or(USAGE)?,
        protection,
        lock_timeout,
    })
}

fn main() -> ExitCode {
    let Args {
        repo,
        protection,
        lock_timeout,
    } = match parse_args(std::env::args().skip(1)) {
        Ok(v) => v,
        Err(msg) => {
            eprintln!("gotd-receive-pack-stdio: {msg}");
            return ExitCode::from(2);
        }
    };
    let protocol = Protocol::from_git_protocol(&std::env::var("GIT_PROTOCOL").unwrap_or_default());
    let uid = nix::unistd::getuid().as_raw();
    let mut opts = Options::new(
        concat!("gotd/", env!("CARGO_PKG_VERSION")),
        protocol,
        protection,
        uid,
    );
    if let Some(t) = lock_timeout {
        opts.limits.lock_timeout = t;
    }
    if let Err(e) = remove_stale_temporaries(&repo) {
        eprintln!("gotd-receive-pack-stdio: {}: {e}", repo.display());
    }
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut output = BufWriter::new(io::stdout().lock());
    match serve(&repo, &mut input, &mut output, &opts) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gotd-receive-pack-stdio: {e}");
            ExitCode::FAILURE
        }
    }
}
