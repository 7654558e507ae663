//! Pack generation (stub).
use std::io::Write;

use crate::refs::Refs;
use crate::{Fail, FetchRequest, Options};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    V0,
    V2,
}

pub(crate) fn send(
    _repo: &gix::Repository,
    _req: &FetchRequest,
    _refs: &Refs,
    _out: &mut dyn Write,
    _opts: &Options,
    _framing: Framing,
) -> Result<(), Fail> {
    Err(Fail::new("pack generation is not implemented"))
}
