//! Developer and release workflow: `cargo xtask <command>`.
//!
//! Each command lives in its own module with a `run(args)` entry point:
//! build, install/uninstall, dist, regress, ci, demo, bench.

mod bench;
mod build;
mod ci;
mod demo;
mod dist;
mod fuzz;
mod install;
mod regress;
mod release;
mod util;

use anyhow::Result;

const USAGE: &str = "usage: cargo xtask <command> [args…]

commands:
  build                       release build of gotd, gotsh, gotctl
  install [--prefix P] [--bindir B] [--destdir D] [--from DIR]
                              copy the built binaries to $D$B (B = P/bin, P = /usr/local)
  uninstall [same options]    remove them again
  dist                        target/dist/gotd-<version>.tar.gz of the sources
  regress [SCENARIO…]         build, install and run the regress suite (see regress/README.md)
  release-check               make dist, unpack, make install, GOT_RELEASE=Yes make regress,
                              make uninstall (root only)
  ci [--skip-fmt|--skip-clippy|--skip-test|--skip-regress|--skip-release|--skip-docs|--skip-fuzz]
                              what CI runs: fmt, clippy, tests, regress, release-check, docs, fuzz smoke
  demo                        run gotd in the foreground on a sample repository
  bench                       speed and size of gotd against git
  fuzz TARGET|all [--seconds N] | --list | --check
                              run the cargo-fuzz targets in fuzz/ (see fuzz/README.md)";

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || matches!(args[0].as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        std::process::exit(if args.is_empty() { 1 } else { 0 });
    }
    let cmd = args.remove(0);
    let result: Result<()> = match cmd.as_str() {
        "build" => build::run(&args),
        "install" => install::run(&args),
        "uninstall" => install::uninstall(&args),
        "dist" => dist::run(&args),
        "regress" => regress::run(&args),
        "release-check" => release::run(&args),
        "ci" => ci::run(&args),
        "demo" => demo::run(&args),
        "bench" => bench::run(&args),
        "fuzz" => fuzz::run(&args),
        _ => {
            eprintln!("xtask: unknown command {cmd}\n{USAGE}");
            std::process::exit(1);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask {cmd}: {e:#}");
        std::process::exit(1);
    }
}
