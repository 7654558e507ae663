//! Mail notifications: the message for one updated ref, and a minimal SMTP
//! client that hands it to a relay (plain SMTP, as upstream: `HELO`,
//! `MAIL FROM`, `RCPT TO`, `DATA`, `QUIT`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::date;
use crate::summary::{Change, DiffStat, RefSummary};
use crate::Error;

/// Who a mail goes to and where it is relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub from: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub relay_host: String,
    pub relay_port: u16,
}

/// `<repo>: <user> <created|removed|changed> <ref>: <id12>`.
pub fn subject(repo: &str, user: &str, s: &RefSummary) -> String {
    let id = s.subject_id();
    format!(
        "{repo}: {user} {} {}: {}",
        s.change.verb(),
        s.refname,
        &id[..id.len().min(12)]
    )
}

fn indented(out: &mut String, message: &str) {
    out.push_str(&format!("messagelen: {}\n \n", message.len()));
    for line in message.lines() {
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(" \n");
}

fn plural(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One line per listed file (`" M  path  |  1+  1-"`, paths padded to the
/// longest, counts right-aligned), `... and N more files`, a blank line,
/// the summary line and a blank line.
fn diffstat(out: &mut String, d: &DiffStat) {
    let width = |n: u64| n.to_string().len();
    let path_w = d.files.iter().map(|f| f.path.chars().count()).max();
    let added_w = d.files.iter().map(|f| width(f.added)).max();
    let removed_w = d.files.iter().map(|f| width(f.removed)).max();
    for f in &d.files {
        out.push_str(&format!(
            " {}  {:<pw$}  | {:>aw$}+ {:>rw$}-\n",
            f.action.letter(),
            f.path,
            f.added,
            f.removed,
            pw = path_w.unwrap_or(0),
            aw = added_w.unwrap_or(1) + 1,
            rw = removed_w.unwrap_or(1) + 1,
        ));
    }
    if d.more_files > 0 {
        out.push_str(&format!("... and {} more files\n", d.more_files));
    }
    let (added, removed) = d.total();
    out.push_str(&format!(
        "\n{} changed, {}(+), {}(-)\n\n",
        plural(d.changed_files() as u64, "file"),
        plural(added, "insertion"),
        plural(removed, "deletion"),
    ));
}

/// The text of the mail body (lines end with `\n`).
pub fn body(s: &RefSummary) -> String {
    let mut out = String::new();
    if s.change == Change::Removed {
        out.push_str(&format!("Removed {}: {}\n", s.refname, s.old));
        return out;
    }
    if let Some(t) = &s.tag {
        out.push_str(&format!("tag {}\n", s.refname));
        out.push_str(&format!("from: {}\n", t.tagger.full()));
        out.push_str(&format!("date: {}\n", date::long(t.time)));
        out.push_str(&format!("object: {} {}\n", t.object_kind, t.object_id));
        indented(&mut out, &t.message);
        return out;
    }
    if s.is_short() {
        for c in &s.commits {
            let user: String = c.author.user().chars().take(8).collect();
            out.push_str(&format!(
                "{} {} {} {}\n",
                date::short(c.time),
                &c.id[..7],
                user,
                c.short_message()
            ));
        }
    } else {
        for c in &s.commits {
            out.push_str(&format!("commit {}\n", c.id));
            out.push_str(&format!("from: {}\n", c.author.full()));
            out.push_str(&format!("date: {}\n", date::long(c.time)));
            indented(&mut out, &c.message);
            match &c.diffstat {
                Some(d) => diffstat(&mut out, d),
                None => out.push('\n'),
            }
        }
    }
    let unlisted = s.total_commits.saturating_sub(s.commits.len());
    if unlisted > 0 {
        out.push_str(&format!("... and {unlisted} more commits\n"));
    }
    out
}

/// Header values must be one line.
fn header_value(v: &str) -> String {
    v.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The whole message as sent after `DATA`: headers, a blank line, the body,
/// with CRLF line ends, dot-stuffed, and the final `.` line.
pub fn message(env: &Envelope, subject: &str, body: &str, now: i64) -> String {
    let mut m = String::new();
    m.push_str(&format!("From: {}\r\n", header_value(&env.from)));
    m.push_str(&format!("To: {}\r\n", header_value(&env.to)));
    if let Some(r) = &env.reply_to {
        m.push_str(&format!("Reply-To: {}\r\n", header_value(r)));
    }
    m.push_str(&format!("Subject: {}\r\n", header_value(subject)));
    m.push_str(&format!("Date: {}\r\n", date::rfc5322(now)));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: 8bit\r\n");
    m.push_str("\r\n");
    for line in body.lines() {
        if line.starts_with('.') {
            m.push('.');
        }
        m.push_str(line);
        m.push_str("\r\n");
    }
    m.push_str(".\r\n");
    m
}

/// One SMTP conversation.
struct Session {
    server: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Session {
    /// Reads a (possibly multi-line) reply and checks its code.
    fn expect(&mut self, ok: &[u32]) -> Result<(), Error> {
        let last = loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(self.fail("connection closed"));
            }
            if line.len() > 1000 {
                return Err(self.fail("reply line too long"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                break line.trim_end().to_string();
            }
        };
        let code: u32 = last.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if ok.contains(&code) {
            Ok(())
        } else {
            Err(self.fail(&format!("unexpected reply: {last}")))
        }
    }

    fn send(&mut self, line: &str) -> Result<(), Error> {
        self.writer.write_all(line.as_bytes())?;
        Ok(())
    }

    fn fail(&self, reply: &str) -> Error {
        Error::Smtp {
            server: self.server.clone(),
            reply: reply.to_string(),
        }
    }
}

/// Addresses are sent in angle brackets; strip any the config has.
fn bare(addr: &str) -> String {
    header_value(addr.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// Sends `data` (from [`message`]) through the relay of `env`, with
/// `timeout` on connecting and on every read and write.
pub fn send(env: &Envelope, data: &str, timeout: Duration) -> Result<(), Error> {
    let server = format!("{}:{}", env.relay_host, env.relay_port);
    let mut last_err = None;
    let mut stream = None;
    for addr in (env.relay_host.as_str(), env.relay_port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            return Err(Error::Smtp {
                server,
                reply: last_err.map_or("no address".into(), |e| e.to_string()),
            })
        }
    };
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut s = Session {
        server,
        reader: BufReader::new(stream.try_clone()?),
        writer: stream,
    };
    s.expect(&[220])?;
    s.send("HELO localhost\r\n")?;
    s.expect(&[250])?;
    s.send(&format!("MAIL FROM:<{}>\r\n", bare(&env.from)))?;
    s.expect(&[250])?;
    s.send(&format!("RCPT TO:<{}>\r\n", bare(&env.to)))?;
    s.expect(&[250, 251])?;
    s.send("DATA\r\n")?;
    s.expect(&[354])?;
    s.send(data)?;
    s.expect(&[250])?;
    s.send("QUIT\r\n")?;
    // The message is accepted; a relay that closes without a reply is fine.
    let _ = s.expect(&[221]);
    Ok(())
}
