//! Shared helpers: the workspace root, its version, and running commands
//! with a header and a clear error.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (parent of the xtask crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// `cargo`, as chosen by the cargo that runs us.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, inheriting stdio; a failure names the command.
pub fn run(cmd: &mut Command) -> Result<()> {
    let desc = describe(cmd);
    let status = cmd.status().with_context(|| format!("cannot run {desc}"))?;
    if !status.success() {
        bail!("{desc} failed ({status})");
    }
    Ok(())
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// `version = "…"` of `[workspace.package]` in the root Cargo.toml text.
pub fn workspace_version(manifest: &str) -> Result<String> {
    let mut in_section = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t == "[workspace.package]";
            continue;
        }
        if in_section {
            if let Some(rest) = t.strip_prefix("version") {
                let v = rest.trim_start().strip_prefix('=').map(str::trim);
                if let Some(v) = v
                    .and_then(|v| v.strip_prefix('"'))
                    .and_then(|v| v.split('"').next())
                {
                    return Ok(v.to_string());
                }
            }
        }
    }
    bail!("no version in [workspace.package] of Cargo.toml")
}

/// The workspace version from the root Cargo.toml.
pub fn version() -> Result<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).context("reading Cargo.toml")?;
    workspace_version(&text)
}

/// Prints a step header.
pub fn header(title: &str) {
    println!("\n==> {title}");
}

/// The three binaries the project installs.
pub const BINARIES: [&str; 3] = ["gotd", "gotsh", "gotctl"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_workspace_version() {
        let text = "[workspace]\nmembers = []\n[package]\nversion = \"9\"\n[workspace.package]\nedition = \"2021\"\nversion = \"1.2.3\"\n";
        assert_eq!(workspace_version(text).unwrap(), "1.2.3");
        assert!(workspace_version("[package]\nversion = \"1\"\n").is_err());
    }

    #[test]
    fn this_workspace_has_a_version() {
        assert!(!version().unwrap().is_empty());
    }
}
