//! `cargo xtask bench`: speed and size of gotd against git, measured side
//! by side in one run.

use anyhow::{bail, Result};

pub fn run(_args: &[String]) -> Result<()> {
    bail!("bench: not implemented yet")
}
