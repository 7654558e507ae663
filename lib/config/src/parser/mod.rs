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
//!
//! This module holds token access, the top level and `connection`; the
//! repository block is in `repository.rs`.

mod repository;

use std::path::PathBuf;

use crate::error::Diagnostic;
use crate::lexer::{Keyword, Lexer, Token, TokenKind};
use crate::model::{Config, ConnectionLimit, Repository};
use crate::resolve::IdResolver;
use crate::secrets::Secrets;
use crate::validate;
use crate::{
    DEFAULT_REQUEST_TIMEOUT_SECS, DEFAULT_SOCKET_PATH, DEFAULT_USER, MAX_CONNECTION_LIMIT,
};

/// Longest unix socket path (Linux `sun_path` holds 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

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
}

/// The C library's text for an I/O error (`No such file or directory`),
/// without Rust's ` (os error N)` suffix.
fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => e.to_string(),
    }
}
