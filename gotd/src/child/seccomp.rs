//! The seccomp allow-list of repo children.
//!
//! Only the system calls a git server needs are allowed: file I/O within
//! what Landlock leaves visible, memory, threads, signals, time, the
//! already-open sockets, and the file operations of a push (mkdir, rename,
//! unlink, link, fsync, flock). Everything else fails with ENOSYS, so
//! program execution, new sockets, tracing, identity changes, mounts,
//! kernel modules, BPF and keyrings are all out of reach.
//!
//! The list was measured with `strace -f` over clones (protocol v0 and v2),
//! fetches and pushes through gotd, then widened with the sibling calls the
//! same library code may pick on other kernels or paths (e.g. `clone` for
//! `clone3`, `fdatasync` for `fsync`). ENOSYS rather than a kill keeps such
//! fallbacks working.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule};

/// System calls allowed on every architecture.
const ALLOWED: &[i64] = &[
    // descriptors and file contents
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_lseek,
    libc::SYS_close,
    libc::SYS_openat,
    libc::SYS_fcntl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_ioctl,
    libc::SYS_ppoll,
    libc::SYS_copy_file_range,
    libc::SYS_sendfile,
    // metadata and directories
    libc::SYS_statx,
    libc::SYS_newfstatat,
    libc::SYS_fstat,
    libc::SYS_fstatfs,
    libc::SYS_statfs,
    libc::SYS_getdents64,
    libc::SYS_readlinkat,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getcwd,
    // writing a repository (Landlock keeps readers read-only)
    libc::SYS_mkdirat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_unlinkat,
    libc::SYS_linkat,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_flock,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_utimensat,
    libc::SYS_umask,
    // memory
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_mremap,
    libc::SYS_brk,
    // threads
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_get_robust_list,
    libc::SYS_rseq,
    libc::SYS_set_tid_address,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_membarrier,
    libc::SYS_prctl,
    libc::SYS_exit,
    libc::SYS_exit_group,
    // signals (a panic may abort: tgkill to ourselves)
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_tgkill,
    // identity and time
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_uname,
    libc::SYS_getrandom,
    libc::SYS_prlimit64,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    // the IPC socket and the client's descriptors
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_shutdown,
    libc::SYS_getsockopt,
];

/// The older path-based calls x86_64 still has (glibc and std use some).
#[cfg(target_arch = "x86_64")]
const ALLOWED_LEGACY: &[i64] = &[
    libc::SYS_open,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_access,
    libc::SYS_readlink,
    libc::SYS_mkdir,
    libc::SYS_rename,
    libc::SYS_unlink,
    libc::SYS_rmdir,
    libc::SYS_link,
    libc::SYS_chmod,
    libc::SYS_dup2,
    libc::SYS_poll,
    libc::SYS_getdents,
    libc::SYS_arch_prctl,
];

#[cfg(not(target_arch = "x86_64"))]
const ALLOWED_LEGACY: &[i64] = &[];

/// Builds the filter for this architecture.
pub fn filter() -> Result<BpfProgram, String> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("unsupported architecture: {e:?}"))?;
    let rules: BTreeMap<i64, Vec<SeccompRule>> = ALLOWED
        .iter()
        .chain(ALLOWED_LEGACY)
        .map(|&nr| (nr, Vec::new()))
        .collect();
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::ENOSYS as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    BpfProgram::try_from(f).map_err(|e| e.to_string())
}

/// Installs the filter on the calling (only) thread; threads started later
/// inherit it. Returns the report line for the log.
pub fn apply() -> String {
    match filter().and_then(|p| seccompiler::apply_filter(&p).map_err(|e| e.to_string())) {
        Ok(()) => format!(
            "seccomp: allow-list of {} system calls",
            ALLOWED.len() + ALLOWED_LEGACY.len()
        ),
        Err(e) => format!("seccomp: not enabled ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_builds() {
        assert!(!filter().unwrap().is_empty());
    }

    #[test]
    fn dangerous_calls_are_not_allowed() {
        for nr in [
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_ptrace,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_setuid,
            libc::SYS_mount,
            libc::SYS_bpf,
            libc::SYS_kill,
        ] {
            assert!(!ALLOWED.contains(&nr) && !ALLOWED_LEGACY.contains(&nr));
        }
    }

    /// Applies the filter in a child process and checks that exec fails
    /// there while ordinary work goes on.
    #[test]
    fn exec_fails_under_the_filter() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child::seccomp::tests::filtered_probe",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("GOTD_SECCOMP_PROBE", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("probe: exec refused"), "{stdout}");
    }

    #[test]
    fn filtered_probe() {
        if std::env::var_os("GOTD_SECCOMP_PROBE").is_none() {
            return;
        }
        nix::sys::prctl::set_no_new_privs().unwrap();
        let p = filter().unwrap();
        seccompiler::apply_filter(&p).unwrap();
        std::fs::read_dir("/").unwrap();
        match std::process::Command::new("/bin/true").status() {
            Err(_) => println!("probe: exec refused"),
            Ok(s) => println!("probe: exec allowed ({s})"),
        }
    }
}
