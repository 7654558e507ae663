//! gotd-secrets.conf(5): credentials for HTTP notifications.
//!
//! One entry per line, fields separated by spaces or tabs; `#` starts a
//! comment line. A field may be quoted with `'` or `"` and `\` escapes the
//! next character:
//! ```text
//! auth <label> user <user> password <password>
//! hmac <label> <secret>
//! ```
//! Labels are unique per type; gotd.conf refers to them with `url … auth
//! <label>` and `url … hmac <label>`. The file must be owned by root or the
//! current user and must not be accessible to others (see
//! [`parse_secrets_file`]). Secret values never appear in `Debug` output.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Diagnostic};

/// One entry of gotd-secrets.conf.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Secret {
    /// HTTP Basic authentication credentials.
    Auth {
        label: String,
        user: String,
        password: String,
    },
    /// A key for signing notification payloads.
    Hmac { label: String, secret: String },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Auth { label, user, .. } => f
                .debug_struct("Auth")
                .field("label", label)
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Secret::Hmac { label, .. } => f
                .debug_struct("Hmac")
                .field("label", label)
                .field("secret", &"<redacted>")
                .finish(),
        }
    }
}

/// The whole secrets file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    pub entries: Vec<Secret>,
}

impl Secrets {
    /// The `(user, password)` of the `auth` entry `label`.
    pub fn auth(&self, label: &str) -> Option<(&str, &str)> {
        self.entries.iter().find_map(|entry| match entry {
            Secret::Auth {
                label: l,
                user,
                password,
            } if l == label => Some((user.as_str(), password.as_str())),
            _ => None,
        })
    }

    /// The secret of the `hmac` entry `label`.
    pub fn hmac(&self, label: &str) -> Option<&str> {
        self.entries.iter().find_map(|entry| match entry {
            Secret::Hmac { label: l, secret } if l == label => Some(secret.as_str()),
            _ => None,
        })
    }
}

/// Reads and parses the secrets file at `path`, after checking that it is
/// owned by root or the current user and that neither its group (write or
/// execute) nor others have any access to it.
pub fn parse_secrets_file(path: &Path) -> Result<Secrets, ConfigError> {
    let file = File::open(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_secrets_opened(path, file)
}

/// Like [`parse_secrets_file`] for a file that is already open (e.g. one
/// passed by `gotctl reload`); `path` names it in diagnostics. The same
/// ownership and mode checks apply to the open file.
pub fn parse_secrets_opened(path: &Path, mut file: File) -> Result<Secrets, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    // Check the opened file itself, not the name, so it cannot be swapped.
    let meta = file.metadata().map_err(io)?;
    let insecure = |reason: &str| ConfigError::Insecure {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if meta.uid() != 0 && meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(insecure("owner not root or current user"));
    }
    if meta.mode() & 0o037 != 0 {
        return Err(insecure("group writable or world read/writable"));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    let name = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        ConfigError::Invalid(vec![Diagnostic {
            file: name.clone(),
            line: 1 + valid.iter().filter(|&&b| b == b'\n').count() as u32,
            message: "invalid UTF-8 text".to_owned(),
        }])
    })?;
    parse_secrets_str(&name, &text)
}

/// Parses secrets `text`; `name` is the file name used in diagnostics.
/// Every malformed line is reported.
pub fn parse_secrets_str(name: &str, text: &str) -> Result<Secrets, ConfigError> {
    let mut secrets = Secrets::default();
    let mut diagnostics = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let result = parse_entry(trimmed).and_then(|entry| {
            let (kind, label, taken) = match &entry {
                Secret::Auth { label, .. } => ("auth", label, secrets.auth(label).is_some()),
                Secret::Hmac { label, .. } => ("hmac", label, secrets.hmac(label).is_some()),
            };
            if taken {
                return Err(format!("duplicate {kind} entry {label}"));
            }
            Ok(entry)
        });
        match result {
            Ok(entry) => secrets.entries.push(entry),
            Err(message) => diagnostics.push(Diagnostic {
                file: name.to_owned(),
                line: line_no,
                message,
            }),
        }
    }
    if diagnostics.is_empty() {
        Ok(secrets)
    } else {
        Err(ConfigError::Invalid(diagnostics))
    }
}

fn parse_entry(line: &str) -> Result<Secret, String> {
    let mut fields = Fields { rest: line };
    let entry = match fields.keyword()? {
        "auth" => {
            let label = fields.word()?;
            fields.expect_keyword("user")?;
            let user = fields.word()?;
            fields.expect_keyword("password")?;
            let password = fields.word()?;
            Secret::Auth {
                label,
                user,
                password,
            }
        }
        "hmac" => {
            let label = fields.word()?;
            let secret = fields.word()?;
            Secret::Hmac { label, secret }
        }
        other => return Err(format!("syntax error: unknown entry type \"{other}\"")),
    };
    if !fields.rest.trim_start_matches([' ', '\t']).is_empty() {
        return Err("syntax error: trailing text".to_owned());
    }
    Ok(entry)
}

/// The unread part of a secrets line.
struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    /// An unquoted keyword.
    fn keyword(&mut self) -> Result<&'a str, String> {
        let s = self.rest.trim_start_matches([' ', '\t']);
        if s.is_empty() {
            return Err("syntax error: missing field".to_owned());
        }
        let end = s.find([' ', '\t']).unwrap_or(s.len());
        self.rest = &s[end..];
        Ok(&s[..end])
    }

    fn expect_keyword(&mut self, expected: &str) -> Result<(), String> {
        match self.keyword()? {
            kw if kw == expected => Ok(()),
            kw => Err(format!(
                "syntax error: expected '{expected}', found \"{kw}\""
            )),
        }
    }

    /// A field: quotes group, `\` escapes the next character.
    fn word(&mut self) -> Result<String, String> {
        let s = self.rest.trim_start_matches([' ', '\t']);
        if s.is_empty() {
            return Err("syntax error: missing field".to_owned());
        }
        let mut word = String::new();
        let mut quote = None;
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped)) => word.push(escaped),
                    None => return Err("unterminated escape at end of line".to_owned()),
                },
                c if Some(c) == quote => quote = None,
                '\'' | '"' if quote.is_none() => quote = Some(c),
                ' ' | '\t' if quote.is_none() => {
                    self.rest = &s[i..];
                    return Ok(word);
                }
                c => word.push(c),
            }
        }
        if quote.is_some() {
            return Err("no closing quote".to_owned());
        }
        self.rest = "";
        Ok(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn parses_both_entry_types() {
        let secrets = parse_secrets_str(
            "gotd-secrets.conf",
            "# comment\n\n  auth flan user \"flan\" password 'very secret'\n\
             hmac hacker q0tcl8QhjYs7U75MW/2rwB30CpdbAhONkfLGxFHm/+8=\n\
             auth esc user a\\ b password p\\\"q\n",
        )
        .unwrap();
        assert_eq!(secrets.auth("flan"), Some(("flan", "very secret")));
        assert_eq!(
            secrets.hmac("hacker"),
            Some("q0tcl8QhjYs7U75MW/2rwB30CpdbAhONkfLGxFHm/+8=")
        );
        assert_eq!(secrets.auth("esc"), Some(("a b", "p\"q")));
        assert_eq!(secrets.auth("hacker"), None);
        assert_eq!(secrets.hmac("flan"), None);
    }

    #[test]
    fn debug_output_hides_values() {
        let secrets =
            parse_secrets_str("s", "auth a user u password hunter2\nhmac h topsecret\n").unwrap();
        let shown = format!("{secrets:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecret"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }

    #[rstest]
    #[case("token x y", "s:1: syntax error: unknown entry type \"token\"")]
    #[case("auth a", "s:1: syntax error: missing field")]
    #[case(
        "auth a login u password p",
        "s:1: syntax error: expected 'user', found \"login\""
    )]
    #[case(
        "auth a user u pass p",
        "s:1: syntax error: expected 'password', found \"pass\""
    )]
    #[case("hmac h", "s:1: syntax error: missing field")]
    #[case("hmac h s extra", "s:1: syntax error: trailing text")]
    #[case("hmac h \"open", "s:1: no closing quote")]
    #[case("hmac h s\\", "s:1: unterminated escape at end of line")]
    #[case("hmac h a\nhmac h b", "s:2: duplicate hmac entry h")]
    #[case(
        "auth a user u password p\nauth a user v password q",
        "s:2: duplicate auth entry a"
    )]
    #[case(
        "bad\n# fine\nhmac x",
        "s:1: syntax error: unknown entry type \"bad\"\n\
                                   s:3: syntax error: missing field"
    )]
    fn malformed_secrets(#[case] text: &str, #[case] expected: &str) {
        let err = parse_secrets_str("s", text).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn same_label_may_serve_both_types() {
        let secrets = parse_secrets_str("s", "auth x user u password p\nhmac x k\n").unwrap();
        assert_eq!(secrets.entries.len(), 2);
    }

    #[test]
    fn file_permissions_are_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gotd-secrets.conf");
        std::fs::write(&path, "hmac h k\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(parse_secrets_file(&path).unwrap().hmac("h"), Some("k"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(parse_secrets_file(&path).is_ok(), "group read is allowed");
        for mode in [0o660, 0o610, 0o604, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = parse_secrets_file(&path).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{}: group writable or world read/writable", path.display()),
                "mode {mode:o}"
            );
        }
    }
}
