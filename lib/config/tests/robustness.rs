//! Damaged configurations never panic the parser, and every error they
//! produce points at a line that exists.

use std::path::Path;

use gotd_config::{parse_str, ConfigError, FixedResolver};

fn resolver() -> FixedResolver {
    FixedResolver::new()
        .with_user("flan_hacker", 1000)
        .with_user("anonymous", 1001)
        .with_user("release_bot", 1500)
        .with_group("porters", 500)
        .with_group("developers", 600)
}

fn check(text: &str, resolver: &FixedResolver) {
    let lines = text.lines().count().max(1) as u32 + 1;
    match parse_str("gotd.conf", text, resolver) {
        Ok(_) => {}
        Err(ConfigError::Invalid(diagnostics)) => {
            assert!(!diagnostics.is_empty());
            for d in diagnostics {
                assert!(
                    (1..=lines).contains(&d.line),
                    "line {} out of range in {d} for:\n{text}",
                    d.line
                );
            }
        }
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
}

#[test]
fn truncated_and_damaged_samples_are_handled() {
    let sample =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gotd.conf"))
            .unwrap();
    let resolver = resolver();
    let boundaries: Vec<usize> = sample.char_indices().map(|(i, _)| i).collect();
    for &cut in &boundaries {
        check(&sample[..cut], &resolver);
    }
    for (n, &at) in boundaries.iter().enumerate() {
        let next = boundaries.get(n + 1).copied().unwrap_or(sample.len());
        // Drop one character.
        check(&format!("{}{}", &sample[..at], &sample[next..]), &resolver);
        // Insert characters the lexer treats specially.
        for insert in ["\"", "{", "}", "\\", "$", "\n", "\0"] {
            check(
                &format!("{}{insert}{}", &sample[..at], &sample[at..]),
                &resolver,
            );
        }
    }
}
