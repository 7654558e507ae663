//! Configuration errors.
//!
//! Every problem found in a file is a [`Diagnostic`] that names the file (as
//! given by the caller) and the line, upstream style:
//! `gotd.conf:12: unknown user "flan"`. Parsing goes on after a problem
//! that leaves the grammar intact (a bad value, an unknown user), so one run
//! reports as many of them as possible; a syntax error ends the parse. The
//! [`Display`](std::fmt::Display) of [`ConfigError::Invalid`] is every
//! diagnostic, one per line, in the order found.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// One problem, located in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given to the parser.
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("open {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A secrets file that others could read or change.
    #[error("{}: {reason}", path.display())]
    Insecure { path: PathBuf, reason: String },
    /// The file was read but is not a valid configuration.
    #[error("{}", DisplayAll(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The located problems (empty for a file that could not be read).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Io { .. } | ConfigError::Insecure { .. } => &[],
            ConfigError::Invalid(diagnostics) => diagnostics,
        }
    }
}

struct DisplayAll<'a>(&'a [Diagnostic]);

impl fmt::Display for DisplayAll<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}
