//! What a client asked for once negotiation is over: the input of pack
//! generation, independent of the protocol version.

use gix::ObjectId;

/// How acknowledgments are sent in protocol v0/v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// One `ACK <id>` for the first common object, `NAK` otherwise.
    #[default]
    Single,
    /// `multi_ack`: `ACK <id> continue` per common object.
    Multi,
    /// `multi_ack_detailed`: `ACK <id> common` / `ACK <id> ready`.
    Detailed,
}

/// How the pack is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sideband {
    /// Raw pack bytes, no progress.
    #[default]
    None,
    /// `side-band`: at most 995 data bytes per packet.
    Small,
    /// `side-band-64k` (always in protocol v2): at most 65515 data bytes.
    Large,
}

/// The client's capabilities that change what we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientCaps {
    pub ack: AckMode,
    pub sideband: Sideband,
    pub ofs_delta: bool,
    pub thin_pack: bool,
    pub no_progress: bool,
    pub include_tag: bool,
}

impl ClientCaps {
    /// Applies one capability word; returns false if it is not one we know.
    pub fn apply(&mut self, word: &[u8]) -> bool {
        match word {
            b"multi_ack" => {
                if self.ack == AckMode::Single {
                    self.ack = AckMode::Multi;
                }
            }
            b"multi_ack_detailed" => self.ack = AckMode::Detailed,
            b"side-band" => {
                if self.sideband == Sideband::None {
                    self.sideband = Sideband::Small;
                }
            }
            b"side-band-64k" => self.sideband = Sideband::Large,
            b"ofs-delta" => self.ofs_delta = true,
            b"thin-pack" => self.thin_pack = true,
            b"no-progress" => self.no_progress = true,
            b"include-tag" => self.include_tag = true,
            b"object-format=sha1" => {}
            w if w.starts_with(b"agent=") => {}
            _ => return false,
        }
        true
    }
}

/// Everything pack generation needs.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// Wanted commits or tags, validated to exist.
    pub wants: Vec<ObjectId>,
    /// Haves the repository has (commits or tags): the client has these and
    /// everything they reach.
    pub common: Vec<ObjectId>,
    pub caps: ClientCaps,
    /// The client's shallow commits (`shallow <id>` lines we know).
    pub client_shallow: gix::hashtable::HashSet<ObjectId>,
    /// `deepen <n>`.
    pub deepen: Option<u32>,
    /// Set when shallow commits are involved: walks stop at these commits.
    pub cut: Option<gix::hashtable::HashSet<ObjectId>>,
    /// Client shallow commits whose parents are sent now.
    pub unshallow: Vec<ObjectId>,
}

impl FetchRequest {
    /// Handles `deepen` and the client's shallow commits: sets `cut` and
    /// returns the shallow/unshallow lines to send (only when deepening).
    pub(crate) fn apply_shallow(
        &mut self,
        repo: &gix::Repository,
    ) -> Result<Option<crate::shallow::ShallowInfo>, crate::Fail> {
        match self.deepen {
            Some(depth) => {
                let tips: Vec<ObjectId> = self
                    .wants
                    .iter()
                    .filter_map(|&w| crate::ready::peel_to_commit(repo, w))
                    .collect();
                let (cut, info) = crate::shallow::deepen(repo, &tips, &self.client_shallow, depth)?;
                self.cut = Some(cut);
                self.unshallow = info.unshallow.clone();
                Ok(Some(info))
            }
            None if !self.client_shallow.is_empty() => {
                self.cut = Some(self.client_shallow.clone());
                Ok(None)
            }
            None => Ok(None),
        }
    }
}
