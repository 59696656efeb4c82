//! `getpwuid_r`, `getgrgid_r`: user and group names for ids.

use std::ffi::CStr;
use std::mem::MaybeUninit;

/// Runs a `get*_r` lookup with a growing buffer. `call(buf)` returns the C function's
/// return code and whether a record was found.
fn lookup(mut call: impl FnMut(&mut [u8]) -> (i32, Option<String>)) -> Option<String> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0u8; size];
        let (rc, name) = call(&mut buf);
        if rc == libc::ERANGE && size < (1 << 20) {
            size *= 4;
            continue;
        }
        return if rc == 0 { name } else { None };
    }
}

/// The login name of `uid`, or `None` if no passwd entry has it.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    lookup(|buf| {
        let mut pw = MaybeUninit::<libc::passwd>::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `pw` is a writable passwd, `buf` a writable buffer of `buf.len()`
        // bytes that the strings in `pw` point into, and `result` a valid out-pointer.
        let rc = unsafe {
            libc::getpwuid_r(uid, pw.as_mut_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut result)
        };
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        // SAFETY: on success `result` points to `pw`, whose `pw_name` is a
        // NUL-terminated string inside `buf`, which is still alive.
        let name = unsafe { CStr::from_ptr((*result).pw_name) };
        (0, Some(name.to_string_lossy().into_owned()))
    })
}

/// The name of group `gid`, or `None` if no group entry has it.
pub(crate) fn group_name(gid: u32) -> Option<String> {
    lookup(|buf| {
        let mut gr = MaybeUninit::<libc::group>::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in `user_name`, for `struct group`.
        let rc = unsafe {
            libc::getgrgid_r(gid, gr.as_mut_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut result)
        };
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        // SAFETY: on success `gr_name` is a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr((*result).gr_name) };
        (0, Some(name.to_string_lossy().into_owned()))
    })
}
