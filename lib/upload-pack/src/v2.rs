//! Protocol v2 (gitprotocol-v2(5)): capability advertisement, then a loop
//! of `ls-refs` and `fetch` commands until the client closes or flushes.

use std::io::{Read, Write};

use gix::bstr::{BStr, BString, ByteSlice};
use gotd_wire::pkt::{self, Packet, PktReader};

use crate::bitmap::SharedBitmap;

use crate::failure::io;
use crate::refs::{Head, Refs};
use crate::request::{ClientCaps, FetchRequest, Sideband};
use crate::v0::{check_want, is_commit_or_tag, parse_id};
use crate::{pack, Fail, Options};

/// The v2 capability advertisement.
pub fn capabilities(agent: &str) -> Vec<String> {
    vec![
        "version 2".into(),
        format!("agent={agent}"),
        "ls-refs=unborn".into(),
        "fetch=shallow".into(),
        "object-format=sha1".into(),
    ]
}

pub(crate) fn serve(
    repo: &gix::Repository,
    input: &mut dyn Read,
    output: &mut dyn Write,
    opts: &Options,
) -> Result<(), Fail> {
    let mut advert = Vec::new();
    for line in capabilities(&opts.agent) {
        pkt::write_line(&mut advert, &line).map_err(io)?;
    }
    pkt::write_flush(&mut advert).map_err(io)?;
    output
        .write_all(&advert)
        .and_then(|_| output.flush())
        .map_err(io)?;

    let mut rd = PktReader::new_v2(input);
    while let Some(cmd) = read_command(&mut rd)? {
        crate::trace(|| format!("command {}", cmd.name.as_bstr()));
        match cmd.name.as_slice() {
            b"ls-refs" => ls_refs(repo, &cmd.args, output)?,
            b"fetch" => fetch(repo, &cmd.args, output, opts)?,
            other => {
                return Err(Fail::new(format!("invalid command '{}'", other.as_bstr())));
            }
        }
        output.flush().map_err(io)?;
    }
    Ok(())
}

/// One request: `command=<name>`, capability lines, `0001`, arguments, `0000`.
struct Command {
    name: Vec<u8>,
    args: Vec<Vec<u8>>,
}

/// Reads the next command; `None` when the client is done (end of input,
/// or a flush instead of a command).
fn read_command(rd: &mut PktReader<&mut dyn Read>) -> Result<Option<Command>, Fail> {
    let first = match rd.read_packet()? {
        None | Some(Packet::Flush) => return Ok(None),
        Some(p @ Packet::Data(_)) => p.text().unwrap_or_default().to_vec(),
        Some(_) => return Err(Fail::new("bad packet received")),
    };
    let Some(name) = first.strip_prefix(b"command=") else {
        return Err(Fail::new(format!("unexpected line: '{}'", first.as_bstr())));
    };
    let mut cmd = Command {
        name: name.to_vec(),
        args: Vec::new(),
    };
    // Capability lines (agent=, object-format=, server-option=): accepted.
    loop {
        match rd.expect_packet()? {
            Packet::Delim => break,
            Packet::Flush => return Ok(Some(cmd)),
            Packet::Data(d) => {
                let line = d.strip_suffix(b"\n").unwrap_or(&d);
                if line.starts_with(b"object-format=") && line != b"object-format=sha1" {
                    return Err(Fail::new("mismatched object format"));
                }
            }
            Packet::ResponseEnd => return Err(Fail::new("bad packet received")),
        }
    }
    loop {
        match rd.expect_packet()? {
            Packet::Flush => return Ok(Some(cmd)),
            p @ Packet::Data(_) => cmd.args.push(p.text().unwrap_or_default().to_vec()),
            _ => return Err(Fail::new("bad packet received")),
        }
    }
}

fn ls_refs(repo: &gix::Repository, args: &[Vec<u8>], output: &mut dyn Write) -> Result<(), Fail> {
    let (mut symrefs, mut peel, mut unborn) = (false, false, false);
    let mut prefixes: Vec<BString> = Vec::new();
    for a in args {
        match a.as_slice() {
            b"symrefs" => symrefs = true,
            b"peel" => peel = true,
            b"unborn" => unborn = true,
            a if a.starts_with(b"ref-prefix ") => prefixes.push(a[11..].into()),
            a => return Err(Fail::new(format!("unexpected line: '{}'", a.as_bstr()))),
        }
    }
    let wanted = |name: &BStr| prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p));
    let refs = Refs::read(repo)?;
    let mut out = Vec::new();
    let mut line = |s: String| pkt::write_line(&mut out, &s);
    if wanted(b"HEAD".as_bstr()) {
        match &refs.head {
            Head::Symbolic { id, target } if symrefs => {
                line(format!("{} HEAD symref-target:{target}", id.to_hex()))
            }
            Head::Symbolic { id, .. } | Head::Detached { id } => {
                line(format!("{} HEAD", id.to_hex()))
            }
            Head::Unborn { target } if unborn && symrefs => {
                line(format!("unborn HEAD symref-target:{target}"))
            }
            Head::Unborn { .. } if unborn => line("unborn HEAD".into()),
            _ => Ok(()),
        }
        .map_err(io)?;
    }
    for r in refs.refs.iter().filter(|r| wanted(r.name.as_bstr())) {
        let mut s = format!("{} {}", r.id.to_hex(), r.name);
        if let (true, Some(p)) = (peel, r.peeled) {
            s.push_str(&format!(" peeled:{}", p.to_hex()));
        }
        line(s).map_err(io)?;
    }
    pkt::write_flush(&mut out).map_err(io)?;
    output.write_all(&out).map_err(io)
}

fn fetch(
    repo: &gix::Repository,
    args: &[Vec<u8>],
    output: &mut dyn Write,
    opts: &Options,
) -> Result<(), Fail> {
    let mut req = FetchRequest {
        caps: ClientCaps {
            sideband: Sideband::Large,
            ..ClientCaps::default()
        },
        ..FetchRequest::default()
    };
    let mut done = false;
    let mut seen = gix::hashtable::HashSet::default();
    for a in args {
        let a = a.as_slice();
        if let Some(hex) = a.strip_prefix(b"want ") {
            let id = parse_id(hex)?;
            check_want(repo, id)?;
            if !req.wants.contains(&id) {
                req.wants.push(id);
            }
        } else if let Some(hex) = a.strip_prefix(b"have ") {
            let id = parse_id(hex)?;
            if seen.insert(id) && is_commit_or_tag(repo, id) {
                req.common.push(id);
            }
        } else if crate::v0::parse_shallow_line(repo, a, &mut req)? {
            // `shallow` / `deepen`: recorded in the request.
        } else {
            match a {
                b"done" => done = true,
                b"thin-pack" => req.caps.thin_pack = true,
                b"no-progress" => req.caps.no_progress = true,
                b"include-tag" => req.caps.include_tag = true,
                b"ofs-delta" => req.caps.ofs_delta = true,
                _ => return Err(Fail::new(format!("unexpected line: '{}'", a.as_bstr()))),
            }
        }
    }
    if req.wants.is_empty() {
        return Err(Fail::new("expected want"));
    }
    let shallow_info = req.apply_shallow(repo)?;
    let bitmap = SharedBitmap::new(repo, opts.use_bitmaps);
    crate::trace(|| {
        format!(
            "parsed {} wants, {} common",
            req.wants.len(),
            req.common.len()
        )
    });
    if !done {
        let ready = crate::ready::ok_to_give_up(repo, &req.wants, &req.common, &bitmap);
        crate::trace(|| format!("ready: {ready}"));
        let mut out = Vec::new();
        pkt::write_line(&mut out, "acknowledgments").map_err(io)?;
        if req.common.is_empty() {
            pkt::write_line(&mut out, "NAK").map_err(io)?;
        }
        for id in &req.common {
            pkt::write_line(&mut out, &format!("ACK {}", id.to_hex())).map_err(io)?;
        }
        if !ready {
            pkt::write_flush(&mut out).map_err(io)?;
            return output.write_all(&out).map_err(io);
        }
        // Ready: the packfile section follows in this same response.
        pkt::write_line(&mut out, "ready").map_err(io)?;
        pkt::write_delim(&mut out).map_err(io)?;
        output.write_all(&out).map_err(io)?;
    }
    if let Some(info) = shallow_info {
        let mut out = Vec::new();
        pkt::write_line(&mut out, "shallow-info").map_err(io)?;
        for id in &info.shallow {
            pkt::write_line(&mut out, &format!("shallow {}", id.to_hex())).map_err(io)?;
        }
        for id in &info.unshallow {
            pkt::write_line(&mut out, &format!("unshallow {}", id.to_hex())).map_err(io)?;
        }
        pkt::write_delim(&mut out).map_err(io)?;
        output.write_all(&out).map_err(io)?;
    }
    let refs = Refs::read(repo)?;
    crate::trace(|| "refs read".into());
    pack::send(repo, &req, &refs, output, opts, pack::Framing::V2, &bitmap)
}
