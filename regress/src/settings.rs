//! Suite settings: `regress.toml` (ports, user names, timeouts, load figures),
//! each key overridable by an environment variable, plus the locations of the
//! binaries under test, which come from the environment only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The defaults shipped with the suite; a file named by `REGRESS_CONFIG`, or
/// `regress/regress.toml` next to the sources, takes precedence.
const EMBEDDED: &str = include_str!("../regress.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    users: Users,
    ssh: Ssh,
    repo: Repo,
    timeouts: Timeouts,
    load: Load,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Users {
    gotd_user: String,
    gotd_devuser: String,
    default_test_user: String,
    foreign_group: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ssh {
    host: String,
    port: u16,
    sshd: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repo {
    name: String,
    test_root: PathBuf,
    large_file_mib: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timeouts {
    start_secs: u64,
    client_secs: u64,
    settle_secs: u64,
    stop_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Load {
    connection_limit: usize,
    concurrent_clients: usize,
    stress_connections: usize,
    stress_concurrency: usize,
    stress_rss_slack_kib: u64,
    leaks_connections: usize,
    valgrind: String,
}

/// Effective settings after environment overrides.
#[derive(Debug, Clone)]
pub struct Settings {
    pub gotd_user: String,
    pub gotd_devuser: String,
    /// `GOTD_TEST_USER` if set, else `SUDO_USER`; `None` means "use the
    /// default test user" (root) or "the current user" (not root).
    pub test_user: Option<String>,
    pub default_test_user: String,
    pub foreign_group: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub sshd: PathBuf,
    pub repo_name: String,
    pub test_root: PathBuf,
    pub large_file_mib: usize,
    pub start_timeout: Duration,
    pub client_timeout: Duration,
    pub settle_timeout: Duration,
    pub stop_timeout: Duration,
    pub connection_limit: usize,
    pub concurrent_clients: usize,
    pub stress_connections: usize,
    pub stress_concurrency: usize,
    pub stress_rss_slack_kib: u64,
    pub leaks_connections: usize,
    pub valgrind: String,
    /// `GOTD_TEST_KEEP=1`: keep the run's temp dir for inspection.
    pub keep: bool,
}

/// Every environment variable the settings honour, with its meaning; shown
/// by `regress --help` and kept in step with regress/README.md.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("GOTD_USER", "user gotd runs as (default got)"),
    (
        "GOTD_DEVUSER",
        "ssh login user with gotsh as shell (default gotdev)",
    ),
    (
        "GOTD_TEST_USER",
        "user running the clients; never root (default $SUDO_USER)",
    ),
    (
        "GOTD_TEST_DEFAULT_USER",
        "test user created when run as plain root (default gotdtest)",
    ),
    (
        "GOTD_TEST_FOREIGN_GROUP",
        "group gotdev is not in, for repo_read_bad_group (default root)",
    ),
    (
        "GOTD_TEST_SSH_HOST",
        "address sshd listens on (default 127.0.0.1)",
    ),
    (
        "GOTD_TEST_SSH_PORT",
        "sshd port, 0 = pick a free one (default 0)",
    ),
    ("GOTD_TEST_SSHD", "sshd binary (default /usr/sbin/sshd)"),
    (
        "GOTD_TEST_REPO_NAME",
        "repository name in gotd.conf (default test-repo)",
    ),
    (
        "GOTD_TEST_ROOT",
        "parent of the run's temp dir (default /tmp)",
    ),
    (
        "GOTD_TEST_LARGE_FILE_MIB",
        "size of large_files' blobs (default 16)",
    ),
    (
        "GOTD_TEST_START_TIMEOUT",
        "seconds for gotd/sshd to come up (default 20)",
    ),
    (
        "GOTD_TEST_CLIENT_TIMEOUT",
        "seconds for one client command (default 120)",
    ),
    (
        "GOTD_TEST_SETTLE_TIMEOUT",
        "seconds for post-scenario checks to settle (default 15)",
    ),
    (
        "GOTD_TEST_STOP_TIMEOUT",
        "seconds for gotd to exit after stop (default 15)",
    ),
    (
        "GOTD_TEST_CONNECTION_LIMIT",
        "limit used by connection_limit (default 2)",
    ),
    (
        "GOTD_TEST_CONCURRENT_CLIENTS",
        "clients in concurrent_clients (default 8)",
    ),
    (
        "GOTD_TEST_STRESS_CONNECTIONS",
        "connections in stress (default 500)",
    ),
    (
        "GOTD_TEST_STRESS_CONCURRENCY",
        "parallel clients in stress (default 8)",
    ),
    (
        "GOTD_TEST_STRESS_RSS_SLACK_KIB",
        "RSS growth stress tolerates (default 4096)",
    ),
    (
        "GOTD_TEST_LEAKS_CONNECTIONS",
        "connections under valgrind in leaks (default 100)",
    ),
    ("GOTD_TEST_VALGRIND", "valgrind binary (default valgrind)"),
    ("GOTD_TEST_KEEP", "1 = keep the run's temp dir"),
    (
        "REGRESS_CONFIG",
        "path of a regress.toml to use instead of the built-in one",
    ),
];

impl Settings {
    /// Loads the settings from the process environment.
    pub fn load() -> Result<Settings> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let text = match env.get("REGRESS_CONFIG") {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("REGRESS_CONFIG: cannot read {path}"))?,
            None => {
                let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("regress.toml");
                std::fs::read_to_string(beside).unwrap_or_else(|_| EMBEDDED.to_string())
            }
        };
        Self::from_parts(&text, &env)
    }

    /// Builds settings from a regress.toml text and an environment map.
    pub fn from_parts(text: &str, env: &HashMap<String, String>) -> Result<Settings> {
        let f: File = toml::from_str(text).context("regress.toml")?;
        let s = |key: &str, default: &str| -> String {
            env.get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        let n = |key: &str, default: u64| -> Result<u64> {
            match env.get(key).filter(|v| !v.is_empty()) {
                Some(v) => v
                    .parse()
                    .with_context(|| format!("{key}={v}: not a non-negative number")),
                None => Ok(default),
            }
        };
        let secs = |key: &str, default: u64| -> Result<Duration> {
            let v = n(key, default)?;
            if v == 0 {
                bail!("{key}: a timeout of 0 seconds is not allowed");
            }
            Ok(Duration::from_secs(v))
        };
        let test_user = env
            .get("GOTD_TEST_USER")
            .or_else(|| env.get("SUDO_USER"))
            .filter(|v| !v.is_empty())
            .cloned();
        let port = n("GOTD_TEST_SSH_PORT", f.ssh.port.into())?;
        let port = u16::try_from(port).with_context(|| format!("GOTD_TEST_SSH_PORT={port}"))?;
        Ok(Settings {
            gotd_user: s("GOTD_USER", &f.users.gotd_user),
            gotd_devuser: s("GOTD_DEVUSER", &f.users.gotd_devuser),
            test_user,
            default_test_user: s("GOTD_TEST_DEFAULT_USER", &f.users.default_test_user),
            foreign_group: s("GOTD_TEST_FOREIGN_GROUP", &f.users.foreign_group),
            ssh_host: s("GOTD_TEST_SSH_HOST", &f.ssh.host),
            ssh_port: port,
            sshd: PathBuf::from(s("GOTD_TEST_SSHD", &f.ssh.sshd.to_string_lossy())),
            repo_name: s("GOTD_TEST_REPO_NAME", &f.repo.name),
            test_root: PathBuf::from(s("GOTD_TEST_ROOT", &f.repo.test_root.to_string_lossy())),
            large_file_mib: n("GOTD_TEST_LARGE_FILE_MIB", f.repo.large_file_mib as u64)? as usize,
            start_timeout: secs("GOTD_TEST_START_TIMEOUT", f.timeouts.start_secs)?,
            client_timeout: secs("GOTD_TEST_CLIENT_TIMEOUT", f.timeouts.client_secs)?,
            settle_timeout: secs("GOTD_TEST_SETTLE_TIMEOUT", f.timeouts.settle_secs)?,
            stop_timeout: secs("GOTD_TEST_STOP_TIMEOUT", f.timeouts.stop_secs)?,
            connection_limit: n("GOTD_TEST_CONNECTION_LIMIT", f.load.connection_limit as u64)?
                as usize,
            concurrent_clients: n(
                "GOTD_TEST_CONCURRENT_CLIENTS",
                f.load.concurrent_clients as u64,
            )? as usize,
            stress_connections: n(
                "GOTD_TEST_STRESS_CONNECTIONS",
                f.load.stress_connections as u64,
            )? as usize,
            stress_concurrency: n(
                "GOTD_TEST_STRESS_CONCURRENCY",
                f.load.stress_concurrency as u64,
            )?
            .max(1) as usize,
            stress_rss_slack_kib: n(
                "GOTD_TEST_STRESS_RSS_SLACK_KIB",
                f.load.stress_rss_slack_kib,
            )?,
            leaks_connections: n(
                "GOTD_TEST_LEAKS_CONNECTIONS",
                f.load.leaks_connections as u64,
            )? as usize,
            valgrind: s("GOTD_TEST_VALGRIND", &f.load.valgrind),
            keep: env
                .get("GOTD_TEST_KEEP")
                .is_some_and(|v| v == "1" || v == "yes"),
        })
    }
}

/// Where the binaries under test live and how gotd is started and stopped.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub prefix: PathBuf,
    pub bindir: PathBuf,
    /// `GOTD_START_CMD`, run with `sh -c`; `None` means the default
    /// `$BINDIR/gotd -vv -f $GOTD_CONF`.
    pub start_cmd: Option<String>,
    /// `GOTD_STOP_CMD`, run with `sh -c`; `None` means the default
    /// `$BINDIR/gotctl -f $GOTD_SOCK stop`.
    pub stop_cmd: Option<String>,
    /// `GOT_RELEASE=Yes`: test the installed binaries as they are.
    pub release: bool,
}

impl Binaries {
    /// Resolves the binary locations; `test_user_home` is the home of
    /// GOTD_TEST_USER, the default PREFIX outside release mode.
    pub fn resolve(env: &HashMap<String, String>, test_user_home: &Path) -> Binaries {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let release = get("GOT_RELEASE").is_some_and(|v| v == "Yes");
        let prefix = get("PREFIX").map(PathBuf::from).unwrap_or_else(|| {
            if release {
                PathBuf::from("/usr/local")
            } else {
                test_user_home.to_path_buf()
            }
        });
        let bindir = get("BINDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| prefix.join("bin"));
        Binaries {
            prefix,
            bindir,
            start_cmd: get("GOTD_START_CMD"),
            stop_cmd: get("GOTD_STOP_CMD"),
            release,
        }
    }

    pub fn gotd(&self) -> PathBuf {
        self.bindir.join("gotd")
    }
    pub fn gotsh(&self) -> PathBuf {
        self.bindir.join("gotsh")
    }
    pub fn gotctl(&self) -> PathBuf {
        self.bindir.join("gotctl")
    }

    /// The shell command that starts gotd for `conf`.
    pub fn start_command(&self, conf: &Path) -> String {
        self.start_cmd
            .clone()
            .unwrap_or_else(|| format!("{} -vv -f {}", self.gotd().display(), conf.display()))
    }

    /// The shell command that stops the gotd listening on `sock`.
    pub fn stop_command(&self, sock: &Path) -> String {
        self.stop_cmd
            .clone()
            .unwrap_or_else(|| format!("{} -f {} stop", self.gotctl().display(), sock.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn embedded_defaults_parse() {
        let s = Settings::from_parts(EMBEDDED, &env(&[])).unwrap();
        assert_eq!(s.gotd_user, "got");
        assert_eq!(s.gotd_devuser, "gotdev");
        assert_eq!(s.repo_name, "test-repo");
        assert_eq!(s.stress_connections, 500);
        assert!(s.test_user.is_none());
    }

    #[rstest]
    #[case("GOTD_USER", "daemon", |s: &Settings| s.gotd_user == "daemon")]
    #[case("GOTD_DEVUSER", "dev2", |s: &Settings| s.gotd_devuser == "dev2")]
    #[case("GOTD_TEST_SSH_PORT", "2222", |s: &Settings| s.ssh_port == 2222)]
    #[case("GOTD_TEST_CLIENT_TIMEOUT", "7", |s: &Settings| s.client_timeout.as_secs() == 7)]
    #[case("GOTD_TEST_USER", "alice", |s: &Settings| s.test_user.as_deref() == Some("alice"))]
    #[case("SUDO_USER", "bob", |s: &Settings| s.test_user.as_deref() == Some("bob"))]
    #[case("GOTD_TEST_KEEP", "1", |s: &Settings| s.keep)]
    fn environment_overrides(
        #[case] key: &str,
        #[case] value: &str,
        #[case] check: fn(&Settings) -> bool,
    ) {
        let s = Settings::from_parts(EMBEDDED, &env(&[(key, value)])).unwrap();
        assert!(check(&s), "{key}={value} not applied: {s:?}");
    }

    #[test]
    fn test_user_prefers_gotd_test_user_over_sudo_user() {
        let s = Settings::from_parts(
            EMBEDDED,
            &env(&[("SUDO_USER", "bob"), ("GOTD_TEST_USER", "alice")]),
        )
        .unwrap();
        assert_eq!(s.test_user.as_deref(), Some("alice"));
    }

    #[rstest]
    #[case("GOTD_TEST_SSH_PORT", "70000", "GOTD_TEST_SSH_PORT=70000")]
    #[case("GOTD_TEST_CLIENT_TIMEOUT", "soon", "not a non-negative number")]
    #[case("GOTD_TEST_START_TIMEOUT", "0", "0 seconds is not allowed")]
    fn bad_values_are_named(#[case] key: &str, #[case] value: &str, #[case] msg: &str) {
        let err = Settings::from_parts(EMBEDDED, &env(&[(key, value)])).unwrap_err();
        assert!(format!("{err:#}").contains(msg), "{err:#}");
    }

    #[test]
    fn unknown_toml_key_is_rejected() {
        let text = EMBEDDED.replace("[users]", "[users]\nbogus = 1");
        let err = Settings::from_parts(&text, &env(&[])).unwrap_err();
        assert!(format!("{err:#}").contains("bogus"), "{err:#}");
    }

    #[rstest]
    #[case(&[], "/home/t", "/home/t/bin")]
    #[case(&[("GOT_RELEASE", "Yes")], "/home/t", "/usr/local/bin")]
    #[case(&[("GOT_RELEASE", "No")], "/home/t", "/home/t/bin")]
    #[case(&[("PREFIX", "/opt/g")], "/home/t", "/opt/g/bin")]
    #[case(&[("PREFIX", "/opt/g"), ("BINDIR", "/x")], "/home/t", "/x")]
    #[case(&[("GOT_RELEASE", "Yes"), ("BINDIR", "/y")], "/home/t", "/y")]
    fn binaries_location(#[case] pairs: &[(&str, &str)], #[case] home: &str, #[case] bindir: &str) {
        let b = Binaries::resolve(&env(pairs), Path::new(home));
        assert_eq!(b.bindir, PathBuf::from(bindir));
    }

    #[test]
    fn default_start_and_stop_commands() {
        let b = Binaries::resolve(&env(&[]), Path::new("/home/t"));
        assert_eq!(
            b.start_command(Path::new("/tmp/r/gotd.conf")),
            "/home/t/bin/gotd -vv -f /tmp/r/gotd.conf"
        );
        assert_eq!(
            b.stop_command(Path::new("/tmp/r/gotd.sock")),
            "/home/t/bin/gotctl -f /tmp/r/gotd.sock stop"
        );
        let b = Binaries::resolve(
            &env(&[("GOTD_START_CMD", "mygotd"), ("GOTD_STOP_CMD", "kill it")]),
            Path::new("/home/t"),
        );
        assert_eq!(b.start_command(Path::new("/c")), "mygotd");
        assert_eq!(b.stop_command(Path::new("/s")), "kill it");
    }
}
