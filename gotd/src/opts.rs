//! gotd's command line: `gotd [-dnvV] [-f config] [-s secrets]`, plus the
//! hidden `-T r|w -P repository` used when the daemon re-executes itself as
//! a repo child.

use std::path::PathBuf;

/// Usage line printed on bad arguments.
pub const USAGE: &str = "usage: gotd [-dnvV] [-f config-file] [-s secrets]";

/// Which kind of repo child to run (hidden `-T`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Reader,
    Writer,
}

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub foreground: bool,
    pub noaction: bool,
    pub verbosity: u32,
    pub version: bool,
    pub config: PathBuf,
    pub secrets: Option<PathBuf>,
    pub child: Option<ChildKind>,
    pub repo_path: Option<PathBuf>,
}

/// A usage error, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses arguments (without argv\[0\]) getopt-style: flags may be grouped
/// (`-dv`), option values may be attached (`-fFILE`) or separate.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Opts, UsageError> {
    let mut o = Opts {
        foreground: false,
        noaction: false,
        verbosity: 0,
        version: false,
        config: PathBuf::from(gotd_config::DEFAULT_CONFIG_PATH),
        secrets: None,
        child: None,
        repo_path: None,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--version" {
            o.version = true;
            continue;
        }
        if arg == "--" {
            if let Some(extra) = it.next() {
                return Err(UsageError(format!("unexpected argument: {extra}")));
            }
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(UsageError(format!("unexpected argument: {arg}")));
        };
        for (i, c) in flags.char_indices() {
            match c {
                'd' => o.foreground = true,
                'n' => o.noaction = true,
                'v' => o.verbosity += 1,
                'V' => o.version = true,
                'f' | 's' | 'T' | 'P' => {
                    let rest = &flags[i + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        it.next().ok_or_else(|| {
                            UsageError(format!("option requires an argument -- {c}"))
                        })?
                    } else {
                        rest.to_string()
                    };
                    match c {
                        'f' => o.config = PathBuf::from(value),
                        's' => o.secrets = Some(PathBuf::from(value)),
                        'P' => o.repo_path = Some(PathBuf::from(value)),
                        _ => {
                            o.child = Some(match value.as_str() {
                                "r" | "R" => ChildKind::Reader,
                                "w" | "W" => ChildKind::Writer,
                                _ => {
                                    return Err(UsageError(format!(
                                        "unknown process type: {value}"
                                    )))
                                }
                            })
                        }
                    }
                    break;
                }
                _ => return Err(UsageError(format!("unknown option -- {c}"))),
            }
        }
    }
    if o.child.is_some() != o.repo_path.is_some() {
        return Err(UsageError("-T and -P go together".into()));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn p(args: &[&str]) -> Result<Opts, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert!(!o.foreground && !o.noaction);
        assert_eq!(o.config, PathBuf::from("/etc/gotd.conf"));
    }

    #[test]
    fn grouped_and_attached() {
        let o = p(&["-dvv", "-f/x.conf", "-s", "/s"]).unwrap();
        assert!(o.foreground);
        assert_eq!(o.verbosity, 2);
        assert_eq!(o.config, PathBuf::from("/x.conf"));
        assert_eq!(o.secrets, Some(PathBuf::from("/s")));
    }

    #[test]
    fn child_mode() {
        let o = p(&["-T", "w", "-P", "/r", "-v"]).unwrap();
        assert_eq!(o.child, Some(ChildKind::Writer));
        assert_eq!(o.repo_path, Some(PathBuf::from("/r")));
    }

    #[rstest]
    #[case(&["-x"])]
    #[case(&["-f"])]
    #[case(&["extra"])]
    #[case(&["-T", "x", "-P", "/r"])]
    #[case(&["-T", "r"])]
    fn usage_errors(#[case] args: &[&str]) {
        assert!(p(args).is_err());
    }
}
