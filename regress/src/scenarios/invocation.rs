//! gotsh installed under the names `git-upload-pack` / `git-receive-pack`
//! (argv[0] mode, for accounts whose shell is not gotsh): the first argument
//! is the repository, the socket comes from GOTD_UNIX_SOCKET.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::{ensure, ensure_contains, Body, Ctx, Scenario};
use crate::client::parse_pkts;
use crate::repo::git_env;
use crate::{cmd, users};

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "gotsh_as_git_commands",
        about: "gotsh called as git-upload-pack / git-receive-pack serves clones",
        skip_if: None,
        body: Body::Served {
            setup: super::STANDARD_RW,
            run: gotsh_as_git_commands,
        },
    }]
}

/// A command run as the gotsh user with the daemon's socket.
fn as_devuser(ctx: &Ctx, prog: &Path, home: &Path) -> Command {
    let mut c = Command::new(prog);
    git_env(&mut c);
    cmd::as_user(&mut c, &ctx.w.devuser, Some(home))
        .current_dir(home)
        .env("GOTD_UNIX_SOCKET", &ctx.w.sock);
    c
}

fn gotsh_as_git_commands(ctx: &mut Ctx) -> Result<()> {
    let bin = ctx.dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    for name in ["git-upload-pack", "git-receive-pack"] {
        symlink(ctx.w.bins.gotsh(), bin.join(name))
            .with_context(|| format!("linking {name} to gotsh"))?;
    }
    let home: PathBuf = ctx.dir.join("devhome");
    std::fs::create_dir_all(&home)?;
    users::chown_recursive(&home, &ctx.w.devuser)?;
    let repo = &ctx.w.settings.repo_name;

    // Advertisements, ended at once by a flush from the client.
    for (name, want) in [
        ("git-upload-pack", "symref=HEAD:refs/heads/main"),
        ("git-receive-pack", "report-status"),
    ] {
        let out = cmd::run(
            as_devuser(ctx, &bin.join(name), &home).arg(repo),
            Some(b"0000"),
            ctx.t(),
        )?;
        ensure(out.status.success(), || {
            format!("{name} {repo}: {}", cmd::stderr_text(&out))
        })?;
        let (pkts, _) = parse_pkts(&out.stdout);
        let first = pkts
            .first()
            .and_then(|p| p.as_ref())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        ensure_contains(&first, want)?;
    }

    // A whole clone through the ext transport, as the gotsh user.
    let url = format!("ext::{} {repo}", bin.join("git-upload-pack").display());
    let out = cmd::run(
        as_devuser(ctx, Path::new("git"), &home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args([
                "-c",
                "protocol.ext.allow=always",
                "clone",
                "-q",
                &url,
                "clone",
            ]),
        None,
        ctx.t(),
    )?;
    ensure(out.status.success(), || {
        format!("clone through git-upload-pack: {}", cmd::stderr_text(&out))
    })?;
    let files = super::tree_files(&home.join("clone"));
    ensure(files == super::read::standard_files(), || {
        format!("cloned tree: {files:?}")
    })?;
    Ok(())
}
