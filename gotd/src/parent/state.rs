//! The parent's shared state: configuration, the client table, per-uid
//! connection counts and the registry of live children.
//!
//! Everything runs on one thread, so the state is an `Rc<RefCell<_>>`.
//! Resources are released by guards ([`Slot`]) so that every exit path of
//! a connection frees its table entry and counters.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use gotd_config::Config;
use gotd_wire::request::{ClientInfo, Info, RepoInfo};
use nix::sys::wait::WaitStatus;
use tokio::sync::{oneshot, watch, Notify};

/// Most connections served at once (upstream's GOTD_MAXCLIENTS).
pub const MAX_CLIENTS: usize = 1024;

/// State shared by the parent's tasks.
pub type Shared = Rc<RefCell<State>>;

/// Fixed facts about this daemon instance.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Absolute path of our own binary (argv\[0\] of children).
    pub exe: PathBuf,
    /// What children are executed from: `exe`, or `/proc/self/exe` when the
    /// daemon user cannot reach `exe` (see [`exec_path`](crate::parent::children::exec_path)).
    pub exec_path: PathBuf,
    /// Our binary, opened at startup; children are executed from it (see
    /// [`open_exe`](crate::parent::children::open_exe)). `None` if it could
    /// not be opened: then `exec_path` is used.
    pub exe_fd: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
    /// The configuration file, re-read by `gotctl reload`.
    pub config_path: PathBuf,
    pub foreground: bool,
    pub verbosity: u32,
    /// Whether the daemon started as root and dropped privileges.
    pub privsep: bool,
    /// The uid the daemon runs as.
    pub uid: u32,
    /// gotd-secrets.conf as read at startup.
    pub secrets: Option<gotd_config::Secrets>,
}

/// One connected git client, as `gotctl info` shows it.
#[derive(Debug, Clone)]
pub struct ClientEntry {
    pub uid: u32,
    pub gid: u32,
    pub since: u64,
    /// Set once a git request has been accepted.
    pub repo: Option<String>,
    pub writing: bool,
    pub repo_pid: Option<u32>,
}

#[derive(Debug)]
pub struct State {
    pub instance: Instance,
    pub config: Rc<Config>,
    clients: BTreeMap<u64, ClientEntry>,
    next_id: u64,
    per_uid: HashMap<u32, u32>,
    connections: usize,
    children: HashMap<i32, oneshot::Sender<WaitStatus>>,
    /// Set to true to shut down.
    pub shutdown: watch::Sender<bool>,
    /// Woken whenever a connection or child goes away.
    pub released: Rc<Notify>,
}

/// What to do with a new connection.
pub enum Admission {
    /// Serve it.
    Accept(Slot),
    /// Answer `connection limit exceeded`; the slot counts only towards
    /// the global cap.
    OverLimit(Slot),
    /// Close it silently (global cap reached).
    Drop,
}

impl State {
    pub fn new(instance: Instance, config: Config) -> Shared {
        let (shutdown, _) = watch::channel(false);
        Rc::new(RefCell::new(State {
            instance,
            config: Rc::new(config),
            clients: BTreeMap::new(),
            next_id: 1,
            per_uid: HashMap::new(),
            connections: 0,
            children: HashMap::new(),
            shutdown,
            released: Rc::new(Notify::new()),
        }))
    }

    /// Decides whether a peer may connect, and takes its slot.
    pub fn admit(state: &Shared, uid: u32, gid: u32) -> Admission {
        let mut s = state.borrow_mut();
        if s.connections >= MAX_CLIENTS {
            return Admission::Drop;
        }
        s.connections += 1;
        let id = s.next_id;
        s.next_id += 1;
        let limit = s.config.connection_limit(uid);
        let count = s.per_uid.get(&uid).copied().unwrap_or(0);
        if count >= limit {
            return Admission::OverLimit(Slot {
                state: state.clone(),
                id,
                uid: None,
            });
        }
        *s.per_uid.entry(uid).or_insert(0) += 1;
        s.clients.insert(
            id,
            ClientEntry {
                uid,
                gid,
                since: now(),
                repo: None,
                writing: false,
                repo_pid: None,
            },
        );
        Admission::Accept(Slot {
            state: state.clone(),
            id,
            uid: Some(uid),
        })
    }

    /// Connections open, including refused ones being answered.
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// Entries in the client table.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Children started and not yet reaped.
    pub fn live_children(&self) -> usize {
        self.children.len()
    }

    pub fn update_client(&mut self, id: u64, f: impl FnOnce(&mut ClientEntry)) {
        if let Some(c) = self.clients.get_mut(&id) {
            f(c);
        }
    }

    /// Registers a started child; the receiver fires when it is reaped.
    pub fn register_child(&mut self, pid: i32) -> oneshot::Receiver<WaitStatus> {
        let (tx, rx) = oneshot::channel();
        self.children.insert(pid, tx);
        rx
    }

    /// Hands a reaped child's status to whoever waits for it. Returns
    /// false for a pid we did not start.
    pub fn child_reaped(&mut self, pid: i32, status: WaitStatus) -> bool {
        match self.children.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(status);
                self.released.notify_waiters();
                true
            }
            None => false,
        }
    }

    /// Pids of every live child.
    pub fn child_pids(&self) -> Vec<i32> {
        self.children.keys().copied().collect()
    }

    /// What `gotctl info` shows; `asker` (the gotctl connection) is left out.
    pub fn info(&self, asker: u64) -> Info {
        Info {
            pid: std::process::id(),
            verbosity: self.instance.verbosity,
            repositories: self
                .config
                .repositories
                .iter()
                .map(|r| RepoInfo {
                    name: r.name.clone(),
                    path: r.path.display().to_string(),
                })
                .collect(),
            clients: self
                .clients
                .iter()
                .filter(|(id, _)| **id != asker)
                .map(|(_, c)| ClientInfo {
                    uid: c.uid,
                    gid: c.gid,
                    repo_pid: c.repo_pid,
                    writing: c.writing,
                    repo: c.repo.clone().unwrap_or_default(),
                    since: c.since,
                })
                .collect(),
        }
    }

    fn release(&mut self, id: u64, uid: Option<u32>) {
        self.connections -= 1;
        if let Some(uid) = uid {
            self.clients.remove(&id);
            if let Some(n) = self.per_uid.get_mut(&uid) {
                *n -= 1;
                if *n == 0 {
                    self.per_uid.remove(&uid);
                }
            }
        }
        self.released.notify_waiters();
    }
}

/// A connection's place in the table and counters; released on drop.
#[derive(Debug)]
pub struct Slot {
    state: Shared,
    id: u64,
    /// The uid counted against its limit (None for refused connections).
    uid: Option<u32>,
}

impl Slot {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.borrow_mut().release(self.id, self.uid);
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(limit: Option<u32>) -> Shared {
        let config = Config {
            listen_path: "/tmp/x.sock".into(),
            user: "u".into(),
            request_timeout_secs: 10,
            connection_limits: limit
                .map(|l| {
                    vec![gotd_config::ConnectionLimit {
                        user: "u".into(),
                        uid: 7,
                        limit: l,
                    }]
                })
                .unwrap_or_default(),
            repositories: vec![],
        };
        State::new(
            Instance {
                exe: "/bin/false".into(),
                exec_path: "/bin/false".into(),
                exe_fd: None,
                config_path: "/x".into(),
                foreground: true,
                verbosity: 0,
                privsep: false,
                uid: 1,
                secrets: None,
            },
            config,
        )
    }

    #[test]
    fn per_uid_limit_and_release() {
        let st = state(Some(2));
        let a = match State::admit(&st, 7, 7) {
            Admission::Accept(s) => s,
            _ => panic!("first refused"),
        };
        let _b = match State::admit(&st, 7, 7) {
            Admission::Accept(s) => s,
            _ => panic!("second refused"),
        };
        let over = match State::admit(&st, 7, 7) {
            Admission::OverLimit(s) => s,
            _ => panic!("third admitted"),
        };
        // Another uid has its own default limit.
        assert!(matches!(State::admit(&st, 8, 8), Admission::Accept(_)));
        assert_eq!(st.borrow().connections(), 3);
        drop(over);
        drop(a);
        assert_eq!(st.borrow().client_count(), 1);
        assert!(matches!(State::admit(&st, 7, 7), Admission::Accept(_)));
    }

    #[test]
    fn info_leaves_out_the_asker() {
        let st = state(None);
        let a = match State::admit(&st, 7, 7) {
            Admission::Accept(s) => s,
            _ => panic!(),
        };
        let _b = State::admit(&st, 8, 8);
        assert_eq!(st.borrow().info(a.id()).clients.len(), 1);
    }

    #[test]
    fn reaped_children_are_forgotten() {
        let st = state(None);
        let rx = st.borrow_mut().register_child(42);
        assert_eq!(st.borrow().live_children(), 1);
        assert!(st
            .borrow_mut()
            .child_reaped(42, WaitStatus::Exited(nix::unistd::Pid::from_raw(42), 0)));
        assert!(!st
            .borrow_mut()
            .child_reaped(42, WaitStatus::Exited(nix::unistd::Pid::from_raw(42), 0)));
        assert_eq!(st.borrow().live_children(), 0);
        drop(rx);
    }
}
