//! `gotctl reload [-n] [-c config] [-s secrets]`.
//!
//! gotctl checks the new files itself before it contacts the daemon, so a
//! broken configuration is reported here with its located errors. `-n`
//! stops after that check (`configuration OK`); it checks `-c`, or
//! /etc/gotd.conf. Otherwise the files named with `-c` and `-s` are opened
//! (gotctl runs as root; the daemon may not be able to read them) and sent
//! as descriptors with the request. Without `-c` the daemon re-reads the
//! configuration file it loaded last; without `-s` it keeps its secrets.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use gotd_config::{ConfigError, Secrets, SystemResolver};
use gotd_wire::request::Reload;

/// Usage line of the `reload` command.
pub const USAGE: &str = "usage: gotctl reload [-n] [-c config] [-s secrets]";

/// `reload`'s options.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opts {
    pub config: Option<PathBuf>,
    pub secrets: Option<PathBuf>,
    /// `-n`: only check the configuration.
    pub check_only: bool,
}

/// Parses the words after `reload`; `None` is a usage error.
pub fn parse_args(args: &[String]) -> Option<Opts> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let flags = a.strip_prefix('-').filter(|f| !f.is_empty())?;
        if flags == "-" {
            return it.next().is_none().then_some(o);
        }
        // Bundled flags (`-nc FILE`, `-cFILE`), as getopt(3) allows.
        for (i, f) in flags.char_indices() {
            let value = |it: &mut std::slice::Iter<'_, String>| {
                let rest = &flags[i + 1..];
                if rest.is_empty() {
                    it.next().map(PathBuf::from)
                } else {
                    Some(PathBuf::from(rest))
                }
            };
            match f {
                'n' => o.check_only = true,
                'c' => {
                    o.config = Some(value(&mut it)?);
                    break;
                }
                's' => {
                    o.secrets = Some(value(&mut it)?);
                    break;
                }
                _ => return None,
            }
        }
    }
    Some(o)
}

/// The secrets that labels are checked against: `-s FILE` (which must be
/// readable and private), else the default file if there is one.
fn local_secrets(path: Option<&Path>) -> Result<Option<Secrets>, ConfigError> {
    match path {
        Some(p) => gotd_config::parse_secrets_file(p).map(Some),
        None => {
            match gotd_config::parse_secrets_file(Path::new(gotd_config::DEFAULT_SECRETS_PATH)) {
                Ok(s) => Ok(Some(s)),
                Err(ConfigError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Checks `config` (with the secrets `-s` names, else the default ones)
/// and returns its warnings.
pub fn check(config: &Path, secrets: Option<&Path>) -> Result<Vec<String>, ConfigError> {
    let secrets = local_secrets(secrets)?;
    let parsed = match &secrets {
        Some(s) => gotd_config::parse_file_with_secrets(config, &SystemResolver, s),
        None => gotd_config::parse_file(config, &SystemResolver),
    }?;
    Ok(parsed.warnings)
}

/// The request and its descriptors for `o` (after [`check`] when `-c` was
/// given).
pub fn request(o: &Opts) -> Result<(Reload, Vec<OwnedFd>), String> {
    let mut fds = Vec::new();
    let mut open = |p: &Path| -> Result<String, String> {
        let f = File::open(p).map_err(|e| format!("{}: {}", p.display(), crate::strerror(&e)))?;
        fds.push(OwnedFd::from(f));
        Ok(p.display().to_string())
    };
    let config = o.config.as_deref().map(&mut open).transpose()?;
    let secrets = o.secrets.as_deref().map(&mut open).transpose()?;
    Ok((Reload { config, secrets }, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[rstest]
    #[case(&[], Some((None, None, false)))]
    #[case(&["-n"], Some((None, None, true)))]
    #[case(&["-c", "/x.conf"], Some((Some("/x.conf"), None, false)))]
    #[case(&["-c/x.conf", "-s", "/s"], Some((Some("/x.conf"), Some("/s"), false)))]
    #[case(&["-nc", "/x.conf"], Some((Some("/x.conf"), None, true)))]
    #[case(&["-n", "--"], Some((None, None, true)))]
    #[case(&["-c"], None)]
    #[case(&["-s"], None)]
    #[case(&["-x"], None)]
    #[case(&["file"], None)]
    #[case(&["-", "x"], None)]
    #[case(&["--", "x"], None)]
    fn options(#[case] a: &[&str], #[case] want: Option<(Option<&str>, Option<&str>, bool)>) {
        let got = parse_args(&args(a));
        let want = want.map(|(c, s, n)| Opts {
            config: c.map(PathBuf::from),
            secrets: s.map(PathBuf::from),
            check_only: n,
        });
        assert_eq!(got, want);
    }

    #[test]
    fn request_attaches_the_named_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("gotd.conf");
        let s = dir.path().join("secrets");
        std::fs::write(&c, "").unwrap();
        std::fs::write(&s, "").unwrap();
        let o = Opts {
            config: Some(c.clone()),
            secrets: Some(s.clone()),
            check_only: false,
        };
        let (r, fds) = request(&o).unwrap();
        assert_eq!(r.config.as_deref(), Some(c.to_str().unwrap()));
        assert_eq!(r.secrets.as_deref(), Some(s.to_str().unwrap()));
        assert_eq!(fds.len(), r.fd_count());
        let (r, fds) = request(&Opts::default()).unwrap();
        assert_eq!((r, fds.len()), (Reload::default(), 0));
        let missing = Opts {
            config: Some(dir.path().join("none")),
            ..Opts::default()
        };
        let err = request(&missing).unwrap_err();
        assert!(err.ends_with("none: No such file or directory"), "{err}");
    }
}
