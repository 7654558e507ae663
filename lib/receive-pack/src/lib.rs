//! The server side of `git-receive-pack`: ref advertisement, command list,
//! pack intake, protection rules, durable ref updates and report-status.
//!
//! [`serve`] runs one whole exchange on a client's input and output. It is
//! called by gotd's write child after the child has sandboxed itself.
//!
//! The order of work for one push:
//! 1. advertise the refs (`advertise`);
//! 2. read and validate the command list and push options (`commands`);
//! 3. refuse forbidden commands that need no pack (`protect`) — after
//!    draining the client's pack, so the client sees the error;
//! 4. index the pack into a private quarantine directory (`pack`), check
//!    its connectivity (`connectivity`) and the remaining protection rules;
//! 5. lock and compare-and-swap the refs, move the fsynced pack into
//!    `objects/pack`, commit the refs and fsync them (`refs`);
//! 6. send report-status (`report`).
//!
//! A push that fails before step 5 leaves no file behind: the quarantine is
//! removed when it is dropped. A writer killed with SIGKILL leaves only its
//! quarantine directory, which [`remove_stale_temporaries`] removes.

mod advertise;
mod commands;
mod connectivity;
mod durable;
mod objects;
mod output;
mod pack;
mod protect;
mod refs;
mod report;
mod stale;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

pub use gotd_config::Protection;
pub use gotd_wire::Protocol;
pub use stale::{enter_writer, remove_stale_temporaries, WriterGuard};

use commands::Command;
use output::Output;

/// Resource limits for one push.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest pack accepted, in bytes (default 2 GiB).
    pub max_pack_bytes: u64,
    /// Largest object count in a pack header (default 10 million).
    pub max_objects: u32,
    /// Largest decoded object or delta buffer while indexing (default 512 MiB).
    pub alloc_limit_bytes: usize,
    /// Most command lines plus push options accepted (default 100,000).
    pub max_commands: usize,
    /// Threads used to index and check a pack (`None`: all cores).
    pub thread_limit: Option<usize>,
    /// How long to wait for a ref lock held by a concurrent push.
    pub lock_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pack_bytes: 2 << 30,
            max_objects: 10_000_000,
            max_commands: 100_000,
            alloc_limit_bytes: 512 << 20,
            thread_limit: None,
            lock_timeout: Duration::from_secs(3),
        }
    }
}

/// How to serve one client.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sent as `agent=<agent>`, e.g. `gotd/0.1.0`.
    pub agent: String,
    /// What the client asked for in `GIT_PROTOCOL` (push always speaks v0
    /// semantics).
    pub protocol: Protocol,
    /// The repository's `protect { … }` rules.
    pub protection: Protection,
    /// Used in temporary file names (`receiving-from-uid-<uid>…`).
    pub uid: u32,
    /// Size and time limits.
    pub limits: Limits,
}

impl Options {
    /// Options with default [`Limits`].
    pub fn new(
        agent: impl Into<String>,
        protocol: Protocol,
        protection: Protection,
        uid: u32,
    ) -> Self {
        Options {
            agent: agent.into(),
            protocol,
            protection,
            uid,
            limits: Limits::default(),
        }
    }
}

/// One ref update requested by the client, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub name: String,
    /// Hex ids; all zeros for creation (old) or deletion (new).
    pub old: String,
    pub new: String,
    /// `None` when applied, else the `ng` reason sent to the client.
    pub error: Option<String>,
}

/// What a successful exchange did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// In the order the client sent them.
    pub updates: Vec<RefUpdate>,
    /// `git push -o <option>` values, in order.
    pub push_options: Vec<String>,
    /// Objects in the received pack (0 when no pack was needed).
    pub objects_received: u32,
}

/// Why serving failed. `Display` is the exact text the client was sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client was sent this text (as `ERR`, side-band 3, or the
    /// `unpack` line of report-status).
    #[error("{0}")]
    Client(String),
    /// Talking to the client failed (it went away); nothing more was sent.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Serves one receive-pack exchange for the repository at `repo`.
///
/// On error the client has already been told; the caller only reports it.
pub fn serve(
    repo: &Path,
    input: &mut dyn Read,
    output: &mut dyn Write,
    opts: &Options,
) -> Result<Outcome, Error> {
    let mut out = Output::new(output);
    let repository = match open_repository(repo) {
        Ok(r) => r,
        Err(msg) => return Err(out.fatal(msg)),
    };
    match serve_repository(&repository, input, &mut out, opts) {
        Ok(outcome) => {
            out.finish()?;
            Ok(outcome)
        }
        Err(e) => {
            let _ = out.finish();
            Err(e)
        }
    }
}

fn open_repository(path: &Path) -> Result<gix::Repository, String> {
    let opts = gix::open::Options::isolated()
        .open_path_as_is(true)
        .with_trust(gix::sec::Trust::Full);
    let repo = gix::open_opts(path, opts).map_err(|e| format!("{}: {e}", path.display()))?;
    if repo.object_hash() != gix::hash::Kind::Sha1 {
        return Err(format!("{}: unsupported repository format", path.display()));
    }
    Ok(repo)
}

fn serve_repository(
    repo: &gix::Repository,
    input: &mut dyn Read,
    out: &mut Output<'_>,
    opts: &Options,
) -> Result<Outcome, Error> {
    advertise::write(out, repo, &opts.agent, opts.protocol).map_err(|e| match e {
        advertise::Error::Io(e) => Error::Io(e),
        advertise::Error::Repo(msg) => out.fatal(msg),
    })?;

    let mut reader = gotd_wire::pkt::PktReader::new(input);
    let request = match commands::read(&mut reader, opts.limits.max_commands) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(Outcome::default()),
        Err(msg) => return Err(out.fatal(msg)),
    };
    out.set_sideband(request.caps.side_band_64k);
    let input = reader.into_inner();
    let mut outcome = Outcome {
        updates: Vec::new(),
        push_options: request.push_options.clone(),
        objects_received: 0,
    };
    let cmds = &request.commands;
    let needs_pack = request.expects_pack;

    // Everything decidable without the pack. The pack is drained first so
    // the client is reading when the error arrives.
    let early = request
        .error
        .clone()
        .or_else(|| refs::check_current(repo, cmds).err())
        .or_else(|| protect::check_without_pack(cmds, &opts.protection).err());
    if let Some(msg) = early {
        if needs_pack {
            pack::drain(input, opts.limits.max_pack_bytes);
        }
        return Err(out.fatal(msg));
    }
    if cmds.is_empty() {
        return Ok(outcome);
    }

    let mut received = None;
    if needs_pack {
        let quarantine = match pack::Quarantine::create(repo, opts.uid) {
            Ok(q) => q,
            Err(e) => {
                pack::drain(input, opts.limits.max_pack_bytes);
                return Err(out.fatal(format!("could not create temporary pack directory: {e}")));
            }
        };
        let pack = match pack::receive(input, repo, &quarantine, &opts.limits) {
            Ok(p) => p,
            Err(refused) => {
                if !refused.read_to_end {
                    pack::drain_rest(input, opts.limits.max_pack_bytes);
                }
                return Err(unpack_failure(out, &request, refused.reason));
            }
        };
        outcome.objects_received = pack.num_objects;
        if let Err(reason) = verify_pack(repo, &pack, cmds, &opts.limits) {
            return Err(unpack_failure(out, &request, reason));
        }
        let mut objects = objects::Objects::new(repo, pack.bundle.as_ref());
        if let Err(msg) = protect::check_with_objects(cmds, &opts.protection, &mut objects) {
            return Err(out.fatal(msg));
        }
        if let Err(e) = pack.sync() {
            return Err(unpack_failure(
                out,
                &request,
                format!("could not sync pack file: {e}"),
            ));
        }
        received = Some((quarantine, pack));
    }

    let mut kept = None;
    let mut publish = || -> Result<(), String> {
        if let Some((_quarantine, pack)) = &received {
            kept = pack
                .publish(repo)
                .map_err(|e| format!("could not install pack file: {e}"))?;
        }
        Ok(())
    };
    let errors = refs::apply(
        repo,
        cmds,
        request.caps.atomic,
        opts.limits.lock_timeout,
        &mut publish,
    );
    if let Some(keep) = kept {
        // The refs now protect the pack's objects; the marker is no longer
        // needed. Failing to remove it only keeps the pack from repacking.
        let _ = std::fs::remove_file(keep);
    }
    drop(received);

    outcome.updates = cmds
        .iter()
        .zip(&errors)
        .map(|(c, e)| RefUpdate {
            name: c.name.clone(),
            old: c.old.to_string(),
            new: c.new.to_string(),
            error: e.clone(),
        })
        .collect();
    if request.caps.wants_report() {
        let lines: Vec<(&str, Option<&str>)> = cmds
            .iter()
            .zip(&errors)
            .map(|(c, e)| (c.name.as_str(), e.as_deref()))
            .collect();
        out.report(&report::build(None, &lines))?;
    }
    Ok(outcome)
}

/// Checks the received objects: connectivity and that every new tip exists.
fn verify_pack(
    repo: &gix::Repository,
    pack: &pack::Received,
    cmds: &[Command],
    limits: &Limits,
) -> Result<(), String> {
    if let Some(bundle) = &pack.bundle {
        connectivity::check(repo, bundle, limits.thread_limit)?;
    }
    let mut objects = objects::Objects::new(repo, pack.bundle.as_ref());
    for c in cmds.iter().filter(|c| !c.is_delete()) {
        if objects.kind(&c.new).is_none() {
            return Err(if pack.num_objects == 0 {
                "bad packfile with zero objects".to_string()
            } else {
                format!("object {} is missing from pack file: bad pack file", c.new)
            });
        }
    }
    Ok(())
}

/// Tells the client the pack was refused: `unpack <reason>` and an `ng`
/// for every ref when report-status was asked for, else an `ERR`.
fn unpack_failure(out: &mut Output<'_>, request: &commands::Request, reason: String) -> Error {
    if !request.caps.wants_report() {
        return out.fatal(reason);
    }
    let lines: Vec<(&str, Option<&str>)> = request
        .commands
        .iter()
        .map(|c| (c.name.as_str(), Some("unpacker error")))
        .collect();
    match out.report(&report::build(Some(&reason), &lines)) {
        Ok(()) => Error::Client(reason),
        Err(e) => Error::Io(e),
    }
}
