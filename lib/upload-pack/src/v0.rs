//! Protocol v0/v1: advertisement, then the want/have/done state machine.
//!
//! ```text
//! want <id> <caps>   first want: must carry at least one capability we know
//! want <id>          more wants, no capabilities
//! 0000               end of wants (before any want: end of an ls-remote)
//! have <id> … 0000   rounds of haves, each answered when its flush arrives
//! done               final ACK/NAK, then the pack
//! ```

use std::io::{Read, Write};

use gix::ObjectId;
use gotd_wire::pkt::{self, Packet, PktReader};

use crate::bitmap::SharedBitmap;
use crate::failure::io;
use crate::refs::Refs;
use crate::request::{AckMode, ClientCaps, FetchRequest};
use crate::{advertise, pack, Fail, Options, Protocol};

pub(crate) fn serve(
    repo: &gix::Repository,
    input: &mut dyn Read,
    output: &mut dyn Write,
    opts: &Options,
) -> Result<(), Fail> {
    let refs = Refs::read(repo)?;
    advertise::write(output, &refs, &opts.agent, opts.protocol == Protocol::V1).map_err(io)?;
    output.flush().map_err(io)?;
    let mut rd = PktReader::new(input);
    let bitmap = SharedBitmap::new(repo, opts.use_bitmaps);
    let Some(req) = negotiate(repo, &mut rd, output, &bitmap)? else {
        return Ok(());
    };
    pack::send(repo, &req, &refs, output, opts, pack::Framing::V0, &bitmap)
}

/// Runs the want and have phases. `None` means the client only wanted the
/// advertisement (a flush, then end of input).
pub(crate) fn negotiate(
    repo: &gix::Repository,
    rd: &mut PktReader<&mut dyn Read>,
    output: &mut dyn Write,
    bitmap: &SharedBitmap<'_>,
) -> Result<Option<FetchRequest>, Fail> {
    let mut req = FetchRequest::default();
    loop {
        let line = match rd.read_packet()? {
            None => return Err(gotd_wire::pkt::PktError::Eof.into()),
            Some(Packet::Flush) if req.wants.is_empty() => {
                return if at_end(rd.get_mut())? {
                    Ok(None)
                } else {
                    Err(Fail::new("unexpected flush packet received"))
                };
            }
            Some(Packet::Flush) => break,
            Some(p) => p.text().unwrap_or_default().to_vec(),
        };
        if let Some(rest) = line.strip_prefix(b"want ") {
            let (hex, caps) = split_id(rest);
            if req.wants.is_empty() {
                req.caps = parse_caps(caps)?;
            } else if !caps.is_empty() {
                return Err(Fail::new("unexpected capability announcement received"));
            }
            let id = parse_id(hex)?;
            check_want(repo, id)?;
            if !req.wants.contains(&id) {
                req.wants.push(id);
            }
        } else if !req.wants.is_empty() && parse_shallow_line(repo, &line, &mut req)? {
            // `shallow` / `deepen`: recorded in the request.
        } else {
            return Err(unexpected(&line));
        }
    }
    if let Some(info) = req.apply_shallow(repo)? {
        let mut buf = Vec::new();
        for id in &info.shallow {
            pkt::write_line(&mut buf, &format!("shallow {}", id.to_hex())).map_err(io)?;
        }
        for id in &info.unshallow {
            pkt::write_line(&mut buf, &format!("unshallow {}", id.to_hex())).map_err(io)?;
        }
        pkt::write_flush(&mut buf).map_err(io)?;
        output
            .write_all(&buf)
            .and_then(|_| output.flush())
            .map_err(io)?;
    }
    haves(repo, rd, output, &mut req, bitmap)?;
    Ok(Some(req))
}

/// The have rounds up to and including `done`.
fn haves(
    repo: &gix::Repository,
    rd: &mut PktReader<&mut dyn Read>,
    output: &mut dyn Write,
    req: &mut FetchRequest,
    bitmap: &SharedBitmap<'_>,
) -> Result<(), Fail> {
    let mode = req.caps.ack;
    let mut acked = false;
    let mut ready = false;
    let mut new_common = false;
    let mut buf = Vec::new();
    let mut seen = gix::hashtable::HashSet::default();
    loop {
        let line = match rd.read_packet()? {
            None => return Err(gotd_wire::pkt::PktError::Eof.into()),
            Some(Packet::Flush) => {
                // multi_ack_detailed: once every want reaches a common
                // commit, say so; the client then stops sending haves.
                if mode == AckMode::Detailed && !ready && new_common {
                    new_common = false;
                    if crate::ready::ok_to_give_up(repo, &req.wants, &req.common, bitmap) {
                        ready = true;
                        let last = req.common.last().expect("common").to_hex();
                        pkt::write_line(&mut buf, &format!("ACK {last} ready")).map_err(io)?;
                    }
                }
                if mode != AckMode::Single || !acked {
                    pkt::write_line(&mut buf, "NAK").map_err(io)?;
                }
                output
                    .write_all(&buf)
                    .and_then(|_| output.flush())
                    .map_err(io)?;
                buf.clear();
                continue;
            }
            Some(p) => p.text().unwrap_or_default().to_vec(),
        };
        if let Some(rest) = line.strip_prefix(b"have ") {
            let id = parse_id(rest)?;
            if !seen.insert(id) || !is_commit_or_tag(repo, id) {
                continue;
            }
            req.common.push(id);
            new_common = true;
            let hex = id.to_hex();
            match mode {
                AckMode::Detailed => pkt::write_line(&mut buf, &format!("ACK {hex} common")),
                AckMode::Multi => pkt::write_line(&mut buf, &format!("ACK {hex} continue")),
                AckMode::Single if !acked => {
                    acked = true;
                    pkt::write_line(&mut buf, &format!("ACK {hex}"))
                }
                AckMode::Single => Ok(()),
            }
            .map_err(io)?;
        } else if line == b"done" {
            match req.common.last() {
                Some(last) if mode != AckMode::Single => {
                    pkt::write_line(&mut buf, &format!("ACK {}", last.to_hex()))
                }
                Some(_) => Ok(()),
                None => pkt::write_line(&mut buf, "NAK"),
            }
            .map_err(io)?;
            output
                .write_all(&buf)
                .and_then(|_| output.flush())
                .map_err(io)?;
            return Ok(());
        } else {
            return Err(unexpected(&line));
        }
    }
}

/// Handles `shallow <id>` and `deepen <n>`; false for any other line.
/// Unknown shallow ids are ignored (the client may have more than we do).
pub(crate) fn parse_shallow_line(
    repo: &gix::Repository,
    line: &[u8],
    req: &mut FetchRequest,
) -> Result<bool, Fail> {
    if let Some(hex) = line.strip_prefix(b"shallow ") {
        let id = parse_id(hex)?;
        if matches!(
            repo.find_header(id).map(|h| h.kind()),
            Ok(gix::object::Kind::Commit)
        ) {
            req.client_shallow.insert(id);
        }
        Ok(true)
    } else if let Some(n) = line.strip_prefix(b"deepen ") {
        let depth = std::str::from_utf8(n)
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| Fail::new("bad packet received"))?;
        req.deepen = Some(depth);
        Ok(true)
    } else {
        Ok(false)
    }
}

/// The error for a line that is not valid at this point.
fn unexpected(line: &[u8]) -> Fail {
    if line.starts_with(b"want ") {
        Fail::new("unexpected 'want' packet")
    } else if line.starts_with(b"have ") {
        Fail::new("unexpected 'have' packet")
    } else if line == b"done" {
        Fail::new("unexpected 'done' packet")
    } else {
        Fail::new("bad packet received")
    }
}

/// True if the input has ended (the byte after a flush is the end of the stream).
fn at_end(input: &mut dyn Read) -> Result<bool, Fail> {
    let mut b = [0u8; 1];
    loop {
        match input.read(&mut b) {
            Ok(0) => return Ok(true),
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Fail::internal("read", e)),
        }
    }
}

/// Splits `<id>[ <caps>]`.
fn split_id(rest: &[u8]) -> (&[u8], &[u8]) {
    match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[]),
    }
}

/// Parses the capabilities of the first want; at least one must be known.
pub(crate) fn parse_caps(caps: &[u8]) -> Result<ClientCaps, Fail> {
    let mut parsed = ClientCaps::default();
    let mut known = 0;
    for word in caps.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if parsed.apply(word) {
            known += 1;
        }
    }
    if known == 0 {
        return Err(Fail::new("unexpected want-line received"));
    }
    Ok(parsed)
}

/// Parses a 40-digit hex id.
pub(crate) fn parse_id(hex: &[u8]) -> Result<ObjectId, Fail> {
    if hex.len() != 40 {
        return Err(Fail::new("bad packet received"));
    }
    ObjectId::from_hex(hex).map_err(|_| Fail::new("bad packet received"))
}

/// A want must name an existing commit or tag.
pub(crate) fn check_want(repo: &gix::Repository, id: ObjectId) -> Result<(), Fail> {
    match repo.find_header(id) {
        Ok(h) if matches!(h.kind(), gix::object::Kind::Commit | gix::object::Kind::Tag) => Ok(()),
        Ok(_) => Err(Fail::new("wrong type of object")),
        Err(_) => Err(Fail::new(format!("object {} not found", id.to_hex()))),
    }
}

/// Haves count as common only if they are commits or tags we have.
pub(crate) fn is_commit_or_tag(repo: &gix::Repository, id: ObjectId) -> bool {
    matches!(
        repo.find_header(id).map(|h| h.kind()),
        Ok(gix::object::Kind::Commit | gix::object::Kind::Tag)
    )
}
