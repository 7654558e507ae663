//! gotd.conf parser: arbitrary text (UTF-8 or not, as the daemon reads
//! files). Must never panic; every error names the file and a line.
#![no_main]

use gotd_config::{ConfigError, FixedResolver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let users = FixedResolver::new()
        .with_user("flan", 1000)
        .with_user("anonymous", 1001)
        .with_user("_gotd", 999)
        .with_group("developers", 2000)
        .with_group("wheel", 0);
    match gotd_config::parse_str("gotd.conf", text, &users) {
        Ok(parsed) => {
            // Whatever parses can be looked up without panicking.
            for r in &parsed.config.repositories {
                let _ = parsed.config.find_repository(&r.name);
                let _ = r.check_access(1000, &[2000], true);
                let _ = r.check_access(1001, &[], false);
            }
        }
        Err(ConfigError::Invalid(diags)) => {
            assert!(!diags.is_empty(), "an invalid config without a diagnostic");
            for d in &diags {
                assert_eq!(d.file, "gotd.conf");
                assert!(d.line >= 1, "diagnostic without a line: {d:?}");
                assert!(!d.message.is_empty());
            }
        }
        Err(e) => panic!("unexpected error kind for in-memory text: {e}"),
    }
});
