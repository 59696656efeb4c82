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

/// The most words one [`wait_many`] call watches (the kernel's `FUTEX_WAITV_MAX`).
#[cfg_attr(ipckit_loom, allow(dead_code))]
pub(crate) const WAITV_MAX: usize = 128;

/// `futex_waitv(waiters, n, 0, &abs_timeout, CLOCK_MONOTONIC)` (Linux 5.16+): sleeps
/// until any `words[i]` changes from `expected[i]` or is woken, at most `timeout`.
/// Returns the index of a woken word, or `Err` with `EAGAIN` (a word differed at
/// once), `ETIMEDOUT`, `EINTR`, or `ENOSYS` on older kernels. Shared futexes (the
/// words live in memory several processes map), 32 bits each.
#[cfg_attr(ipckit_loom, allow(dead_code))]
pub(crate) fn wait_many(words: &[(&AtomicU32, u32)], timeout: Option<Duration>) -> SysResult<usize> {
    if words.is_empty() || words.len() > WAITV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut v: Vec<libc::futex_waitv> = Vec::with_capacity(words.len());
    for (w, expected) in words {
        // SAFETY: futex_waitv is plain data (integers); all-zero is a valid value.
        let mut e: libc::futex_waitv = unsafe { std::mem::zeroed() };
        e.val = u64::from(*expected);
        e.uaddr = w.as_ptr() as u64;
        e.flags = libc::FUTEX2_SIZE_U32 as u32;
        v.push(e);
    }
    let abs = match timeout {
        None => None,
        Some(d) => {
            let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `now` is a valid out-pointer for the call.
            if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
                return Err(Errno::last());
            }
            let d = d.min(Duration::from_secs(u32::MAX as u64));
            let mut sec = now.tv_sec as i64 + d.as_secs() as i64;
            let mut nsec = now.tv_nsec as i64 + i64::from(d.subsec_nanos());
            if nsec >= 1_000_000_000 {
                sec += 1;
                nsec -= 1_000_000_000;
            }
            Some(libc::timespec { tv_sec: sec as libc::time_t, tv_nsec: nsec as libc::c_long })
        }
    };
    let ts_ptr = abs.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `v` holds `v.len()` initialized entries whose addresses are valid,
    // aligned 4-byte atomics for the duration of the call (the kernel only reads
    // them); `ts_ptr` is null or points to a live timespec.
    let r = unsafe {
        libc::syscall(libc::SYS_futex_waitv, v.as_ptr(), v.len() as u32, 0u32, ts_ptr, libc::CLOCK_MONOTONIC)
    };
    if r < 0 { Err(Errno::last()) } else { Ok(r as usize) }
}
