//! report-status (and report-status-v2, whose lines are the same when no
//! ref was rewritten): `unpack ok` or `unpack <reason>`, then `ok <ref>` or
//! `ng <ref> <reason>` per command, then a flush.
//!
//! Refs are reported in reverse order of the client's lines, as upstream
//! gotd does; got's client output depends on it and git's does not.

use gotd_wire::pkt;

/// Builds the pkt-line framed report. `unpack_error`: `None` for `unpack ok`.
pub(crate) fn build(unpack_error: Option<&str>, refs: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut line = |text: String| {
        let mut text = text.replace('\n', " ");
        text.truncate(pkt::MAX_PAYLOAD - 1);
        pkt::write_line(&mut buf, &text).expect("writing to a Vec");
    };
    line(format!("unpack {}", unpack_error.unwrap_or("ok")));
    for (name, error) in refs.iter().rev() {
        match error {
            None => line(format!("ok {name}")),
            Some(reason) => line(format!("ng {name} {reason}")),
        }
    }
    pkt::write_flush(&mut buf).expect("writing to a Vec");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_order_and_reasons() {
        let got = build(
            None,
            &[
                ("refs/heads/a", None),
                ("refs/heads/b", Some("atomic transaction failed")),
            ],
        );
        insta::assert_snapshot!(String::from_utf8(got).unwrap(), @"000eunpack ok
002eng refs/heads/b atomic transaction failed
0014ok refs/heads/a
0000");
    }

    #[test]
    fn unpack_failure() {
        let got = build(
            Some("short pack file"),
            &[("refs/heads/a", Some("unpacker error"))],
        );
        insta::assert_snapshot!(String::from_utf8(got).unwrap(), @"001bunpack short pack file
0023ng refs/heads/a unpacker error
0000");
    }
}
