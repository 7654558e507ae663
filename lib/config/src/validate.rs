//! Value checks shared by the parser: timeouts, reference names and
//! namespaces, notification URLs and ports. Each returns the message to
//! report (upstream's wording) on failure.

/// Parses a `request timeout` written as a word: digits with an optional
/// `s`, `m` or `h` suffix (any case). Returns seconds. Zero is accepted
/// here; the caller refuses non-positive timeouts.
pub fn timeout_from_word(word: &str) -> Result<u64, String> {
    if word.is_empty() {
        return Err("invalid number of seconds: ".to_owned());
    }
    let (digits, unit, mul) = match word.as_bytes()[word.len() - 1] {
        b's' | b'S' => (&word[..word.len() - 1], "seconds", 1),
        b'm' | b'M' => (&word[..word.len() - 1], "minutes", 60),
        b'h' | b'H' => (&word[..word.len() - 1], "hours", 3600),
        _ => (word, "seconds", 1),
    };
    let max = i64::from(i32::MAX) / mul;
    let value =
        strtonum(digits, 0, max).map_err(|why| format!("number of {unit} is {why}: {digits}"))?;
    // Cannot overflow: value <= i32::MAX / mul.
    Ok((value * mul) as u64)
}

/// Like OpenBSD's strtonum(3): a decimal integer within `min..=max`, or
/// `"invalid"`, `"too small"`, `"too large"`.
fn strtonum(text: &str, min: i64, max: i64) -> Result<i64, &'static str> {
    let t = text.trim_start();
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    match t.parse::<i64>() {
        Ok(v) if v < min => Err("too small"),
        Ok(v) if v > max => Err("too large"),
        Ok(v) => Ok(v),
        Err(_) if t.starts_with('-') => Err("too small"),
        Err(_) => Err("too large"),
    }
}

/// Whether `name` is a well-formed reference name (git's rules): no empty
/// component, no component starting with `.` or ending with `.lock`, no
/// `..`, `@{`, control characters, space, `~ ^ : ? * [ \`, and not ending
/// with `/` or `.`.
pub fn ref_name_is_well_formed(name: &str) -> bool {
    if name.is_empty() || name == "@" || name.ends_with('.') || name.ends_with('/') {
        return false;
    }
    if name.contains("..") || name.contains("@{") {
        return false;
    }
    if name.chars().any(|c| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return false;
    }
    name.split('/')
        .all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"))
}

/// Checks a full reference name as upstream does before using it in a rule.
pub fn check_ref_name(name: &str) -> Result<(), String> {
    if !name.starts_with("refs/") {
        return Err(format!("reference name must begin with \"refs/\": {name}"));
    }
    if !ref_name_is_well_formed(name) {
        return Err(format!("invalid reference name: {name}"));
    }
    Ok(())
}

/// A branch name as written in `protect branch` or `notify branch`, made a
/// full reference name (`refs/heads/` prepended unless present) and checked.
pub fn branch_ref(branch: &str) -> Result<String, String> {
    let full = if branch.starts_with("refs/heads/") {
        branch.to_owned()
    } else {
        format!("refs/heads/{branch}")
    };
    check_ref_name(&full)?;
    Ok(full)
}

/// A reference namespace as written, with trailing slashes removed, checked
/// and given exactly one trailing `/`.
pub fn namespace(written: &str) -> Result<String, String> {
    let stripped = written.trim_end_matches('/');
    check_ref_name(stripped)?;
    Ok(format!("{stripped}/"))
}

/// The parts of a notification URL that identify its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    pub scheme: String,
    pub host: String,
    /// Explicit port, or 80/443 for http/https.
    pub port: String,
    pub path: String,
}

/// Splits `scheme://host[:port]/path`. Fails (`failed to parse uri`) without
/// `://`, without a `/` after the host, or with an empty host or port.
pub fn parse_url(url: &str) -> Result<UrlParts, String> {
    let fail = || "failed to parse uri".to_owned();
    let (scheme, rest) = url.split_once("://").ok_or_else(fail)?;
    let slash = rest.find('/').ok_or_else(fail)?;
    let (authority, path) = rest.split_at(slash);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() || port == Some("") {
        return Err(fail());
    }
    let default_port = match scheme {
        "https" => "443",
        _ => "80",
    };
    // Upstream collapses a run of leading slashes of the path into one.
    let path = format!("/{}", path.trim_start_matches('/'));
    Ok(UrlParts {
        scheme: scheme.to_owned(),
        host: host.to_owned(),
        port: port.unwrap_or(default_port).to_owned(),
        path,
    })
}

/// An SMTP relay port: 1..=65535.
pub fn port(written: &str) -> Result<u16, String> {
    match strtonum(written, 1, 65535) {
        Ok(p) => Ok(p as u16),
        Err(why) => Err(format!("port number {written} is {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("60", Ok(60))]
    #[case("60s", Ok(60))]
    #[case("5m", Ok(300))]
    #[case("2h", Ok(7200))]
    #[case("2H", Ok(7200))]
    #[case("0", Ok(0))]
    #[case("", Err("invalid number of seconds: "))]
    #[case("h", Err("number of hours is invalid: "))]
    #[case("2x", Err("number of seconds is invalid: 2x"))]
    #[case("-1m", Err("number of minutes is too small: -1"))]
    #[case("600000h", Err("number of hours is too large: 600000"))]
    fn timeouts(#[case] word: &str, #[case] expected: Result<u64, &str>) {
        assert_eq!(timeout_from_word(word), expected.map_err(str::to_owned));
    }

    #[rstest]
    #[case("refs/heads/main", true)]
    #[case("refs/tags/v1.0", true)]
    #[case("refs/heads/a/b", true)]
    #[case("refs/heads/", false)]
    #[case("refs//heads", false)]
    #[case("refs/heads/.hidden", false)]
    #[case("refs/heads/x.lock", false)]
    #[case("refs/heads/a..b", false)]
    #[case("refs/heads/a b", false)]
    #[case("refs/heads/a~1", false)]
    #[case("refs/heads/a^", false)]
    #[case("refs/heads/a:b", false)]
    #[case("refs/heads/a?", false)]
    #[case("refs/heads/a*", false)]
    #[case("refs/heads/a[", false)]
    #[case("refs/heads/a\\b", false)]
    #[case("refs/heads/a@{1}", false)]
    #[case("refs/heads/a.", false)]
    #[case("refs/heads/a\tb", false)]
    fn ref_names(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(ref_name_is_well_formed(name), ok);
    }

    #[rstest]
    #[case("main", Ok("refs/heads/main"))]
    #[case("refs/heads/main", Ok("refs/heads/main"))]
    #[case("refs/tags/x", Ok("refs/heads/refs/tags/x"))]
    #[case("bad..name", Err("invalid reference name: refs/heads/bad..name"))]
    fn branches(#[case] written: &str, #[case] expected: Result<&str, &str>) {
        assert_eq!(
            branch_ref(written),
            expected.map(str::to_owned).map_err(str::to_owned)
        );
    }

    #[rstest]
    #[case("refs/tags", Ok("refs/tags/"))]
    #[case("refs/tags/", Ok("refs/tags/"))]
    #[case("refs/tags///", Ok("refs/tags/"))]
    #[case("refs/heads/release/", Ok("refs/heads/release/"))]
    #[case("tags/", Err("reference name must begin with \"refs/\": tags"))]
    #[case("refs/a b/", Err("invalid reference name: refs/a b"))]
    fn namespaces(#[case] written: &str, #[case] expected: Result<&str, &str>) {
        assert_eq!(
            namespace(written),
            expected.map(str::to_owned).map_err(str::to_owned)
        );
    }

    #[rstest]
    #[case("https://example.com/hook", "https", "example.com", "443", "/hook")]
    #[case("http://example.com/", "http", "example.com", "80", "/")]
    #[case("http://h:8080//x/y", "http", "h", "8080", "/x/y")]
    #[case("ftp://h/x", "ftp", "h", "80", "/x")]
    fn urls(
        #[case] url: &str,
        #[case] scheme: &str,
        #[case] host: &str,
        #[case] port: &str,
        #[case] path: &str,
    ) {
        let parts = parse_url(url).unwrap();
        assert_eq!(
            (
                parts.scheme.as_str(),
                parts.host.as_str(),
                parts.port.as_str(),
                parts.path.as_str()
            ),
            (scheme, host, port, path)
        );
    }

    #[rstest]
    #[case("example.com/hook")]
    #[case("https://example.com")]
    #[case("https:///x")]
    #[case("https://h:/x")]
    fn bad_urls(#[case] url: &str) {
        assert_eq!(parse_url(url), Err("failed to parse uri".to_owned()));
    }

    #[rstest]
    #[case("25", Ok(25))]
    #[case("65535", Ok(65535))]
    #[case("0", Err("port number 0 is too small"))]
    #[case("65536", Err("port number 65536 is too large"))]
    #[case("smtp", Err("port number smtp is invalid"))]
    fn ports(#[case] written: &str, #[case] expected: Result<u16, &str>) {
        assert_eq!(port(written), expected.map_err(str::to_owned));
    }
}
