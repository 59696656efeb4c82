//! `mmap`, `munmap`, `mlock`, `ftruncate`, `fstat` and `memfd_create`: mapping
//! file-backed shared memory (POSIX objects, memfds, the bridge's landing file).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use super::{Errno, SysResult, cvt};

/// `mmap(NULL, len, PROT_READ [| PROT_WRITE], MAP_SHARED, fd, 0)`.
///
/// Returns the start of a new mapping that nothing else in the process uses.
pub(crate) fn map_shared(fd: BorrowedFd<'_>, len: usize, writable: bool) -> SysResult<NonNull<u8>> {
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
    // SAFETY: a null address lets the kernel choose a free range, so no existing
    // mapping is replaced; the fd is valid for the duration of the call.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    NonNull::new(p.cast()).ok_or(Errno::EINVAL)
}

/// `munmap(addr, len)`.
///
/// # Safety
/// `addr`/`len` describe a mapping made by [`map_shared`] that nothing uses any more.
pub(crate) unsafe fn unmap(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is an unused mapping of ours.
    cvt(unsafe { libc::munmap(addr.as_ptr().cast(), len) })?;
    Ok(())
}

/// `mlock(addr, len)`: keeps the pages resident (a later access cannot fault).
///
/// # Safety
/// `addr`/`len` lie within a mapping of ours.
pub(crate) unsafe fn lock(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is mapped; mlock only pins it.
    cvt(unsafe { libc::mlock(addr.as_ptr().cast(), len) })?;
    Ok(())
}

/// `ftruncate(fd, len)`.
pub(crate) fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> SysResult<()> {
    let len = libc::off_t::try_from(len).map_err(|_| Errno::EFBIG)?;
    // SAFETY: ftruncate takes no pointers.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) })?;
    Ok(())
}

/// The size and permission bits of an open file (`fstat`).
pub(crate) fn fstat_size_mode(fd: BorrowedFd<'_>) -> SysResult<(u64, u32)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a writable `struct stat` that fstat fills.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: zero is a valid `struct stat` and the kernel filled it.
    let st = unsafe { st.assume_init() };
    Ok((st.st_size as u64, st.st_mode as u32 & 0o777))
}

/// `memfd_create(name, MFD_CLOEXEC)`: an anonymous file in memory.
pub(crate) fn memfd_create(name: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets or clears `FD_CLOEXEC` on `fd` (`fcntl(F_SETFD)`).
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> SysResult<()> {
    // SAFETY: F_GETFD takes no pointer.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) })?;
    let new = if on { flags | libc::FD_CLOEXEC } else { flags & !libc::FD_CLOEXEC };
    // SAFETY: F_SETFD takes an integer argument.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, new) })?;
    Ok(())
}

/// `fchmod(fd, mode)`: sets the permission bits exactly (the umask does not apply),
/// on a shared-memory object, a message-queue descriptor or a FIFO.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> SysResult<()> {
    // SAFETY: fchmod takes no pointers; the fd is valid for the duration of the call.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })?;
    Ok(())
}

/// `statvfs(path)`: the size of the file system holding `path`, in bytes.
pub(crate) fn fs_size(path: &CStr) -> SysResult<u64> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is NUL-terminated; `st` is a writable `struct statvfs`.
    cvt(unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: zero is a valid `struct statvfs` and the call filled it.
    let st = unsafe { st.assume_init() };
    Ok((st.f_blocks as u64).saturating_mul(st.f_frsize as u64))
}
