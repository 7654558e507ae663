//! Comparing client-visible output with the insta snapshots in
//! `regress/snapshots/`. A mismatch is a scenario failure, not a crash: insta
//! prints the diff (and, outside CI, writes a `.snap.new` to review with
//! `cargo insta review` or accept with `INSTA_UPDATE=always`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use anyhow::{bail, Result};

/// The directory holding the `.snap` files.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// Points insta at the workspace so it never needs `cargo metadata` at run
/// time (the suite may run from an installed tree, as root).
pub fn init() {
    if std::env::var_os("INSTA_WORKSPACE_ROOT").is_none() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        std::env::set_var("INSTA_WORKSPACE_ROOT", root);
    }
}

/// Asserts that `value` matches snapshot `name`.
pub fn check(name: &str, value: &str) -> Result<()> {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let name = name.to_string();
    let value = value.to_string();
    let result = catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| {
            insta::assert_snapshot!(name.clone(), value);
        })
    }));
    if result.is_err() {
        bail!(
            "output differs from snapshot {} (diff above; review with `cargo insta review` or accept with INSTA_UPDATE=always)",
            name
        );
    }
    Ok(())
}
