//! Named pipes: `mkfifo`, `open` (with `O_NOFOLLOW`, `O_NONBLOCK`, `O_CLOEXEC`,
//! `O_NOCTTY`, `O_PATH`), `unlink`.

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd};

use super::{SysResult, cvt};

/// `mkfifo(path, mode)`. The process umask applies, as for any new file; callers that
/// want the exact mode set it again with [`chmod_opath`].
pub(crate) fn mkfifo(path: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: `path` is NUL-terminated and lives for the call.
    cvt(unsafe { libc::mkfifo(path.as_ptr(), mode as libc::mode_t) })?;
    Ok(())
}

/// Which ends of a FIFO to open.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    ReadWrite,
}

/// `open(path, O_RDONLY | O_WRONLY | O_RDWR, with O_CLOEXEC | O_NOCTTY, and
/// O_NONBLOCK / O_NOFOLLOW when asked)`.
///
/// `O_NOCTTY` keeps a terminal found at the path (where a FIFO was expected) from
/// becoming the process's controlling terminal.
pub(crate) fn open(path: &CStr, access: Access, nonblocking: bool, nofollow: bool) -> SysResult<OwnedFd> {
    let mut flags = libc::O_CLOEXEC
        | libc::O_NOCTTY
        | match access {
            Access::Read => libc::O_RDONLY,
            Access::Write => libc::O_WRONLY,
            Access::ReadWrite => libc::O_RDWR,
        };
    if nonblocking {
        flags |= libc::O_NONBLOCK;
    }
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    // SAFETY: `path` is NUL-terminated; without O_CREAT no mode argument is read.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), flags) })?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)`: a reference to the file at `path`
/// itself, which neither reads nor writes it (for a FIFO: no rendezvous, and the
/// descriptor counts as neither reader nor writer). While it is open, the file's inode
/// cannot be freed, so its inode number cannot be given to another file.
pub(crate) fn open_path(path: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: `path` is NUL-terminated; without O_CREAT no mode argument is read.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) })?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `chmod("/proc/self/fd/N", mode)`: sets the exact mode of the file an `O_PATH`
/// descriptor names (`fchmod` refuses `O_PATH` descriptors; the magic link reaches
/// the very inode, not whatever the path names now).
pub(crate) fn chmod_opath(fd: std::os::fd::BorrowedFd<'_>, mode: u32) -> SysResult<()> {
    use std::os::fd::AsRawFd;
    let link = std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL");
    // SAFETY: `link` is NUL-terminated and lives for the call.
    cvt(unsafe { libc::chmod(link.as_ptr(), mode as libc::mode_t) })?;
    Ok(())
}

/// `chmod(path, mode)`.
pub(crate) fn chmod(path: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: `path` is NUL-terminated and lives for the call.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) })?;
    Ok(())
}

/// `unlink(path)`.
pub(crate) fn unlink(path: &CStr) -> SysResult<()> {
    // SAFETY: `path` is NUL-terminated and lives for the call.
    cvt(unsafe { libc::unlink(path.as_ptr()) })?;
    Ok(())
}
