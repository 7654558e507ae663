//! What the suite reads from /proc: processes by command line, their parent,
//! state (zombies), open file descriptors and resident memory.

use std::path::Path;

/// One process as seen in /proc/PID/stat and /proc/PID/cmdline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub state: char,
    pub argv: Vec<String>,
}

/// Parses the interesting fields of a /proc/PID/stat line. The command name
/// is in parentheses and may itself contain spaces and parentheses.
pub fn parse_stat(line: &str) -> Option<(i32, char, i32)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let pid = line[..open].trim().parse().ok()?;
    let mut rest = line[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((pid, state, ppid))
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (pid, state, ppid) = parse_stat(&stat)?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv = raw
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some(Proc {
        pid,
        ppid,
        state,
        argv,
    })
}

/// Every process currently visible.
pub fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// The process state of `pid`, or `None` if it is gone.
pub fn state(pid: i32) -> Option<char> {
    read_proc(pid).map(|p| p.state)
}

/// Whether `pid` is alive (exists and is not a zombie).
pub fn alive(pid: i32) -> bool {
    matches!(state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// The top-most process whose command line mentions `conf`: the gotd parent
/// (or the valgrind running it), not its re-executed children and not the
/// `sh -c` that started it.
pub fn find_daemon(conf: &Path) -> Option<i32> {
    let conf = conf.to_string_lossy();
    let procs: Vec<Proc> = all()
        .into_iter()
        .filter(|p| p.state != 'Z')
        .filter(|p| p.argv.iter().any(|a| a.contains(conf.as_ref())))
        .filter(|p| {
            let a0 = p.argv.first().map(String::as_str).unwrap_or("");
            let base = a0.rsplit('/').next().unwrap_or(a0);
            !matches!(base, "sh" | "bash" | "dash" | "env" | "sudo")
        })
        .collect();
    let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
    procs
        .iter()
        .filter(|p| !pids.contains(&p.ppid))
        .map(|p| p.pid)
        .min()
}

/// Children of `pid` (any state).
pub fn children(pid: i32) -> Vec<Proc> {
    all().into_iter().filter(|p| p.ppid == pid).collect()
}

/// Zombie children of `pid`.
pub fn zombies(pid: i32) -> Vec<i32> {
    children(pid)
        .into_iter()
        .filter(|p| p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Number of open file descriptors of `pid`.
pub fn fd_count(pid: i32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// The open file descriptors of `pid` with their targets, for diagnostics.
pub fn fd_list(pid: i32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut v: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| {
            let target = std::fs::read_link(e.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            format!("{}->{}", e.file_name().to_string_lossy(), target)
        })
        .collect();
    v.sort();
    v
}

/// Resident set size of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss(&status)
}

/// Extracts VmRSS (KiB) from /proc/PID/status text.
pub fn parse_vmrss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("123 (gotd) S 1 123 123 0", Some((123, 'S', 1)))]
    #[case("9 (a (b) c) Z 42 9 9", Some((9, 'Z', 42)))]
    #[case("garbage", None)]
    fn stat_lines(#[case] line: &str, #[case] want: Option<(i32, char, i32)>) {
        assert_eq!(parse_stat(line), want);
    }

    #[test]
    fn vmrss() {
        assert_eq!(
            parse_vmrss("Name:\tgotd\nVmRSS:\t    5120 kB\n"),
            Some(5120)
        );
        assert_eq!(parse_vmrss("Name:\tgotd\n"), None);
    }

    #[test]
    fn finds_the_topmost_process_naming_the_config() {
        use std::os::unix::process::CommandExt;
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("gotd");
        std::fs::copy("/bin/sh", &fake).unwrap();
        let conf = d.path().join("unique-gotd.conf");
        // The fake daemon and a child that also names the config.
        let mut child = std::process::Command::new(&fake)
            .arg("-c")
            .arg("\"$0\" -c 'sleep 30; true' \"$1\" & sleep 30; true")
            .arg(&fake)
            .arg(&conf)
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut found = None;
        while std::time::Instant::now() < deadline {
            if children(pid).iter().any(|p| p.argv.len() > 2) {
                found = find_daemon(&conf);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, Some(pid));
        assert_eq!(find_daemon(std::path::Path::new("/no/such.conf")), None);
    }

    #[test]
    fn sees_itself() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(fd_count(me).unwrap() >= 3);
        assert!(rss_kib(me).unwrap() > 0);
    }
}
