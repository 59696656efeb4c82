//! Processes: ids, `fork`, `waitpid`, `kill`, `_exit`, credentials.

use super::{Errno, SysResult, cvt};

pub(crate) fn getpid() -> u32 {
    // SAFETY: getpid cannot fail and takes no arguments.
    unsafe { libc::getpid() as u32 }
}

pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and takes no arguments.
    unsafe { libc::geteuid() }
}

pub(crate) fn getegid() -> u32 {
    // SAFETY: getegid cannot fail and takes no arguments.
    unsafe { libc::getegid() }
}

/// `fork()`: 0 in the child, the child's pid in the parent.
///
/// # Safety
/// In a multi-threaded program the child may only use async-signal-safe functions
/// until it calls `exec` or `_exit`: other threads' locks are copied in whatever state
/// they were in.
pub(crate) unsafe fn fork() -> SysResult<u32> {
    // SAFETY: the caller accepts the multi-threading rules above.
    Ok(cvt(unsafe { libc::fork() })? as u32)
}

/// `waitpid(pid, &status, WNOHANG?)`: `None` when `nohang` and the child still runs.
pub(crate) fn waitpid(pid: u32, nohang: bool) -> SysResult<Option<i32>> {
    let mut status = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: `status` is a valid out-pointer for the duration of the call.
    let r = cvt(unsafe { libc::waitpid(pid as libc::pid_t, &mut status, flags) })?;
    Ok(if r == 0 { None } else { Some(status) })
}

/// `kill(pid, sig)`; signal 0 only checks that the process exists.
pub(crate) fn kill(pid: u32, sig: i32) -> SysResult<()> {
    if pid == 0 || pid > i32::MAX as u32 {
        // 0 and negative pids address process groups; never do that by accident.
        return Err(Errno::ESRCH);
    }
    // SAFETY: kill takes no pointers.
    cvt(unsafe { libc::kill(pid as libc::pid_t, sig) })?;
    Ok(())
}

/// `_exit(code)`: ends the process at once, without destructors or atexit handlers.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Drops privileges to `uid`/`gid`: supplementary groups cleared, then gid, then uid.
pub(crate) fn set_ids(uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: setgroups with a count of 0 reads no memory.
    cvt(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    // SAFETY: setgid/setuid take no pointers.
    cvt(unsafe { libc::setgid(gid) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::setuid(uid) })?;
    Ok(())
}

pub(crate) const SIGKILL: i32 = libc::SIGKILL;
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGINT: i32 = libc::SIGINT;
pub(crate) const SIGSTOP: i32 = libc::SIGSTOP;
pub(crate) const SIGCONT: i32 = libc::SIGCONT;
pub(crate) const SIGUSR1: i32 = libc::SIGUSR1;
pub(crate) const SIGUSR2: i32 = libc::SIGUSR2;

/// `pidfd_open(pid, 0)`: a descriptor that refers to this very process, whatever
/// happens to its pid later (Linux 5.3). `ENOSYS` on older kernels, `ESRCH` if no
/// such process exists (a zombie still does).
pub(crate) fn pidfd_open(pid: u32) -> SysResult<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(Errno::ESRCH);
    }
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new descriptor (with O_CLOEXEC) that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether the process behind a pidfd has exited (it is readable then; a zombie
/// counts as exited). Does not wait.
pub(crate) fn pidfd_exited(fd: std::os::fd::BorrowedFd<'_>) -> SysResult<bool> {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: `p` is one valid pollfd, and we pass a count of 1.
    cvt(unsafe { libc::poll(&mut p, 1, 0) })?;
    Ok(p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
}

/// `getrlimit(RLIMIT_AS)`: the soft limit on the process's address space in bytes,
/// `None` when unlimited.
pub(crate) fn address_space_limit() -> SysResult<Option<u64>> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `r` is a valid out-pointer for the duration of the call.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut r) })?;
    Ok(if r.rlim_cur == libc::RLIM_INFINITY { None } else { Some(r.rlim_cur) })
}
