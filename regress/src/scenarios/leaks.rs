//! The gotd parent under valgrind's leak checker for a run of connections:
//! after `gotctl stop` the report must show 0 bytes definitely lost.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::{parallel, Body, Ctx, Scenario, Setup, StartMode};
use crate::repo::RepoKind;
use crate::world::World;

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "leaks",
        about: "gotd parent under valgrind: 0 bytes definitely lost",
        skip_if: Some(|settings| {
            let found = std::process::Command::new(&settings.valgrind)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            (!found).then(|| format!("{} is not installed", settings.valgrind))
        }),
        body: Body::Served {
            setup: Setup {
                repo: RepoKind::Standard,
                rules: |w| vec![format!("permit ro {}", w.devuser.name)],
                global: super::stress::limit_for_load,
                extra_repos: super::stress::denied_repo,
                start: StartMode::Valgrind,
            },
            run: leaks,
        },
    }]
}

/// The start command: gotd in the foreground under memcheck, one log file
/// per process (`%p`), so the parent's report is `valgrind.<pid>.log`.
pub fn valgrind_command(w: &World, conf: &Path, log_dir: &Path) -> String {
    format!(
        "exec {} --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
         --child-silent-after-fork=yes --num-callers=30 --log-file={}/valgrind.%p.log \
         {} -d -vv -f {}",
        w.settings.valgrind,
        log_dir.display(),
        w.bins.gotd().display(),
        conf.display()
    )
}

/// Bytes definitely lost according to a valgrind log, if it has a summary.
pub fn definitely_lost(log: &str) -> Option<u64> {
    if log.contains("All heap blocks were freed") {
        return Some(0);
    }
    let line = log.lines().rev().find(|l| l.contains("definitely lost:"))?;
    let after = line.split("definitely lost:").nth(1)?;
    after
        .split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
}

/// Reads the parent's report after gotd has exited.
pub fn check_report(log_dir: &Path, pid: i32, notes: &mut Vec<String>) -> Result<()> {
    let path = log_dir.join(format!("valgrind.{pid}.log"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let Some(lost) = definitely_lost(&text) else {
        bail!("no leak summary in {}", path.display());
    };
    let errors = text
        .lines()
        .rev()
        .find(|l| l.contains("ERROR SUMMARY:"))
        .map(|l| {
            l.split("ERROR SUMMARY:")
                .nth(1)
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default();
    notes.push(format!(
        "valgrind: {lost} bytes definitely lost; errors: {errors}"
    ));
    if lost != 0 {
        bail!("{lost} bytes definitely lost (see {})", path.display());
    }
    Ok(())
}

fn leaks(ctx: &mut Ctx) -> Result<()> {
    let total = ctx.w.settings.leaks_connections;
    let (client, _master) = super::stress::fast_client(ctx, "leaks")?;
    let jobs: Vec<usize> = (0..total).collect();
    let started = std::time::Instant::now();
    let errors = parallel(&jobs, 4, |_, &i| super::stress::connection(ctx, &client, i));
    let failures = errors.len();
    if let Some(e) = errors.into_iter().next() {
        bail!("{failures} of {total} connections failed; first: {e:#}");
    }
    ctx.note(format!(
        "{total} connections under valgrind in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_leak_summaries() {
        let leaky = "==1== LEAK SUMMARY:\n==1==    definitely lost: 1,024 bytes in 2 blocks\n";
        assert_eq!(definitely_lost(leaky), Some(1024));
        let clean = "==1==    definitely lost: 0 bytes in 0 blocks\n";
        assert_eq!(definitely_lost(clean), Some(0));
        assert_eq!(
            definitely_lost("==1== All heap blocks were freed -- no leaks are possible"),
            Some(0)
        );
        assert_eq!(definitely_lost("nothing"), None);
    }
}
