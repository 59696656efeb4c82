//! `localtime_r`: the offset of local time from UTC, as the C library computes it
//! from `TZ`.

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
