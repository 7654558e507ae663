//! `cargo xtask build`: release build of gotd, gotsh and gotctl.

use std::path::PathBuf;

use anyhow::Result;

use crate::util::{self, BINARIES};

/// Builds the release binaries and returns their directory.
pub fn release() -> Result<PathBuf> {
    let mut c = util::cargo();
    c.args(["build", "--release"]);
    for b in BINARIES {
        c.args(["-p", b]);
    }
    util::run(&mut c)?;
    Ok(target_dir().join("release"))
}

/// The cargo target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                util::root().join(p)
            }
        })
        .unwrap_or_else(|| util::root().join("target"))
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("build: unexpected argument {a}");
    }
    let dir = release()?;
    println!("built {} in {}", BINARIES.join(", "), dir.display());
    Ok(())
}
