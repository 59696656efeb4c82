//! `sem_open`, `sem_close`, `sem_unlink`, `sem_init`, `sem_destroy`, `sem_post`,
//! `sem_wait`, `sem_trywait`, `sem_clockwait`/`sem_timedwait`, `sem_getvalue`:
//! POSIX semaphores, named and unnamed.

use std::ffi::CStr;
use std::ptr::NonNull;
use std::time::Duration;

use super::{Errno, SysResult, cvt};

/// The size of a `sem_t`, the room an unnamed semaphore takes in shared memory.
pub(crate) const SEM_SIZE: usize = std::mem::size_of::<libc::sem_t>();
/// The alignment a `sem_t` needs.
pub(crate) const SEM_ALIGN: usize = std::mem::align_of::<libc::sem_t>();
/// `SEM_VALUE_MAX`: the largest value a POSIX semaphore holds (glibc: `INT_MAX`).
pub(crate) const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// A `sem_t *`: a named semaphore's mapping (from `sem_open`) or an unnamed one in
/// shared memory. Only ever passed to the calls below, never dereferenced in Rust:
/// the memory behind it is written by other processes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SemPtr(NonNull<libc::sem_t>);

impl SemPtr {
    /// Wraps the start of a `sem_t` placed in shared memory.
    ///
    /// # Safety
    /// `p` points to at least [`SEM_SIZE`] writable bytes aligned to [`SEM_ALIGN`],
    /// mapped for as long as the `SemPtr` is used.
    pub(crate) unsafe fn from_raw(p: NonNull<u8>) -> SemPtr {
        SemPtr(p.cast())
    }

    /// The address, for messages and `Debug`.
    pub(crate) fn addr(self) -> *mut u8 {
        self.0.as_ptr().cast()
    }
}

// SAFETY: a `sem_t` is made to be used from any thread (and process); the pointer is
// only handed to the thread-safe sem_* calls.
unsafe impl Send for SemPtr {}
// SAFETY: as above.
unsafe impl Sync for SemPtr {}

/// How `sem_open` should treat an existing or missing semaphore.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SemOpenHow {
    /// `O_CREAT | O_EXCL`.
    CreateExclusive,
    /// No flag: the semaphore must exist.
    Open,
}

/// `sem_open(name, flags, mode, value)`.
pub(crate) fn sem_open(name: &CStr, how: SemOpenHow, mode: u32, value: u32) -> SysResult<SemPtr> {
    let flags = match how {
        SemOpenHow::CreateExclusive => libc::O_CREAT | libc::O_EXCL,
        SemOpenHow::Open => 0,
    };
    let p = if flags & libc::O_CREAT != 0 {
        // SAFETY: `name` is NUL-terminated; with O_CREAT sem_open reads a mode_t and an
        // unsigned int, which are passed (promoted as C variadics expect).
        unsafe { libc::sem_open(name.as_ptr(), flags, mode as libc::c_uint, value as libc::c_uint) }
    } else {
        // SAFETY: `name` is NUL-terminated; without O_CREAT nothing else is read.
        unsafe { libc::sem_open(name.as_ptr(), flags) }
    };
    if p == libc::SEM_FAILED {
        return Err(Errno::last());
    }
    NonNull::new(p).map(SemPtr).ok_or(Errno::EINVAL)
}

/// `sem_close(sem)`.
///
/// # Safety
/// `sem` came from [`sem_open`] and is not used again.
pub(crate) unsafe fn sem_close(sem: SemPtr) -> SysResult<()> {
    // SAFETY: the caller hands over a semaphore from sem_open, used no more.
    cvt(unsafe { libc::sem_close(sem.0.as_ptr()) })?;
    Ok(())
}

/// `sem_unlink(name)`.
pub(crate) fn sem_unlink(name: &CStr) -> SysResult<()> {
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::sem_unlink(name.as_ptr()) })?;
    Ok(())
}

/// `sem_init(sem, 1, value)`: a process-shared unnamed semaphore.
///
/// # Safety
/// Nobody else uses the memory at `sem` as a semaphore while it is initialised
/// (initialising a semaphore others wait on is undefined behaviour in C).
pub(crate) unsafe fn sem_init_shared(sem: SemPtr, value: u32) -> SysResult<()> {
    // SAFETY: `sem` is valid for a sem_t (see `SemPtr::from_raw`); the caller
    // guarantees no concurrent use.
    cvt(unsafe { libc::sem_init(sem.0.as_ptr(), 1, value as libc::c_uint) })?;
    Ok(())
}

/// `sem_post(sem)`.
pub(crate) fn sem_post(sem: SemPtr) -> SysResult<()> {
    // SAFETY: `sem` is a valid semaphore (the `SemPtr` contract).
    cvt(unsafe { libc::sem_post(sem.0.as_ptr()) })?;
    Ok(())
}

/// `sem_wait(sem)`. May fail with `EINTR`.
pub(crate) fn sem_wait(sem: SemPtr) -> SysResult<()> {
    // SAFETY: as for sem_post.
    cvt(unsafe { libc::sem_wait(sem.0.as_ptr()) })?;
    Ok(())
}

/// `sem_trywait(sem)`: `EAGAIN` when the value is 0.
pub(crate) fn sem_trywait(sem: SemPtr) -> SysResult<()> {
    // SAFETY: as for sem_post.
    cvt(unsafe { libc::sem_trywait(sem.0.as_ptr()) })?;
    Ok(())
}

#[cfg(target_env = "gnu")]
unsafe extern "C" {
    // glibc 2.30 and later; the libc crate does not declare it.
    fn sem_clockwait(
        sem: *mut libc::sem_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

fn now(clock: libc::clockid_t) -> libc::timespec {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a writable timespec; the clock ids used here always exist.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts
}

fn add(ts: libc::timespec, d: Duration) -> libc::timespec {
    let mut sec = (ts.tv_sec as i64).saturating_add(d.as_secs().min(i64::MAX as u64) as i64);
    let mut nsec = ts.tv_nsec as i64 + i64::from(d.subsec_nanos());
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    libc::timespec {
        tv_sec: sec.min(libc::time_t::MAX as i64) as libc::time_t,
        tv_nsec: nsec as libc::c_long,
    }
}

/// Waits at most `left` for the value to be positive: `sem_clockwait` on
/// `CLOCK_MONOTONIC` with glibc (a change of the wall clock does not move the
/// deadline), `sem_timedwait` on `CLOCK_REALTIME` elsewhere. `ETIMEDOUT` when time
/// runs out; may fail with `EINTR`.
pub(crate) fn sem_wait_for(sem: SemPtr, left: Duration) -> SysResult<()> {
    #[cfg(target_env = "gnu")]
    {
        let abs = add(now(libc::CLOCK_MONOTONIC), left);
        // SAFETY: as for sem_post; `abs` is a live timespec.
        cvt(unsafe { sem_clockwait(sem.0.as_ptr(), libc::CLOCK_MONOTONIC, &abs) })?;
    }
    #[cfg(not(target_env = "gnu"))]
    {
        let abs = add(now(libc::CLOCK_REALTIME), left);
        // SAFETY: as for sem_post; `abs` is a live timespec.
        cvt(unsafe { libc::sem_timedwait(sem.0.as_ptr(), &abs) })?;
    }
    Ok(())
}

/// `sem_getvalue(sem)`. On Linux the value is never negative (waiters are not counted).
pub(crate) fn sem_getvalue(sem: SemPtr) -> SysResult<u32> {
    let mut v: libc::c_int = 0;
    // SAFETY: as for sem_post; `v` is a writable int.
    cvt(unsafe { libc::sem_getvalue(sem.0.as_ptr(), &mut v) })?;
    Ok(v.max(0) as u32)
}

/// `chmod(path, mode)`: sets the mode of a named semaphore's file
/// (`/dev/shm/sem.NAME`), which `sem_open` made through the umask.
pub(crate) fn chmod(path: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: `path` is NUL-terminated.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) })?;
    Ok(())
}
