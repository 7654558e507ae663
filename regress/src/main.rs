//! The gotd regress suite: real users, a real sshd on loopback and real git
//! clients against the installed gotd, gotsh and gotctl.
//!
//! `regress [--install-from DIR] [--list] [SCENARIO…]` prints one line per
//! scenario (`PASS name`, `FAIL name: reason`, `SKIP name: reason`) and
//! `N passed, N failed[, N skipped]`; the exit status is 1 if any failed.
//! See regress/README.md for the environment it honours.

mod checks;
mod cleanup;
mod client;
mod cmd;
mod daemon;
mod procfs;
mod redact;
mod repo;
mod report;
mod scenarios;
mod settings;
mod snapshot;
mod sshd;
mod users;
mod world;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use report::Summary;
use scenarios::{LocalCtx, Scenario};
use settings::{Binaries, Settings};
use world::World;

struct Args {
    install_from: Option<PathBuf>,
    list: bool,
    names: Vec<String>,
}

const USAGE: &str = "usage: regress [--install-from DIR] [--list] [SCENARIO…]";

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut a = Args {
        install_from: None,
        list: false,
        names: Vec::new(),
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--list" => a.list = true,
            "--install-from" => {
                a.install_from = Some(PathBuf::from(
                    it.next().context("--install-from needs a directory")?,
                ))
            }
            s if s.starts_with('-') => bail!("unknown option {s}\n{USAGE}"),
            s => a.names.push(s.to_string()),
        }
    }
    Ok(Some(a))
}

fn help() {
    println!("{USAGE}\n\nScenarios:");
    for s in scenarios::all() {
        let root = if s.needs_root() { " (root)" } else { "" };
        println!("  {:<26} {}{root}", s.name, s.about);
    }
    println!(
        "\nEnvironment (binaries): GOT_RELEASE, PREFIX, BINDIR, GOTD_START_CMD, GOTD_STOP_CMD"
    );
    println!("Environment (regress.toml overrides):");
    for (k, v) in settings::ENV_VARS {
        println!("  {k:<32} {v}");
    }
}

/// Selects the scenarios named on the command line (all if none).
fn select(all: Vec<Scenario>, names: &[String]) -> Result<Vec<Scenario>> {
    if names.is_empty() {
        return Ok(all);
    }
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !all.iter().any(|s| s.name == n.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown scenario(s): {} (see regress --list)",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(all
        .into_iter()
        .filter(|s| names.iter().any(|n| n == s.name))
        .collect())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("regress: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        help();
        return Ok(ExitCode::SUCCESS);
    };
    let selected = select(scenarios::all(), &args.names)?;
    if args.list {
        for s in &selected {
            println!("{}", s.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A failed snapshot or a bug in a scenario is reported as that
    // scenario's FAIL line; a backtrace would only bury the diff.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    cleanup::install_signal_handler()?;
    snapshot::init();
    let settings = Settings::load()?;
    let is_root = nix::unistd::geteuid().is_root();

    let local_dir = tempfile::Builder::new()
        .prefix("gotd-regress-local-")
        .tempdir_in(&settings.test_root)?;
    let local_path = local_dir.path().to_path_buf();
    let _local_removal = cleanup::Guard::register(move || {
        let _ = std::fs::remove_dir_all(&local_path);
    });
    let mut world = None;
    let local = if is_root {
        let needs_world = selected.iter().any(|s| s.needs_root());
        let w = if needs_world {
            Some(World::setup(
                settings.clone(),
                args.install_from.as_deref(),
            )?)
        } else {
            None
        };
        let (bins, user) = match &w {
            Some(w) => (w.bins.clone(), w.test_user.clone()),
            None => local_binaries(&settings, args.install_from.as_deref())?,
        };
        world = w;
        LocalCtx {
            bins,
            settings: settings.clone(),
            dir: local_dir.path().to_path_buf(),
            user,
        }
    } else {
        let (bins, user) = local_binaries(&settings, args.install_from.as_deref())?;
        let root_only: Vec<&str> = selected
            .iter()
            .filter(|s| s.needs_root())
            .map(|s| s.name)
            .collect();
        if !root_only.is_empty() {
            println!(
                "not running as root: {} scenario(s) need root (users, sshd, gotd as root) and are skipped: {}",
                root_only.len(),
                root_only.join(", ")
            );
        }
        LocalCtx {
            bins,
            settings: settings.clone(),
            dir: local_dir.path().to_path_buf(),
            user,
        }
    };
    if let Some(w) = &world {
        println!(
            "binaries from {} (PREFIX {}); gotd user {}, ssh user {} (shell {}), clients as {}; sshd on {}:{}",
            w.bins.bindir.display(),
            w.bins.prefix.display(),
            w.gotd_user.name,
            w.devuser.name,
            w.devuser.shell.display(),
            w.test_user.name,
            w.settings.ssh_host,
            w.client.port
        );
    }

    let mut summary = Summary::default();
    for s in &selected {
        let (outcome, notes) = if !is_root && s.needs_root() {
            (
                report::Outcome::Skip(
                    "needs root (creates users, runs sshd, starts gotd as root)".into(),
                ),
                Vec::new(),
            )
        } else {
            scenarios::run_one(s, world.as_ref(), &local)
        };
        for n in notes {
            println!("  {}: {n}", s.name);
        }
        println!("{}", report::line(s.name, &outcome));
        let _ = std::io::stdout().flush();
        summary.add(&outcome);
    }
    println!("{}", summary.line());
    drop(world);
    Ok(if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Binaries for local scenarios (and their user), installing them first
/// outside release mode when asked to.
fn local_binaries(
    settings: &Settings,
    install_from: Option<&std::path::Path>,
) -> Result<(Binaries, users::Account)> {
    let mut created = Vec::new();
    let user = world::test_user(settings, &mut created)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let bins = Binaries::resolve(&env, &user.home);
    if let Some(from) = install_from {
        if !bins.release {
            world::install(from, &bins.bindir)?;
        }
    }
    world::check_binaries(&bins)?;
    Ok((bins, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Option<Args>> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_arguments() {
        let a = args(&["--install-from", "/x", "repo_read", "--list"])
            .unwrap()
            .unwrap();
        assert_eq!(a.install_from, Some(PathBuf::from("/x")));
        assert!(a.list);
        assert_eq!(a.names, vec!["repo_read"]);
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(args(&["--bogus"]).is_err());
        assert!(args(&["--install-from"]).is_err());
    }

    #[test]
    fn scenario_names_are_unique_and_selectable() {
        let all = scenarios::all();
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate scenario names");
        let picked = select(scenarios::all(), &["repo_read".into()]).unwrap();
        assert_eq!(picked.len(), 1);
        let err = select(scenarios::all(), &["nope".into()])
            .err()
            .expect("unknown name rejected");
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn upstream_scenarios_are_all_present() {
        let names: Vec<&str> = scenarios::all().iter().map(|s| s.name).collect();
        for want in [
            "repo_read",
            "repo_read_group",
            "repo_read_denied_user",
            "repo_read_denied_group",
            "repo_read_bad_user",
            "repo_read_bad_group",
            "repo_write",
            "repo_write_empty",
            "repo_write_readonly",
            "repo_write_protected",
            "request_bad",
            "connection_limit",
            "large_files",
            "git_interop",
            "stress",
            "leaks",
        ] {
            assert!(names.contains(&want), "missing scenario {want}");
        }
    }
}
