//! The receive-pack ref advertisement.
//!
//! As upstream gotd: no `HEAD` and no symbolic refs; every other ref under
//! `refs/` sorted by name, an annotated tag followed by its peeled
//! `<id> <ref>^{}` line; capabilities after a NUL on the first line, each
//! preceded by a space. An empty repository advertises
//! `0000000000000000000000000000000000000000 capabilities^{}` (without a
//! trailing newline, like upstream). A `version 1` line comes first when
//! the client asked for protocol v1; v2 is answered with v0, as git's own
//! receive-pack does (git pushes with v0 semantics).

use std::io;

use gix::ObjectId;
use gotd_wire::{pkt, Protocol};

use crate::output::Output;

/// Capabilities we offer, each preceded by a space.
pub(crate) const CAPABILITIES: &str =
    " report-status report-status-v2 delete-refs ofs-delta side-band-64k quiet atomic push-options";

#[derive(Debug)]
pub(crate) enum Error {
    Io(io::Error),
    Repo(String),
}

/// One advertised line: `(id, name)`.
pub(crate) fn list(repo: &gix::Repository) -> Result<Vec<(ObjectId, String)>, String> {
    let platform = repo
        .references()
        .map_err(|e| format!("could not read references: {e}"))?;
    let iter = platform
        .all()
        .map_err(|e| format!("could not read references: {e}"))?;
    let mut refs = Vec::new();
    for r in iter {
        // A damaged loose ref is skipped rather than failing every push.
        let Ok(mut r) = r else { continue };
        let Some(id) = r.target().try_id().map(|id| id.to_owned()) else {
            continue;
        };
        let name = r.name().as_bstr().to_string();
        if !name.starts_with("refs/") {
            continue;
        }
        let peeled = match repo.find_header(id) {
            Ok(h) if h.kind() == gix::objs::Kind::Tag => r.peel_to_id().ok().map(|p| p.detach()),
            _ => None,
        };
        refs.push((id, name.clone()));
        if let Some(p) = peeled {
            refs.push((p, format!("{name}^{{}}")));
        }
    }
    refs.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(refs)
}

/// Writes the advertisement and its flush.
pub(crate) fn write(
    out: &mut Output<'_>,
    repo: &gix::Repository,
    agent: &str,
    protocol: Protocol,
) -> Result<(), Error> {
    let refs = list(repo).map_err(Error::Repo)?;
    let w = out.raw();
    let mut buf = Vec::new();
    if protocol == Protocol::V1 {
        pkt::write_line(&mut buf, "version 1").map_err(Error::Io)?;
    }
    let caps = format!("{CAPABILITIES} agent={agent}");
    match refs.split_first() {
        None => {
            let line = format!("{} capabilities^{{}}\0{caps}", gix::hash::Kind::Sha1.null());
            pkt::write_data(&mut buf, line.as_bytes()).map_err(Error::Io)?;
        }
        Some(((id, name), rest)) => {
            pkt::write_line(&mut buf, &format!("{id} {name}\0{caps}")).map_err(Error::Io)?;
            for (id, name) in rest {
                pkt::write_line(&mut buf, &format!("{id} {name}")).map_err(Error::Io)?;
            }
        }
    }
    pkt::write_flush(&mut buf).map_err(Error::Io)?;
    w.write_all(&buf)
        .and_then(|()| w.flush())
        .map_err(Error::Io)
}
