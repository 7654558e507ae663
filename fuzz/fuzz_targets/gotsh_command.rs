//! gotsh's command parsing (`git-upload-pack '/repo'`) and the daemon's
//! repository-name lookup behind it. Must never panic; an accepted name
//! has no newline and no leading slash, is 1–254 bytes and has a clean
//! end (no quote or space), and only configured names (or
//! those plus `.git`) resolve to a repository.
#![no_main]

use gotd_config::FixedResolver;
use gotd_wire::request::{parse_command, MAX_REPO_NAME};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn config() -> &'static gotd_config::Config {
    static C: OnceLock<gotd_config::Config> = OnceLock::new();
    C.get_or_init(|| {
        let text = "repository \"src\" {\n path \"/nonexistent/src.git\"\n permit rw flan\n}\n\
                    repository \"a/b.git\" {\n path \"/nonexistent/ab.git\"\n permit ro flan\n}\n";
        let users = FixedResolver::new().with_user("flan", 1000);
        gotd_config::parse_str("gotd.conf", text, &users)
            .expect("the fuzz configuration parses")
            .config
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(cmd) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((service, name)) = parse_command(cmd) else {
        return;
    };
    assert!(cmd.starts_with(service.command()));
    assert!(!name.is_empty() && name.len() <= MAX_REPO_NAME, "{name:?}");
    assert!(!name.contains('\n'), "{name:?}");
    assert!(!name.starts_with('/'), "{name:?}");
    // Quotes are trimmed before the leading slashes are, as upstream does,
    // so `"/'x"` leaves `'x` (the daemon trims again before its lookup);
    // seeds/gotsh_command/leading-quote-after-slash is such a case. Only
    // its end is clean.
    assert!(!name.ends_with(['\'', '"', ' ']), "{name:?}");
    if let Some(repo) = config().find_repository(&name) {
        // Only a configured name, or that name plus `.git`, resolves.
        let n = gotd_config::normalize_repo_name(&name);
        assert!(
            n == repo.name || n.strip_suffix(".git") == Some(repo.name.as_str()),
            "{name:?} resolved to {:?}",
            repo.name
        );
    }
});
