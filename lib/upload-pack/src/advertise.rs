//! The protocol v0/v1 ref advertisement.
//!
//! HEAD comes first (only if it resolves) carrying the capabilities after a
//! NUL, then every ref sorted by name, each annotated tag followed by its
//! peeled `<ref>^{}` line, then a flush. An empty repository advertises
//! `<zero-id> capabilities^{}` with the capabilities and no newline.

use std::io::{self, Write};

use gotd_wire::pkt;

use crate::refs::Refs;

/// The capabilities we advertise in v0/v1, in order, without `symref=` and
/// `agent=` (added per exchange).
pub const CAPABILITIES: &[&str] = &[
    "multi_ack",
    "thin-pack",
    "side-band",
    "side-band-64k",
    "ofs-delta",
    "no-progress",
    "include-tag",
    "multi_ack_detailed",
    "shallow",
    "object-format=sha1",
];

/// The capability string sent after the NUL: each capability preceded by
/// one space.
pub fn capability_string(refs: &Refs, agent: &str) -> String {
    let mut s = String::new();
    for c in CAPABILITIES {
        s.push(' ');
        s.push_str(c);
    }
    if let Some(target) = refs.head_symref() {
        s.push_str(" symref=HEAD:");
        s.push_str(&target.to_string());
    }
    s.push_str(" agent=");
    s.push_str(agent);
    s
}

/// Writes the whole advertisement, flush included. `version_1` prefixes
/// the `version 1` line of protocol v1.
pub fn write(out: &mut dyn Write, refs: &Refs, agent: &str, version_1: bool) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    if version_1 {
        pkt::write_line(&mut out, "version 1")?;
    }
    let caps = capability_string(refs, agent);
    let mut first = true;
    let mut line = Vec::new();
    let mut emit = |out: &mut io::BufWriter<&mut dyn Write>,
                    id: &gix::oid,
                    name: &[u8],
                    suffix: &[u8]|
     -> io::Result<()> {
        line.clear();
        line.extend_from_slice(id.to_hex().to_string().as_bytes());
        line.push(b' ');
        line.extend_from_slice(name);
        line.extend_from_slice(suffix);
        if first {
            line.push(0);
            line.extend_from_slice(caps.as_bytes());
            first = false;
        }
        line.push(b'\n');
        pkt::write_data(out, &line)
    };
    if let Some(id) = refs.head_id() {
        emit(&mut out, &id, b"HEAD", b"")?;
    }
    for r in &refs.refs {
        emit(&mut out, &r.id, &r.name, b"")?;
        if let Some(peeled) = r.peeled {
            emit(&mut out, &peeled, &r.name, b"^{}")?;
        }
    }
    if first {
        let mut line = Vec::new();
        line.extend_from_slice(b"0000000000000000000000000000000000000000 capabilities^{}\0");
        line.extend_from_slice(caps.as_bytes());
        pkt::write_data(&mut out, &line)?;
    }
    pkt::write_flush(&mut out)?;
    out.flush()
}
