//! `cargo xtask regress [SCENARIO…]`: builds the release binaries (unless
//! GOT_RELEASE=Yes, which tests the installed ones as they are) and the
//! regress suite, then runs the suite, which installs the fresh binaries
//! into BINDIR (default ~GOTD_TEST_USER/bin) before testing them.

use anyhow::Result;

use crate::build;
use crate::util;

pub fn run(args: &[String]) -> Result<()> {
    let release = std::env::var("GOT_RELEASE").is_ok_and(|v| v == "Yes");
    // Listing the scenarios needs no binaries.
    let listing = args
        .iter()
        .any(|a| matches!(a.as_str(), "--list" | "--help" | "-h"));
    let bins = if release || listing {
        None
    } else {
        Some(build::release()?)
    };
    util::run(util::cargo().args(["build", "-p", "regress"]))?;
    let mut suite = std::process::Command::new(build::target_dir().join("debug/regress"));
    suite.current_dir(util::root());
    if std::env::var_os("INSTA_WORKSPACE_ROOT").is_none() {
        suite.env("INSTA_WORKSPACE_ROOT", util::root());
    }
    if let (Some(dir), false) = (&bins, listing) {
        suite.arg("--install-from").arg(dir);
    }
    suite.args(args);
    util::run(&mut suite)
}
