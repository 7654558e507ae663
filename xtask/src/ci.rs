//! `cargo xtask ci [--skip-fmt] [--skip-clippy] [--skip-test] [--skip-regress] [--skip-release] [--skip-docs] [--skip-fuzz]`:
//! what CI runs, in order, stopping at the first failure: formatting,
//! clippy with warnings denied, the workspace tests, the regress suite, the
//! release flow (tarball, `make install`, `GOT_RELEASE=Yes make regress`), and
//! the checks of the operator files (manual pages, sample configurations,
//! systemd unit, sshd snippet), and a fuzzing smoke run: every fuzz target
//! for [`FUZZ_SECONDS`] seconds from its checked-in seeds (skipped, saying
//! so, when cargo-fuzz is not installed; `.ci/run` installs it).

use anyhow::{bail, Result};

use crate::util;

/// The steps, by name.
pub const STEPS: [&str; 7] = [
    "fmt", "clippy", "test", "regress", "release", "docs", "fuzz",
];

/// Seconds each fuzz target runs in CI (longer runs: `cargo xtask fuzz`).
pub const FUZZ_SECONDS: u32 = 10;

/// Which steps run, given the skip flags.
pub fn selected(args: &[String]) -> Result<Vec<&'static str>> {
    let mut skip = Vec::new();
    for a in args {
        match a.strip_prefix("--skip-") {
            Some(s) if STEPS.contains(&s) => skip.push(s.to_string()),
            _ => bail!(
                "ci: unknown argument {a} (use {})",
                STEPS.map(|s| format!("--skip-{s}")).join(", ")
            ),
        }
    }
    Ok(STEPS
        .iter()
        .copied()
        .filter(|s| !skip.iter().any(|k| k == s))
        .collect())
}

pub fn run(args: &[String]) -> Result<()> {
    for step in selected(args)? {
        match step {
            "fmt" => {
                util::header("cargo fmt --all -- --check");
                util::run(util::cargo().args(["fmt", "--all", "--", "--check"]))?;
            }
            "clippy" => {
                util::header("cargo clippy --workspace --all-targets -- -D warnings");
                util::run(util::cargo().args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))?;
            }
            "test" => {
                util::header("cargo test --workspace");
                util::run(util::cargo().args(["test", "--workspace"]))?;
            }
            "regress" => {
                util::header("regress suite");
                crate::regress::run(&[])?;
            }
            "release" => {
                util::header("release flow (cargo xtask release-check)");
                crate::release::run(&[])?;
            }
            "docs" => {
                util::header("contrib/tests/all.sh");
                let mut cmd = std::process::Command::new("sh");
                cmd.arg("contrib/tests/all.sh").current_dir(util::root());
                util::run(&mut cmd)?;
            }
            "fuzz" => {
                util::header("fuzzing smoke run (cargo xtask fuzz all)");
                if crate::fuzz::cargo_fuzz_installed() {
                    let secs = FUZZ_SECONDS.to_string();
                    crate::fuzz::run(&["all".into(), "--seconds".into(), secs])?;
                } else {
                    println!("fuzz: SKIP: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)");
                }
            }
            _ => unreachable!("unknown step {step}"),
        }
    }
    util::header("ci: all steps passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: &[&str]) -> Result<Vec<&'static str>> {
        selected(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn skips() {
        assert_eq!(sel(&[]).unwrap(), STEPS.to_vec());
        assert_eq!(
            sel(&["--skip-regress", "--skip-fmt"]).unwrap(),
            vec!["clippy", "test", "release", "docs", "fuzz"]
        );
        assert!(sel(&["--skip-lunch"]).is_err());
    }
}
