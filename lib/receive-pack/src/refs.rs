//! Durable compare-and-swap ref updates.
//!
//! All updates of a push go into one `gix_ref` transaction: `prepare` takes
//! every `<ref>.lock` (and `packed-refs.lock` when needed) and checks each
//! ref's current value against the client's old id while holding the locks;
//! the lock files already hold the new values. We then fsync the lock
//! files, install the pack (the `before_commit` callback), commit (renames),
//! and fsync the ref directories and `packed-refs`.
//!
//! With `atomic` a failed check fails every ref. Without it the failing
//! ref gets its `ng` reason and the transaction is retried with the others,
//! so each ref succeeds or fails on its own while still sharing one commit.
//! HEAD is never touched: only the commands' own refs are edited, without
//! following symbolic refs.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};

use crate::commands::Command;
use crate::durable;

/// The `ng` reason of the other refs when an atomic push fails.
pub(crate) const ATOMIC_FAILED: &str = "atomic transaction failed";

/// Checks the commands against the refs as they are now: no symbolic
/// refs, and a deleted ref must exist (upstream's fatal errors).
pub(crate) fn check_current(repo: &gix::Repository, cmds: &[Command]) -> Result<(), String> {
    for c in cmds {
        let current = repo
            .refs
            .try_find(c.name.as_str())
            .map_err(|e| format!("{}: could not read reference: {e}", c.name))?;
        match current {
            Some(r) if matches!(r.target, Target::Symbolic(_)) => {
                return Err(format!(
                    "'{}' is a symbolic reference and cannot be updated: bad reference type",
                    c.name
                ));
            }
            None if c.is_delete() => return Err(format!("{}: bad object id", c.name)),
            Some(_) if c.is_delete() && c.is_create() => {
                return Err(format!("{}: bad object id", c.name))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Names of all refs (loose and packed).
fn existing_names(repo: &gix::Repository) -> Result<Vec<String>, String> {
    let platform = repo
        .references()
        .map_err(|e| format!("could not read references: {e}"))?;
    let iter = platform
        .all()
        .map_err(|e| format!("could not read references: {e}"))?;
    Ok(iter
        .filter_map(Result::ok)
        .map(|r| r.name().as_bstr().to_string())
        .collect())
}

/// A ref cannot be created where it would be a directory of another ref,
/// or have another ref as a directory (`refs/heads/a` vs `refs/heads/a/b`),
/// counting refs created earlier in the same push and ignoring refs the
/// push deletes. Returns the `ng` reason per command.
fn directory_conflicts(existing: &[String], cmds: &[Command]) -> Vec<Option<String>> {
    let deleted: Vec<&str> = cmds
        .iter()
        .filter(|c| c.is_delete())
        .map(|c| c.name.as_str())
        .collect();
    let mut taken: Vec<&str> = existing
        .iter()
        .map(String::as_str)
        .filter(|n| !deleted.contains(n))
        .collect();
    let nested =
        |a: &str, b: &str| b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/';
    cmds.iter()
        .map(|c| {
            if c.is_delete() {
                return None;
            }
            let clash = taken
                .iter()
                .find(|t| nested(&c.name, t) || nested(t, &c.name))
                .map(|t| {
                    format!(
                        "cannot lock ref '{}': '{t}' exists; cannot create '{}'",
                        c.name, c.name
                    )
                });
            if clash.is_none() {
                taken.push(&c.name);
            }
            clash
        })
        .collect()
}

fn edit_for(c: &Command) -> Result<RefEdit, String> {
    let name = FullName::try_from(c.name.as_str())
        .map_err(|_| "ref-update with bad reference name".to_string())?;
    let change = if c.is_delete() {
        Change::Delete {
            expected: PreviousValue::MustExistAndMatch(Target::Object(c.old)),
            log: RefLog::AndReference,
        }
    } else {
        Change::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: "push".into(),
            },
            expected: if c.is_create() {
                PreviousValue::MustNotExist
            } else {
                PreviousValue::MustExistAndMatch(Target::Object(c.old))
            },
            new: Target::Object(c.new),
        }
    };
    Ok(RefEdit {
        change,
        name,
        deref: false,
    })
}

/// A failed `prepare`: which ref (if known) and the `ng` reason.
fn classify(err: &gix::Error, cmds: &[Command], pending: &[usize]) -> (Option<usize>, String) {
    use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
    let out_of_date = err.downcast_any_ref::<ReferenceOutOfDate>();
    let must_not_exist = err.downcast_any_ref::<MustNotExist>();
    let failing = match (out_of_date, must_not_exist) {
        (Some(e), _) => Some(e.full_name.to_string()),
        (_, Some(e)) => Some(e.full_name.to_string()),
        _ => match err.metadata_merged().get("reference") {
            Some(gix::error::MetadataValue::Bytes(b)) => {
                Some(String::from_utf8_lossy(b).into_owned())
            }
            Some(gix::error::MetadataValue::String(s)) => Some(s.clone()),
            _ => None,
        },
    };
    let idx = failing
        .as_deref()
        .and_then(|f| pending.iter().copied().find(|&i| cmds[i].name == f));
    let lock_busy = err
        .iter_errors()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::AlreadyExists);
    let cas = |name: &str, what: &str| {
        format!("{name} has been {what} by someone else while transaction was in progress: reference cannot be updated; please try again")
    };
    let reason = match idx.map(|i| cmds[i].name.as_str()) {
        Some(name) if must_not_exist.is_some() => cas(name, "created"),
        Some(name) if out_of_date.is_some() || err.classify().is_not_found() => {
            cas(name, "modified")
        }
        Some(name) if lock_busy => format!("could not acquire exclusive file lock for {name}"),
        None if lock_busy => "could not acquire exclusive file lock for packed-refs".to_string(),
        _ => one_line(err),
    };
    (idx, reason)
}

fn one_line(err: &gix::Error) -> String {
    err.iter_errors()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

/// Applies the commands; returns each one's `ng` reason (`None`: updated).
/// `before_commit` runs after the locks are held and checked, before any
/// ref changes; if it fails, every remaining ref fails with its message.
pub(crate) fn apply(
    repo: &gix::Repository,
    cmds: &[Command],
    atomic: bool,
    lock_timeout: Duration,
    before_commit: &mut dyn FnMut() -> Result<(), String>,
) -> Vec<Option<String>> {
    let mut errors = match existing_names(repo) {
        Ok(names) => directory_conflicts(&names, cmds),
        Err(e) => vec![Some(e); cmds.len()],
    };
    let mut pending: Vec<usize> = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        if errors[i].is_some() {
            continue;
        }
        match edit_for(c) {
            Ok(_) => pending.push(i),
            Err(e) => errors[i] = Some(e),
        }
    }
    if atomic && errors.iter().any(Option::is_some) {
        fail_all(&mut errors, &pending, ATOMIC_FAILED);
        return errors;
    }
    let fail = gix::lock::acquire::Fail::AfterDurationWithBackoff(lock_timeout);
    while !pending.is_empty() {
        let edits: Vec<RefEdit> = pending
            .iter()
            .map(|&i| edit_for(&cmds[i]).expect("validated"))
            .collect();
        let prepared = repo.refs.transaction().prepare(edits, fail, fail);
        let tx = match prepared {
            Ok(tx) => tx,
            Err(e) => {
                let (idx, reason) = classify(&e, cmds, &pending);
                match idx {
                    Some(i) if !atomic => {
                        errors[i] = Some(reason);
                        pending.retain(|&p| p != i);
                        continue;
                    }
                    Some(i) => {
                        errors[i] = Some(reason);
                        pending.retain(|&p| p != i);
                        fail_all(&mut errors, &pending, ATOMIC_FAILED);
                    }
                    None => fail_all(&mut errors, &pending, &reason),
                }
                return errors;
            }
        };
        if let Err(e) =
            sync_locks(repo, cmds, &pending).map_err(|e| format!("could not sync reference: {e}"))
        {
            fail_all(&mut errors, &pending, &e);
            return errors;
        }
        if let Err(e) = before_commit() {
            fail_all(&mut errors, &pending, &e);
            return errors;
        }
        let time = format!(
            "{} +0000",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        let committer = gix::actor::SignatureRef {
            name: "gotd".into(),
            email: "gotd@localhost".into(),
            time: &time,
        };
        if let Err(e) = tx.commit(committer) {
            fail_all(
                &mut errors,
                &pending,
                &format!("could not update reference: {}", one_line(&e)),
            );
            return errors;
        }
        if let Err(e) = sync_after_commit(repo, cmds, &pending) {
            fail_all(
                &mut errors,
                &pending,
                &format!("could not sync reference: {e}"),
            );
        }
        return errors;
    }
    errors
}

fn fail_all(errors: &mut [Option<String>], pending: &[usize], reason: &str) {
    for &i in pending {
        errors[i].get_or_insert_with(|| reason.to_string());
    }
}

fn ref_path(repo: &gix::Repository, name: &str) -> PathBuf {
    repo.common_dir().join(name)
}

/// fsyncs the lock files, which hold the new values of updated refs.
fn sync_locks(repo: &gix::Repository, cmds: &[Command], pending: &[usize]) -> std::io::Result<()> {
    for &i in pending.iter().filter(|&&i| !cmds[i].is_delete()) {
        let mut lock = ref_path(repo, &cmds[i].name).into_os_string();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        // No lock file means the ref already had the new value.
        if lock.exists() {
            durable::sync_file(&lock)?;
        }
    }
    Ok(())
}

/// fsyncs the directories whose entries changed, and packed-refs.
fn sync_after_commit(
    repo: &gix::Repository,
    cmds: &[Command],
    pending: &[usize],
) -> std::io::Result<()> {
    let top = repo.common_dir().to_owned();
    let mut dirs = BTreeSet::new();
    for &i in pending {
        let path = ref_path(repo, &cmds[i].name);
        let mut dir = path.parent().map(|p| p.to_owned());
        // Deletions may have removed empty parents; sync what remains.
        while let Some(d) = dir {
            if d.exists() || d == top {
                dirs.insert(d);
                break;
            }
            dir = d.parent().map(|p| p.to_owned());
        }
    }
    for d in dirs.iter().rev() {
        durable::sync_dirs_up_to(d, &top)?;
    }
    if pending.iter().any(|&i| cmds[i].is_delete()) {
        let packed = top.join("packed-refs");
        if packed.exists() {
            durable::sync_file(&packed)?;
        }
        durable::sync_dir(&top)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, delete: bool) -> Command {
        let one = gix::ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap();
        Command {
            old: one,
            new: if delete {
                gix::hash::Kind::Sha1.null()
            } else {
                one
            },
            name: name.into(),
        }
    }

    #[test]
    fn directory_file_conflicts() {
        let existing = vec!["refs/heads/a/b".to_string(), "refs/heads/c".to_string()];
        let got = directory_conflicts(
            &existing,
            &[
                cmd("refs/heads/a", false),
                cmd("refs/heads/c/d", false),
                cmd("refs/heads/ab", false),
                cmd("refs/heads/ab/x", false),
                cmd("refs/heads/e/f", false),
            ],
        );
        assert_eq!(
            got,
            vec![
                Some("cannot lock ref 'refs/heads/a': 'refs/heads/a/b' exists; cannot create 'refs/heads/a'".into()),
                Some("cannot lock ref 'refs/heads/c/d': 'refs/heads/c' exists; cannot create 'refs/heads/c/d'".into()),
                None,
                Some("cannot lock ref 'refs/heads/ab/x': 'refs/heads/ab' exists; cannot create 'refs/heads/ab/x'".into()),
                None,
            ]
        );
        // Deleting the blocking ref in the same push clears the way.
        let got = directory_conflicts(
            &existing,
            &[cmd("refs/heads/c", true), cmd("refs/heads/c/d", false)],
        );
        assert_eq!(got, vec![None, None]);
    }
}
