//! `cargo xtask release-check`: the release flow as users run it, end to end:
//! `make dist`, unpack the tarball in a fresh directory, `make` and
//! `make install` there (into `PREFIX`, default `/usr/local`), then
//! `GOT_RELEASE=Yes make regress` against the installed binaries, and
//! `make uninstall` afterwards (also after a failure).
//!
//! Needs root (it installs into the system and the regress suite needs
//! root); without root it says so and does nothing. The unpacked tree builds
//! with this workspace's target directory, so dependencies compiled earlier
//! are reused; the project's own crates are built from the tarball's sources.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{build, dist, util};

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("release-check: unexpected argument {a}");
    }
    if !nix::unistd::Uid::effective().is_root() {
        println!("release-check: SKIP: needs root (installs into PREFIX and runs the regress suite as root)");
        return Ok(());
    }
    let tarball = dist::make_dist()?;
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    util::run(
        Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(work.path()),
    )?;
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.gz"))
        .context("tarball name does not end in .tar.gz")?
        .to_string();
    let tree = work.path().join(name);
    let make = |target: &[&str]| {
        let mut c = Command::new("make");
        c.args(target)
            .current_dir(&tree)
            .env("CARGO_TARGET_DIR", build::target_dir());
        c
    };
    util::header("release: make && make install");
    util::run(&mut make(&[]))?;
    util::run(&mut make(&["install"]))?;
    util::header("release: GOT_RELEASE=Yes make regress");
    let tested = util::run(make(&["regress"]).env("GOT_RELEASE", "Yes"));
    util::header("release: make uninstall");
    let removed = util::run(&mut make(&["uninstall"]));
    tested?;
    removed
}
