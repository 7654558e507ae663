//! `cargo xtask fuzz`: runs the cargo-fuzz targets in `fuzz/` (a project
//! outside the workspace, see fuzz/README.md).
//!
//! ```text
//! cargo xtask fuzz --list
//! cargo xtask fuzz TARGET [--seconds N] [--asan] [-- LIBFUZZER-ARGS…]
//! cargo xtask fuzz all --seconds N     every target, one after the other
//! cargo xtask fuzz --check             every target once over its seeds
//! ```
//!
//! Only the stable toolchain is needed: cargo-fuzz's nightly flags are
//! accepted with `RUSTC_BOOTSTRAP=1`, which this command sets. New corpus
//! entries go to `fuzz/corpus/TARGET` (not checked in); the checked-in
//! seeds in `fuzz/seeds/TARGET` are read only; crashes are written to
//! `fuzz/artifacts/TARGET`. Each run ends with a summary line: executions,
//! executions per second, coverage (edges) and features.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util;

/// The fuzz targets, with what each exercises.
pub const TARGETS: &[(&str, &str)] = &[
    ("pkt_line", "pkt-line reader, v0/v1 and v2 modes"),
    (
        "upload_pack_v0",
        "upload-pack request parsing and negotiation, v0/v1",
    ),
    (
        "upload_pack_v2",
        "upload-pack protocol v2: ls-refs and fetch",
    ),
    (
        "receive_pack_commands",
        "receive-pack command list, options and pack",
    ),
    (
        "pack_intake",
        "receive-pack pack intake: small packs after a valid command",
    ),
    ("config", "gotd.conf parser"),
    ("ipc", "IPC frame decoder for every message type"),
    (
        "gotsh_command",
        "gotsh command parsing and repository name lookup",
    ),
];

const USAGE: &str = "usage: cargo xtask fuzz --list
       cargo xtask fuzz TARGET|all [--seconds N] [--asan] [-- LIBFUZZER-ARGS…]
       cargo xtask fuzz --check";

/// What one run measured (from libFuzzer's final output).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub executions: Option<u64>,
    pub exec_per_sec: Option<u64>,
    pub coverage: Option<u64>,
    pub features: Option<u64>,
    pub corpus: Option<u64>,
}

struct Args {
    targets: Vec<String>,
    seconds: u64,
    asan: bool,
    check: bool,
    extra: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Option<Args>> {
    let mut a = Args {
        targets: Vec::new(),
        seconds: 60,
        asan: false,
        check: false,
        extra: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--list" => {
                for (t, about) in TARGETS {
                    println!("{t:24} {about}");
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--seconds" => {
                let v = it.next().context("--seconds needs a value")?;
                a.seconds = v
                    .parse()
                    .with_context(|| format!("--seconds: not a number: {v:?}"))?;
            }
            "--asan" => a.asan = true,
            "--check" => a.check = true,
            "--" => {
                a.extra = it.cloned().collect();
                break;
            }
            "all" => a.targets.extend(TARGETS.iter().map(|(t, _)| t.to_string())),
            t if TARGETS.iter().any(|(n, _)| *n == t) => a.targets.push(t.to_string()),
            other => bail!("unknown fuzz target or option {other:?}\n{USAGE}\n(see --list)"),
        }
    }
    if a.check && a.targets.is_empty() {
        a.targets = TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    }
    if a.targets.is_empty() {
        bail!("{USAGE}");
    }
    Ok(Some(a))
}

pub fn run(args: &[String]) -> Result<()> {
    let Some(a) = parse_args(args)? else {
        return Ok(());
    };
    let fuzz_dir = util::root().join("fuzz");
    ensure_cargo_fuzz()?;
    let tmp = tempfile::Builder::new()
        .prefix("gotd-fuzz-")
        .tempdir()
        .context("creating the fixture directory")?;
    let mut failed = Vec::new();
    for t in &a.targets {
        let started = Instant::now();
        match run_target(&fuzz_dir, t, &a, tmp.path()) {
            Ok(stats) => println!(
                "fuzz {t}: OK in {:.0}s: {}",
                started.elapsed().as_secs_f64(),
                describe(&stats)
            ),
            Err(e) => {
                println!("fuzz {t}: FAILED: {e:#}");
                failed.push(t.clone());
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} target(s) failed: {} (inputs in fuzz/artifacts/)",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Whether `cargo fuzz` runs here.
pub fn cargo_fuzz_installed() -> bool {
    util::cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ensure_cargo_fuzz() -> Result<()> {
    if !cargo_fuzz_installed() {
        bail!("cargo-fuzz is not installed: `cargo install cargo-fuzz --locked` (about 2 minutes)");
    }
    Ok(())
}

fn run_target(fuzz_dir: &Path, target: &str, a: &Args, tmp: &Path) -> Result<Stats> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    std::fs::create_dir_all(&corpus)?;
    let mut c = util::cargo();
    c.current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("GOTD_FUZZ_TMP", tmp)
        .args(["fuzz", "run", "-O"]);
    if !a.asan {
        c.args(["--sanitizer", "none"]);
    }
    c.arg(target);
    let libfuzzer_args: Vec<String> = if a.check {
        // Seeds only, once each (corpus entries too, if any).
        vec!["-runs=0".into()]
    } else {
        vec![format!("-max_total_time={}", a.seconds)]
    };
    c.arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .args(&libfuzzer_args)
        .args([
            "-print_final_stats=1",
            "-rss_limit_mb=2048",
            "-timeout=30",
            "-max_len=65536",
        ])
        .args(&a.extra)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    println!("fuzz {target}: {}", util::describe(&c));
    let mut child = c
        .spawn()
        .with_context(|| format!("running {}", util::describe(&c)))?;
    // libFuzzer reports on stderr: echo it and keep it for the figures.
    let mut log = Vec::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::{Read, Write};
        let mut buf = [0u8; 8192];
        loop {
            let n = err.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let _ = std::io::stderr().write_all(&buf[..n]);
            log.extend_from_slice(&buf[..n]);
        }
    }
    let status = child.wait()?;
    let text = String::from_utf8_lossy(&log);
    if !status.success() {
        let artifact = text
            .lines()
            .find_map(|l| l.split("Test unit written to ").nth(1))
            .map(PathBuf::from);
        bail!(
            "exited with {status}{}",
            artifact
                .map(|p| format!("; input saved as {}", p.display()))
                .unwrap_or_default()
        );
    }
    Ok(parse_stats(&text))
}

/// Extracts the figures from libFuzzer's output: the last status line
/// (`#N DONE cov: C ft: F corp: K/…`) and `-print_final_stats` lines.
pub fn parse_stats(text: &str) -> Stats {
    let mut s = Stats::default();
    let field = |line: &str, key: &str| -> Option<u64> {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == key {
                let v = words.next()?;
                return v.split('/').next()?.parse().ok();
            }
        }
        None
    };
    for line in text.lines() {
        if line.starts_with('#') && line.contains("cov:") {
            s.coverage = field(line, "cov:").or(s.coverage);
            s.features = field(line, "ft:").or(s.features);
            s.corpus = field(line, "corp:").or(s.corpus);
            if let Some(n) = line
                .split_whitespace()
                .next()
                .and_then(|w| w.trim_start_matches('#').parse().ok())
            {
                s.executions = Some(n);
            }
        }
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            s.executions = v.trim().parse().ok().or(s.executions);
        }
        if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            s.exec_per_sec = v.trim().parse().ok();
        }
    }
    s
}

fn describe(s: &Stats) -> String {
    let f = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    format!(
        "{} executions ({}/s), coverage {} edges, {} features, corpus {}",
        f(s.executions),
        f(s.exec_per_sec),
        f(s.coverage),
        f(s.features),
        f(s.corpus)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libfuzzer_figures() {
        let text = "INFO: seed corpus: files: 6\n\
            #2\tINITED cov: 812 ft: 1200 corp: 6/1500b exec/s: 0 rss: 40Mb\n\
            #131072\tpulse  cov: 900 ft: 1500 corp: 40/3Kb lim: 100 exec/s: 4000 rss: 60Mb\n\
            #200000\tDONE   cov: 950 ft: 1600 corp: 55/4Kb lim: 120 exec/s: 3333 rss: 61Mb\n\
            Done 200000 runs in 60 second(s)\n\
            stat::number_of_executed_units: 200001\n\
            stat::average_exec_per_sec:     3333\n";
        assert_eq!(
            parse_stats(text),
            Stats {
                executions: Some(200001),
                exec_per_sec: Some(3333),
                coverage: Some(950),
                features: Some(1600),
                corpus: Some(55),
            }
        );
    }

    #[test]
    fn every_target_has_a_source_and_seeds() {
        let fuzz = util::root().join("fuzz");
        for (t, _) in TARGETS {
            assert!(
                fuzz.join("fuzz_targets").join(format!("{t}.rs")).is_file(),
                "{t}: no source"
            );
            let seeds = std::fs::read_dir(fuzz.join("seeds").join(t))
                .map(|d| d.count())
                .unwrap_or(0);
            assert!(seeds > 0, "{t}: no seeds");
        }
    }

    #[test]
    fn rejects_unknown_targets() {
        let err = parse_args(&["nope".to_string()]).err().expect("an error");
        assert!(err.to_string().contains("unknown fuzz target"), "{err}");
        let a = parse_args(&["--check".to_string()])
            .expect("ok")
            .expect("args");
        assert_eq!(a.targets.len(), TARGETS.len());
    }
}
