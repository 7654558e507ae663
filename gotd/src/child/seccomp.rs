//! A seccomp filter for repo children: system calls a git server never
//! needs fail with EPERM.
//!
//! This is a deny-list, not yet the allow-list the design asks for: it
//! takes away program execution, new sockets, tracing other processes,
//! identity changes, mounts, kernel modules, BPF and keyrings, while leaving
//! the large and library-dependent set of calls the git code uses (threads,
//! mmap, file I/O, fsync) untouched. A call outside both lists keeps
//! working, so a missing entry here can never break a fetch or a push.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule};

/// System calls a repo child has no use for.
const DENIED: &[i64] = &[
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kill,
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_setuid,
    libc::SYS_setgid,
    libc::SYS_setreuid,
    libc::SYS_setregid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setgroups,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_setns,
    libc::SYS_unshare,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_personality,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
];

/// Builds the filter for this architecture.
pub fn filter() -> Result<BpfProgram, String> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("unsupported architecture: {e:?}"))?;
    let rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&nr| (nr, Vec::new())).collect();
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    BpfProgram::try_from(f).map_err(|e| e.to_string())
}

/// Installs the filter on the calling (only) thread; returns the report
/// line for the log.
pub fn apply() -> String {
    match filter().and_then(|p| seccompiler::apply_filter(&p).map_err(|e| e.to_string())) {
        Ok(()) => format!("seccomp: on ({} system calls denied)", DENIED.len()),
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
}
