//! `pidfd_open(2)` and `pidfd_getfd(2)`: a descriptor for a process, and a copy of a
//! descriptor another process holds (Linux 5.6+; needs ptrace access to it).

#![cfg_attr(ipckit_loom, allow(dead_code))]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{Errno, SysResult};

/// `pidfd_open(pid, 0)`: a descriptor that refers to process `pid` (close-on-exec).
pub(crate) fn open(pid: u32) -> SysResult<OwnedFd> {
    // SAFETY: the call takes no pointers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `r` is a new descriptor returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
}

/// `pidfd_getfd(pidfd, target_fd, 0)`: a duplicate, in this process, of the descriptor
/// `target_fd` of the process behind `pidfd` (close-on-exec).
pub(crate) fn get_fd(pidfd: BorrowedFd<'_>, target_fd: i32) -> SysResult<OwnedFd> {
    // SAFETY: the call takes no pointers; `pidfd` is a live descriptor.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target_fd, 0u32) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `r` is a new descriptor returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
}
