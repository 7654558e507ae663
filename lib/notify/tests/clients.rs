//! The SMTP and HTTP clients against servers in the test process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use gotd_notify::email::{self, Envelope};
use gotd_notify::http::{self, Endpoint};
use gotd_notify::summary::{Change, RefSummary};
use gotd_notify::{deliver, Job, Target};

const T: Duration = Duration::from_secs(5);

/// A fake relay: answers each command with `replies` in order and returns
/// everything the client sent.
fn smtp_server(replies: &'static [&'static str]) -> (u16, thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut got = String::new();
        w.write_all(b"220 fake ESMTP\r\n").unwrap();
        let mut in_data = false;
        for reply in replies {
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return got;
                }
                got.push_str(&line);
                if !in_data || line == ".\r\n" {
                    in_data = line == "DATA\r\n";
                    break;
                }
            }
            w.write_all(reply.as_bytes()).unwrap();
        }
        got
    });
    (port, h)
}

fn removed() -> RefSummary {
    RefSummary {
        refname: "refs/heads/x".into(),
        change: Change::Removed,
        old: "1".repeat(40),
        new: "0".repeat(40),
        commits: vec![],
        total_commits: 0,
        tag: None,
    }
}

fn envelope(port: u16) -> Envelope {
    Envelope {
        from: "got@example.com".into(),
        to: "dev@example.com".into(),
        reply_to: None,
        relay_host: "127.0.0.1".into(),
        relay_port: port,
    }
}

#[test]
fn smtp_dialogue() {
    let (port, h) = smtp_server(&[
        "250-fake\r\n250 ok\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354 go\r\n",
        "250 queued\r\n",
        "221 bye\r\n",
    ]);
    let env = envelope(port);
    let data = email::message(&env, "subj", "line\n.dot\n", 0);
    email::send(&env, &data, T).unwrap();
    let got = h.join().unwrap();
    assert!(got.starts_with(
        "HELO localhost\r\nMAIL FROM:<got@example.com>\r\nRCPT TO:<dev@example.com>\r\nDATA\r\n"
    ));
    assert!(got.contains("Subject: subj\r\n"));
    assert!(
        got.contains("\r\nline\r\n..dot\r\n.\r\nQUIT\r\n"),
        "{got:?}"
    );
}

#[test]
fn smtp_refusal_is_an_error() {
    let (port, h) = smtp_server(&["250 ok\r\n", "550 no such sender\r\n"]);
    let env = envelope(port);
    let err = email::send(&env, &email::message(&env, "s", "b", 0), T).unwrap_err();
    assert!(err.to_string().contains("550 no such sender"), "{err}");
    h.join().unwrap();
}

#[test]
fn smtp_silence_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut buf = [0u8; 1];
        s.set_read_timeout(Some(T)).unwrap();
        let _ = (&s).read(&mut buf);
    });
    let env = envelope(port);
    let start = std::time::Instant::now();
    assert!(email::send(&env, "x", Duration::from_millis(300)).is_err());
    assert!(start.elapsed() < Duration::from_secs(4));
    h.join().unwrap();
}

/// A one-request HTTP server returning (request head, body).
fn http_server(status: &'static str) -> (u16, thread::JoinHandle<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let mut w = s;
        w.write_all(
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        (head, String::from_utf8(body).unwrap())
    });
    (port, h)
}

#[test]
fn http_post_with_auth_and_signature() {
    let (port, h) = http_server("200 OK");
    let ep = Endpoint {
        url: format!("http://127.0.0.1:{port}/hook"),
        auth: Some(("flan".into(), "password".into())),
        hmac: Some("s3cret".into()),
    };
    let body = http::body("test-repo", "gotdev", &removed());
    http::post(&ep, &body, T).unwrap();
    let (head, got) = h.join().unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("authorization: basic zmxhbjpwyxnzd29yza==\r\n"),
        "{head}"
    );
    assert!(
        lower.contains("content-type: application/json\r\n"),
        "{head}"
    );
    assert_eq!(got, body);
    let sig = http::signature("s3cret", got.as_bytes());
    assert!(
        lower.contains(&format!("x-gotd-signature: {sig}\r\n")),
        "{head}"
    );
}

#[test]
fn hmac_matches_a_known_value() {
    // RFC 4231 test case 2.
    assert_eq!(
        http::signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn http_error_status_is_an_error_and_retried() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        let mut n = 0;
        for s in l.incoming().take(3) {
            let mut s = s.unwrap();
            s.set_read_timeout(Some(T)).unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            n += 1;
        }
        n
    });
    let job = Job {
        target: Target::Http(Endpoint {
            url: format!("http://127.0.0.1:{port}/"),
            auth: None,
            hmac: None,
        }),
        repo: "r".into(),
        user: "u".into(),
        summary: removed(),
    };
    let mut retries = 0;
    let err = deliver(&job, T, Duration::from_millis(10), |_, _| retries += 1).unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert_eq!(retries, 2);
    assert_eq!(h.join().unwrap(), 3);
}
