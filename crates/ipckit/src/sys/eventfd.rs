//! `eventfd(2)`: a kernel counter behind a descriptor that `epoll` can watch.

#![cfg_attr(ipckit_loom, allow(dead_code))]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{Errno, SysResult, cvt};

/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`: a new counter at zero.
pub(crate) fn create() -> SysResult<OwnedFd> {
    // SAFETY: eventfd takes no pointers; on success it returns a new descriptor that
    // nothing else owns.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `write(fd, &1, 8)`: adds one to the counter (readable from now on). `EAGAIN` (the
/// counter is at its maximum) still leaves it readable, so it counts as success.
pub(crate) fn signal(fd: BorrowedFd<'_>) -> SysResult<()> {
    let one: u64 = 1;
    // SAFETY: `one` is a live 8-byte buffer for the duration of the call.
    let r = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    match r {
        8 => Ok(()),
        _ => match Errno::last() {
            Errno::EAGAIN => Ok(()),
            e => Err(e),
        },
    }
}

/// `read(fd, &n, 8)` on a non-blocking eventfd: the counter (reset to zero), or 0 if
/// it was zero already.
pub(crate) fn drain(fd: BorrowedFd<'_>) -> SysResult<u64> {
    let mut n: u64 = 0;
    // SAFETY: `n` is a live, writable 8-byte buffer for the duration of the call.
    let r = unsafe { libc::read(fd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
    if r == 8 {
        return Ok(n);
    }
    match Errno::last() {
        Errno::EAGAIN => Ok(0),
        e => Err(e),
    }
}
