//! `gotd-upload-pack-stdio <repo>`: serves one upload-pack exchange on
//! stdin/stdout, the protocol taken from `GIT_PROTOCOL`. Git runs it as
//! `git clone --upload-pack=<this> file:///path`; tests and `cargo xtask
//! bench` use it to exercise the library without the daemon.
//!
//! Environment: `GOTD_UPLOAD_PACK_THREADS=<n>` limits worker threads,
//! `GOTD_UPLOAD_PACK_TRACE=1` prints phase timings on stderr.

use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

use gotd_upload_pack::{serve, Options, Protocol};

fn main() -> ExitCode {
    let Some(repo) = std::env::args_os().nth(1) else {
        eprintln!("usage: gotd-upload-pack-stdio <repo>");
        return ExitCode::from(2);
    };
    // As in the daemon's read children: large pack buffers get mappings of
    // their own, so the peak RSS measured here matches the daemon's.
    gotd_wire::sys::set_malloc_mmap_threshold(128 * 1024);
    let protocol = std::env::var("GIT_PROTOCOL")
        .map(|v| Protocol::from_git_protocol(&v))
        .unwrap_or_default();
    let opts = Options {
        protocol,
        trace: std::env::var_os("GOTD_UPLOAD_PACK_TRACE").is_some(),
        threads: std::env::var("GOTD_UPLOAD_PACK_THREADS")
            .ok()
            .and_then(|v| v.parse().ok()),
        ..Options::default()
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    // Standard output itself, not `Stdout`: that is line-buffered and
    // would split every pack packet at its last newline byte.
    let stdout = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => {
            eprintln!("gotd-upload-pack-stdio: standard output: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut output = BufWriter::with_capacity(64 * 1024, stdout);
    let result = serve(repo.as_ref(), &mut input, &mut output, &opts);
    let _ = output.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gotd-upload-pack-stdio: {e}");
            ExitCode::FAILURE
        }
    }
}
