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

use seccompiler::{sock_filter, BpfProgram};

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
    libc::SYS_getrusage,
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

/// `AUDIT_ARCH_*` of the architectures we build for (linux/audit.h).
const fn audit_arch() -> Option<u32> {
    if cfg!(target_arch = "x86_64") {
        Some(0xC000_003E)
    } else if cfg!(target_arch = "aarch64") {
        Some(0xC000_00B7)
    } else if cfg!(target_arch = "riscv64") {
        Some(0xC000_00F3)
    } else {
        None
    }
}

// Classic BPF opcodes (linux/bpf_common.h: class | size/op | mode/source)
// and the offsets of `struct seccomp_data`.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
const JMP_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JMP_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

/// Most system calls a leaf of the search tree compares one by one.
const LEAF: usize = 4;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Builds the filter for this architecture.
///
/// The allowed numbers are sorted and searched as a binary tree, so a
/// system call is decided after about eight comparisons instead of a walk
/// down the whole list. That matters at every child start: installing a
/// filter makes the kernel run it once per system call number of every
/// ABI to fill its verdict cache, which took ~0.3 ms per child for a
/// linear list of this length and takes a few microseconds for the tree.
/// Anything not on the list (including x32 numbers, which have bit 30 set)
/// fails with ENOSYS; a system call of a foreign ABI kills the process.
pub fn filter() -> Result<BpfProgram, String> {
    let arch = audit_arch()
        .ok_or_else(|| format!("unsupported architecture: {}", std::env::consts::ARCH))?;
    let mut allowed: Vec<u32> = ALLOWED
        .iter()
        .chain(ALLOWED_LEGACY)
        .map(|&nr| u32::try_from(nr).map_err(|_| format!("bad system call number {nr}")))
        .collect::<Result<_, _>>()?;
    allowed.sort_unstable();
    allowed.dedup();
    let mut prog = vec![
        stmt(LD_W_ABS, DATA_ARCH),
        jump(JMP_JEQ_K, arch, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LD_W_ABS, DATA_NR),
    ];
    prog.extend(search(&allowed));
    if prog.len() > usize::from(u16::MAX) {
        return Err("seccomp filter too long".into());
    }
    Ok(prog)
}

/// The search tree over `nrs` (sorted): the accumulator holds the system
/// call number; every path ends in a return.
fn search(nrs: &[u32]) -> Vec<sock_filter> {
    let deny = stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
    let allow = stmt(RET_K, libc::SECCOMP_RET_ALLOW);
    if nrs.len() <= LEAF {
        // jeq a → allow; jeq b → allow; …; deny; allow
        let n = nrs.len();
        let mut out: Vec<sock_filter> = nrs
            .iter()
            .enumerate()
            .map(|(i, &nr)| jump(JMP_JEQ_K, nr, (n - i) as u8, 0))
            .collect();
        out.push(deny);
        out.push(allow);
        return out;
    }
    let mid = nrs.len() / 2;
    let low = search(&nrs[..mid]);
    let high = search(&nrs[mid..]);
    // jge nrs[mid] → high; low…; high…
    let mut out = Vec::with_capacity(low.len() + high.len() + 2);
    match u8::try_from(low.len()) {
        Ok(skip) => out.push(jump(JMP_JGE_K, nrs[mid], skip, 0)),
        Err(_) => {
            // Too far for a conditional jump: go through an unconditional one.
            out.push(jump(JMP_JGE_K, nrs[mid], 0, 1));
            out.push(stmt(JMP_JA, low.len() as u32));
        }
    }
    out.extend(low);
    out.extend(high);
    out
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

    /// Runs `prog` the way the kernel does for a system call `nr` of ABI
    /// `arch`, returning its verdict and how many instructions ran.
    fn run(prog: &[sock_filter], arch: u32, nr: u32) -> (u32, usize) {
        let (mut pc, mut acc, mut steps) = (0usize, 0u32, 0usize);
        loop {
            let i = &prog[pc];
            steps += 1;
            pc += 1;
            match i.code {
                LD_W_ABS => acc = if i.k == DATA_ARCH { arch } else { nr },
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                JMP_JGE_K => pc += usize::from(if acc >= i.k { i.jt } else { i.jf }),
                RET_K => return (i.k, steps),
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    #[test]
    fn filter_allows_exactly_the_list() {
        let prog = filter().unwrap();
        let arch = audit_arch().unwrap();
        let listed = |nr: u32| {
            ALLOWED
                .iter()
                .chain(ALLOWED_LEGACY)
                .any(|&a| a as u32 == nr)
        };
        for nr in (0..1024).chain([0x4000_0000, 0x4000_0001, 0x4000_0000 | 59, u32::MAX]) {
            let (verdict, steps) = run(&prog, arch, nr);
            let want = if listed(nr) {
                libc::SECCOMP_RET_ALLOW
            } else {
                ENOSYS
            };
            assert_eq!(verdict, want, "system call {nr}");
            assert!(steps <= 16, "system call {nr} took {steps} instructions");
        }
        // A system call of another ABI (e.g. i386 through int 0x80).
        let (verdict, _) = run(&prog, 0x4000_0003, libc::SYS_read as u32);
        assert_eq!(verdict, libc::SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn long_lists_jump_over_far_subtrees() {
        let nrs: Vec<u32> = (0..1500).map(|i| i * 3).collect();
        let mut prog = vec![stmt(LD_W_ABS, DATA_NR)];
        prog.extend(search(&nrs));
        assert!(
            prog.iter().any(|i| i.code == JMP_JA),
            "no far jump exercised"
        );
        for nr in 0..4600 {
            let want = if nr % 3 == 0 && nr < 4500 {
                libc::SECCOMP_RET_ALLOW
            } else {
                ENOSYS
            };
            assert_eq!(run(&prog, 0, nr).0, want, "system call {nr}");
        }
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
