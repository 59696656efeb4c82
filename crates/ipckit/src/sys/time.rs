//! `localtime_r`: broken-down local time, as the C library computes it from `TZ`.

use std::mem::MaybeUninit;

/// Local time fields of `struct tm`, plus the offset from UTC in seconds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tm {
    pub(crate) year: i32,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) weekday: u32,
    pub(crate) utc_offset: i64,
}

/// `localtime_r(&t, &tm)`: `None` if the time cannot be represented.
pub(crate) fn localtime(t: i64) -> Option<Tm> {
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
    Some(Tm {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
        weekday: tm.tm_wday as u32,
        utc_offset: tm.tm_gmtoff as i64,
    })
}
