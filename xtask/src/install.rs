//! `cargo xtask install [--prefix P] [--bindir B] [--destdir D] [--from DIR]`
//! and `uninstall`: copy gotd, gotsh and gotctl (mode 0755) to
//! `$DESTDIR$BINDIR`, BINDIR defaulting to `$PREFIX/bin`, PREFIX to
//! `/usr/local`. Installs what `cargo xtask build` (or `make`) built.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::util::BINARIES;

/// Where the binaries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub prefix: PathBuf,
    pub bindir: PathBuf,
    pub destdir: Option<PathBuf>,
    pub from: Option<PathBuf>,
}

impl Layout {
    /// Parses the options; an empty value counts as unset (as make passes
    /// them).
    pub fn parse(args: &[String]) -> Result<Layout> {
        let mut prefix = None;
        let mut bindir = None;
        let mut destdir = None;
        let mut from = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (key, inline) = match a.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (a.as_str(), None),
            };
            let slot = match key {
                "--prefix" => &mut prefix,
                "--bindir" => &mut bindir,
                "--destdir" => &mut destdir,
                "--from" => &mut from,
                _ => bail!("install: unknown option {a}"),
            };
            let v = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .with_context(|| format!("install: {key} needs a value"))?
                    .clone(),
            };
            *slot = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        let prefix = prefix.unwrap_or_else(|| PathBuf::from("/usr/local"));
        let bindir = bindir.unwrap_or_else(|| prefix.join("bin"));
        if !bindir.is_absolute() {
            bail!("install: BINDIR must be absolute: {}", bindir.display());
        }
        Ok(Layout {
            prefix,
            bindir,
            destdir,
            from,
        })
    }

    /// `$DESTDIR$BINDIR`.
    pub fn target(&self) -> PathBuf {
        match &self.destdir {
            Some(d) => d.join(self.bindir.strip_prefix("/").unwrap_or(&self.bindir)),
            None => self.bindir.clone(),
        }
    }

    fn source(&self) -> PathBuf {
        self.from
            .clone()
            .unwrap_or_else(|| crate::build::target_dir().join("release"))
    }
}

/// Copies the binaries into `dir` with mode 0755 (atomically per file).
pub fn copy_binaries(from: &Path, dir: &Path) -> Result<()> {
    for b in BINARIES {
        let src = from.join(b);
        if !src.is_file() {
            bail!(
                "install: {} is missing; build first (`make` or `cargo xtask build`)",
                src.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for b in BINARIES {
        let src = from.join(b);
        let tmp = dir.join(format!(".{b}.install"));
        std::fs::copy(&src, &tmp)
            .with_context(|| format!("copying {} to {}", src.display(), tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, dir.join(b))?;
        println!("installed {}", dir.join(b).display());
    }
    Ok(())
}

pub fn run(args: &[String]) -> Result<()> {
    let l = Layout::parse(args)?;
    copy_binaries(&l.source(), &l.target())
}

pub fn uninstall(args: &[String]) -> Result<()> {
    let l = Layout::parse(args)?;
    let dir = l.target();
    for b in BINARIES {
        let p = dir.join(b);
        match std::fs::remove_file(&p) {
            Ok(()) => println!("removed {}", p.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(v: &[&str]) -> Result<Layout> {
        Layout::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[rstest]
    #[case(&[], "/usr/local/bin")]
    #[case(&["--prefix", "/opt/gotd"], "/opt/gotd/bin")]
    #[case(&["--prefix=/opt/gotd"], "/opt/gotd/bin")]
    #[case(&["--prefix", "/opt", "--bindir", "/sbin"], "/sbin")]
    #[case(&["--destdir", "/tmp/d"], "/tmp/d/usr/local/bin")]
    #[case(&["--destdir", "", "--prefix", ""], "/usr/local/bin")]
    #[case(&["--destdir=/tmp/d", "--bindir=/x/bin"], "/tmp/d/x/bin")]
    fn targets(#[case] args: &[&str], #[case] want: &str) {
        assert_eq!(parse(args).unwrap().target(), PathBuf::from(want));
    }

    #[rstest]
    #[case(&["--bogus"], "unknown option --bogus")]
    #[case(&["--prefix"], "--prefix needs a value")]
    #[case(&["--bindir", "rel/bin"], "must be absolute")]
    fn bad_options(#[case] args: &[&str], #[case] msg: &str) {
        let e = parse(args).unwrap_err().to_string();
        assert!(e.contains(msg), "{e}");
    }

    #[test]
    fn missing_binaries_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = copy_binaries(d.path(), &d.path().join("bin")).unwrap_err();
        assert!(e.to_string().contains("gotd is missing"), "{e}");
        assert!(!d.path().join("bin").exists());
    }

    #[test]
    fn copies_with_mode_0755() {
        let d = tempfile::tempdir().unwrap();
        for b in BINARIES {
            std::fs::write(d.path().join(b), b).unwrap();
        }
        let bin = d.path().join("out/bin");
        copy_binaries(d.path(), &bin).unwrap();
        for b in BINARIES {
            let m = std::fs::metadata(bin.join(b)).unwrap();
            assert_eq!(m.permissions().mode() & 0o7777, 0o755);
        }
    }
}
