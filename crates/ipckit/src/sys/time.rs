//! `localtime_r`: the offset of local time from UTC, as the C library computes it
//! from `TZ`; `prctl(PR_{GET,SET}_TIMERSLACK)`: how late a thread's sleeps may end.

use std::mem::MaybeUninit;

/// `localtime_r(&t, &tm)`'s `tm_gmtoff`: seconds east of UTC; `None` if the time
/// cannot be represented.
pub(crate) fn utc_offset(t: i64) -> Option<i64> {
    let t = libc::time_t::try_from(t).ok()?;
    let mut tm = MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `t` and `tm` are valid for the call; localtime_r is the reentrant form
    // and writes only `tm` (it reads TZ on first use, like every C program).
    let p = unsafe { libc::localtime_r(&t, tm.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: localtime_r succeeded, so it filled `tm` (zeroed before: all integers).
    let tm = unsafe { tm.assume_init() };
    Some(tm.tm_gmtoff as i64)
}

/// `prctl(PR_GET_TIMERSLACK)`: the calling thread's timer slack in nanoseconds (how
/// much later than asked the kernel may end its sleeps), or `None` on failure.
#[cfg(feature = "nats")]
pub(crate) fn timer_slack() -> Option<usize> {
    // SAFETY: PR_GET_TIMERSLACK takes no pointer; it returns the slack or -1.
    let r = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
    usize::try_from(r).ok()
}

/// `prctl(PR_SET_TIMERSLACK, ns)` for the calling thread; `false` on failure (0
/// restores the thread's default).
#[cfg(feature = "nats")]
pub(crate) fn set_timer_slack(ns: usize) -> bool {
    // (An unsigned long is as wide as a usize on Linux.)
    let ns = ns as libc::c_ulong;
    // SAFETY: PR_SET_TIMERSLACK takes the value itself, no pointer; it changes only
    // the calling thread's timer slack.
    let r = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0) };
    r == 0
}
