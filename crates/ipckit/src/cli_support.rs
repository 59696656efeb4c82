//! What the `ipckit` command-line tool needs from the C library beyond IPC: user and
//! group names and the broken-down local time, for `ipcs`-compatible output.
//!
//! **Not part of ipckit's API**: hidden from the documentation and free to change in
//! any release. It lives here only because every call into the C library lives in
//! this crate's `sys` layer. Programs should use a crate made for the job (`uzers`,
//! `jiff`, `chrono`...).

use crate::sys;

/// `getpwuid_r`—The login name of `uid`, or `None` if no user has it.
pub fn user_name(uid: u32) -> Option<String> {
    sys::user::user_name(uid)
}

/// `getgrgid_r`—The name of group `gid`, or `None` if no group has it.
pub fn group_name(gid: u32) -> Option<String> {
    sys::user::group_name(gid)
}

/// A moment in local time (`localtime_r`, following `TZ` as C programs do).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// The year (2026).
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
    /// The day of the month, 1–31.
    pub day: u32,
    /// The hour, 0–23.
    pub hour: u32,
    /// The minute, 0–59.
    pub minute: u32,
    /// The second, 0–60.
    pub second: u32,
    /// The day of the week, 0 (Sunday) to 6.
    pub weekday: u32,
    /// The offset from UTC, in seconds east.
    pub utc_offset: i64,
}

/// `localtime_r`—The local time of `epoch_secs`; `None` if out of range.
pub fn local_time(epoch_secs: i64) -> Option<LocalTime> {
    let tm = sys::time::localtime(epoch_secs)?;
    Some(LocalTime {
        year: tm.year,
        month: tm.month,
        day: tm.day,
        hour: tm.hour,
        minute: tm.minute,
        second: tm.second,
        weekday: tm.weekday,
        utc_offset: tm.utc_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_a_name() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_name(0).as_deref(), Some("root"));
        assert_eq!(user_name(3_999_999_999), None);
    }
}
