//! The suite's own sshd on the loopback address: own config, host key and
//! pid file; only the gotsh user may log in, with the suite's key; sshd hands
//! gotsh the gotd socket through `SetEnv GOTD_UNIX_SOCKET` and passes the
//! client's `GIT_PROTOCOL` through.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cleanup::Guard;
use crate::settings::Settings;
use crate::users::Account;

/// A running sshd, killed on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    authorized_keys: PathBuf,
    _guard: Guard,
}

/// Picks a currently free TCP port on `host`.
pub fn free_port(host: &str) -> Result<u16> {
    let l = TcpListener::bind((host, 0)).with_context(|| format!("binding {host}:0"))?;
    Ok(l.local_addr()?.port())
}

/// The sshd_config text for `devuser` on `host:port`.
pub fn config_text(
    dir: &Path,
    host: &str,
    port: u16,
    devuser: &str,
    sock: &Path,
    authorized_keys: &Path,
) -> String {
    format!(
        "# sshd for the gotd regress suite (generated)\n\
         ListenAddress {host}:{port}\n\
         HostKey {dir}/ssh_host_ed25519_key\n\
         PidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {keys}\n\
         AllowUsers {devuser}\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         PrintMotd no\n\
         MaxStartups 200:30:400\n\
         MaxSessions 100\n\
         LogLevel INFO\n\
         AcceptEnv GIT_PROTOCOL\n\
         Match User {devuser}\n\
         \tSetEnv GOTD_UNIX_SOCKET={sock}\n\
         \tDisableForwarding yes\n\
         \tPermitTTY no\n",
        dir = dir.display(),
        keys = authorized_keys.display(),
        sock = sock.display(),
    )
}

impl Sshd {
    /// Generates a host key and config in `dir` and starts sshd in the
    /// foreground, waiting until it accepts connections.
    pub fn start(
        settings: &Settings,
        dir: &Path,
        devuser: &Account,
        sock: &Path,
        client_pubkey: &str,
    ) -> Result<Sshd> {
        std::fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
        let key = dir.join("ssh_host_ed25519_key");
        if !key.exists() {
            crate::cmd::run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(&key),
                None,
                settings.start_timeout,
            )?;
        }
        let authorized_keys = install_authorized_key(devuser, client_pubkey)?;
        let port = if settings.ssh_port == 0 {
            free_port(&settings.ssh_host)?
        } else {
            settings.ssh_port
        };
        let conf = dir.join("sshd_config");
        std::fs::write(
            &conf,
            config_text(
                dir,
                &settings.ssh_host,
                port,
                &devuser.name,
                sock,
                &authorized_keys,
            ),
        )?;
        let log = dir.join("sshd.log");
        let logf = File::create(&log)?;
        let mut child = Command::new(&settings.sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf)
            .spawn()
            .with_context(|| format!("starting {}", settings.sshd.display()))?;
        let pid = child.id() as i32;
        let guard = Guard::register(move || {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        });
        let deadline = Instant::now() + settings.start_timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "sshd exited at start-up ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default().trim()
                );
            }
            if TcpStream::connect((settings.ssh_host.as_str(), port)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "sshd did not accept connections on {}:{port} within {}s",
                    settings.ssh_host,
                    settings.start_timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Sshd {
            child,
            port,
            authorized_keys,
            _guard: guard,
        })
    }
}

/// The comment that marks this run's key in authorized_keys.
fn key_mark(pid: u32) -> String {
    format!("gotd-regress-{pid}")
}

/// The pid of a run that marked a key line, if the line has a mark.
fn marked_pid(line: &str) -> Option<i32> {
    line.split_whitespace()
        .last()?
        .strip_prefix("gotd-regress-")?
        .parse()
        .ok()
}

/// `old` without the keys of runs that are gone (or of `own`), plus `key`
/// marked for `own` if given. Keys of other live runs stay: several runs may
/// share the gotsh user.
pub fn rewrite_keys(old: &str, own: u32, key: Option<&str>) -> String {
    let mut text: String = old
        .lines()
        .filter(|l| match marked_pid(l) {
            Some(pid) => pid != own as i32 && crate::procfs::alive(pid),
            None => !l.trim_end().ends_with("gotd-regress"),
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if let Some(k) = key {
        let k: Vec<&str> = k.split_whitespace().take(2).collect();
        text.push_str(&format!("{} {}\n", k.join(" "), key_mark(own)));
    }
    text
}

/// Puts the suite's public key into `~devuser/.ssh/authorized_keys`
/// (marked with this run's pid) and returns that path.
fn install_authorized_key(devuser: &Account, pubkey: &str) -> Result<PathBuf> {
    let ssh_dir = devuser.home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir)?;
    let path = ssh_dir.join("authorized_keys");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    write_atomically(&path, &rewrite_keys(&old, std::process::id(), Some(pubkey)))?;
    crate::users::chown_recursive(&ssh_dir, devuser)?;
    Ok(path)
}

/// Removes this run's key again.
fn remove_authorized_key(path: &Path) {
    if let Ok(old) = std::fs::read_to_string(path) {
        let _ = write_atomically(path, &rewrite_keys(&old, std::process::id(), None));
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("regress-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    let meta = std::fs::metadata(path.parent().unwrap_or(Path::new("/")))?;
    let _ = std::os::unix::fs::chown(
        &tmp,
        Some(std::os::unix::fs::MetadataExt::uid(&meta)),
        Some(std::os::unix::fs::MetadataExt::gid(&meta)),
    );
    std::fs::rename(&tmp, path)?;
    Ok(())
}

impl Drop for Sshd {
    fn drop(&mut self) {
        remove_authorized_key(&self.authorized_keys);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_the_required_settings() {
        let text = config_text(
            Path::new("/tmp/r"),
            "127.0.0.1",
            2222,
            "gotdev",
            Path::new("/tmp/r/gotd.sock"),
            Path::new("/home/gotdev/.ssh/authorized_keys"),
        );
        for want in [
            "ListenAddress 127.0.0.1:2222",
            "AcceptEnv GIT_PROTOCOL",
            "Match User gotdev",
            "SetEnv GOTD_UNIX_SOCKET=/tmp/r/gotd.sock",
            "DisableForwarding yes",
            "PermitTTY no",
            "UsePAM no",
            "AuthorizedKeysFile /home/gotdev/.ssh/authorized_keys",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // Match must come last: every line after it is conditional.
        let m = text.find("Match User").unwrap();
        assert!(!text[m..].contains("AcceptEnv"));
    }

    #[test]
    fn keys_of_other_live_runs_are_kept() {
        let me = std::process::id();
        let live = 1; // init is always alive
        let old = format!(
            "ssh-ed25519 AAAA admin\nssh-ed25519 BBBB gotd-regress-{live}\n\
             ssh-ed25519 CCCC gotd-regress-{me}\nssh-ed25519 DDDD gotd-regress-999999999\n\
             ssh-ed25519 EEEE gotd-regress\n"
        );
        let new = rewrite_keys(&old, me, Some("ssh-ed25519 FFFF comment"));
        assert_eq!(
            new,
            format!(
                "ssh-ed25519 AAAA admin\nssh-ed25519 BBBB gotd-regress-{live}\n\
                 ssh-ed25519 FFFF gotd-regress-{me}\n"
            )
        );
        assert_eq!(
            rewrite_keys(&new, me, None),
            format!("ssh-ed25519 AAAA admin\nssh-ed25519 BBBB gotd-regress-{live}\n")
        );
    }

    #[test]
    fn free_port_is_nonzero() {
        assert_ne!(free_port("127.0.0.1").unwrap(), 0);
    }
}
