//! The `repository "name" { … }` block: path, access rules, protected
//! references and notifications, with upstream's checks and messages.

use std::path::PathBuf;

use super::{strerror, Arg, PResult, Parser, RepoDraft};
use crate::lexer::{Keyword, TokenKind};
use crate::model::{
    Access, AccessRule, Identity, Mode, Notify, NotifyTarget, Protection, Repository,
};
use crate::validate;

/// Longest repository name (upstream: NAME_MAX).
const MAX_REPO_NAME: usize = 254;

impl Parser<'_> {
    /// `repository STRING { option … }`.
    pub(super) fn repository(&mut self) -> PResult<()> {
        let line = self.expect_keyword(Keyword::Repository)?;
        let name = self.string("a repository name")?;
        if name.text.is_empty() {
            self.error(name.line, "syntax error: empty repository name");
        } else if name.text.contains('\n') {
            let message = format!("repository names must not contain linefeeds: {}", name.text);
            self.error(name.line, message);
        } else if name.text.len() > MAX_REPO_NAME {
            self.error(name.line, "repository name too long");
        } else if self.drafts.iter().any(|d| d.repo.name == name.text) {
            self.error(name.line, format!("duplicate repository '{}'", name.text));
        }
        let mut draft = RepoDraft {
            repo: Repository {
                name: name.text,
                path: PathBuf::new(),
                rules: Vec::new(),
                protection: Protection::default(),
                notify: Notify::default(),
            },
            line,
            has_path: false,
            urls: Vec::new(),
        };
        self.expect_char('{')?;
        self.skip_newlines()?;
        self.repository_option(&mut draft, true)?;
        loop {
            self.skip_newlines()?;
            if self.at_char('}')? {
                self.next()?;
                break;
            }
            self.repository_option(&mut draft, false)?;
        }
        let duplicate = self.drafts.iter().any(|d| d.repo.name == draft.repo.name);
        if !duplicate {
            self.drafts.push(draft);
        }
        Ok(())
    }

    /// One option of a repository block; `first` when none came before
    /// (a block may not be empty).
    fn repository_option(&mut self, draft: &mut RepoDraft, first: bool) -> PResult<()> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Keyword(Keyword::Path) => {
                let path = self.string("a repository path")?;
                self.repository_path(draft, path);
            }
            TokenKind::Keyword(Keyword::Permit) => {
                let mode_token = self.next()?;
                let mode = match mode_token.kind {
                    TokenKind::Keyword(Keyword::Ro) => Mode::ReadOnly,
                    TokenKind::Keyword(Keyword::Rw) => Mode::ReadWrite,
                    _ => return self.syntax_error(&mode_token, "'ro' or 'rw'"),
                };
                let id = self.number_or_string("a user or :group")?;
                self.access_rule(draft, Access::Permit(mode), id);
            }
            TokenKind::Keyword(Keyword::Deny) => {
                let id = self.number_or_string("a user or :group")?;
                self.access_rule(draft, Access::Deny, id);
            }
            TokenKind::Keyword(Keyword::Protect) => {
                self.block_or_one(|p| p.protect_option(draft))?;
            }
            TokenKind::Keyword(Keyword::Notify) => {
                self.block_or_one(|p| p.notify_option(draft))?;
            }
            _ => {
                let expected = if first {
                    "'path', 'permit', 'deny', 'protect' or 'notify'"
                } else {
                    "'path', 'permit', 'deny', 'protect', 'notify' or '}'"
                };
                return self.syntax_error(&token, expected);
            }
        }
        Ok(())
    }

    fn repository_path(&mut self, draft: &mut RepoDraft, path: Arg) {
        if !path.text.starts_with('/') {
            self.error(path.line, format!("path {} is not absolute", path.text));
            return;
        }
        draft.has_path = true;
        draft.repo.path = match std::fs::canonicalize(&path.text) {
            // The model travels to child processes as UTF-8 text.
            Ok(real) if real.to_str().is_none() => {
                let message = format!("realpath {}: resolves to a non-UTF-8 path", path.text);
                self.error(path.line, message);
                PathBuf::from(&path.text)
            }
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.warn(path.line, format!("{}: {}", path.text, strerror(&e)));
                PathBuf::from(&path.text)
            }
            Err(e) => {
                self.error(
                    path.line,
                    format!("realpath {}: {}", path.text, strerror(&e)),
                );
                PathBuf::from(&path.text)
            }
        };
    }

    fn access_rule(&mut self, draft: &mut RepoDraft, access: Access, id: Arg) {
        let identity = if let Some(group) = id.text.strip_prefix(':') {
            match self.resolver.group(group) {
                Some(gid) => Identity::Group {
                    name: group.to_owned(),
                    gid,
                },
                None => {
                    self.error(id.line, format!("unknown group \"{group}\""));
                    return;
                }
            }
        } else {
            match self.resolver.user(&id.text) {
                Some(uid) => Identity::User { name: id.text, uid },
                None => {
                    self.error(id.line, format!("unknown user \"{}\"", id.text));
                    return;
                }
            }
        };
        draft.repo.rules.push(AccessRule { access, identity });
    }

    fn protect_option(&mut self, draft: &mut RepoDraft) -> PResult<()> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Keyword(Keyword::Tag) => {
                self.expect_keyword(Keyword::Namespace)?;
                let ns = self.string("a reference namespace")?;
                self.protect_namespace(draft, ns, true);
            }
            TokenKind::Keyword(Keyword::Branch) => {
                if self.at_keyword(Keyword::Namespace)? {
                    self.next()?;
                    let ns = self.string("a reference namespace")?;
                    self.protect_namespace(draft, ns, false);
                } else {
                    let branch = self.string("a branch name or 'namespace'")?;
                    self.protect_branch(draft, branch);
                }
            }
            _ => return self.syntax_error(&token, "'tag' or 'branch'"),
        }
        Ok(())
    }

    fn protect_namespace(&mut self, draft: &mut RepoDraft, ns: Arg, tag: bool) {
        let namespace = match validate::namespace(&ns.text) {
            Ok(namespace) => namespace,
            Err(message) => return self.error(ns.line, message),
        };
        let protection = &mut draft.repo.protection;
        let taken = protection.tag_namespaces.contains(&namespace)
            || protection.branch_namespaces.contains(&namespace);
        if taken {
            let shown = ns.text.trim_end_matches('/');
            return self.error(ns.line, format!("duplicate protected namespace {shown}"));
        }
        if tag {
            protection.tag_namespaces.push(namespace);
        } else {
            protection.branch_namespaces.push(namespace);
        }
    }

    fn protect_branch(&mut self, draft: &mut RepoDraft, branch: Arg) {
        let refname = match validate::branch_ref(&branch.text) {
            Ok(refname) => refname,
            Err(message) => return self.error(branch.line, message),
        };
        let branches = &mut draft.repo.protection.branches;
        if branches.contains(&refname) {
            let message = format!("duplicate protect branch {}", branch.text);
            return self.error(branch.line, message);
        }
        branches.push(refname);
    }

    fn notify_option(&mut self, draft: &mut RepoDraft) -> PResult<()> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Keyword(Keyword::Branch) => {
                let branch = self.string("a branch name")?;
                match validate::branch_ref(&branch.text) {
                    Ok(refname) if !draft.repo.notify.branches.contains(&refname) => {
                        draft.repo.notify.branches.push(refname);
                    }
                    Ok(_) => {}
                    Err(message) => self.error(branch.line, message),
                }
            }
            TokenKind::Keyword(Keyword::Reference) => {
                self.expect_keyword(Keyword::Namespace)?;
                let ns = self.string("a reference namespace")?;
                let namespaces = &mut draft.repo.notify.reference_namespaces;
                match validate::namespace(&ns.text) {
                    Ok(namespace) if !namespaces.contains(&namespace) => namespaces.push(namespace),
                    Ok(_) => {}
                    Err(message) => self.error(ns.line, message),
                }
            }
            TokenKind::Keyword(Keyword::Email) => self.notify_email(draft)?,
            TokenKind::Keyword(Keyword::Url) => self.notify_url(draft)?,
            _ => return self.syntax_error(&token, "'branch', 'reference', 'email' or 'url'"),
        }
        Ok(())
    }

    fn notify_email(&mut self, draft: &mut RepoDraft) -> PResult<()> {
        let mut from = None;
        if self.at_keyword(Keyword::From)? {
            self.next()?;
            from = Some(self.string("a sender address")?.text);
        }
        self.expect_keyword(Keyword::To)?;
        let to = self.string("a recipient address")?;
        let mut reply_to = None;
        if self.at_keyword(Keyword::Reply)? {
            self.next()?;
            self.expect_keyword(Keyword::To)?;
            reply_to = Some(self.string("a reply-to address")?.text);
        }
        let mut relay_host = "127.0.0.1".to_owned();
        let mut relay_port = 25;
        if self.at_keyword(Keyword::Relay)? {
            self.next()?;
            relay_host = self.string("a relay host")?.text;
            if self.at_keyword(Keyword::Port)? {
                self.next()?;
                let port = self.number_or_string("a port")?;
                match validate::port(&port.text) {
                    Ok(p) => relay_port = p,
                    Err(message) => self.error(port.line, message),
                }
            }
        }
        let duplicate = draft.repo.notify.targets.iter().any(
            |target| matches!(target, NotifyTarget::Email { to: other, .. } if *other == to.text),
        );
        if duplicate {
            let message = format!(
                "duplicate email notification for '{}' in repository '{}'",
                to.text, draft.repo.name
            );
            self.error(to.line, message);
            return Ok(());
        }
        draft.repo.notify.targets.push(NotifyTarget::Email {
            from,
            to: to.text,
            reply_to,
            relay_host,
            relay_port,
        });
        Ok(())
    }

    fn notify_url(&mut self, draft: &mut RepoDraft) -> PResult<()> {
        let url = self.string("a URL")?;
        let mut auth = None;
        let mut insecure = false;
        let mut hmac = None;
        if self.at_keyword(Keyword::Auth)? {
            self.next()?;
            auth = Some(self.string("an auth label")?.text);
            if self.at_keyword(Keyword::Insecure)? {
                self.next()?;
                insecure = true;
            }
        }
        if self.at_keyword(Keyword::Hmac)? {
            self.next()?;
            hmac = Some(self.string("an hmac label")?.text);
        }
        let repo_name = &draft.repo.name;
        let parts = match validate::parse_url(&url.text) {
            Ok(parts) => parts,
            Err(why) => {
                let message = format!(
                    "invalid HTTP notification URL '{}' in repository '{repo_name}': {why}",
                    url.text
                );
                self.error(url.line, message);
                return Ok(());
            }
        };
        if parts.scheme != "http" && parts.scheme != "https" {
            let message = format!(
                "invalid protocol '{}' in notification URL '{}' in repository '{repo_name}'",
                parts.scheme, url.text
            );
            self.error(url.line, message);
            return Ok(());
        }
        if parts.scheme == "http" && auth.is_some() && !insecure {
            let message = format!(
                "{}: HTTP notifications with basic authentication over plaintext HTTP \
                 will leak credentials; add the 'insecure' config keyword if this is \
                 intentional",
                url.text
            );
            self.error(url.line, message);
            return Ok(());
        }
        if let Some(secrets) = self.secrets {
            if let Some(label) = auth.as_deref().filter(|l| secrets.auth(l).is_none()) {
                self.error(url.line, format!("no auth secret `{label}' defined"));
                return Ok(());
            }
            if let Some(label) = hmac.as_deref().filter(|l| secrets.hmac(l).is_none()) {
                self.error(url.line, format!("no hmac secret `{label}' defined"));
                return Ok(());
            }
        }
        let key = (parts.scheme == "https", parts.host, parts.port, parts.path);
        if draft.urls.contains(&key) {
            let message = format!(
                "duplicate notification for URL '{}' in repository '{repo_name}'",
                url.text
            );
            self.error(url.line, message);
            return Ok(());
        }
        draft.urls.push(key);
        draft.repo.notify.targets.push(NotifyTarget::Http {
            url: url.text,
            auth,
            insecure,
            hmac,
        });
        Ok(())
    }
}
