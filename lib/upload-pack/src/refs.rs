//! The repository's refs as a client sees them: HEAD, then every
//! non-symbolic ref sorted by name, annotated tags with their peeled target.

use gix::bstr::BString;
use gix::ObjectId;

use crate::Fail;

/// One advertised ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// Full name, e.g. `refs/heads/main`.
    pub name: BString,
    /// What the ref points to (a tag object for annotated tags).
    pub id: ObjectId,
    /// For annotated tags: the first non-tag object the tag chain leads to.
    pub peeled: Option<ObjectId>,
}

/// What `HEAD` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// Symbolic and resolving: `target` is the ref it names.
    Symbolic { id: ObjectId, target: BString },
    /// Detached at `id`.
    Detached { id: ObjectId },
    /// Symbolic, but the ref it names does not exist (yet).
    Unborn { target: BString },
    /// Missing or unreadable.
    None,
}

/// HEAD plus the sorted list of refs.
#[derive(Debug, Clone)]
pub struct Refs {
    pub head: Head,
    pub refs: Vec<Ref>,
}

impl Refs {
    /// Reads HEAD and all refs. Symbolic refs other than HEAD are skipped.
    pub fn read(repo: &gix::Repository) -> Result<Refs, Fail> {
        let head = read_head(repo);
        let platform = repo
            .references()
            .map_err(|e| Fail::internal("reading refs", e))?;
        let iter = platform
            .all()
            .map_err(|e| Fail::internal("reading refs", e))?;
        let mut refs = Vec::new();
        for r in iter {
            let r = r.map_err(|e| Fail::internal("reading refs", e))?;
            let gix::refs::TargetRef::Object(id) = r.target() else {
                continue;
            };
            let id = id.to_owned();
            let name: BString = r.name().as_bstr().to_owned();
            if name == "HEAD" || !name.starts_with(b"refs/") {
                continue;
            }
            let peeled = peel_tag(repo, id)?;
            refs.push(Ref { name, id, peeled });
        }
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        refs.dedup_by(|a, b| a.name == b.name);
        Ok(Refs { head, refs })
    }

    /// The id HEAD resolves to, if any.
    pub fn head_id(&self) -> Option<ObjectId> {
        match &self.head {
            Head::Symbolic { id, .. } | Head::Detached { id } => Some(*id),
            Head::Unborn { .. } | Head::None => None,
        }
    }

    /// The `symref=HEAD:<target>` value, if HEAD resolves through a ref.
    pub fn head_symref(&self) -> Option<&BString> {
        match &self.head {
            Head::Symbolic { target, .. } => Some(target),
            _ => None,
        }
    }
}

fn read_head(repo: &gix::Repository) -> Head {
    let Ok(head) = repo.head() else {
        return Head::None;
    };
    let target = head.referent_name().map(|n| n.as_bstr().to_owned());
    match (head.id(), target) {
        (Some(id), Some(target)) => Head::Symbolic {
            id: id.detach(),
            target,
        },
        (Some(id), None) => Head::Detached { id: id.detach() },
        (None, Some(target)) => Head::Unborn { target },
        (None, None) => Head::None,
    }
}

/// For a tag object, the object its tag chain ends at; `None` otherwise.
/// A ref to a missing object is advertised as-is, like git does.
fn peel_tag(repo: &gix::Repository, id: ObjectId) -> Result<Option<ObjectId>, Fail> {
    let Ok(header) = repo.find_header(id) else {
        return Ok(None);
    };
    if header.kind() != gix::object::Kind::Tag {
        return Ok(None);
    }
    let obj = repo
        .find_object(id)
        .map_err(|e| Fail::internal("reading tag", e))?;
    let peeled = obj
        .peel_tags_to_end()
        .map_err(|e| Fail::internal("peeling tag", e))?;
    Ok(Some(peeled.id))
}
