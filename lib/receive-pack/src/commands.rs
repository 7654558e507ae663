//! The client's command list (`<old> <new> <ref>[\0caps]` lines up to a
//! flush) and, with `push-options`, the option lines that follow.
//!
//! Framing errors (bad pkt-lines, end of file) are fatal at once. A bad
//! line is remembered and the rest of the list is still read, so the caller
//! can drain the pack before answering with the error.

use gix::ObjectId;
use gotd_wire::pkt::{Packet, PktReader};
use std::io::Read;

/// One requested ref update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    pub old: ObjectId,
    pub new: ObjectId,
    pub name: String,
}

impl Command {
    pub(crate) fn is_create(&self) -> bool {
        self.old.is_null()
    }

    pub(crate) fn is_delete(&self) -> bool {
        self.new.is_null()
    }
}

/// Capabilities the client asked for (those we know).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    pub report_status: bool,
    pub report_status_v2: bool,
    pub side_band_64k: bool,
    pub atomic: bool,
    pub push_options: bool,
    pub quiet: bool,
    pub agent: Option<String>,
}

impl Capabilities {
    /// Parses the text after the NUL; returns whether any capability we
    /// advertise was named.
    fn parse(text: &str) -> (Capabilities, bool) {
        let mut caps = Capabilities::default();
        let mut known = false;
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            known |= match word {
                "report-status" => {
                    caps.report_status = true;
                    true
                }
                "report-status-v2" => {
                    caps.report_status_v2 = true;
                    true
                }
                "side-band-64k" => {
                    caps.side_band_64k = true;
                    true
                }
                "atomic" => {
                    caps.atomic = true;
                    true
                }
                "push-options" => {
                    caps.push_options = true;
                    true
                }
                "quiet" => {
                    caps.quiet = true;
                    true
                }
                "delete-refs" | "ofs-delta" => true,
                w if w.starts_with("agent=") => {
                    caps.agent = Some(w["agent=".len()..].to_string());
                    true
                }
                _ => false,
            };
        }
        (caps, known)
    }

    pub(crate) fn wants_report(&self) -> bool {
        self.report_status || self.report_status_v2
    }
}

/// Everything the client sent before the pack.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub commands: Vec<Command>,
    pub caps: Capabilities,
    pub push_options: Vec<String>,
    /// The first invalid line's error text, if any.
    pub error: Option<String>,
    /// Whether the client will send a pack: some line, valid or not, names
    /// a new object (git sends a pack unless every command deletes).
    pub expects_pack: bool,
}

/// Reads the command list. `Ok(None)`: the client closed the connection
/// without sending anything (e.g. `git ls-remote`).
/// `max_lines` bounds the command lines plus push options kept in memory.
pub(crate) fn read<R: Read>(
    reader: &mut PktReader<R>,
    max_lines: usize,
) -> Result<Option<Request>, String> {
    let mut req = Request::default();
    let mut first = true;
    let mut lines = 0usize;
    let mut count = || {
        lines += 1;
        if lines > max_lines {
            Err(format!(
                "more than {max_lines} ref updates and push options"
            ))
        } else {
            Ok(())
        }
    };
    loop {
        let packet = match reader.read_packet().map_err(|e| e.to_string())? {
            None if first => return Ok(None),
            None => return Err("unexpected end of file".into()),
            Some(p) => p,
        };
        let data = match packet {
            Packet::Flush => break,
            Packet::Data(d) => {
                count()?;
                d
            }
            Packet::Delim | Packet::ResponseEnd => {
                req.error
                    .get_or_insert_with(|| "bad packet received".into());
                continue;
            }
        };
        let line = data.strip_suffix(b"\n").unwrap_or(&data);
        let (line, caps) = match line.iter().position(|&b| b == 0) {
            Some(nul) => (&line[..nul], Some(&line[nul + 1..])),
            None => (line, None),
        };
        if first {
            first = false;
            let (parsed, known) =
                Capabilities::parse(&String::from_utf8_lossy(caps.unwrap_or_default()));
            req.caps = parsed;
            if !known {
                req.error
                    .get_or_insert_with(|| "unexpected ref-update-line received".into());
            }
        }
        req.expects_pack |= line
            .split(|&b| b == b' ')
            .nth(1)
            .is_some_and(|new| new.iter().any(|&b| b != b'0'));
        match parse_line(line) {
            Ok(c) => req.commands.push(c),
            Err(msg) => {
                req.error.get_or_insert(msg);
            }
        }
    }
    if req.caps.push_options && !req.commands.is_empty() {
        loop {
            match reader.expect_packet().map_err(|e| e.to_string())? {
                Packet::Flush => break,
                Packet::Data(d) => {
                    count()?;
                    let d = d.strip_suffix(b"\n").unwrap_or(&d);
                    req.push_options
                        .push(String::from_utf8_lossy(d).into_owned());
                }
                Packet::Delim | Packet::ResponseEnd => {
                    req.error
                        .get_or_insert_with(|| "bad packet received".into());
                }
            }
        }
    }
    Ok(Some(req))
}

/// Parses and validates `<old> <new> <ref>`.
pub(crate) fn parse_line(line: &[u8]) -> Result<Command, String> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("bad packet received".into());
    };
    let old = parse_id(old)?;
    let new = parse_id(new)?;
    let name =
        std::str::from_utf8(name).map_err(|_| "ref-update with bad reference name".to_string())?;
    validate_name(name)?;
    Ok(Command {
        old,
        new,
        name: name.to_string(),
    })
}

fn parse_id(hex: &[u8]) -> Result<ObjectId, String> {
    let bad = || "ref-update with bad object ID".to_string();
    if hex.len() != 40
        || !hex
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err(bad());
    }
    ObjectId::from_hex(hex).map_err(|_| bad())
}

/// Reference namespaces nobody may push to.
const ALWAYS_PROTECTED: [&str; 2] = ["refs/got/", "refs/remotes/"];

/// check-ref-format rules, then the namespaces gotd serves.
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    if gix::validate::reference::name_partial(name.into()).is_err() || name.ends_with('/') {
        return Err("ref-update with bad reference name".into());
    }
    if !name.starts_with("refs/") {
        return Err(format!(
            "{name}: does not begin with 'refs/': bad reference name"
        ));
    }
    if gix::validate::reference::name(name.into()).is_err() {
        return Err("ref-update with bad reference name".into());
    }
    if let Some(ns) = ALWAYS_PROTECTED.iter().find(|ns| name.starts_with(*ns)) {
        return Err(format!("{ns}: reference namespace is protected"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotd_wire::pkt::{write_data, write_flush};
    use rstest::rstest;

    const A: &str = "1111111111111111111111111111111111111111";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[rstest]
    #[case("refs/heads/main", None)]
    #[case("refs/tags/v1.0", None)]
    #[case("refs/heads/a/b", None)]
    #[case("HEAD", Some("HEAD: does not begin with 'refs/': bad reference name"))]
    #[case("main", Some("main: does not begin with 'refs/': bad reference name"))]
    #[case("refs/got/foo", Some("refs/got/: reference namespace is protected"))]
    #[case(
        "refs/remotes/origin/main",
        Some("refs/remotes/: reference namespace is protected")
    )]
    #[case("refs/heads/a..b", Some("ref-update with bad reference name"))]
    #[case("refs/heads/a b", Some("ref-update with bad reference name"))]
    #[case("refs/heads/x.lock", Some("ref-update with bad reference name"))]
    #[case("refs/heads/", Some("ref-update with bad reference name"))]
    #[case("refs/heads/~x", Some("ref-update with bad reference name"))]
    #[case("refs/heads//x", Some("ref-update with bad reference name"))]
    #[case("refs/heads/@{x}", Some("ref-update with bad reference name"))]
    fn names(#[case] name: &str, #[case] err: Option<&str>) {
        assert_eq!(validate_name(name).err().as_deref(), err);
    }

    #[rstest]
    #[case(format!("{A} {A} refs/heads/x"), None)]
    #[case(format!("{} {A} refs/heads/x", "ABCDEF".repeat(7)[..40].to_string()), Some("ref-update with bad object ID"))]
    #[case(format!("{A}0 {A} refs/heads/x"), Some("ref-update with bad object ID"))]
    #[case(format!("{A} zz refs/heads/x"), Some("ref-update with bad object ID"))]
    #[case(format!("{A} {A}"), Some("bad packet received"))]
    #[case(format!("{A} {A} refs/heads/\u{1}"), Some("ref-update with bad reference name"))]
    fn lines(#[case] line: String, #[case] err: Option<&str>) {
        assert_eq!(parse_line(line.as_bytes()).err().as_deref(), err);
    }

    fn read_bytes(input: &[u8]) -> Result<Option<Request>, String> {
        read(&mut PktReader::new(input), 100)
    }

    fn framed(lines: &[&str], options: Option<&[&str]>) -> Vec<u8> {
        let mut buf = Vec::new();
        for l in lines {
            write_data(&mut buf, l.as_bytes()).unwrap();
        }
        write_flush(&mut buf).unwrap();
        if let Some(opts) = options {
            for o in opts {
                write_data(&mut buf, format!("{o}\n").as_bytes()).unwrap();
            }
            write_flush(&mut buf).unwrap();
        }
        buf
    }

    #[test]
    fn reads_commands_caps_and_options() {
        let first = format!(
            "{Z} {A} refs/heads/new\0 report-status side-band-64k push-options agent=git/2.47\n"
        );
        let second = format!("{A} {Z} refs/heads/old\n");
        let req = read_bytes(&framed(&[&first, &second], Some(&["ci.skip", "x=y"])))
            .unwrap()
            .unwrap();
        assert_eq!(req.error, None);
        assert_eq!(req.commands.len(), 2);
        assert!(req.commands[0].is_create());
        assert!(req.commands[1].is_delete());
        assert!(req.caps.report_status && req.caps.side_band_64k && req.caps.push_options);
        assert!(!req.caps.atomic);
        assert_eq!(req.caps.agent.as_deref(), Some("git/2.47"));
        assert_eq!(req.push_options, vec!["ci.skip", "x=y"]);
        assert!(req.expects_pack);
    }

    #[test]
    fn first_line_needs_a_known_capability() {
        let first = format!("{Z} {A} refs/heads/new\0 frobnicate");
        let req = read_bytes(&framed(&[&first], None)).unwrap().unwrap();
        assert_eq!(
            req.error.as_deref(),
            Some("unexpected ref-update-line received")
        );
        let plain = format!("{Z} {A} refs/heads/new");
        let req = read_bytes(&framed(&[&plain], None)).unwrap().unwrap();
        assert_eq!(
            req.error.as_deref(),
            Some("unexpected ref-update-line received")
        );
    }

    #[test]
    fn first_bad_line_wins_and_the_list_is_read_to_the_end() {
        let first = format!("{Z} {A} refs/got/x\0 report-status");
        let second = format!("{Z} {A} HEAD");
        let input = framed(&[&first, &second], None);
        let mut reader = PktReader::new(&input[..]);
        let req = read(&mut reader, 100).unwrap().unwrap();
        assert_eq!(
            req.error.as_deref(),
            Some("refs/got/: reference namespace is protected")
        );
        assert_eq!(
            reader.read_packet().unwrap(),
            None,
            "the flush was consumed"
        );
    }

    #[rstest]
    #[case(b"".as_slice(), Ok(None))]
    #[case(b"0000".as_slice(), Ok(Some(0)))]
    #[case(b"0032abc".as_slice(), Err("unexpected end of file"))]
    #[case(b"0003".as_slice(), Err("packet too short"))]
    fn framing(#[case] input: &[u8], #[case] expected: Result<Option<usize>, &str>) {
        let got = read_bytes(input).map(|r| r.map(|r| r.commands.len()));
        assert_eq!(got, expected.map_err(String::from));
    }

    #[test]
    fn line_limit() {
        let first = format!("{Z} {A} refs/heads/new\0 report-status push-options");
        let input = framed(&[&first, &first], Some(&["a"]));
        assert!(read(&mut PktReader::new(&input[..]), 3).is_ok());
        assert_eq!(
            read(&mut PktReader::new(&input[..]), 2).unwrap_err(),
            "more than 2 ref updates and push options"
        );
    }

    #[test]
    fn eof_inside_the_list_is_an_error() {
        let first = format!("{Z} {A} refs/heads/new\0 report-status");
        let mut buf = Vec::new();
        write_data(&mut buf, first.as_bytes()).unwrap();
        assert_eq!(read_bytes(&buf).unwrap_err(), "unexpected end of file");
    }
}
