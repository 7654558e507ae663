//! Developer and release workflow: `cargo xtask <command>`.
//!
//! Each command lives in its own module with a `run(args)` entry point.

mod bench;

use anyhow::Result;

const USAGE: &str = "usage: cargo xtask <build|install|regress|dist|bench|demo|ci> [args…]";

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("{USAGE}");
        std::process::exit(1);
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "bench" => bench::run(&args),
        _ => {
            eprintln!("xtask: unknown command {cmd}\n{USAGE}");
            std::process::exit(1);
        }
    }
}
