//! `disk_full`: a push that does not fit on the repository's file system.
//!
//! The served repository is moved onto a small tmpfs mounted over its own
//! path (root only; SKIP where mounting is not allowed). A push of a 4 MiB
//! incompressible blob onto a file system with about 1 MiB free must fail
//! with a clear error, leave the refs and every file as they were (fsck
//! clean), and a small push afterwards must succeed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{ensure, Body, Ctx, Scenario};
use crate::repo;
use crate::settings::Settings;
use crate::{cmd, users};

/// Free space left on the tmpfs after the repository is copied onto it.
const FREE_KIB: u64 = 1024;
/// Size of the blob that must not fit.
const BLOB: usize = 4 << 20;

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "disk_full",
        about: "a push onto a full file system fails cleanly; nothing is half-written",
        skip_if: Some(cannot_mount),
        body: Body::Served {
            setup: super::STANDARD_RW,
            run: disk_full,
        },
    }]
}

/// A reason to skip when tmpfs cannot be mounted here.
fn cannot_mount(s: &Settings) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root to mount a tmpfs".into());
    }
    let dir = match tempfile::Builder::new()
        .prefix("gotd-regress-mount-")
        .tempdir_in(&s.test_root)
    {
        Ok(d) => d,
        Err(e) => return Some(format!("cannot create a mount point: {e}")),
    };
    match Mount::tmpfs(dir.path(), 64) {
        Ok(m) => {
            drop(m);
            None
        }
        Err(e) => Some(format!("cannot mount a tmpfs: {e:#}")),
    }
}

/// A tmpfs mounted by the suite; unmounted (lazily if busy) when dropped.
struct Mount {
    path: PathBuf,
    mounted: bool,
}

impl Mount {
    fn tmpfs(path: &Path, size_kib: u64) -> Result<Mount> {
        let mut c = Command::new("mount");
        c.args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_kib}k,mode=0755"))
            .arg("gotd-regress-full")
            .arg(path);
        cmd::run_ok(&mut c, None, Duration::from_secs(10))?;
        Ok(Mount {
            path: path.to_path_buf(),
            mounted: true,
        })
    }

    fn unmount(&mut self) -> Result<()> {
        if !self.mounted {
            return Ok(());
        }
        self.mounted = false;
        let t = Duration::from_secs(10);
        if cmd::run_ok(Command::new("umount").arg(&self.path), None, t).is_err() {
            cmd::run_ok(Command::new("umount").arg("-l").arg(&self.path), None, t)
                .context("umount -l")?;
        }
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = self.unmount();
    }
}

/// Kilobytes the files below `dir` take on a tmpfs: whole 4 KiB pages of
/// data plus 4 KiB of slack for each file's and directory's metadata.
fn used_kib(dir: &Path) -> u64 {
    repo::listing(dir)
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(dir.join(p)).ok())
        .map(|m| {
            if m.is_dir() {
                4
            } else {
                m.len().div_ceil(4096) * 4 + 4
            }
        })
        .sum()
}

fn disk_full(ctx: &mut Ctx) -> Result<()> {
    // Move the repository onto a tmpfs mounted over its own path.
    let saved = ctx.dir.join("repo-before-tmpfs");
    cmd::run_ok(
        Command::new("cp").arg("-a").arg(&ctx.repo).arg(&saved),
        None,
        ctx.t(),
    )?;
    let size = used_kib(&saved) + FREE_KIB;
    let mut mount = Mount::tmpfs(&ctx.repo, size)?;
    cmd::run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(saved.join("."))
            .arg(&ctx.repo),
        None,
        ctx.t(),
    )
    .context("copying the repository onto the tmpfs")?;
    users::chown_recursive(&ctx.repo, &ctx.w.gotd_user)?;
    ctx.note(format!("tmpfs of {size} KiB, about {FREE_KIB} KiB free"));

    let refs_before = repo::refs(&ctx.repo, ctx.t())?;
    let files_before = repo::listing(&ctx.repo);
    ctx.clone("a", &[])?;
    std::fs::write(ctx.path("a").join("big"), repo::noise(BLOB, 77))?;
    ctx.git_in("a", &["add", "big"])?;
    ctx.git_in("a", &["commit", "-q", "-m", "does not fit"])?;
    let err = ctx.git_fails_in("a", &["push", "origin", "HEAD:refs/heads/full"])?;
    let first = err
        .lines()
        .find(|l| l.contains("space") || l.contains("unpack") || l.contains("rror"))
        .unwrap_or("")
        .trim()
        .to_string();
    ctx.note(format!("push refused: {first}"));
    ensure(err.contains("No space left on device"), || {
        format!("the error does not say the disk is full: {err:?}")
    })?;
    ctx.settle().context("after the refused push")?;
    ensure(repo::refs(&ctx.repo, ctx.t())? == refs_before, || {
        "the refused push changed the refs".into()
    })?;
    let files_after = repo::listing(&ctx.repo);
    let stray: Vec<String> = files_after
        .iter()
        .filter(|p| !files_before.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    ensure(stray.is_empty(), || {
        format!("the refused push left files behind: {stray:?}")
    })?;
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;

    // A push that fits still works.
    ctx.git_in("a", &["reset", "-q", "--hard", "origin/main"])?;
    std::fs::write(ctx.path("a").join("small"), "fits\n")?;
    ctx.git_in("a", &["add", "small"])?;
    ctx.git_in("a", &["commit", "-q", "-m", "fits"])?;
    let new = ctx.git_in("a", &["rev-parse", "HEAD"])?;
    ctx.git_in("a", &["push", "-q", "origin", "HEAD:refs/heads/fits"])
        .context("a small push after the full disk")?;
    ensure(
        ctx.server_ref("refs/heads/fits")?.as_deref() == Some(&new),
        || "the small push did not create its ref".into(),
    )?;
    repo::fsck(&ctx.repo, &ctx.w.gotd_user, ctx.t())?;
    ctx.settle()?;
    mount.unmount()?;
    if ctx.repo.join("objects").is_dir() {
        Ok(())
    } else {
        bail!("the original repository is gone after unmounting")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pages_like_tmpfs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), "x").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b"), vec![0u8; 5000]).unwrap();
        // a: one page; sub: metadata only; b: two pages; plus 4 KiB of
        // metadata each.
        assert_eq!(used_kib(d.path()), (4 + 4) + 4 + (8 + 4));
    }
}
