//! Loading gotd.conf and gotd-secrets.conf together, at startup and on
//! `gotctl reload`.
//!
//! The secrets file is read once, at startup, while the daemon may still be
//! root (it is normally readable by root only): from `-s FILE`, or from
//! the default path when that exists. Notification `auth` and `hmac` labels
//! in gotd.conf are checked against it, on reload too.

use std::io::ErrorKind;
use std::path::Path;

use gotd_config::{ConfigError, Parsed, Secrets, SystemResolver};

/// Reads the secrets file: `path` when given (it must exist), else the
/// default file if there is one.
pub fn secrets(path: Option<&Path>) -> Result<Option<Secrets>, ConfigError> {
    match path {
        Some(p) => gotd_config::parse_secrets_file(p).map(Some),
        None => match gotd_config::parse_secrets_file(Path::new(gotd_config::DEFAULT_SECRETS_PATH))
        {
            Ok(s) => Ok(Some(s)),
            Err(ConfigError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// Parses the configuration, checking labels against `secrets` if any.
pub fn config(path: &Path, secrets: Option<&Secrets>) -> Result<Parsed, ConfigError> {
    match secrets {
        Some(s) => gotd_config::parse_file_with_secrets(path, &SystemResolver, s),
        None => gotd_config::parse_file(path, &SystemResolver),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_secrets_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        assert!(secrets(Some(&dir.path().join("none"))).is_err());
    }

    #[test]
    fn insecure_secrets_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secrets");
        std::fs::write(&p, "").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(secrets(Some(&p)).is_err());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(secrets(Some(&p)).unwrap().is_some());
    }
}
