//! The repo child's sandbox, applied before it sees any client data:
//! `no_new_privs`, no core dumps, Landlock limiting the file system to the
//! one repository (read-only for readers, read-write for writers), and a
//! seccomp filter (see [`super::seccomp`]).
//!
//! Every step degrades gracefully: where the kernel lacks a feature the
//! child goes on and the returned report says so; the parent logs it.

use std::path::Path;

use landlock::{
    path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    ABI,
};
use nix::sys::resource::{setrlimit, Resource};

/// The newest Landlock ABI we ask for; older kernels get the best subset.
const LANDLOCK_ABI: ABI = ABI::V5;

/// Applies the sandbox and returns one line per protection, e.g.
/// `landlock: fully enforced, repository read-only`.
pub fn apply(repo: &Path, write: bool) -> Vec<String> {
    let mut report = Vec::new();
    report.push(match nix::sys::prctl::set_no_new_privs() {
        Ok(()) => "no_new_privs: on".to_string(),
        Err(e) => format!("no_new_privs: failed: {e}"),
    });
    report.push(match setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        Ok(()) => "core dumps: off".to_string(),
        Err(e) => format!("core dumps: setrlimit failed: {e}"),
    });
    report.push(landlock(repo, write));
    report.push(super::seccomp::apply());
    report
}

fn landlock(repo: &Path, write: bool) -> String {
    let mode = if write { "read-write" } else { "read-only" };
    let all = AccessFs::from_all(LANDLOCK_ABI);
    let granted = if write {
        all
    } else {
        AccessFs::from_read(LANDLOCK_ABI)
    };
    let result = Ruleset::default()
        .handle_access(all)
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules([repo], granted)))
        .and_then(|r| r.restrict_self());
    match result {
        Ok(status) => match status.ruleset {
            RulesetStatus::FullyEnforced => format!("landlock: fully enforced, repository {mode}"),
            RulesetStatus::PartiallyEnforced => {
                format!("landlock: partially enforced (old kernel), repository {mode}")
            }
            RulesetStatus::NotEnforced => "landlock: not supported by this kernel".to_string(),
        },
        Err(e) => format!("landlock: failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `probe` in a fresh test process (the sandbox cannot be undone)
    /// and returns what it printed.
    fn in_subprocess(probe: &str, repo: &Path) -> String {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", probe, "--nocapture", "--test-threads=1"])
            .env("GOTD_SANDBOX_PROBE_REPO", repo)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn probe(write: bool) {
        let Some(repo) = std::env::var_os("GOTD_SANDBOX_PROBE_REPO") else {
            return;
        };
        let repo = std::path::PathBuf::from(repo);
        let report = apply(&repo, write);
        println!("report: {}", report.join(", "));
        let read_inside = std::fs::read(repo.join("HEAD")).is_ok();
        let write_inside = std::fs::write(repo.join("new-file"), "x").is_ok();
        let outside = repo.parent().unwrap().join("outside");
        let read_outside = std::fs::read(&outside).is_ok();
        let write_outside = std::fs::write(repo.parent().unwrap().join("new-outside"), "x").is_ok();
        println!(
            "read_inside={read_inside} write_inside={write_inside} read_outside={read_outside} write_outside={write_outside}"
        );
    }

    #[test]
    fn reader_probe() {
        probe(false);
    }

    #[test]
    fn writer_probe() {
        probe(true);
    }

    fn site() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo.git");
        std::fs::create_dir(&repo).unwrap();
        std::fs::write(repo.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(dir.path().join("outside"), "secret\n").unwrap();
        (dir, repo)
    }

    fn landlock_enforced(out: &str) -> bool {
        out.contains("landlock: fully enforced")
    }

    #[test]
    fn reader_can_only_read_its_repository() {
        let (_dir, repo) = site();
        let out = in_subprocess("child::sandbox::tests::reader_probe", &repo);
        assert!(out.contains("no_new_privs: on"), "{out}");
        if !landlock_enforced(&out) {
            eprintln!("landlock unavailable here: {out}");
            return;
        }
        assert!(
            out.contains(
                "read_inside=true write_inside=false read_outside=false write_outside=false"
            ),
            "{out}"
        );
        assert!(!repo.join("new-file").exists());
    }

    #[test]
    fn writer_can_only_touch_its_repository() {
        let (_dir, repo) = site();
        let out = in_subprocess("child::sandbox::tests::writer_probe", &repo);
        if !landlock_enforced(&out) {
            eprintln!("landlock unavailable here: {out}");
            return;
        }
        assert!(
            out.contains(
                "read_inside=true write_inside=true read_outside=false write_outside=false"
            ),
            "{out}"
        );
        assert!(repo.join("new-file").exists());
    }
}
