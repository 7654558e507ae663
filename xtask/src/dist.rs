//! `cargo xtask dist`: the release tarball `target/dist/gotd-<version>.tar.gz`
//! — the sources, Makefile and Cargo.lock under `gotd-<version>/`, without
//! target/ and .git. It builds with `make` given access to crates.io.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::util;

/// Files and directories never shipped.
fn excluded(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or("");
    first == "target"
        || first == ".git"
        || rel.ends_with(".snap.new")
        || rel.ends_with(".pending-snap")
        || rel.split('/').any(|c| c == ".git")
}

/// The files to ship (relative to the root), sorted: git's tracked and
/// untracked-but-not-ignored files when the root is a git checkout, else
/// every file below the root.
pub fn files(root: &Path) -> Result<Vec<String>> {
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stderr(Stdio::null())
        .output();
    let mut v: Vec<String> = match git {
        Ok(o) if o.status.success() => o
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .filter(|p| root.join(p).is_file())
            .collect(),
        _ => walk(root)?,
    };
    v.retain(|p| !excluded(p));
    v.sort();
    v.dedup();
    Ok(v)
}

fn walk(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .into_owned();
            if excluded(&rel) {
                continue;
            }
            if e.file_type()?.is_dir() {
                stack.push(p);
            } else {
                out.push(rel);
            }
        }
    }
    Ok(out)
}

/// Writes `out` (a .tar.gz) holding `files` of `root` under `prefix/`.
pub fn write_tarball(root: &Path, files: &[String], prefix: &str, out: &Path) -> Result<()> {
    for must in ["Cargo.toml", "Cargo.lock", "Makefile"] {
        if !files.iter().any(|f| f == must) {
            bail!("dist: {must} is missing from the source tree");
        }
    }
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mtime = std::env::var("SOURCE_DATE_EPOCH").unwrap_or_else(|_| "0".into());
    let mut tar = Command::new("tar")
        .current_dir(root)
        .args([
            "--create",
            "--use-compress-program=gzip -n",
            "--null",
            "--files-from=-",
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mode=go-w",
        ])
        .arg(format!("--mtime=@{mtime}"))
        .arg(format!("--transform=s,^,{prefix}/,"))
        .arg("--file")
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .context("running tar")?;
    {
        let mut stdin = tar.stdin.take().expect("piped");
        for f in files {
            stdin.write_all(f.as_bytes())?;
            stdin.write_all(b"\0")?;
        }
    }
    let status = tar.wait()?;
    if !status.success() {
        bail!("tar failed ({status})");
    }
    Ok(())
}

/// Builds the tarball and returns its path.
pub fn make_dist() -> Result<PathBuf> {
    let root = util::root();
    let version = util::version()?;
    let name = format!("gotd-{version}");
    let out = crate::build::target_dir()
        .join("dist")
        .join(format!("{name}.tar.gz"));
    let files = files(&root)?;
    write_tarball(&root, &files, &name, &out)?;
    println!("wrote {} ({} files)", out.display(), files.len());
    Ok(out)
}

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("dist: unexpected argument {a}");
    }
    make_dist().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("target/release/gotd", true)]
    #[case(".git/config", true)]
    #[case("regress/snapshots/x.snap.new", true)]
    #[case("regress/snapshots/x.snap", false)]
    #[case("xtask/src/target.rs", false)]
    #[case("Makefile", false)]
    fn exclusions(#[case] rel: &str, #[case] want: bool) {
        assert_eq!(excluded(rel), want);
    }

    #[test]
    fn tarball_has_prefix_and_no_target() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("src");
        for f in [
            "Cargo.toml",
            "Cargo.lock",
            "Makefile",
            "a/b.rs",
            "target/junk",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let files = walk(&root).unwrap();
        assert!(!files.iter().any(|f| f.starts_with("target")));
        let out = d.path().join("t.tar.gz");
        let mut sorted = files.clone();
        sorted.sort();
        write_tarball(&root, &sorted, "gotd-9.9", &out).unwrap();
        let list = Command::new("tar").arg("tzf").arg(&out).output().unwrap();
        let list = String::from_utf8(list.stdout).unwrap();
        assert_eq!(
            list.lines().collect::<Vec<_>>(),
            vec![
                "gotd-9.9/Cargo.lock",
                "gotd-9.9/Cargo.toml",
                "gotd-9.9/Makefile",
                "gotd-9.9/a/b.rs"
            ]
        );
    }

    #[test]
    fn missing_makefile_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = write_tarball(
            d.path(),
            &["Cargo.toml".into()],
            "x",
            &d.path().join("o.tgz"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Cargo.lock is missing"), "{e}");
    }
}
