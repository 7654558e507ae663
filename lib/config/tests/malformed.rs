//! Malformed configurations: each must be refused with located errors
//! (`gotd.conf:<line>: <message>`). All the error texts are kept in one
//! insta snapshot so a change of wording is reviewed in one place.

use std::fmt::Write;

use gotd_config::{parse_str, ConfigError, FixedResolver};

/// (what is wrong, configuration text)
const CASES: &[(&str, &str)] = &[
    ("empty file", ""),
    ("only comments", "# nothing here\n\n"),
    ("listen without on", "listen \"/var/run/gotd.sock\"\n"),
    ("relative socket path", "listen on \"var/run/gotd.sock\"\n"),
    ("unquoted socket path", "listen on /var/run/gotd.sock\n"),
    (
        "socket path too long",
        "listen on \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"\n",
    ),
    ("unknown directive", "daemon yes\n"),
    ("reserved word as argument", "user listen\n"),
    ("trailing word", "user _gotd extra\n"),
    ("timeout zero", "connection request timeout 0\n"),
    ("timeout negative", "connection request timeout -5\n"),
    ("timeout bad unit", "connection request timeout 2x\n"),
    ("timeout too large", "connection request timeout 999999999h\n"),
    ("timeout missing", "connection request timeout\n"),
    ("limit zero", "connection limit user flan 0\n"),
    ("limit too large", "connection limit user flan 1025\n"),
    ("limit unknown user", "connection limit user nobody_x 4\n"),
    ("limit quoted number", "connection limit user flan \"16\"\n"),
    ("empty connection block", "connection { }\n"),
    ("unknown connection option", "connection { maximum 3 }\n"),
    (
        "unclosed connection block",
        "connection {\n  request timeout 1h\n",
    ),
    ("number too large", "connection request timeout 99999999999999999999\n"),
    ("no repository", "user _gotd\nlisten on \"/var/run/gotd.sock\"\n"),
    ("repository without path", "repository \"r\" {\n  permit rw flan\n}\n"),
    (
        "duplicate repository",
        "repository \"r\" { path \"/nonexistent/r\" }\nrepository \"r\" { path \"/nonexistent/s\" }\n",
    ),
    ("empty repository name", "repository \"\" { path \"/nonexistent/r\" }\n"),
    ("relative repository path", "repository \"r\" {\n  path \"git/r.git\"\n}\n"),
    ("repository path not a directory", "repository \"r\" {\n  path \"/dev/null/r.git\"\n}\n"),
    ("empty repository block", "repository \"r\" {\n}\n"),
    ("brace on the next line", "repository \"r\"\n{\n  path \"/nonexistent/r\"\n}\n"),
    ("unclosed repository block", "repository \"r\" {\n  path \"/nonexistent/r\"\n"),
    ("unknown repository option", "repository \"r\" {\n  path \"/nonexistent/r\"\n  mirror yes\n}\n"),
    ("permit without mode", "repository \"r\" {\n  path \"/nonexistent/r\"\n  permit flan\n}\n"),
    ("unknown user", "repository \"r\" {\n  path \"/nonexistent/r\"\n  permit rw nobody_x\n}\n"),
    ("unknown group", "repository \"r\" {\n  path \"/nonexistent/r\"\n  deny :nogroup_x\n}\n"),
    ("empty group", "repository \"r\" {\n  path \"/nonexistent/r\"\n  deny \":\"\n}\n"),
    (
        "namespace outside refs/",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  protect tag namespace \"tags/\"\n}\n",
    ),
    (
        "invalid namespace",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  protect branch namespace \"refs/a b\"\n}\n",
    ),
    (
        "namespace protected twice",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  protect {\n    branch namespace \"refs/x\"\n    tag namespace \"refs/x/\"\n  }\n}\n",
    ),
    (
        "branch protected twice",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  protect branch main\n  protect branch \"refs/heads/main\"\n}\n",
    ),
    (
        "invalid branch name",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  protect branch \"a..b\"\n}\n",
    ),
    (
        "empty protect block",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  protect { }\n}\n",
    ),
    (
        "notify namespace outside refs/",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify reference namespace \"tags\"\n}\n",
    ),
    (
        "email without recipient",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify email from a@b\n}\n",
    ),
    (
        "email recipient twice",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify {\n    email to a@b\n    email to a@b relay mx\n  }\n}\n",
    ),
    (
        "email port out of range",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify email to a@b relay mx port 70000\n}\n",
    ),
    (
        "email port name",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify email to a@b relay mx port smtp\n}\n",
    ),
    (
        "url with another scheme",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify url \"ftp://example.com/x\"\n}\n",
    ),
    (
        "url without path",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify url \"https://example.com\"\n}\n",
    ),
    (
        "url without scheme",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify url \"example.com/hook\"\n}\n",
    ),
    (
        "plain http with auth",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify url \"http://example.com/hook\" auth ci\n}\n",
    ),
    (
        "insecure without auth",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify url \"http://example.com/hook\" insecure\n}\n",
    ),
    (
        "url twice",
        "repository \"r\" {\n  path \"/nonexistent/r\"\n  notify {\n    url \"https://h/x\"\n    url \"https://h:443//x\"\n  }\n}\n",
    ),
    ("undefined macro", "user $who\n"),
    ("macro used before definition", "user $who\nwho = flan\n"),
    ("macro name with spaces", "\"a b\" = c\n"),
    ("macro without value", "who =\n"),
    (
        "macro holding an unquoted path",
        "p = \"/nonexistent/r\"\nrepository \"r\" {\n  path $p\n}\n",
    ),
    ("unterminated quote", "user _gotd\nlisten on \"/x\n"),
    (
        "quote left open runs into the next line",
        "user \"_gotd\nlisten on \"/x\"\n",
    ),
    ("stray character", "user _gotd !\n"),
    (
        "several problems",
        "listen on \"relative.sock\"\nconnection limit user nobody_x 4\nrepository \"r\" {\n  path \"/nonexistent/r\"\n  permit rw nobody_y\n  deny :nogroup_x\n}\nconnection request timeout 0\n",
    ),
];

#[test]
fn malformed_configurations_are_refused_with_located_errors() {
    let resolver = FixedResolver::new().with_user("flan", 1000);
    let mut report = String::new();
    for (what, text) in CASES {
        let err = match parse_str("gotd.conf", text, &resolver) {
            Ok(parsed) => panic!("{what}: accepted: {:?}", parsed.config),
            Err(err) => err,
        };
        let ConfigError::Invalid(diagnostics) = &err else {
            panic!("{what}: not a parse error: {err:?}");
        };
        assert!(!diagnostics.is_empty(), "{what}");
        for line in err.to_string().lines() {
            assert!(line.starts_with("gotd.conf:"), "{what}: {line}");
        }
        writeln!(report, "## {what}").unwrap();
        for line in text.lines() {
            writeln!(report, "> {line}").unwrap();
        }
        writeln!(report, "{err}\n").unwrap();
    }
    assert!(CASES.len() >= 25);
    insta::assert_snapshot!("malformed", report);
}
