//! gotd.conf parsing through the public API: every directive in its brace
//! and single-line forms, defaults, macros, quoting, continuation, the
//! upstream example, the shipped sample, and real files.

use std::path::{Path, PathBuf};

use gotd_config::{
    parse_file, parse_str, Access, AccessRule, Config, ConfigError, ConnectionLimit, FixedResolver,
    Identity, Mode, Notify, NotifyTarget, Parsed, Protection, Repository,
};
use rstest::rstest;

const FLAN: u32 = 1000;
const ANON: u32 = 1001;
const PORTERS: u32 = 500;

fn users() -> FixedResolver {
    FixedResolver::new()
        .with_user("flan_hacker", FLAN)
        .with_user("anonymous", ANON)
        .with_group("porters", PORTERS)
}

fn parse(text: &str) -> Parsed {
    match parse_str("gotd.conf", text, &users()) {
        Ok(parsed) => parsed,
        Err(e) => panic!("parse failed:\n{e}\n--- input ---\n{text}"),
    }
}

fn email(to: &str) -> NotifyTarget {
    NotifyTarget::Email {
        from: None,
        to: to.to_owned(),
        reply_to: None,
        relay_host: "127.0.0.1".to_owned(),
        relay_port: 25,
    }
}

fn rule(access: Access, identity: Identity) -> AccessRule {
    AccessRule { access, identity }
}

fn user(name: &str, uid: u32) -> Identity {
    Identity::User {
        name: name.to_owned(),
        uid,
    }
}

fn group(name: &str, gid: u32) -> Identity {
    Identity::Group {
        name: name.to_owned(),
        gid,
    }
}

#[test]
fn upstream_example_parses_to_the_expected_model() {
    let parsed = parse(
        r#"user _gotd
listen on "/var/run/gotd.sock"
connection request timeout 2h
connection { limit user flan_hacker 16
             limit user anonymous 32 }
repository "openbsd/ports" {
    path "/var/git/ports.git"
    permit rw :porters
    permit ro anonymous
    deny flan_hacker
    protect { branch "main"
              tag namespace "refs/tags/" }
    notify { branch "main"
             email to ports-changes@example.com }
}
"#,
    );
    let expected = Config {
        listen_path: PathBuf::from("/var/run/gotd.sock"),
        user: "_gotd".to_owned(),
        request_timeout_secs: 7200,
        connection_limits: vec![
            ConnectionLimit {
                user: "flan_hacker".to_owned(),
                uid: FLAN,
                limit: 16,
            },
            ConnectionLimit {
                user: "anonymous".to_owned(),
                uid: ANON,
                limit: 32,
            },
        ],
        repositories: vec![Repository {
            name: "openbsd/ports".to_owned(),
            path: PathBuf::from("/var/git/ports.git"),
            rules: vec![
                rule(Access::Permit(Mode::ReadWrite), group("porters", PORTERS)),
                rule(Access::Permit(Mode::ReadOnly), user("anonymous", ANON)),
                rule(Access::Deny, user("flan_hacker", FLAN)),
            ],
            protection: Protection {
                branches: vec!["refs/heads/main".to_owned()],
                branch_namespaces: vec![],
                tag_namespaces: vec!["refs/tags/".to_owned()],
            },
            notify: Notify {
                branches: vec!["refs/heads/main".to_owned()],
                reference_namespaces: vec![],
                targets: vec![email("ports-changes@example.com")],
            },
        }],
    };
    assert_eq!(parsed.config, expected);
    assert_eq!(
        parsed.warnings,
        vec!["gotd.conf:7: /var/git/ports.git: No such file or directory"]
    );
}

const MINIMAL: &str = "repository \"r\" {\n  path \"/nonexistent/r\"\n}\n";

fn minimal() -> Config {
    Config {
        listen_path: PathBuf::from("/var/run/gotd.sock"),
        user: "_gotd".to_owned(),
        request_timeout_secs: 3600,
        connection_limits: vec![],
        repositories: vec![Repository {
            name: "r".to_owned(),
            path: PathBuf::from("/nonexistent/r"),
            rules: vec![],
            protection: Protection::default(),
            notify: Notify::default(),
        }],
    }
}

#[test]
fn defaults_are_upstreams() {
    let parsed = parse(MINIMAL);
    assert_eq!(parsed.config, minimal());
    assert_eq!(
        parsed.config.listen_path,
        Path::new(gotd_config::DEFAULT_SOCKET_PATH)
    );
    assert_eq!(parsed.config.user, gotd_config::DEFAULT_USER);
    assert_eq!(parsed.config.request_timeout_secs, 3600);
    assert_eq!(parsed.config.connection_limit(FLAN), 4);
    assert_eq!(gotd_config::DEFAULT_CONFIG_PATH, "/etc/gotd.conf");
}

fn limit(user: &str, uid: u32, limit: u32) -> ConnectionLimit {
    ConnectionLimit {
        user: user.to_owned(),
        uid,
        limit,
    }
}

/// Global directives, in every form; `expect` turns the minimal model into
/// the expected one.
#[rstest]
#[case::listen_on("listen on \"/run/gotd/gotd.sock\"", |c: &mut Config| {
    c.listen_path = "/run/gotd/gotd.sock".into()
})]
#[case::listen_on_single_quotes("listen on '/tmp/g.sock'", |c: &mut Config| {
    c.listen_path = "/tmp/g.sock".into()
})]
#[case::user_name("user got", |c: &mut Config| c.user = "got".to_owned())]
#[case::user_uid("user 907", |c: &mut Config| c.user = "907".to_owned())]
#[case::user_quoted_keyword("user \"listen\"", |c: &mut Config| c.user = "listen".to_owned())]
#[case::timeout_seconds_number("connection request timeout 90", |c: &mut Config| {
    c.request_timeout_secs = 90
})]
#[case::timeout_s("connection request timeout 90s", |c: &mut Config| c.request_timeout_secs = 90)]
#[case::timeout_m("connection request timeout 5m", |c: &mut Config| c.request_timeout_secs = 300)]
#[case::timeout_h("connection request timeout 2h", |c: &mut Config| c.request_timeout_secs = 7200)]
#[case::timeout_quoted("connection request timeout \"45\"", |c: &mut Config| {
    c.request_timeout_secs = 45
})]
#[case::timeout_brace("connection { request timeout 1h }", |c: &mut Config| {
    c.request_timeout_secs = 3600
})]
#[case::timeout_last_wins(
    "connection request timeout 10\nconnection request timeout 20",
    |c: &mut Config| c.request_timeout_secs = 20
)]
#[case::limit_single_line("connection limit user flan_hacker 16", |c: &mut Config| {
    c.connection_limits = vec![limit("flan_hacker", FLAN, 16)]
})]
#[case::limit_uid_quoted("connection limit user \"1000\" 2", |c: &mut Config| {
    c.connection_limits = vec![limit("1000", FLAN, 2)]
})]
#[case::limit_uid_bare("connection limit user 1000 2", |c: &mut Config| {
    c.connection_limits = vec![limit("1000", FLAN, 2)]
})]
#[case::limit_bounds("connection { limit user flan_hacker 1\nlimit user anonymous 1024 }",
    |c: &mut Config| {
        c.connection_limits =
            vec![limit("flan_hacker", FLAN, 1), limit("anonymous", ANON, 1024)]
    }
)]
#[case::limit_repeated_user_last_wins(
    "connection limit user flan_hacker 3\nconnection limit user anonymous 5\n\
     connection limit user flan_hacker 9",
    |c: &mut Config| {
        c.connection_limits = vec![limit("flan_hacker", FLAN, 9), limit("anonymous", ANON, 5)]
    }
)]
#[case::connection_brace_mixed(
    "connection {\n\n  request timeout 30\n  limit user anonymous 7\n\n}",
    |c: &mut Config| {
        c.request_timeout_secs = 30;
        c.connection_limits = vec![limit("anonymous", ANON, 7)];
    }
)]
#[case::connection_brace_one_line(
    "connection { request timeout 30 limit user anonymous 7 }",
    |c: &mut Config| {
        c.request_timeout_secs = 30;
        c.connection_limits = vec![limit("anonymous", ANON, 7)];
    }
)]
fn global_directives(#[case] directive: &str, #[case] expect: fn(&mut Config)) {
    let parsed = parse(&format!("{directive}\n{MINIMAL}"));
    let mut expected = minimal();
    expect(&mut expected);
    assert_eq!(parsed.config, expected);
}

/// Repository options, in every form; `expect` edits the expected repository.
#[rstest]
#[case::permit_rw_user("permit rw flan_hacker", |r: &mut Repository| {
    r.rules = vec![rule(Access::Permit(Mode::ReadWrite), user("flan_hacker", FLAN))]
})]
#[case::permit_ro_uid("permit ro 4242", |r: &mut Repository| {
    r.rules = vec![rule(Access::Permit(Mode::ReadOnly), user("4242", 4242))]
})]
#[case::permit_group("permit ro :porters", |r: &mut Repository| {
    r.rules = vec![rule(Access::Permit(Mode::ReadOnly), group("porters", PORTERS))]
})]
#[case::permit_gid("permit rw \":77\"", |r: &mut Repository| {
    r.rules = vec![rule(Access::Permit(Mode::ReadWrite), group("77", 77))]
})]
#[case::deny_user("deny anonymous", |r: &mut Repository| {
    r.rules = vec![rule(Access::Deny, user("anonymous", ANON))]
})]
#[case::deny_group("deny :porters", |r: &mut Repository| {
    r.rules = vec![rule(Access::Deny, group("porters", PORTERS))]
})]
#[case::rules_keep_order("permit rw :porters\ndeny flan_hacker\npermit ro flan_hacker",
    |r: &mut Repository| {
        r.rules = vec![
            rule(Access::Permit(Mode::ReadWrite), group("porters", PORTERS)),
            rule(Access::Deny, user("flan_hacker", FLAN)),
            rule(Access::Permit(Mode::ReadOnly), user("flan_hacker", FLAN)),
        ]
    }
)]
#[case::protect_branch("protect branch main", |r: &mut Repository| {
    r.protection.branches = vec!["refs/heads/main".to_owned()]
})]
#[case::protect_branch_full("protect branch \"refs/heads/stable\"", |r: &mut Repository| {
    r.protection.branches = vec!["refs/heads/stable".to_owned()]
})]
#[case::protect_branch_namespace("protect branch namespace \"refs/heads/rel\"",
    |r: &mut Repository| r.protection.branch_namespaces = vec!["refs/heads/rel/".to_owned()]
)]
#[case::protect_tag_namespace("protect tag namespace \"refs/tags//\"", |r: &mut Repository| {
    r.protection.tag_namespaces = vec!["refs/tags/".to_owned()]
})]
#[case::protect_brace(
    "protect {\n  branch \"main\"\n  branch namespace \"refs/heads/rel/\"\n  \
     tag namespace \"refs/tags/\"\n}",
    |r: &mut Repository| {
        r.protection = Protection {
            branches: vec!["refs/heads/main".to_owned()],
            branch_namespaces: vec!["refs/heads/rel/".to_owned()],
            tag_namespaces: vec!["refs/tags/".to_owned()],
        }
    }
)]
#[case::protect_brace_one_line("protect { branch main branch dev }", |r: &mut Repository| {
    r.protection.branches = vec!["refs/heads/main".to_owned(), "refs/heads/dev".to_owned()]
})]
#[case::notify_branch("notify branch main", |r: &mut Repository| {
    r.notify.branches = vec!["refs/heads/main".to_owned()]
})]
#[case::notify_branch_repeated_once("notify { branch main\nbranch \"refs/heads/main\" }",
    |r: &mut Repository| r.notify.branches = vec!["refs/heads/main".to_owned()]
)]
#[case::notify_namespace("notify reference namespace \"refs/tags\"", |r: &mut Repository| {
    r.notify.reference_namespaces = vec!["refs/tags/".to_owned()]
})]
#[case::notify_email_to("notify email to dev@example.com", |r: &mut Repository| {
    r.notify.targets = vec![email("dev@example.com")]
})]
#[case::notify_email_full(
    "notify email from \"gotd@example.com\" to dev@example.com reply to \"list@example.com\" \
     relay mail.example.com port 2525",
    |r: &mut Repository| {
        r.notify.targets = vec![NotifyTarget::Email {
            from: Some("gotd@example.com".to_owned()),
            to: "dev@example.com".to_owned(),
            reply_to: Some("list@example.com".to_owned()),
            relay_host: "mail.example.com".to_owned(),
            relay_port: 2525,
        }]
    }
)]
#[case::notify_email_relay_address_port_string(
    "notify email to a@b relay 10.0.0.1 port \"587\"",
    |r: &mut Repository| {
        r.notify.targets = vec![NotifyTarget::Email {
            from: None,
            to: "a@b".to_owned(),
            reply_to: None,
            relay_host: "10.0.0.1".to_owned(),
            relay_port: 587,
        }]
    }
)]
#[case::notify_url("notify url \"https://example.com/hook\"", |r: &mut Repository| {
    r.notify.targets = vec![NotifyTarget::Http {
        url: "https://example.com/hook".to_owned(),
        auth: None,
        insecure: false,
        hmac: None,
    }]
})]
#[case::notify_url_auth_hmac(
    "notify url \"https://example.com/hook\" auth ci hmac sig",
    |r: &mut Repository| {
        r.notify.targets = vec![NotifyTarget::Http {
            url: "https://example.com/hook".to_owned(),
            auth: Some("ci".to_owned()),
            insecure: false,
            hmac: Some("sig".to_owned()),
        }]
    }
)]
#[case::notify_url_http_insecure(
    "notify url \"http://127.0.0.1:8000/\" auth ci insecure hmac sig",
    |r: &mut Repository| {
        r.notify.targets = vec![NotifyTarget::Http {
            url: "http://127.0.0.1:8000/".to_owned(),
            auth: Some("ci".to_owned()),
            insecure: true,
            hmac: Some("sig".to_owned()),
        }]
    }
)]
#[case::notify_http_without_auth("notify url \"http://h/x\" hmac sig", |r: &mut Repository| {
    r.notify.targets = vec![NotifyTarget::Http {
        url: "http://h/x".to_owned(),
        auth: None,
        insecure: false,
        hmac: Some("sig".to_owned()),
    }]
})]
#[case::notify_brace(
    "notify {\n  branch main\n  reference namespace \"refs/tags/\"\n  email to a@b\n  \
     url \"https://h/x\"\n}",
    |r: &mut Repository| {
        r.notify = Notify {
            branches: vec!["refs/heads/main".to_owned()],
            reference_namespaces: vec!["refs/tags/".to_owned()],
            targets: vec![
                email("a@b"),
                NotifyTarget::Http {
                    url: "https://h/x".to_owned(),
                    auth: None,
                    insecure: false,
                    hmac: None,
                },
            ],
        }
    }
)]
#[case::path_last_wins("path \"/nonexistent/other\"", |r: &mut Repository| {
    r.path = "/nonexistent/other".into()
})]
fn repository_options(#[case] option: &str, #[case] expect: fn(&mut Repository)) {
    let text = format!("repository \"r\" {{\n  path \"/nonexistent/r\"\n  {option}\n}}\n");
    let parsed = parse(&text);
    let mut expected = minimal();
    expect(&mut expected.repositories[0]);
    assert_eq!(parsed.config, expected);
}

/// Spellings of the same configuration: quoting, macros, continuation,
/// comments, blank lines and the one-line repository form.
#[rstest]
#[case::plain("repository \"r\" {\n path \"/nonexistent/r\"\n permit rw flan_hacker\n}")]
#[case::single_quotes("repository 'r' {\n path '/nonexistent/r'\n permit rw 'flan_hacker'\n}")]
#[case::one_line("repository \"r\" { path \"/nonexistent/r\" permit rw flan_hacker }")]
#[case::bare_name("repository r {\n path \"/nonexistent/r\"\n permit rw flan_hacker\n}")]
#[case::comments(
    "# leading comment\nrepository \"r\" { # trailing\n  # inside\n path \"/nonexistent/r\" \
     # after path\n permit rw flan_hacker#glued\n}\n# end"
)]
#[case::blank_lines(
    "\n\n\nrepository \"r\" {\n\n path \"/nonexistent/r\"\n\n\n \
                     permit rw flan_hacker\n\n}\n\n"
)]
#[case::tabs("repository\t\"r\"\t{\n\tpath\t\"/nonexistent/r\"\n\tpermit\trw\tflan_hacker\n}")]
#[case::continuation(
    "repository \\\n \"r\" {\n path \\\n \"/nonexistent/r\"\n permit rw \\\nflan_hacker\n}"
)]
#[case::continuation_in_quotes(
    "repository \"r\" {\n path \"/nonexistent/\\\nr\"\n \
                                permit rw flan_hacker\n}"
)]
#[case::macros(
    "who = flan_hacker\nwhere = '\"/nonexistent/r\"'\nrepository \"r\" {\n \
                path $where\n permit rw $who\n}"
)]
#[case::macro_of_several_tokens(
    "rule = \"permit rw flan_hacker\"\nrepository \"r\" {\n \
                                 path \"/nonexistent/r\"\n $rule\n}"
)]
#[case::macro_redefined(
    "who = anonymous\nwho = flan_hacker\nrepository \"r\" {\n \
                         path \"/nonexistent/r\"\n permit rw $who\n}"
)]
#[case::macro_with_spaces_around(
    "who=flan_hacker\nrepository \"r\" {\n path \"/nonexistent/r\"\n \
                                  permit rw $who\n}"
)]
#[case::no_final_newline("repository \"r\" {\n path \"/nonexistent/r\"\n permit rw flan_hacker }")]
fn equivalent_spellings(#[case] text: &str) {
    let parsed = parse(text);
    let mut expected = minimal();
    expected.repositories[0].rules = vec![rule(
        Access::Permit(Mode::ReadWrite),
        user("flan_hacker", FLAN),
    )];
    assert_eq!(parsed.config, expected);
}

#[test]
fn macros_are_not_expanded_inside_quotes() {
    let parsed = parse("n = x\nrepository \"$n\" {\n path \"/nonexistent/$n\"\n}");
    let repo = &parsed.config.repositories[0];
    assert_eq!(repo.name, "$n");
    assert_eq!(repo.path, Path::new("/nonexistent/$n"));
}

#[test]
fn reserved_words_are_usable_when_quoted() {
    let parsed = parse(
        "repository \"repository\" {\n path \"/nonexistent/path\"\n permit rw \"1000\"\n \
         protect branch \"branch\"\n}",
    );
    let repo = &parsed.config.repositories[0];
    assert_eq!(repo.name, "repository");
    assert_eq!(repo.protection.branches, vec!["refs/heads/branch"]);
    assert_eq!(
        repo.rules,
        vec![rule(Access::Permit(Mode::ReadWrite), user("1000", FLAN))]
    );
}

#[test]
fn several_repositories_keep_their_order() {
    let parsed = parse(
        "repository \"b\" { path \"/nonexistent/b\" }\n\
         repository \"a\" { path \"/nonexistent/a\" }\n",
    );
    let names: Vec<&str> = parsed
        .config
        .repositories
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["b", "a"]);
    assert_eq!(parsed.warnings.len(), 2);
}

#[test]
fn existing_paths_are_canonicalised() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.git");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("link.git")).unwrap();
    let written = format!("{}/./link.git", dir.path().display());
    let parsed = parse(&format!("repository \"r\" {{ path \"{written}\" }}\n"));
    assert_eq!(
        parsed.config.repositories[0].path,
        real.canonicalize().unwrap()
    );
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
}

#[test]
fn files_are_read_and_named_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gotd.conf");
    std::fs::write(
        &path,
        "user got\nrepository \"r\" { path \"/nonexistent/r\" }\n",
    )
    .unwrap();
    let parsed = parse_file(&path, &users()).unwrap();
    assert_eq!(parsed.config.user, "got");
    assert_eq!(
        parsed.warnings,
        vec![format!(
            "{}:2: /nonexistent/r: No such file or directory",
            path.display()
        )]
    );

    std::fs::write(
        &path,
        "user got\nrepository \"r\" {\n  permit rw nobody_x\n  path \"/nonexistent/r\"\n}\n",
    )
    .unwrap();
    let err = parse_file(&path, &users()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:3: unknown user \"nobody_x\"", path.display())
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.conf");
    let err = parse_file(&path, &users()).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("open {}: ", path.display())));
}

#[test]
fn invalid_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gotd.conf");
    std::fs::write(&path, b"user got\n# caf\xe9\n").unwrap();
    let err = parse_file(&path, &users()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2: invalid UTF-8 text", path.display())
    );
}

#[test]
fn shipped_sample_parses() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gotd.conf");
    let resolver = FixedResolver::new()
        .with_user("flan_hacker", FLAN)
        .with_user("anonymous", ANON)
        .with_user("release_bot", 1500)
        .with_group("porters", PORTERS)
        .with_group("developers", 600);
    let parsed = match parse_file(&sample, &resolver) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{e}"),
    };
    let config = &parsed.config;
    assert_eq!(config.user, "_gotd");
    assert!(config.repositories.len() >= 2);
    assert!(config.find_repository("openbsd/ports.git").is_some());
}

/// The EXAMPLES section of upstream's gotd.conf.5, verbatim.
#[test]
fn manual_page_example_parses() {
    let resolver = users().with_group("developers", 600);
    let parsed = parse_str(
        "gotd.conf",
        r#"# Run as the default user:
user _gotd

# Listen on the default socket:
listen on "/var/run/gotd.sock"

# This repository can be accessed via ssh://user@example.com/src
repository "src" {
	path "/var/git/src.git"
	permit rw flan_hacker
	permit rw :developers
	permit ro anonymous

	protect branch "main"
	protect tag namespace "refs/tags/"
}

# This repository can be accessed via
# ssh://user@example.com/openbsd/ports
repository "openbsd/ports" {
	path "/var/git/ports.git"
	permit rw :porters
	permit ro anonymous
	deny flan_hacker

	protect {
		branch "main"
		tag namespace "refs/tags/"
	}

	notify {
		branch "main"
		reference namespace "refs/tags/"
		email to openbsd-ports-changes@example.com
	}
}

# Use a larger request timeout value:
connection request timeout 2h

# Some users are granted a higher concurrent connection limit:
connection {
	limit user flan_hacker 16
	limit user anonymous 32
}
"#,
        &resolver,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = &parsed.config;
    assert_eq!(config.request_timeout_secs, 7200);
    assert_eq!(config.connection_limit(FLAN), 16);
    assert_eq!(config.connection_limit(ANON), 32);
    let src = config.find_repository("/src.git").unwrap();
    assert_eq!(src.rules.len(), 3);
    assert_eq!(src.protection.branches, vec!["refs/heads/main"]);
    let ports = config.find_repository("openbsd/ports").unwrap();
    assert_eq!(ports.notify.reference_namespaces, vec!["refs/tags/"]);
    assert_eq!(
        ports.notify.targets,
        vec![email("openbsd-ports-changes@example.com")]
    );
}

#[test]
fn config_survives_the_child_process_codec() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gotd.conf");
    let resolver = users()
        .with_user("release_bot", 1500)
        .with_group("developers", 600);
    let config = parse_file(&sample, &resolver).unwrap().config;
    let bytes = postcard::to_allocvec(&config).unwrap();
    let back: Config = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, config);
}

#[test]
fn a_path_resolving_to_non_utf8_is_refused() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(OsStr::from_bytes(b"repo\xff.git"));
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("link.git")).unwrap();
    let text = format!(
        "repository \"r\" {{\n  path \"{}/link.git\"\n}}\n",
        dir.path().display()
    );
    let err = parse_str("gotd.conf", &text, &users()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "gotd.conf:2: realpath {}/link.git: resolves to a non-UTF-8 path",
            dir.path().display()
        )
    );
}

mod secrets {
    use super::*;
    use gotd_config::{parse_secrets_str, parse_str_with_secrets, Secrets};

    const HOOKS: &str = "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify {\n    \
                         url \"https://h/a\" auth ci\n    url \"https://h/b\" hmac sig\n  }\n}\n";

    #[test]
    fn labels_are_not_checked_without_secrets() {
        assert!(parse_str("gotd.conf", HOOKS, &users()).is_ok());
    }

    #[test]
    fn known_labels_are_accepted() {
        let secrets = parse_secrets_str("s", "auth ci user u password p\nhmac sig k\n").unwrap();
        assert!(parse_str_with_secrets("gotd.conf", HOOKS, &users(), &secrets).is_ok());
    }

    #[rstest]
    #[case::no_secrets_file(
        "",
        "gotd.conf:4: no auth secret `ci' defined\ngotd.conf:5: no hmac secret `sig' defined"
    )]
    #[case::hmac_missing(
        "auth ci user u password p",
        "gotd.conf:5: no hmac secret `sig' defined"
    )]
    #[case::labels_of_the_wrong_type(
        "hmac ci k\nauth sig user u password p",
        "gotd.conf:4: no auth secret `ci' defined\ngotd.conf:5: no hmac secret `sig' defined"
    )]
    fn unknown_labels_are_refused(#[case] secrets: &str, #[case] expected: &str) {
        let secrets: Secrets = parse_secrets_str("s", secrets).unwrap();
        let err = parse_str_with_secrets("gotd.conf", HOOKS, &users(), &secrets).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn shipped_samples_agree() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let text = std::fs::read_to_string(dir.join("gotd-secrets.conf")).unwrap();
        let secrets = parse_secrets_str("gotd-secrets.conf", &text).unwrap();
        assert_eq!(
            secrets.auth("ci"),
            Some(("gotd-notify", "correct horse battery staple"))
        );
        let resolver = users()
            .with_user("release_bot", 1500)
            .with_group("developers", 600);
        let conf = std::fs::read_to_string(dir.join("gotd.conf")).unwrap();
        if let Err(e) = parse_str_with_secrets("gotd.conf", &conf, &resolver, &secrets) {
            panic!("{e}");
        }
    }
}
