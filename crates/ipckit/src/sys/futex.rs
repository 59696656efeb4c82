//! `futex(FUTEX_WAIT)` and `futex(FUTEX_WAKE)` on a word in shared memory.
//!
//! The shared (not `_PRIVATE`) operations are used: the word lives in memory mapped
//! by several processes, and the kernel keys the wait queue on the physical page.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::{Errno, SysResult};

/// `futex(word, FUTEX_WAIT, expected, timeout)`: sleeps while `*word == expected`, at
/// most `timeout`. Returns `Ok(())` when woken, or `Err` with `EAGAIN` (the word had
/// changed), `ETIMEDOUT` or `EINTR`; callers re-check their condition in every case.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> SysResult<()> {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned 4-byte atomic for the duration of the call
    // (the kernel only reads it); `ts_ptr` is null or points to a live timespec.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr, 0usize, 0u32)
    };
    if r == -1 { Err(Errno::last()) } else { Ok(()) }
}

/// `futex(word, FUTEX_WAKE, n)`: wakes up to `n` waiters; returns how many woke.
pub(crate) fn wake(word: &AtomicU32, n: u32) -> SysResult<usize> {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is valid and aligned.
    let r =
        unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n, 0usize, 0usize, 0u32) };
    if r == -1 { Err(Errno::last()) } else { Ok(r as usize) }
}
