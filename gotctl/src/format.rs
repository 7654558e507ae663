//! The text of `gotctl info`, in upstream's layout.

use std::fmt::Write;

use gotd_wire::request::Info;

/// Formats the daemon's state.
pub fn info(info: &Info) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "gotd PID: {}", info.pid);
    let _ = writeln!(s, "verbosity: {}", info.verbosity);
    let _ = writeln!(s, "number of repositories: {}", info.repositories.len());
    let _ = writeln!(s, "number of connected clients: {}", info.clients.len());
    for r in &info.repositories {
        let _ = writeln!(s, "repository \"{}\", path {}", r.name, r.path);
    }
    for c in &info.clients {
        let _ = write!(s, "client UID {}, GID {}, ", c.uid, c.gid);
        if let Some(pid) = c.repo_pid {
            let _ = write!(s, "repo PID {pid}, ");
        }
        if c.repo.is_empty() {
            let _ = writeln!(s, "connected since {}", asctime(c.since));
        } else {
            let _ = writeln!(
                s,
                "{} repository \"{}\" since {}",
                if c.writing {
                    "writing to"
                } else {
                    "reading from"
                },
                c.repo,
                asctime(c.since)
            );
        }
    }
    s
}

/// `Thu Jan  1 00:00:00 1970`-style time (UTC), like asctime(3).
pub fn asctime(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch / 86400;
    let secs = epoch % 86400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        y
    )
}

/// Year, month (1–12) and day (1–31) of a day count since 1970-01-01
/// (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotd_wire::request::{ClientInfo, RepoInfo};

    #[test]
    fn times() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(asctime(1_796_413_187), "Fri Dec  4 19:39:47 2026");
    }

    #[test]
    fn layout() {
        let i = Info {
            pid: 4242,
            verbosity: 1,
            repositories: vec![RepoInfo {
                name: "test-repo".into(),
                path: "/git/test-repo.git".into(),
            }],
            clients: vec![
                ClientInfo {
                    uid: 1000,
                    gid: 1000,
                    repo_pid: Some(4343),
                    writing: false,
                    repo: "test-repo".into(),
                    since: 0,
                },
                ClientInfo {
                    uid: 1001,
                    gid: 100,
                    repo_pid: Some(4344),
                    writing: true,
                    repo: "test-repo".into(),
                    since: 86_400,
                },
            ],
        };
        insta::assert_snapshot!(info(&i));
    }
}
