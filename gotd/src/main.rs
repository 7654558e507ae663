//! `gotd [-dnvV] [-f config] [-s secrets]`: parses the configuration,
//! creates the socket as root, drops to the configured user and runs the
//! event loop. With the hidden `-T r|w -P repo` it is a repo child.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gotd::opts::{self, ChildKind, Opts};
use gotd::parent::state::Instance;
use gotd::privsep::{self, RunAs};
use gotd::{log, log_debug, log_info, log_warn};
use nix::sys::resource::{getrusage, UsageWho};

/// Allocations from this size up get their own mapping in read children
/// (see [`gotd_wire::sys::set_malloc_mmap_threshold`]).
const READER_MMAP_THRESHOLD: usize = 128 * 1024;

fn main() -> ExitCode {
    let opts = match opts::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("gotd: {e}");
            eprintln!("{}", opts::USAGE);
            return ExitCode::from(1);
        }
    };
    if opts.version {
        println!("gotd {}", gotd::VERSION);
        return ExitCode::SUCCESS;
    }
    if let (Some(kind), Some(repo)) = (opts.child, opts.repo_path.as_deref()) {
        if kind == ChildKind::Reader {
            // Pack buffers of a clone come and go in sizes that make glibc's
            // adaptive threshold keep them in the heap: a fixed threshold
            // returns them at once and bounds the reader's peak RSS.
            gotd_wire::sys::set_malloc_mmap_threshold(READER_MMAP_THRESHOLD);
        }
        log::init("gotd", opts.foreground, opts.verbosity);
        let result = gotd::child::run(kind, repo);
        if let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) {
            log_debug!(
                "repo child {}: peak RSS {} KiB",
                std::process::id(),
                usage.max_rss()
            );
        }
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // stderr is /dev/null under a daemonized parent and the
                // terminal when run by hand; the log reaches the admin.
                let msg = format!("gotd: repo child {}: {e}", std::process::id());
                if !opts.foreground {
                    eprintln!("{msg}");
                }
                log_warn!("{msg}");
                ExitCode::from(1)
            }
        };
    }
    match run_daemon(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Before logging is set up this is stderr; after, the log.
            let msg = format!("{e:#}");
            for line in msg.lines() {
                log::log(log::Level::Warn, &format!("gotd: {line}"));
            }
            ExitCode::from(1)
        }
    }
}

fn run_daemon(opts: &Opts) -> anyhow::Result<()> {
    privsep::unblock_signals();
    privsep::cloexec_inherited();
    let secrets = gotd::load::secrets(opts.secrets.as_deref())?;
    let parsed = gotd::load::config(&opts.config, secrets.as_ref())?;
    for w in &parsed.warnings {
        eprintln!("gotd: {w}");
    }
    if opts.noaction {
        println!("configuration OK");
        return Ok(());
    }
    let config = parsed.config;
    let config_path = absolute(&opts.config)?;
    let exe = std::fs::canonicalize("/proc/self/exe")
        .or_else(|_| std::env::current_exe())
        .context("finding our own executable")?;
    // Opened while still root, so that the daemon user need not reach it.
    let exe_fd = match gotd::parent::children::open_exe(&exe) {
        Ok(fd) => Some(std::sync::Arc::new(fd)),
        Err(e) => {
            eprintln!(
                "gotd: {}: {e}; children will be executed from the path",
                exe.display()
            );
            None
        }
    };
    let privsep = nix::unistd::geteuid().is_root();
    let run_as: Option<RunAs> = if privsep {
        Some(privsep::resolve_user(&config.user)?)
    } else {
        None
    };
    let socket_path = config.listen_path.clone();
    let listener = privsep::create_socket(&socket_path, run_as.as_ref())?;
    if !opts.foreground {
        nix::unistd::daemon(false, false).context("daemon")?;
    }
    if let Some(user) = &run_as {
        privsep::drop_to(user)?;
    }
    log::init("gotd", opts.foreground, opts.verbosity);
    if let Some(n) = privsep::raise_fd_limit() {
        log_debug!("descriptor limit: {n}");
    }
    let uid = nix::unistd::getuid().as_raw();
    match &run_as {
        Some(u) => log_info!("running as {} (uid {}, gid {})", u.name, u.uid, u.gid),
        None => log_warn!(
            "not started as root: privilege separation is off; everything runs as uid {uid}"
        ),
    }
    log_info!(
        "repo children: no_new_privs, no core dumps, landlock (repository only), seccomp allow-list"
    );
    let instance = Instance {
        exec_path: gotd::parent::children::exec_path(&exe),
        exe_fd,
        exe,
        config_path,
        foreground: opts.foreground,
        verbosity: opts.verbosity,
        privsep,
        uid,
        secrets,
    };
    gotd::parent::run(listener, socket_path, instance, config)?;
    Ok(())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}
