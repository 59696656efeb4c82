//! `shm_open`, `shm_unlink`: named POSIX shared-memory objects (files in `/dev/shm`).

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd};

use super::{SysResult, cvt};

/// How `shm_open` should treat an existing or missing object.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum OpenHow {
    /// `O_CREAT | O_EXCL`.
    CreateExclusive,
    /// No `O_CREAT`.
    Open,
}

/// `shm_open(name, O_RDWR | O_CLOEXEC | ..., mode)`.
pub(crate) fn shm_open(name: &CStr, how: OpenHow, read_only: bool, mode: u32) -> SysResult<OwnedFd> {
    let mut flags = libc::O_CLOEXEC | if read_only { libc::O_RDONLY } else { libc::O_RDWR };
    if how == OpenHow::CreateExclusive {
        flags |= libc::O_CREAT | libc::O_EXCL;
    }
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::shm_open(name.as_ptr(), flags, mode as libc::mode_t) })?;
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `shm_unlink(name)`.
pub(crate) fn shm_unlink(name: &CStr) -> SysResult<()> {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    cvt(unsafe { libc::shm_unlink(name.as_ptr()) })?;
    Ok(())
}
