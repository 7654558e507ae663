//! Shared pieces of the fuzz targets: the fixture repository (created once
//! per process by `fixture.sh`), a scratch copy for targets that may write to
//! it, and the serving options the targets use.
//!
//! The fixture lives in a per-process directory below `$GOTD_FUZZ_TMP`
//! (see [`base_dir`]); `cargo xtask fuzz` removes it after the run.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the fixtures of this process live: `$GOTD_FUZZ_TMP` (set by
/// `cargo xtask fuzz`, which removes it afterwards), else /dev/shm or the
/// temp directory; one subdirectory per process.
fn base_dir() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let parent = match std::env::var_os("GOTD_FUZZ_TMP") {
            Some(d) => PathBuf::from(d),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let dir = parent.join(format!("gotd-fuzz-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creating the fuzz fixture directory");
        dir
    })
}

/// The read-only fixture repository (bare), created on first use.
pub fn fixture() -> &'static Path {
    static REPO: OnceLock<PathBuf> = OnceLock::new();
    REPO.get_or_init(|| {
        let dir = base_dir().join("fixture.git");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixture.sh");
        let status = Command::new("sh")
            .arg(&script)
            .arg(&dir)
            .status()
            .expect("running fixture.sh (needs sh and git)");
        assert!(status.success(), "fixture.sh failed: {status}");
        dir
    })
}

/// The id `main` points to in the fixture.
pub fn fixture_main() -> &'static str {
    static MAIN: OnceLock<String> = OnceLock::new();
    MAIN.get_or_init(|| {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(fixture())
            .args(["rev-parse", "refs/heads/main"])
            .output()
            .expect("git rev-parse");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    })
}

/// A writable copy of the fixture for targets that push into it.
pub struct Scratch {
    pub path: PathBuf,
    /// Relative paths of every file of a fresh copy.
    fresh: Vec<PathBuf>,
}

impl Scratch {
    pub fn new() -> Scratch {
        let path = base_dir().join("scratch.git");
        copy_tree(fixture(), &path).expect("copying the fixture");
        let fresh = listing(&path);
        Scratch { path, fresh }
    }

    /// Makes the copy fresh again (after a push that may have changed it).
    pub fn reset(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
        copy_tree(fixture(), &self.path).expect("copying the fixture");
    }

    /// Files that differ from a fresh copy's list (added or removed).
    pub fn changed_files(&self) -> Vec<PathBuf> {
        let now = listing(&self.path);
        let mut d: Vec<PathBuf> = now
            .iter()
            .filter(|p| !self.fresh.contains(p))
            .cloned()
            .collect();
        d.extend(self.fresh.iter().filter(|p| !now.contains(p)).cloned());
        d
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dst)?;
        } else {
            fs::copy(e.path(), &dst)?;
        }
    }
    Ok(())
}

/// Every file below `dir`, relative, sorted.
pub fn listing(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Upload-pack options for fuzzing: one thread, no timing output.
pub fn upload_options(protocol: gotd_wire::Protocol) -> gotd_upload_pack::Options {
    gotd_upload_pack::Options {
        protocol,
        threads: Some(1),
        use_bitmaps: true,
        trace: false,
        ..Default::default()
    }
}

/// Receive-pack options for fuzzing: small limits, one thread, short lock
/// waits, `main` protected so the protection paths run too.
pub fn receive_options() -> gotd_receive_pack::Options {
    let protection = gotd_receive_pack::Protection {
        branches: vec!["refs/heads/main".into()],
        branch_namespaces: vec!["refs/heads/prot/".into()],
        tag_namespaces: vec!["refs/tags/".into()],
    };
    let mut o =
        gotd_receive_pack::Options::new("gotd/fuzz", gotd_wire::Protocol::V0, protection, 1000);
    o.limits.max_pack_bytes = 4 << 20;
    o.limits.max_objects = 10_000;
    o.limits.alloc_limit_bytes = 32 << 20;
    o.limits.max_commands = 1000;
    o.limits.thread_limit = Some(1);
    o.limits.lock_timeout = std::time::Duration::from_millis(10);
    o
}

/// Runs one receive-pack exchange on `input` in the scratch copy and checks
/// the contract: a failed push leaves no file behind; the copy is reset
/// after anything that may have changed it.
pub fn receive_once(scratch: &mut Scratch, input: &[u8]) {
    let mut out = Vec::new();
    let mut inp = input;
    let r = gotd_receive_pack::serve(&scratch.path, &mut inp, &mut out, &receive_options());
    let wrote = match &r {
        Ok(o) => o.updates.iter().any(|u| u.error.is_none()) || o.objects_received > 0,
        Err(_) => false,
    };
    if wrote {
        scratch.reset();
        return;
    }
    let changed = scratch.changed_files();
    if !changed.is_empty() {
        // A refused push (or one that changed nothing) must leave the
        // repository as it was.
        panic!("receive-pack left files behind ({r:?}): {changed:?}");
    }
}
