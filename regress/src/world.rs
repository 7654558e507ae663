//! The run-wide environment: users, binaries (installed first outside release
//! mode), the run's temp dir, the client key and the suite's sshd.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cleanup::Guard;
use crate::client::Client;
use crate::cmd;
use crate::settings::{Binaries, Settings};
use crate::sshd::Sshd;
use crate::users::{self, Account};

/// Everything the scenarios share.
pub struct World {
    pub settings: Settings,
    pub bins: Binaries,
    pub root: PathBuf,
    pub gotd_user: Account,
    pub devuser: Account,
    pub test_user: Account,
    pub sock: PathBuf,
    pub client: Client,
    _sshd: Sshd,
    _removal: Option<Guard>,
    /// Last: removed after sshd has stopped.
    _tmp: Option<tempfile::TempDir>,
}

/// Copies gotd, gotsh and gotctl from `from` into `bindir` (mode 0755).
pub fn install(from: &Path, bindir: &Path) -> Result<()> {
    std::fs::create_dir_all(bindir).with_context(|| format!("creating {}", bindir.display()))?;
    for name in ["gotd", "gotsh", "gotctl"] {
        let src = from.join(name);
        let dst = bindir.join(name);
        let tmp = bindir.join(format!(".{name}.regress-new"));
        std::fs::copy(&src, &tmp)
            .with_context(|| format!("copying {} to {}", src.display(), tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &dst)?;
    }
    Ok(())
}

/// Fails unless the three binaries exist in `bins.bindir`.
pub fn check_binaries(bins: &Binaries) -> Result<()> {
    let missing: Vec<String> = [bins.gotd(), bins.gotsh(), bins.gotctl()]
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing binaries: {} (install them, or set BINDIR/PREFIX; GOT_RELEASE={})",
            missing.join(", "),
            if bins.release { "Yes" } else { "unset" }
        );
    }
    Ok(())
}

/// The client user: GOTD_TEST_USER / SUDO_USER, else (as root) the default
/// test user, created if needed; never root.
pub fn test_user(settings: &Settings, created: &mut Vec<String>) -> Result<Account> {
    let root = nix::unistd::geteuid().is_root();
    let account = match (&settings.test_user, root) {
        (Some(name), true) => users::ensure(name, created)?,
        (Some(name), false) => {
            users::lookup(name)?.with_context(|| format!("GOTD_TEST_USER {name} does not exist"))?
        }
        (None, true) => users::ensure(&settings.default_test_user, created)?,
        (None, false) => users::current()?,
    };
    users::check_not_root(&account)?;
    Ok(account)
}

impl World {
    /// Sets up users, binaries, temp dir, key and sshd. Needs root.
    pub fn setup(settings: Settings, install_from: Option<&Path>) -> Result<World> {
        let mut created = Vec::new();
        let test_user = test_user(&settings, &mut created)?;
        let env: HashMap<String, String> = std::env::vars().collect();
        let bins = Binaries::resolve(&env, &test_user.home);
        if let Some(from) = install_from {
            if bins.release {
                bail!("GOT_RELEASE=Yes tests the installed binaries; do not pass --install-from");
            }
            install(from, &bins.bindir)?;
        }
        check_binaries(&bins)?;
        for d in users::make_traversable(&bins.bindir)? {
            println!("note: made {} traversable for gotd and gotsh", d.display());
        }
        let gotd_user = users::ensure(&settings.gotd_user, &mut created)?;
        let devuser = users::ensure(&settings.gotd_devuser, &mut created)?;
        if !created.is_empty() {
            println!("note: created users {}", created.join(", "));
        }
        if !users::group_exists(&settings.foreign_group) {
            bail!(
                "GOTD_TEST_FOREIGN_GROUP {} does not exist",
                settings.foreign_group
            );
        }
        users::setup_login_shell(&devuser, &bins.gotsh())?;
        let devuser = users::lookup(&devuser.name)?.context("gotsh user vanished")?;

        std::fs::create_dir_all(&settings.test_root)?;
        let tmp = tempfile::Builder::new()
            .prefix("gotd-regress-")
            .tempdir_in(&settings.test_root)
            .context("creating the run's temp dir")?;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))?;
        let root = tmp.path().to_path_buf();
        let (tmp, root) = if settings.keep {
            println!("note: keeping {} (GOTD_TEST_KEEP)", root.display());
            (None, tmp.keep())
        } else {
            (Some(tmp), root)
        };
        // The socket's directory belongs to the gotd user, so that gotd can
        // remove the socket when it exits.
        let run = root.join("run");
        std::fs::create_dir_all(&run)?;
        users::chown_recursive(&run, &gotd_user)?;
        let sock = run.join("gotd.sock");
        // On Ctrl-C the process exits without running destructors.
        let removal = (!settings.keep).then(|| {
            let r = root.clone();
            Guard::register(move || {
                let _ = std::fs::remove_dir_all(&r);
            })
        });

        let home = root.join("client-home");
        std::fs::create_dir_all(home.join(".ssh"))?;
        let key = home.join(".ssh/id_ed25519");
        cmd::run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "gotd-regress", "-f"])
                .arg(&key),
            None,
            settings.start_timeout,
        )?;
        let pubkey = std::fs::read_to_string(key.with_extension("pub"))?;
        users::chown_recursive(&home, &test_user)?;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))?;

        let sshd = Sshd::start(&settings, &root, &devuser, &sock, &pubkey)?;
        let client = Client {
            user: test_user.clone(),
            home,
            key,
            host: settings.ssh_host.clone(),
            port: sshd.port,
            devuser: devuser.name.clone(),
            timeout: settings.client_timeout,
            control_path: None,
        };
        Ok(World {
            settings,
            bins,
            root,
            _tmp: tmp,
            gotd_user,
            devuser,
            test_user,
            sock,
            client,
            _sshd: sshd,
            _removal: removal,
        })
    }
}
