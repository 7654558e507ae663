//! The gotd.conf tokenizer.
//!
//! Lexical rules (those of OpenBSD's parse.y family, which gotd uses):
//! * `#` starts a comment that runs to the end of the line;
//! * outside quotes, `\` followed by a newline joins two lines, and `\`
//!   followed by any other character stands for that character;
//! * `"…"` and `'…'` are strings; inside them `\` + the quote character is a
//!   literal quote, `\` + newline continues the string on the next line, any
//!   other `\` is kept, and a bare newline is dropped;
//! * a run of digits (optionally after `-`) that ends at a space, `)`, `,`,
//!   `/`, `}`, `=` or the end of the file is a number; otherwise (`2h`,
//!   `10.0.0.1`) it is a word;
//! * a bare word starts with a letter, digit, `:` or `_` and goes on over
//!   letters, digits and punctuation other than `( ) { } ! = # ,`; the
//!   reserved words become [`Keyword`]s and must be quoted to be used as
//!   plain strings;
//! * `$name` expands the macro `name` (defined earlier with `name = value`).
//!   The value is tokenized again, so it may hold several tokens, but macros
//!   are not expanded inside quotes nor inside macro values;
//! * every other character is a token of its own (`{`, `}`, `=`, newline).

use std::collections::{HashMap, VecDeque};
use std::fmt;

/// Longest string or word accepted, as upstream's 8 KiB token buffer.
const MAX_TOKEN_LEN: usize = 8094;

/// The reserved words of gotd.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Auth,
    Branch,
    Connection,
    Deny,
    Email,
    From,
    Hmac,
    Insecure,
    Limit,
    Listen,
    Namespace,
    Notify,
    On,
    Path,
    Permit,
    Port,
    Protect,
    Reference,
    Relay,
    Reply,
    Repository,
    Request,
    Ro,
    Rw,
    Tag,
    Timeout,
    To,
    Url,
    User,
}

impl Keyword {
    const ALL: [(&'static str, Keyword); 29] = [
        ("auth", Keyword::Auth),
        ("branch", Keyword::Branch),
        ("connection", Keyword::Connection),
        ("deny", Keyword::Deny),
        ("email", Keyword::Email),
        ("from", Keyword::From),
        ("hmac", Keyword::Hmac),
        ("insecure", Keyword::Insecure),
        ("limit", Keyword::Limit),
        ("listen", Keyword::Listen),
        ("namespace", Keyword::Namespace),
        ("notify", Keyword::Notify),
        ("on", Keyword::On),
        ("path", Keyword::Path),
        ("permit", Keyword::Permit),
        ("port", Keyword::Port),
        ("protect", Keyword::Protect),
        ("reference", Keyword::Reference),
        ("relay", Keyword::Relay),
        ("reply", Keyword::Reply),
        ("repository", Keyword::Repository),
        ("request", Keyword::Request),
        ("ro", Keyword::Ro),
        ("rw", Keyword::Rw),
        ("tag", Keyword::Tag),
        ("timeout", Keyword::Timeout),
        ("to", Keyword::To),
        ("url", Keyword::Url),
        ("user", Keyword::User),
    ];

    /// The keyword spelled `word`, if it is reserved.
    pub fn lookup(word: &str) -> Option<Keyword> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == word)
            .map(|&(_, kw)| kw)
    }

    /// How the keyword is written.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, kw)| *kw == self)
            .map_or("?", |(name, _)| name)
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A quoted string or a bare word that is not reserved.
    String(String),
    /// A number (digits, optionally negative).
    Number(i64),
    Keyword(Keyword),
    /// The end of a line.
    Newline,
    /// Any other single character: `{`, `}`, `=`, ….
    Char(char),
    /// The end of the file.
    Eof,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::String(s) => write!(f, "\"{s}\""),
            TokenKind::Number(n) => write!(f, "{n}"),
            TokenKind::Keyword(kw) => write!(f, "'{}'", kw.as_str()),
            TokenKind::Newline => f.write_str("end of line"),
            TokenKind::Char(c) if c.is_control() => write!(f, "character {:?}", c),
            TokenKind::Char(c) => write!(f, "'{c}'"),
            TokenKind::Eof => f.write_str("end of file"),
        }
    }
}

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub line: u32,
}

/// A problem the tokenizer cannot get past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub line: u32,
    pub message: String,
}

/// Turns gotd.conf text into tokens, expanding macros.
pub struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    /// Whether `$name` is expanded (not inside a macro value).
    expand: bool,
    /// Tokens of a macro expansion not yet handed out.
    pending: VecDeque<Token>,
    macros: HashMap<String, String>,
}

impl Lexer {
    pub fn new(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
            expand: true,
            pending: VecDeque::new(),
            macros: HashMap::new(),
        }
    }

    /// Defines (or redefines) the macro `name`.
    pub fn define(&mut self, name: &str, value: &str) {
        self.macros.insert(name.to_owned(), value.to_owned());
    }

    fn raw(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Next character outside quotes: handles `\` escapes and line joins.
    fn getc(&mut self) -> Option<char> {
        loop {
            let c = self.raw()?;
            if c != '\\' {
                return Some(c);
            }
            match self.raw() {
                Some('\n') => self.line += 1,
                other => return other,
            }
        }
    }

    /// Reads one character outside quotes without consuming it.
    fn peekc(&mut self) -> Option<char> {
        let (pos, line) = (self.pos, self.line);
        let c = self.getc();
        self.pos = pos;
        self.line = line;
        c
    }

    /// The next token.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        loop {
            if let Some(token) = self.pending.pop_front() {
                return Ok(token);
            }
            while matches!(self.peekc(), Some(' ' | '\t')) {
                self.getc();
            }
            let line = self.line;
            if self.peekc() == Some('#') {
                while !matches!(self.peekc(), Some('\n') | None) {
                    self.getc();
                }
            }
            if self.expand && self.peekc() == Some('$') {
                self.getc();
                self.expand_macro(line)?;
                continue;
            }
            let kind = self.token_kind(line)?;
            return Ok(Token { kind, line });
        }
    }

    fn expand_macro(&mut self, line: u32) -> Result<(), LexError> {
        let mut name = String::new();
        while let Some(c) = self.peekc() {
            if !(c.is_ascii_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.getc();
        }
        let Some(value) = self.macros.get(&name) else {
            return Err(LexError {
                line,
                message: format!("macro '{name}' not defined"),
            });
        };
        let mut sub = Lexer::new(value);
        sub.expand = false;
        loop {
            let token = sub.next_token().map_err(|e| LexError { line, ..e })?;
            if token.kind == TokenKind::Eof {
                break;
            }
            self.pending.push_back(Token { line, ..token });
        }
        Ok(())
    }

    fn token_kind(&mut self, line: u32) -> Result<TokenKind, LexError> {
        let too_long = || LexError {
            line,
            message: "string too long".to_owned(),
        };
        let Some(c) = self.getc() else {
            return Ok(TokenKind::Eof);
        };
        match c {
            '\'' | '"' => return self.quoted(c, line),
            '\n' => {
                self.line += 1;
                return Ok(TokenKind::Newline);
            }
            _ => {}
        }

        let start = (self.pos, self.line);
        if c == '-' || c.is_ascii_digit() {
            let mut text = String::from(c);
            while let Some(d) = self.peekc().filter(char::is_ascii_digit) {
                text.push(d);
                self.getc();
                if text.len() > MAX_TOKEN_LEN {
                    return Err(too_long());
                }
            }
            let ends_number = match self.peekc() {
                None => true,
                Some(n) => n.is_ascii_whitespace() || matches!(n, ')' | ',' | '/' | '}' | '='),
            };
            if text == "-" {
                return Ok(TokenKind::Char('-'));
            }
            if ends_number {
                return text.parse::<i64>().map(TokenKind::Number).map_err(|_| {
                    let why = if c == '-' { "too small" } else { "too large" };
                    LexError {
                        line,
                        message: format!("\"{text}\" invalid number: {why}"),
                    }
                });
            }
            // Not a number after all (`2h`): read it again as a word.
            self.pos = start.0;
            self.line = start.1;
            if c == '-' {
                return Ok(TokenKind::Char('-'));
            }
        }

        if c.is_ascii_alphanumeric() || c == ':' || c == '_' {
            let mut word = String::from(c);
            while let Some(n) = self.peekc().filter(|&n| allowed_in_word(n)) {
                word.push(n);
                self.getc();
                if word.len() > MAX_TOKEN_LEN {
                    return Err(too_long());
                }
            }
            return Ok(match Keyword::lookup(&word) {
                Some(kw) => TokenKind::Keyword(kw),
                None => TokenKind::String(word),
            });
        }
        Ok(TokenKind::Char(c))
    }

    fn quoted(&mut self, quote: char, line: u32) -> Result<TokenKind, LexError> {
        let mut s = String::new();
        loop {
            let Some(c) = self.raw() else {
                // Point at the opening quote: that is what needs fixing.
                return Err(LexError {
                    line,
                    message: "reached end of file while parsing quoted string".to_owned(),
                });
            };
            match c {
                '\n' => {
                    self.line += 1;
                    continue;
                }
                '\\' => match self.chars.get(self.pos).copied() {
                    Some(n) if n == quote => {
                        self.pos += 1;
                        s.push(n);
                    }
                    Some('\n') => {
                        self.pos += 1;
                        self.line += 1;
                    }
                    _ => s.push('\\'),
                },
                c if c == quote => return Ok(TokenKind::String(s)),
                '\0' => {
                    return Err(LexError {
                        line: self.line,
                        message: "syntax error".to_owned(),
                    })
                }
                c => s.push(c),
            }
            if s.len() > MAX_TOKEN_LEN {
                return Err(LexError {
                    line,
                    message: "string too long".to_owned(),
                });
            }
        }
    }
}

fn allowed_in_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || (c.is_ascii_punctuation() && !matches!(c, '(' | ')' | '{' | '}' | '!' | '=' | '#' | ','))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn kinds(text: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().expect("lexes");
            if token.kind == TokenKind::Eof {
                return out;
            }
            out.push(token.kind);
        }
    }

    fn s(text: &str) -> TokenKind {
        TokenKind::String(text.to_owned())
    }

    #[rstest]
    #[case("16", vec![TokenKind::Number(16)])]
    #[case("-3", vec![TokenKind::Number(-3)])]
    #[case("2h", vec![s("2h")])]
    #[case("10.0.0.1", vec![s("10.0.0.1")])]
    #[case("16}", vec![TokenKind::Number(16), TokenKind::Char('}')])]
    #[case("user", vec![TokenKind::Keyword(Keyword::User)])]
    #[case("\"user\"", vec![s("user")])]
    #[case("'user'", vec![s("user")])]
    #[case(":porters", vec![s(":porters")])]
    #[case("ports-changes@example.com", vec![s("ports-changes@example.com")])]
    #[case("a=b", vec![s("a"), TokenKind::Char('='), s("b")])]
    #[case("x # comment\ny", vec![s("x"), TokenKind::Newline, s("y")])]
    #[case("# only a comment", vec![])]
    #[case("a \\\nb", vec![s("a"), s("b")])]
    #[case("\"a\\\"b\"", vec![s("a\"b")])]
    #[case("'it\\'s'", vec![s("it's")])]
    #[case("\"a\\nb\"", vec![s("a\\nb")])]
    #[case("\"a\\\nb\"", vec![s("ab")])]
    #[case("\"$x\"", vec![s("$x")])]
    #[case("{a}", vec![TokenKind::Char('{'), s("a"), TokenKind::Char('}')])]
    #[case("-", vec![TokenKind::Char('-')])]
    #[case("/abs", vec![TokenKind::Char('/'), s("abs")])]
    fn tokens(#[case] text: &str, #[case] expected: Vec<TokenKind>) {
        assert_eq!(kinds(text), expected);
    }

    #[test]
    fn macros_expand_to_several_tokens() {
        let mut lexer = Lexer::new("$m end");
        lexer.define("m", "permit rw \"x y\"");
        let mut got = Vec::new();
        loop {
            let t = lexer.next_token().unwrap();
            if t.kind == TokenKind::Eof {
                break;
            }
            got.push(t.kind);
        }
        assert_eq!(
            got,
            vec![
                TokenKind::Keyword(Keyword::Permit),
                TokenKind::Keyword(Keyword::Rw),
                s("x y"),
                s("end")
            ]
        );
    }

    #[test]
    fn lines_are_counted_across_continuations() {
        let mut lexer = Lexer::new("a \\\n b\n\"x\ny\" c");
        let lines: Vec<(TokenKind, u32)> = std::iter::from_fn(|| {
            let t = lexer.next_token().unwrap();
            (t.kind != TokenKind::Eof).then_some((t.kind, t.line))
        })
        .collect();
        assert_eq!(
            lines,
            vec![
                (s("a"), 1),
                (s("b"), 2),
                (TokenKind::Newline, 2),
                (s("xy"), 3),
                (s("c"), 4)
            ]
        );
    }

    #[rstest]
    #[case("$nope", "macro 'nope' not defined")]
    #[case("\"open", "reached end of file while parsing quoted string")]
    #[case(
        "99999999999999999999",
        "\"99999999999999999999\" invalid number: too large"
    )]
    fn lex_errors(#[case] text: &str, #[case] message: &str) {
        let mut lexer = Lexer::new(text);
        let err = loop {
            match lexer.next_token() {
                Ok(t) if t.kind == TokenKind::Eof => panic!("no error"),
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(err.message, message);
    }
}
