//! Privileges: resolving the daemon user, creating the listening socket
//! while still root, dropping to the daemon user, and looking up a peer's
//! groups for `:group` rules (remembered per uid for [`GROUPS_TTL`]).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::unistd::{getgrouplist, getuid, setgid, setgroups, setuid, Gid, Uid, User};

/// Privilege errors; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    #[error("user {0}: unknown user")]
    UnknownUser(String),
    #[error("user {0}: refusing to run gotd as root")]
    RootUser(String),
    #[error("{path}: {what}: {source}")]
    Socket {
        path: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path}: socket is in use by a running gotd")]
    SocketInUse { path: String },
    #[error("{what}: {source}")]
    Drop {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("still able to regain root after dropping privileges")]
    RegainedRoot,
}

/// The identity the daemon runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Resolves the configured `user` (a name or a numeric uid).
pub fn resolve_user(user: &str) -> Result<RunAs, PrivError> {
    let found = match User::from_name(user) {
        Ok(Some(u)) => Some(u),
        _ => match user.parse::<u32>() {
            Ok(uid) => User::from_uid(Uid::from_raw(uid)).ok().flatten(),
            Err(_) => None,
        },
    };
    let u = found.ok_or_else(|| PrivError::UnknownUser(user.to_string()))?;
    if u.uid.is_root() {
        return Err(PrivError::RootUser(user.to_string()));
    }
    Ok(RunAs {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    })
}

/// Creates the listening socket at `path`: a stale socket is removed (a
/// live one is an error), the new one is mode 0666 and, when `owner` is
/// given, owned by it.
pub fn create_socket(path: &Path, owner: Option<&RunAs>) -> Result<UnixListener, PrivError> {
    let p = path.display().to_string();
    let err = |what, source| PrivError::Socket {
        path: p.clone(),
        what,
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(PrivError::SocketInUse { path: p });
            }
            std::fs::remove_file(path).map_err(|e| err("unlink", e))?;
        }
        Ok(_) => {
            return Err(err(
                "bind",
                io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a socket"),
            ))
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(|e| err("bind", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| err("chmod", e))?;
    if let Some(o) = owner {
        std::os::unix::fs::chown(path, Some(o.uid), Some(o.gid)).map_err(|e| err("chown", e))?;
    }
    Ok(listener)
}

/// Drops root for good: supplementary groups, gid, uid; then checks that
/// root cannot be regained.
pub fn drop_to(user: &RunAs) -> Result<(), PrivError> {
    let gid = Gid::from_raw(user.gid);
    let d = |what| move |source| PrivError::Drop { what, source };
    setgroups(&[gid]).map_err(d("setgroups"))?;
    setgid(gid).map_err(d("setgid"))?;
    setuid(Uid::from_raw(user.uid)).map_err(d("setuid"))?;
    if getuid().is_root() || setuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivError::RegainedRoot);
    }
    Ok(())
}

/// Unblocks every signal. A parent that started gotd with signals blocked
/// (shells and test harnesses do) would otherwise keep SIGTERM, SIGINT and
/// SIGCHLD from ever reaching the daemon, and its children inherit the mask
/// across exec.
pub fn unblock_signals() {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Marks every descriptor above stderr that this process inherited as
/// close-on-exec, so that repo children start with exactly 0, 1, 2 and 3
/// whatever the daemon's own parent left open (a jobserver pipe, a
/// terminal). Call first thing, before any descriptor of our own exists.
pub fn cloexec_inherited() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // The directory handle used for the listing is gone by now; an fd
        // that no longer exists just fails.
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
}

/// Raises the soft limit on open descriptors to the hard limit: each
/// served client costs the parent two descriptors (gotsh's connection and
/// the child's IPC socket), and up to 1024 clients are served at once.
/// Returns the new soft limit.
pub fn raise_fd_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).ok()?;
    }
    Some(hard.max(soft))
}

/// How long a uid's group list, once looked up, is used for new
/// connections of that uid. A change to /etc/group (or to the directory
/// service behind NSS) takes effect for new connections within this time.
pub const GROUPS_TTL: Duration = Duration::from_secs(2);

/// Most uids whose groups are remembered at once; the parent's memory must
/// stay flat however many distinct users connect.
const GROUPS_CACHE_MAX: usize = 512;

/// Group lists by uid, with when they were looked up.
#[derive(Debug, Default)]
struct GroupCache {
    entries: BTreeMap<u32, (Instant, Vec<u32>)>,
}

impl GroupCache {
    const fn new() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }

    /// The remembered list for `uid` if it is younger than [`GROUPS_TTL`]
    /// at `now`, else the result of `look_up`, remembered.
    fn get(&mut self, uid: u32, now: Instant, look_up: impl FnOnce() -> Vec<u32>) -> Vec<u32> {
        let fresh = |at: &Instant| now.saturating_duration_since(*at) < GROUPS_TTL;
        if let Some((at, list)) = self.entries.get(&uid) {
            if fresh(at) {
                return list.clone();
            }
        }
        let list = look_up();
        if self.entries.len() >= GROUPS_CACHE_MAX {
            self.entries.retain(|_, (at, _)| fresh(at));
            if self.entries.len() >= GROUPS_CACHE_MAX {
                self.entries.clear();
            }
        }
        self.entries.insert(uid, (now, list.clone()));
        list
    }
}

static GROUPS: Mutex<GroupCache> = Mutex::new(GroupCache::new());

/// The groups of `uid`'s passwd entry: its primary group and every group
/// that lists it as a member (none if it has no entry).
fn passwd_groups(uid: u32) -> Vec<u32> {
    let Ok(Some(u)) = User::from_uid(Uid::from_raw(uid)) else {
        return Vec::new();
    };
    let Ok(name) = CString::new(u.name) else {
        return Vec::new();
    };
    getgrouplist(&name, u.gid)
        .map(|list| list.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

/// Every group a peer belongs to: its effective gid, plus the groups of its
/// uid's passwd entry. Looking those up reads /etc/passwd and /etc/group
/// (or asks NSS); a uid's list is reused for [`GROUPS_TTL`].
pub fn peer_groups(uid: u32, egid: u32) -> Vec<u32> {
    let mut gids =
        GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uid, Instant::now(), || passwd_groups(uid));
    gids.push(egid);
    gids.sort_unstable();
    gids.dedup();
    gids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_refused() {
        assert!(matches!(resolve_user("root"), Err(PrivError::RootUser(_))));
        assert!(matches!(resolve_user("0"), Err(PrivError::RootUser(_))));
    }

    #[test]
    fn unknown_user() {
        assert!(matches!(
            resolve_user("no-such-user-gotd"),
            Err(PrivError::UnknownUser(_))
        ));
    }

    #[test]
    fn socket_replaces_stale_and_refuses_live() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let l = create_socket(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666);
        assert!(matches!(
            create_socket(&path, None),
            Err(PrivError::SocketInUse { .. })
        ));
        drop(l);
        // Stale now: replaced.
        create_socket(&path, None).unwrap();
    }

    #[test]
    fn refuses_to_replace_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, "x").unwrap();
        assert!(create_socket(&path, None).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn group_lists_are_reused_until_they_expire() {
        let mut cache = GroupCache::new();
        let t0 = Instant::now();
        let lookups = std::cell::Cell::new(0);
        let look = |list: Vec<u32>| {
            let lookups = &lookups;
            move || {
                lookups.set(lookups.get() + 1);
                list
            }
        };
        assert_eq!(cache.get(1000, t0, look(vec![1, 2])), vec![1, 2]);
        // Within the TTL: the old answer, no lookup.
        let later = t0 + GROUPS_TTL - Duration::from_millis(1);
        assert_eq!(cache.get(1000, later, look(vec![3])), vec![1, 2]);
        assert_eq!(lookups.get(), 1);
        // Another uid has its own entry.
        assert_eq!(cache.get(1001, later, look(vec![7])), vec![7]);
        // Expired: looked up again.
        assert_eq!(cache.get(1000, t0 + GROUPS_TTL, look(vec![3])), vec![3]);
        assert_eq!(lookups.get(), 3);
    }

    #[test]
    fn group_cache_stays_bounded() {
        let mut cache = GroupCache::new();
        let t0 = Instant::now();
        for uid in 0..(3 * GROUPS_CACHE_MAX as u32) {
            cache.get(uid, t0, || vec![uid]);
            assert!(cache.entries.len() <= GROUPS_CACHE_MAX);
        }
        // Expired entries go first when it is full.
        let later = t0 + GROUPS_TTL;
        cache.get(u32::MAX, later, Vec::new);
        assert_eq!(cache.entries.len(), 1);
    }

    #[test]
    fn own_groups_include_egid() {
        let uid = getuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        assert!(peer_groups(uid, gid).contains(&gid));
    }
}
