//! `bench --wrap <stats> <server…>`: the shim git runs as its upload-pack or
//! receive-pack. It runs the server under `/usr/bin/time` (peak RSS, wall and
//! CPU time of the server's process tree), forwards its output to the client
//! and counts the bytes.

use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// `bench --wrap <stats-file> <program> [args…]`: runs the server under
/// `/usr/bin/time`, forwarding its output and counting the bytes.
pub(super) fn wrap(args: &[String]) -> Result<()> {
    let [stats, cmd @ ..] = args else {
        bail!("--wrap needs a stats file and a command")
    };
    if cmd.is_empty() {
        bail!("--wrap needs a command");
    }
    let rusage = format!("{stats}.time");
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M %e %U %S", "-o", &rusage])
        .args(cmd)
        .stdout(Stdio::piped())
        .spawn()
        .context("spawning /usr/bin/time")?;
    let mut from = child.stdout.take().expect("piped");
    let mut to = std::io::stdout().lock();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    let mut client_gone = false;
    loop {
        let n = match std::io::Read::read(&mut from, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        bytes += n as u64;
        // Keep draining after the client hangs up so the server is never
        // blocked on a full pipe.
        if !client_gone && to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() {
            client_gone = true;
        }
    }
    let status = child.wait()?;
    let time = std::fs::read_to_string(&rusage).unwrap_or_default();
    // /usr/bin/time prefixes a note when the command fails; keep the last line.
    let time = time.lines().last().unwrap_or("").to_owned();
    std::fs::write(stats, format!("{bytes} {time}\n"))?;
    std::process::exit(status.code().unwrap_or(1));
}
