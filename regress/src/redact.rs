//! Making client-visible output stable for snapshots: object ids, agent
//! strings, pids, uids and dates are replaced by placeholders; NULs and other
//! control bytes are shown escaped.

/// Replaces every run of exactly 40 hex digits (an object id) by `[ID]`.
pub fn ids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_hexdigit() && (i == 0 || !b[i - 1].is_ascii_hexdigit()) {
            let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if run == 40 {
                out.push_str("[ID]");
                i += 40;
                continue;
            }
            out.push_str(&s[i..i + run]);
            i += run;
            continue;
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Replaces the value of `agent=` (up to a space, NUL or newline) by `[AGENT]`.
pub fn agent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("agent=") {
        out.push_str(&rest[..pos + "agent=".len()]);
        rest = &rest[pos + "agent=".len()..];
        let end = rest.find([' ', '\0', '\n', '\\']).unwrap_or(rest.len());
        out.push_str("[AGENT]");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces the number following each of `labels` (e.g. `"PID "`) by `[N]`.
pub fn numbers_after(s: &str, labels: &[&str]) -> String {
    let mut text = s.to_string();
    for label in labels {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(pos) = rest.find(label) {
            out.push_str(&rest[..pos + label.len()]);
            rest = &rest[pos + label.len()..];
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 {
                out.push_str("[N]");
            }
            rest = &rest[digits..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// Shows bytes as text: NUL as `\0`, other control bytes except newline as
/// `\xNN`, invalid UTF-8 lossily.
pub fn visible(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\n' => out.push('\n'),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The standard redaction of client-visible text.
pub fn standard(s: &str) -> String {
    agent(&ids(s))
}

/// Lines of a git client's `stderr` that carry the server's verdict
/// (`fatal:`, `error:`, ` ! [rejected]`), redacted and sorted. `gotsh:` lines
/// are left out: gotsh's stderr travels through ssh, which may lose it when
/// git exits first on the `ERR` it already read; [`gotsh_lines_agree`]
/// checks those that did arrive.
pub fn error_lines(stderr: &str) -> String {
    let mut lines: Vec<String> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with("fatal:") || l.starts_with("error:") || l.starts_with(" ! "))
        .map(standard)
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Every `gotsh: <msg>` line in `stderr` repeats a `fatal: remote error:
/// <msg>` line of git's; returns the first that does not.
pub fn gotsh_lines_agree(stderr: &str) -> Result<(), String> {
    let remote: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("fatal: remote error: "))
        .collect();
    for l in stderr.lines().map(str::trim_end) {
        if let Some(msg) = l.strip_prefix("gotsh: ") {
            if !remote.contains(&msg) {
                return Err(format!(
                    "{l:?} does not match git's remote error {remote:?}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0123456789abcdef0123456789abcdef01234567 HEAD", "[ID] HEAD")]
    #[case("x0123456789abcdef0123456789abcdef01234567", "x[ID]")]
    #[case(
        "0123456789abcdef0123456789abcdef012345678",
        "0123456789abcdef0123456789abcdef012345678"
    )]
    #[case("deadbeef é", "deadbeef é")]
    #[case("", "")]
    fn redacts_ids(#[case] input: &str, #[case] want: &str) {
        assert_eq!(ids(input), want);
    }

    #[rstest]
    #[case("\0 agent=gotd/0.1.0 ofs-delta", "\0 agent=[AGENT] ofs-delta")]
    #[case("agent=git/2.47.3\n", "agent=[AGENT]\n")]
    #[case("agent=x\\0", "agent=[AGENT]\\0")]
    #[case("no agent here", "no agent here")]
    fn redacts_agent(#[case] input: &str, #[case] want: &str) {
        assert_eq!(agent(input), want);
    }

    #[test]
    fn redacts_numbers_after_labels() {
        assert_eq!(
            numbers_after(
                "gotd PID: 42\nclient UID 1001, GID 7",
                &["PID: ", "UID ", "GID "]
            ),
            "gotd PID: [N]\nclient UID [N], GID [N]"
        );
    }

    #[test]
    fn visible_escapes_control_bytes() {
        assert_eq!(visible(b"a\0b\x01\n"), "a\\0b\\x01\n");
    }

    #[test]
    fn error_lines_are_filtered_sorted_redacted() {
        let stderr = "Cloning into 'x'...\ngotsh: test-repo: Permission denied\nfatal: remote error: test-repo: Permission denied\nerror: 0123456789abcdef0123456789abcdef01234567\n";
        assert_eq!(
            error_lines(stderr),
            "error: [ID]\nfatal: remote error: test-repo: Permission denied"
        );
    }

    #[rstest]
    #[case(
        "gotsh: x: Permission denied\nfatal: remote error: x: Permission denied",
        true
    )]
    #[case("fatal: remote error: x: Permission denied", true)]
    #[case("gotsh: other\nfatal: remote error: x: Permission denied", false)]
    fn gotsh_lines(#[case] stderr: &str, #[case] ok: bool) {
        assert_eq!(gotsh_lines_agree(stderr).is_ok(), ok);
    }
}
