//! Recursive-descent parser for gotd.conf: turns tokens into a validated
//! [`Config`], collecting located diagnostics and warnings.
//!
//! Grammar (one top-level directive per line):
//! ```text
//! file       := { line }
//! line       := [ macro | main | repository ] ( NEWLINE | EOF )
//! macro      := STRING '=' STRING
//! main       := 'listen' 'on' STRING | 'user' STRING
//!             | 'connection' ( '{' nl conn { nl conn } nl '}' | conn )
//! conn       := 'request' 'timeout' ( NUMBER | STRING )
//!             | 'limit' 'user' STRING NUMBER
//! repository := 'repository' STRING '{' nl repoopt { nl repoopt } nl '}'
//! repoopt    := 'path' STRING | 'permit' ( 'ro' | 'rw' ) STRING | 'deny' STRING
//!             | 'protect' ( '{' nl prot { nl prot } nl '}' | prot )
//!             | 'notify' ( '{' nl notif { nl notif } nl '}' | notif )
//! prot       := 'tag' 'namespace' STRING | 'branch' 'namespace' STRING
//!             | 'branch' STRING
//! notif      := 'branch' STRING | 'reference' 'namespace' STRING
//!             | 'email' [ 'from' STRING ] 'to' STRING [ 'reply' 'to' STRING ]
//!                       [ 'relay' STRING [ 'port' STRING ] ]
//!             | 'url' STRING [ 'auth' STRING [ 'insecure' ] ] [ 'hmac' STRING ]
//! nl         := { NEWLINE }
//! ```
//! Where a user, an identity, a macro value or a port is expected, a NUMBER
//! is accepted too and taken as its decimal text (upstream's `numberstring`).
//! Upstream also wants `connection limit user 1000 4` written with a quoted
//! `"1000"`; both are accepted here, as gotd.conf(5) documents.
//!
//! Inside braces, newlines between entries are optional (upstream requires
//! them after each but the first entry of a repository block); every file
//! upstream accepts is accepted.
//!
//! A syntax error ends the parse. A bad value (an unknown user, a relative
//! path, a duplicate) is reported and parsing goes on.

use std::path::PathBuf;

use crate::error::Diagnostic;
use crate::lexer::{Keyword, Lexer, Token, TokenKind};
use crate::model::{
    Access, AccessRule, Config, ConnectionLimit, Identity, Mode, Notify, NotifyTarget, Protection,
    Repository,
};
use crate::resolve::IdResolver;
use crate::secrets::Secrets;
use crate::validate;
use crate::{
    DEFAULT_REQUEST_TIMEOUT_SECS, DEFAULT_SOCKET_PATH, DEFAULT_USER, MAX_CONNECTION_LIMIT,
};

/// Longest unix socket path (Linux `sun_path` holds 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Longest repository name (upstream: NAME_MAX).
const MAX_REPO_NAME: usize = 254;

/// Marker: a syntax error was recorded and the parse stops.
struct Stop;

type PResult<T> = Result<T, Stop>;

/// What the parser produces: the configuration (meaningful only when there
/// are no diagnostics), the diagnostics and the warnings.
pub(crate) struct Outcome {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    pub warnings: Vec<String>,
}

/// A repository being parsed, with what validation needs to know.
struct RepoDraft {
    repo: Repository,
    line: u32,
    has_path: bool,
    /// Notification URL targets as (https, host, port, path), for duplicates.
    urls: Vec<(bool, String, String, String)>,
}

pub(crate) struct Parser<'a> {
    file: &'a str,
    lexer: Lexer,
    peeked: Option<Token>,
    resolver: &'a dyn IdResolver,
    /// When given, `auth` and `hmac` labels must name entries in it.
    secrets: Option<&'a Secrets>,
    config: Config,
    drafts: Vec<RepoDraft>,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<String>,
    /// The number of the file's last line.
    last_line: u32,
}

/// A string argument: its text and line.
struct Arg {
    text: String,
    line: u32,
}

impl<'a> Parser<'a> {
    pub fn new(
        file: &'a str,
        text: &str,
        resolver: &'a dyn IdResolver,
        secrets: Option<&'a Secrets>,
    ) -> Self {
        Self {
            file,
            lexer: Lexer::new(text),
            peeked: None,
            resolver,
            secrets,
            config: Config {
                listen_path: PathBuf::from(DEFAULT_SOCKET_PATH),
                user: DEFAULT_USER.to_owned(),
                request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
                connection_limits: Vec::new(),
                repositories: Vec::new(),
            },
            drafts: Vec::new(),
            diagnostics: Vec::new(),
            warnings: Vec::new(),
            last_line: u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX),
        }
    }

    /// Parses the whole text, then checks what needs the whole file.
    pub fn run(mut self) -> Outcome {
        // As upstream, the whole-file checks run only on an otherwise
        // valid file, so they never add noise to other errors.
        let completed = self.file_rule().is_ok();
        if completed && self.diagnostics.is_empty() {
            for draft in &self.drafts {
                if !draft.has_path {
                    let message = format!(
                        "repository \"{}\": no path provided in configuration file",
                        draft.repo.name
                    );
                    self.diagnostics.push(self.diag(draft.line, message));
                }
            }
            if self.drafts.is_empty() {
                let line = self.last_line;
                let message = "no repository defined in configuration file".to_owned();
                self.diagnostics.push(self.diag(line, message));
            }
        }
        self.diagnostics.sort_by_key(|d| d.line);
        self.config.repositories = self.drafts.into_iter().map(|d| d.repo).collect();
        Outcome {
            config: self.config,
            diagnostics: self.diagnostics,
            warnings: self.warnings,
        }
    }

    // ---- diagnostics -------------------------------------------------

    fn diag(&self, line: u32, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            line,
            message,
        }
    }

    /// Records a problem with a value; parsing goes on.
    fn error(&mut self, line: u32, message: impl Into<String>) {
        let diagnostic = self.diag(line, message.into());
        self.diagnostics.push(diagnostic);
    }

    fn warn(&mut self, line: u32, message: impl Into<String>) {
        let text = self.diag(line, message.into()).to_string();
        self.warnings.push(text);
    }

    /// Records a syntax error at `token` and stops.
    fn syntax_error<T>(&mut self, token: &Token, expected: &str) -> PResult<T> {
        let message = format!(
            "syntax error: unexpected {}, expecting {expected}",
            token.kind
        );
        self.error(token.line, message);
        Err(Stop)
    }

    // ---- token access ------------------------------------------------

    fn peek(&mut self) -> PResult<&Token> {
        if self.peeked.is_none() {
            match self.lexer.next_token() {
                Ok(token) => self.peeked = Some(token),
                Err(e) => {
                    self.error(e.line, e.message);
                    return Err(Stop);
                }
            }
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next(&mut self) -> PResult<Token> {
        self.peek()?;
        Ok(self.peeked.take().expect("just peeked"))
    }

    fn at_keyword(&mut self, kw: Keyword) -> PResult<bool> {
        Ok(self.peek()?.kind == TokenKind::Keyword(kw))
    }

    fn at_char(&mut self, c: char) -> PResult<bool> {
        Ok(self.peek()?.kind == TokenKind::Char(c))
    }

    fn expect_keyword(&mut self, kw: Keyword) -> PResult<u32> {
        let token = self.next()?;
        if token.kind == TokenKind::Keyword(kw) {
            Ok(token.line)
        } else {
            self.syntax_error(&token, &format!("'{}'", kw.as_str()))
        }
    }

    fn expect_char(&mut self, c: char) -> PResult<()> {
        let token = self.next()?;
        if token.kind == TokenKind::Char(c) {
            Ok(())
        } else {
            self.syntax_error(&token, &format!("'{c}'"))
        }
    }

    /// A STRING argument (`what` names it in a syntax error).
    fn string(&mut self, what: &str) -> PResult<Arg> {
        let token = self.next()?;
        match token.kind {
            TokenKind::String(text) => Ok(Arg {
                text,
                line: token.line,
            }),
            _ => self.syntax_error(&token, what),
        }
    }

    /// A STRING or NUMBER argument, as text.
    fn number_or_string(&mut self, what: &str) -> PResult<Arg> {
        let token = self.next()?;
        match token.kind {
            TokenKind::String(text) => Ok(Arg {
                text,
                line: token.line,
            }),
            TokenKind::Number(n) => Ok(Arg {
                text: n.to_string(),
                line: token.line,
            }),
            _ => self.syntax_error(&token, what),
        }
    }

    fn skip_newlines(&mut self) -> PResult<()> {
        while self.peek()?.kind == TokenKind::Newline {
            self.next()?;
        }
        Ok(())
    }

    fn expect_line_end(&mut self) -> PResult<()> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Newline | TokenKind::Eof => Ok(()),
            _ => self.syntax_error(&token, "end of line"),
        }
    }

    /// `'{' nl item { nl item } nl '}'` or a single `item`.
    fn block_or_one(&mut self, mut item: impl FnMut(&mut Self) -> PResult<()>) -> PResult<()> {
        if !self.at_char('{')? {
            return item(self);
        }
        self.next()?;
        self.skip_newlines()?;
        item(self)?;
        loop {
            self.skip_newlines()?;
            if self.at_char('}')? {
                self.next()?;
                return Ok(());
            }
            item(self)?;
        }
    }

    // ---- top level ---------------------------------------------------

    fn file_rule(&mut self) -> PResult<()> {
        loop {
            let token = self.peek()?.clone();
            match token.kind {
                TokenKind::Eof => return Ok(()),
                TokenKind::Newline => {
                    self.next()?;
                    continue;
                }
                TokenKind::String(_) => self.macro_definition()?,
                TokenKind::Keyword(Keyword::Listen) => self.listen()?,
                TokenKind::Keyword(Keyword::User) => self.user()?,
                TokenKind::Keyword(Keyword::Connection) => self.connection()?,
                TokenKind::Keyword(Keyword::Repository) => self.repository()?,
                _ => {
                    return self.syntax_error(
                        &token,
                        "'listen', 'user', 'connection', 'repository' or a macro definition",
                    )
                }
            }
            self.expect_line_end()?;
        }
    }

    fn macro_definition(&mut self) -> PResult<()> {
        let name = self.string("a macro name")?;
        if !self.at_char('=')? {
            // Most likely a misspelt or unknown directive.
            let message = format!(
                "syntax error: unknown directive \"{}\", expecting 'listen', 'user', \
                 'connection', 'repository' or a macro definition (name = value)",
                name.text
            );
            self.error(name.line, message);
            return Err(Stop);
        }
        self.next()?;
        let value = self.number_or_string("a macro value")?;
        // Define it before the next line is read, so that line may use it.
        let token = self.peek()?.clone();
        if !matches!(token.kind, TokenKind::Newline | TokenKind::Eof) {
            return self.syntax_error(&token, "end of line");
        }
        if name.text.chars().any(char::is_whitespace) {
            self.error(name.line, "macro name cannot contain whitespace");
        } else {
            self.lexer.define(&name.text, &value.text);
        }
        Ok(())
    }

    fn listen(&mut self) -> PResult<()> {
        self.expect_keyword(Keyword::Listen)?;
        self.expect_keyword(Keyword::On)?;
        let path = self.string("a socket path")?;
        if !path.text.starts_with('/') {
            let message = format!(
                "bad unix socket path \"{}\": must be an absolute path",
                path.text
            );
            self.error(path.line, message);
        } else if path.text.len() > MAX_SOCKET_PATH {
            self.error(
                path.line,
                format!("{}: unix socket path too long", path.text),
            );
        } else {
            self.config.listen_path = PathBuf::from(path.text);
        }
        Ok(())
    }

    fn user(&mut self) -> PResult<()> {
        self.expect_keyword(Keyword::User)?;
        let user = self.number_or_string("a user name or uid")?;
        if user.text.is_empty() {
            self.error(user.line, "empty user name");
        } else {
            self.config.user = user.text;
        }
        Ok(())
    }

    fn connection(&mut self) -> PResult<()> {
        self.expect_keyword(Keyword::Connection)?;
        self.block_or_one(Self::connection_option)
    }

    fn connection_option(&mut self) -> PResult<()> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Keyword(Keyword::Request) => {
                self.expect_keyword(Keyword::Timeout)?;
                self.request_timeout()
            }
            TokenKind::Keyword(Keyword::Limit) => {
                self.expect_keyword(Keyword::User)?;
                // gotd.conf(5) says numeric uids are accepted; upstream's
                // grammar wants them quoted. Both spellings work here.
                let user = self.number_or_string("a user name or uid")?;
                let limit = self.next()?;
                let TokenKind::Number(max) = limit.kind else {
                    return self.syntax_error(&limit, "a number of connections");
                };
                self.connection_limit(user, max, limit.line);
                Ok(())
            }
            _ => self.syntax_error(&token, "'request' or 'limit'"),
        }
    }

    fn request_timeout(&mut self) -> PResult<()> {
        let token = self.next()?;
        let line = token.line;
        let secs = match token.kind {
            TokenKind::Number(n) if n <= 0 => {
                self.error(line, format!("invalid timeout: {n}"));
                return Ok(());
            }
            TokenKind::Number(n) => u64::try_from(n).unwrap_or(u64::MAX),
            TokenKind::String(word) => match validate::timeout_from_word(&word) {
                Ok(0) => {
                    self.error(line, "invalid timeout: 0");
                    return Ok(());
                }
                Ok(secs) => secs,
                Err(message) => {
                    self.error(line, message);
                    return Ok(());
                }
            },
            _ => return self.syntax_error(&token, "a timeout"),
        };
        self.config.request_timeout_secs = secs;
        Ok(())
    }

    fn connection_limit(&mut self, user: Arg, max: i64, max_line: u32) {
        if max < 1 {
            self.error(max_line, "max connections cannot be smaller 1");
            return;
        }
        if max > i64::from(MAX_CONNECTION_LIMIT) {
            let message = format!("max connections must be <= {MAX_CONNECTION_LIMIT}");
            self.error(max_line, message);
            return;
        }
        let Some(uid) = self.resolver.user(&user.text) else {
            self.error(user.line, format!("{}: no such user", user.text));
            return;
        };
        let limit = max as u32;
        let limits = &mut self.config.connection_limits;
        match limits.iter_mut().find(|l| l.uid == uid) {
            Some(existing) => {
                existing.user = user.text;
                existing.limit = limit;
            }
            None => limits.push(ConnectionLimit {
                user: user.text,
                uid,
                limit,
            }),
        }
    }

    // ---- repositories ------------------------------------------------

    fn repository(&mut self) -> PResult<()> {
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

/// The C library's text for an I/O error (`No such file or directory`),
/// without Rust's ` (os error N)` suffix.
fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => e.to_string(),
    }
}
