//! Teardown on Ctrl-C / SIGTERM / SIGHUP. Fixtures register what must be undone
//! (stop gotd, kill sshd, kill running clients); the normal path undoes it
//! through `Drop`, the interrupted path through [`install_signal_handler`],
//! which runs every registered action and exits.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use nix::sys::signal::{killpg, SigSet, Signal};
use nix::unistd::Pid;

type Action = Box<dyn Fn() + Send>;

static NEXT: AtomicU64 = AtomicU64::new(1);
static ACTIONS: Mutex<BTreeMap<u64, Action>> = Mutex::new(BTreeMap::new());

/// A registered teardown action; dropping the guard unregisters it
/// (the fixture's own `Drop` then does the work).
pub struct Guard(u64);

impl Guard {
    pub fn register(action: impl Fn() + Send + 'static) -> Guard {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        ACTIONS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Box::new(action));
        Guard(id)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        ACTIONS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// A running client's process group, killed if the run is interrupted.
pub struct ProcessGroup(#[allow(dead_code)] Guard);

impl ProcessGroup {
    pub fn register(pgid: i32) -> ProcessGroup {
        ProcessGroup(Guard::register(move || {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }))
    }
}

/// Runs every registered action, newest first.
fn run_all() {
    let actions: Vec<Action> = {
        let mut map = ACTIONS.lock().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<u64> = map.keys().rev().copied().collect();
        keys.into_iter().filter_map(|k| map.remove(&k)).collect()
    };
    for a in actions {
        a();
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this (still single-threaded) process
/// and starts a thread that waits for them, tears down and exits with 130.
/// Must be called before any other thread starts so that all inherit the
/// mask; spawned programs get an empty mask from the standard library.
pub fn install_signal_handler() -> anyhow::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.thread_block()?;
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            eprintln!("regress: {sig:?} received; stopping gotd and sshd");
            run_all();
            std::process::exit(130);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn dropped_guards_do_not_run() {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        drop(Guard::register(move || r.store(true, Ordering::SeqCst)));
        let kept = Arc::new(AtomicBool::new(false));
        let k = kept.clone();
        let _g = Guard::register(move || k.store(true, Ordering::SeqCst));
        run_all();
        assert!(!ran.load(Ordering::SeqCst));
        assert!(kept.load(Ordering::SeqCst));
    }
}
