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
