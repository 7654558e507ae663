//! Accounts the suite needs: lookup, creation with `useradd -m`, login shell
//! setup for the gotsh user, and permissions that let other users reach files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::unistd::{Group, User};

use crate::cmd;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(60);

/// A local account.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

impl From<User> for Account {
    fn from(u: User) -> Account {
        Account {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
            shell: u.shell,
        }
    }
}

/// Looks up `name` in the passwd database.
pub fn lookup(name: &str) -> Result<Option<Account>> {
    Ok(User::from_name(name)
        .with_context(|| format!("looking up user {name}"))?
        .map(Account::from))
}

/// The account of the current effective uid.
pub fn current() -> Result<Account> {
    let uid = nix::unistd::geteuid();
    User::from_uid(uid)
        .context("looking up the current user")?
        .map(Account::from)
        .with_context(|| format!("uid {uid} has no passwd entry"))
}

/// Whether a group of that name exists.
pub fn group_exists(name: &str) -> bool {
    matches!(Group::from_name(name), Ok(Some(_)))
}

/// Returns the account `name`, creating it (with a home directory) if it is
/// missing. Creation needs root.
pub fn ensure(name: &str, created: &mut Vec<String>) -> Result<Account> {
    if let Some(a) = lookup(name)? {
        return Ok(a);
    }
    let added = cmd::run_ok(
        Command::new("useradd").args(["-m", name]),
        None,
        ADMIN_TIMEOUT,
    );
    if let Err(e) = added {
        // Another run may have created it meanwhile.
        return match lookup(name)? {
            Some(a) => Ok(a),
            None => Err(e.context(format!("creating user {name}"))),
        };
    }
    created.push(name.to_string());
    lookup(name)?.with_context(|| format!("user {name} missing after useradd"))
}

/// Makes `shell` the login shell of `account`, lists it in /etc/shells and
/// unlocks the account for public-key logins (sshd without PAM refuses
/// accounts whose password field starts with `!`).
pub fn setup_login_shell(account: &Account, shell: &Path) -> Result<()> {
    let shells = std::fs::read_to_string("/etc/shells").unwrap_or_default();
    let shell_str = shell.to_string_lossy();
    if !shells.lines().any(|l| l.trim() == shell_str) {
        let mut text = shells;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&shell_str);
        text.push('\n');
        std::fs::write("/etc/shells", text).context("adding gotsh to /etc/shells")?;
    }
    if account.shell != shell {
        cmd::run_ok(
            Command::new("usermod")
                .arg("-s")
                .arg(shell)
                .arg(&account.name),
            None,
            ADMIN_TIMEOUT,
        )
        .with_context(|| format!("setting the login shell of {}", account.name))?;
    }
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    let locked = shadow.lines().any(|l| {
        let mut f = l.split(':');
        f.next() == Some(account.name.as_str()) && f.next().is_some_and(|p| p.starts_with('!'))
    });
    if locked {
        cmd::run_ok(
            Command::new("usermod").args(["-p", "*", &account.name]),
            None,
            ADMIN_TIMEOUT,
        )
        .with_context(|| format!("unlocking {} for key logins", account.name))?;
    }
    Ok(())
}

/// Adds search (x) permission for others on `dir` and every ancestor that
/// lacks it, so that other users can reach files below it. Returns the
/// directories that were changed.
pub fn make_traversable(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for d in dir.ancestors() {
        if d.as_os_str().is_empty() {
            continue;
        }
        let meta = std::fs::metadata(d).with_context(|| format!("{}", d.display()))?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode((mode & 0o7777) | 0o001))
                .with_context(|| format!("chmod o+x {}", d.display()))?;
            changed.push(d.to_path_buf());
        }
    }
    Ok(changed)
}

/// `chown -R uid:gid path`.
pub fn chown_recursive(path: &Path, account: &Account) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    cmd::run_ok(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", account.uid, account.gid))
            .arg(path),
        None,
        ADMIN_TIMEOUT,
    )?;
    Ok(())
}

/// Refuses root as the client user.
pub fn check_not_root(account: &Account) -> Result<()> {
    if account.uid == 0 {
        bail!(
            "GOTD_TEST_USER must not be root ({}); set GOTD_TEST_USER to an unprivileged user",
            account.name
        );
    }
    Ok(())
}
