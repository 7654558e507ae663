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
