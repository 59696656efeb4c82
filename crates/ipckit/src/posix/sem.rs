//! POSIX semaphores: named (`sem_open`, `sem_unlink`) and unnamed process-shared ones
//! placed in shared memory (`sem_init(pshared = 1)`), with `sem_post`, `sem_wait`,
//! `sem_trywait`, `sem_clockwait` and `sem_getvalue`.
//!
//! It stays one file (~650 lines) because the named and the unnamed semaphore are one
//! idea: they share the [`Semaphore`] trait and the post and wait helpers, and differ
//! only in how they are made.
//!
//! A POSIX semaphore is one counter: [`post`](NamedSemaphore::post) adds one,
//! [`wait`](NamedSemaphore::wait) waits until it is positive and subtracts one. The
//! uncontended paths stay in user space (a futex), so they cost far less than a
//! System V `semop`.
//!
//! - A [`NamedSemaphore`] is found by a name such as `/jobs` (a file `sem.jobs` in
//!   `/dev/shm`) and lives until it is unlinked.
//! - An [`UnnamedSemaphore`] is a `sem_t` placed in memory several processes map: a
//!   POSIX shared-memory [`Mapping`](super::shm::Mapping) (a named object or a
//!   memfd), or a System V [`Attachment`](crate::sysv::shm::Attachment). Because
//!   other processes write that memory, ipckit never makes a `&sem_t` of it; the
//!   handle holds a raw pointer and borrows the mapping, so it cannot outlive it.
//!
//! Waiting comes as the usual family: [`wait`](NamedSemaphore::wait),
//! [`try_wait`](NamedSemaphore::try_wait), [`wait_timeout`](NamedSemaphore::wait_timeout),
//! [`wait_deadline`](NamedSemaphore::wait_deadline); "not now" is an error that `?`
//! cannot drop by accident: [`ErrorKind::WouldBlock`] from `try_wait`,
//! [`ErrorKind::TimedOut`] when time runs out. Timed waits run on the monotonic clock (`sem_clockwait`, glibc 2.30
//! and later), so a change of the wall clock does not move them.
//! [`lock`](NamedSemaphore::lock) takes one unit and returns a [`SemGuard`] that posts
//! it back on drop.
//!
//! ```
//! use std::time::Duration;
//! use ipckit::{ErrorKind, Mode};
//! use ipckit::posix::sem::NamedSemaphore;
//!
//! let name = format!("/ipckit-doc-sem-{}", std::process::id());
//! let mut sem = NamedSemaphore::create(&name, 1, Mode::OWNER_RW)?;
//! sem.set_remove_on_drop(true)?;
//! {
//!     let _guard = sem.lock()?;            // wait; post on drop
//!     assert_eq!(sem.value()?, 0);
//!     assert_eq!(sem.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
//!     assert_eq!(sem.wait_timeout(Duration::from_millis(1)).unwrap_err().kind(), ErrorKind::TimedOut);
//! }
//! assert_eq!(sem.value()?, 1);
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # What POSIX semaphores lack: no undo when a holder dies
//!
//! A process that dies between `wait` and `post` (killed, or crashed) never posts:
//! the count it took is lost for good, and everyone else may wait forever. The kernel
//! keeps no record of who holds a POSIX semaphore, so nothing can give it back, and
//! nothing tells the others that the holder is gone. A [`SemGuard`] posts on drop,
//! which covers panics that unwind, not `SIGKILL`, `abort` or `_exit`.
//!
//! Where a holder may die, use a System V semaphore with `SEM_UNDO` instead
//! ([`SemSet::lock`](crate::sysv::sem::SemSet::lock)): the kernel reverses the
//! operation when the process exits, however it exits. The price is a system call on
//! every operation.
//!
//! # Permissions
//!
//! A new named semaphore gets exactly the mode asked for: `sem_open` applies the
//! process umask (a umask of 022 turns 0666 into 0644), so ipckit sets the mode again
//! with `chmod` on the semaphore's file after creating it.
//!
//! References: [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
//! [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
//! [sem_init(3)](https://man7.org/linux/man-pages/man3/sem_init.3.html),
//! [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html),
//! [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html).

use std::ffi::CString;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Object, Result};
use crate::perm::Mode;
use crate::sys::{
    self, Errno,
    posix_sem::{SemOpenHow, SemPtr},
};
use crate::sysv::Ownership;
use crate::wait::Wait;
use sealed::Sealed as _;

/// `SEM_VALUE_MAX`: the largest value a POSIX semaphore holds.
pub const SEM_VALUE_MAX: u32 = sys::posix_sem::SEM_VALUE_MAX;

/// The bytes an [`UnnamedSemaphore`] takes in shared memory (`sizeof(sem_t)`).
pub const SEM_SIZE: usize = sys::posix_sem::SEM_SIZE;

/// The alignment an [`UnnamedSemaphore`]'s offset must have (`alignof(sem_t)`).
pub const SEM_ALIGN: usize = sys::posix_sem::SEM_ALIGN;

// ----- the operations both kinds share -------------------------------------------

fn post(sem: SemPtr, obj: &dyn Fn() -> Object) -> Result<()> {
    sys::posix_sem::sem_post(sem).map_err(|e| {
        let err = Error::sys("sem_post", obj(), e);
        if e == Errno::EOVERFLOW {
            err.with_kind(ErrorKind::LimitExceeded)
                .with_detail(format!("the value is already SEM_VALUE_MAX ({SEM_VALUE_MAX})"))
        } else {
            err
        }
    })
}

/// Waits as `wait` says. "Not now" is an error, built without allocating:
/// [`ErrorKind::WouldBlock`] for `Wait::NoWait`, [`ErrorKind::TimedOut`] when a
/// timeout or deadline passes.
fn wait_with(sem: SemPtr, wait: Wait, obj: &dyn Fn() -> Object) -> Result<()> {
    let deadline = match wait {
        Wait::Block => loop {
            match sys::posix_sem::sem_wait(sem) {
                Ok(()) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("sem_wait", obj(), e)),
            }
        },
        Wait::NoWait => {
            return match sys::posix_sem::sem_trywait(sem) {
                Ok(()) => Ok(()),
                Err(Errno::EAGAIN) => Err(Error::new("sem_trywait", Object::None, ErrorKind::WouldBlock)),
                Err(e) => Err(Error::sys("sem_trywait", obj(), e)),
            };
        }
        Wait::Timeout(_) | Wait::Deadline(_) => wait.deadline().expect("a timed wait has a deadline"),
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sys::posix_sem::sem_wait_for(sem, left) {
            Ok(()) => return Ok(()),
            Err(Errno::ETIMEDOUT) => {
                return Err(Error::new("sem_clockwait", Object::None, ErrorKind::TimedOut));
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("sem_clockwait", obj(), e)),
        }
    }
}

fn value(sem: SemPtr, obj: &dyn Fn() -> Object) -> Result<u32> {
    sys::posix_sem::sem_getvalue(sem).map_err(|e| Error::sys("sem_getvalue", obj(), e))
}

fn check_value(op: &'static str, obj: Object, value: u32) -> Result<()> {
    if value > SEM_VALUE_MAX {
        return Err(Error::new(op, obj, ErrorKind::InvalidInput)
            .with_detail(format!("the initial value {value} exceeds SEM_VALUE_MAX ({SEM_VALUE_MAX})")));
    }
    Ok(())
}

/// The operations of a POSIX semaphore, named or unnamed. Implemented by
/// [`NamedSemaphore`] and [`UnnamedSemaphore`]; the methods of both types forward here,
/// so generic code can take `&impl Semaphore`.
pub trait Semaphore: sealed::Sealed {
    /// `sem_post`—Adds one, waking one waiter. Fails with
    /// [`ErrorKind::LimitExceeded`] at [`SEM_VALUE_MAX`].
    #[doc(alias = "sem_post")]
    fn post(&self) -> Result<()> {
        post(self.raw(), &|| self.object())
    }

    /// `sem_wait`—Waits until the value is positive, then subtracts one.
    #[doc(alias = "sem_wait")]
    fn wait(&self) -> Result<()> {
        wait_with(self.raw(), Wait::Block, &|| self.object())
    }

    /// `sem_trywait`—Subtracts one if the value is positive now; if it is 0, fails
    /// with [`ErrorKind::WouldBlock`] ("not now").
    #[doc(alias = "sem_trywait")]
    fn try_wait(&self) -> Result<()> {
        wait_with(self.raw(), Wait::NoWait, &|| self.object())
    }

    /// `sem_clockwait(CLOCK_MONOTONIC)`—Waits at most `timeout`; fails with
    /// [`ErrorKind::TimedOut`] if time ran out.
    #[doc(alias = "sem_clockwait")]
    #[doc(alias = "sem_timedwait")]
    fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        wait_with(self.raw(), Wait::Timeout(timeout), &|| self.object())
    }

    /// `sem_clockwait(CLOCK_MONOTONIC)`—Waits until `deadline` at the latest; fails
    /// with [`ErrorKind::TimedOut`] if it passed.
    fn wait_deadline(&self, deadline: Instant) -> Result<()> {
        wait_with(self.raw(), Wait::Deadline(deadline), &|| self.object())
    }

    /// Waits as `wait` says: [`ErrorKind::WouldBlock`] for [`Wait::NoWait`],
    /// [`ErrorKind::TimedOut`] when a timeout or deadline passes.
    fn wait_with(&self, wait: Wait) -> Result<()> {
        wait_with(self.raw(), wait, &|| self.object())
    }

    /// `sem_getvalue`—The current value (never negative on Linux: waiters are not
    /// counted). Another process may change it at any moment.
    #[doc(alias = "sem_getvalue")]
    fn value(&self) -> Result<u32> {
        value(self.raw(), &|| self.object())
    }

    /// Takes one unit ([`wait`](Self::wait)) and returns a guard that posts it back on drop.
    fn lock(&self) -> Result<SemGuard<'_>> {
        self.wait()?;
        Ok(SemGuard::new(self.raw(), self.object_label()))
    }

    /// Takes one unit if the value is positive now ([`ErrorKind::WouldBlock`] if not).
    fn try_lock(&self) -> Result<SemGuard<'_>> {
        self.try_wait()?;
        Ok(SemGuard::new(self.raw(), self.object_label()))
    }

    /// Takes one unit, waiting at most `timeout` ([`ErrorKind::TimedOut`] if time ran out).
    fn lock_timeout(&self, timeout: Duration) -> Result<SemGuard<'_>> {
        self.wait_timeout(timeout)?;
        Ok(SemGuard::new(self.raw(), self.object_label()))
    }

    /// Takes one unit, waiting until `deadline` at the latest ([`ErrorKind::TimedOut`]).
    fn lock_deadline(&self, deadline: Instant) -> Result<SemGuard<'_>> {
        self.wait_deadline(deadline)?;
        Ok(SemGuard::new(self.raw(), self.object_label()))
    }

    /// The semaphore's address in this process (a `sem_t *`), for handing to C code.
    /// Never make a reference of it: other processes write that memory.
    fn as_ptr(&self) -> *mut u8 {
        self.raw().addr()
    }
}

// The trait lives in a private module, so nobody outside the crate can name it or
// reach the crate-private pointer type it returns.
#[allow(private_interfaces)]
mod sealed {
    pub trait Sealed {
        fn raw(&self) -> crate::sys::posix_sem::SemPtr;
        fn object(&self) -> crate::error::Object;
        fn object_label(&self) -> String {
            self.object().to_string()
        }
    }
}

// ----- named ---------------------------------------------------------------------

/// A named POSIX semaphore (`sem_open`); closed on drop (`sem_close`), and unlinked if
/// [`set_remove_on_drop`](Self::set_remove_on_drop) asked for it.
///
/// The operations are those of the [`Semaphore`] trait (`use
/// ipckit::posix::sem::Semaphore` to call them).
///
/// **After `fork` in a threaded program**, do not open, close or drop a named
/// semaphore in the child: glibc guards its table of open named semaphores with a
/// lock that `fork` copies as it is, so if another thread held it at the fork, the
/// child waits forever. Open what the child needs before forking (the mapping is
/// inherited and stays valid), or `exec` a new program.
pub struct NamedSemaphore {
    sem: SemPtr,
    name: String,
    c_name: CString,
    own: Ownership,
}

impl fmt::Debug for NamedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedSemaphore")
            .field("name", &self.name)
            .field("addr", &self.sem.addr())
            .field("created", &self.own.created())
            .finish()
    }
}

#[allow(private_interfaces)]
impl sealed::Sealed for NamedSemaphore {
    fn raw(&self) -> SemPtr {
        self.sem
    }
    fn object(&self) -> Object {
        Object::Name(self.name.clone())
    }
}

impl Semaphore for NamedSemaphore {}

impl NamedSemaphore {
    /// `sem_open(name, O_CREAT | O_EXCL, mode, value)`—Creates a new semaphore holding
    /// `value`; fails with [`ErrorKind::AlreadyExists`] if the name is taken. The
    /// mode is exactly `mode`, whatever the umask (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AlreadyExists`] when the name is taken; [`ErrorKind::InvalidInput`] for
    /// a bad name or a `value` above `SEM_VALUE_MAX`; [`ErrorKind::PermissionDenied`] when
    /// `/dev/shm` refuses the caller.
    #[doc(alias = "sem_open")]
    pub fn create(name: &str, value: u32, mode: Mode) -> Result<NamedSemaphore> {
        let (full, c) = super::c_name("sem_open", name)?;
        check_value("sem_open", Object::Name(full.clone()), value)?;
        let sem = sys::posix_sem::sem_open(&c, SemOpenHow::CreateExclusive, mode.bits(), value)
            .map_err(|e| open_error(&full, e))?;
        let s = NamedSemaphore { sem, name: full, c_name: c, own: Ownership::new(true) };
        if let Err(e) = s.set_mode_exactly(mode) {
            let _ = sys::posix_sem::sem_unlink(&s.c_name);
            return Err(e);
        }
        Ok(s)
    }

    /// `sem_open(name, 0)`—Opens an existing semaphore.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when no semaphore has the name;
    /// [`ErrorKind::PermissionDenied`] when its mode refuses the caller;
    /// [`ErrorKind::InvalidInput`] for a bad name.
    pub fn open(name: &str) -> Result<NamedSemaphore> {
        let (full, c) = super::c_name("sem_open", name)?;
        let sem = sys::posix_sem::sem_open(&c, SemOpenHow::Open, 0, 0).map_err(|e| open_error(&full, e))?;
        Ok(NamedSemaphore { sem, name: full, c_name: c, own: Ownership::new(false) })
    }

    /// Opens the semaphore, or creates it holding `value` if there is none;
    /// [`created`](Self::created) tells which happened. (`O_CREAT | O_EXCL` first,
    /// then a plain open, so the handle knows whether it owns the name.)
    pub fn open_or_create(name: &str, value: u32, mode: Mode) -> Result<NamedSemaphore> {
        loop {
            match NamedSemaphore::create(name, value, mode) {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                other => return other,
            }
            match NamedSemaphore::open(name) {
                // Unlinked between the two calls: try to create it again.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                other => return other,
            }
        }
    }

    fn set_mode_exactly(&self, mode: Mode) -> Result<()> {
        // glibc keeps named semaphores as `sem.NAME` in the shm mount, /dev/shm.
        let path = format!("/dev/shm/sem.{}", &self.name[1..]);
        let c = CString::new(path.clone()).expect("a checked name has no NUL");
        match sys::posix_sem::chmod(&c, mode.bits()) {
            Ok(()) => Ok(()),
            // Another shm mount than /dev/shm: the umask's mode stays (documented).
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::sys("chmod", Object::Path(path.into()), e)
                .with_detail("setting the new semaphore's mode past the umask")),
        }
    }

    /// The semaphore's name (`/name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this handle created the semaphore.
    pub fn created(&self) -> bool {
        self.own.created()
    }

    /// Asks for the name to be unlinked when this handle is dropped, in the process
    /// that created it.
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        let obj = Object::Name(self.name.clone());
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", obj)
    }

    /// `sem_unlink(name)`—Removes the name now; processes that have the semaphore
    /// open keep using it.
    #[doc(alias = "sem_unlink")]
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        sys::posix_sem::sem_unlink(&self.c_name).map_err(|e| unlink_error(&self.name, e))
    }

    /// `sem_unlink(name)`—Removes a semaphore this process holds no handle on.
    pub fn unlink(name: &str) -> Result<()> {
        let (full, c) = super::c_name("sem_unlink", name)?;
        sys::posix_sem::sem_unlink(&c).map_err(|e| unlink_error(&full, e))
    }

    /// `sem_post`—See [`Semaphore::post`].
    pub fn post(&self) -> Result<()> {
        Semaphore::post(self)
    }

    /// `sem_wait`—See [`Semaphore::wait`].
    pub fn wait(&self) -> Result<()> {
        Semaphore::wait(self)
    }

    /// `sem_trywait`—See [`Semaphore::try_wait`].
    pub fn try_wait(&self) -> Result<()> {
        Semaphore::try_wait(self)
    }

    /// `sem_clockwait`—See [`Semaphore::wait_timeout`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        Semaphore::wait_timeout(self, timeout)
    }

    /// `sem_clockwait`—See [`Semaphore::wait_deadline`].
    pub fn wait_deadline(&self, deadline: Instant) -> Result<()> {
        Semaphore::wait_deadline(self, deadline)
    }

    /// `sem_getvalue`—See [`Semaphore::value`].
    pub fn value(&self) -> Result<u32> {
        Semaphore::value(self)
    }

    /// See [`Semaphore::lock`].
    pub fn lock(&self) -> Result<SemGuard<'_>> {
        Semaphore::lock(self)
    }

    /// See [`Semaphore::try_lock`].
    pub fn try_lock(&self) -> Result<SemGuard<'_>> {
        Semaphore::try_lock(self)
    }

    /// See [`Semaphore::lock_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<SemGuard<'_>> {
        Semaphore::lock_timeout(self, timeout)
    }
}

impl Drop for NamedSemaphore {
    /// `sem_close`, then `sem_unlink` if asked for; errors are ignored (call
    /// [`remove`](Self::remove) to see the unlink's).
    fn drop(&mut self) {
        let _ = close(self.sem);
        if self.own.should_remove() {
            let _ = sys::posix_sem::sem_unlink(&self.c_name);
        }
    }
}

#[allow(unsafe_code)]
fn close(sem: SemPtr) -> Result<()> {
    // SAFETY: called once from `NamedSemaphore::drop` with the pointer `sem_open`
    // returned; guards borrow the handle, so none outlives it.
    unsafe { sys::posix_sem::sem_close(sem) }.map_err(|e| Error::sys("sem_close", Object::None, e))
}

fn open_error(name: &str, e: Errno) -> Error {
    let err = Error::sys("sem_open", Object::Name(name.to_string()), e);
    match e {
        Errno::ENOENT => err.with_detail("no semaphore has this name"),
        Errno::EEXIST => err.with_detail("a semaphore with this name already exists"),
        Errno::EACCES => err.with_detail("the semaphore's permissions refuse this access"),
        _ => err,
    }
}

fn unlink_error(name: &str, e: Errno) -> Error {
    let err = Error::sys("sem_unlink", Object::Name(name.to_string()), e);
    match e {
        Errno::ENOENT => err.with_detail("no semaphore has this name"),
        Errno::EACCES => err.with_detail("the caller may not remove this semaphore"),
        _ => err,
    }
}

// ----- unnamed, in shared memory -------------------------------------------------

/// Memory several processes can map, where an [`UnnamedSemaphore`] can live:
/// a POSIX [`Mapping`](super::shm::Mapping) (named object or memfd) or a System V
/// [`Attachment`](crate::sysv::shm::Attachment).
pub trait SharedMemory: shared_sealed::Sealed {}

mod shared_sealed {
    pub trait Sealed {
        fn base(&self) -> *mut u8;
        fn size(&self) -> usize;
        fn read_only(&self) -> bool;
        fn label(&self) -> String;
    }
}

impl shared_sealed::Sealed for super::shm::Mapping {
    fn base(&self) -> *mut u8 {
        self.as_ptr()
    }
    fn size(&self) -> usize {
        self.len()
    }
    fn read_only(&self) -> bool {
        self.is_read_only()
    }
    fn label(&self) -> String {
        "POSIX shared-memory mapping".to_string()
    }
}
impl SharedMemory for super::shm::Mapping {}

impl shared_sealed::Sealed for crate::sysv::shm::Attachment {
    fn base(&self) -> *mut u8 {
        self.as_ptr()
    }
    fn size(&self) -> usize {
        self.len()
    }
    fn read_only(&self) -> bool {
        self.is_read_only()
    }
    fn label(&self) -> String {
        "System V shared-memory attachment".to_string()
    }
}
impl SharedMemory for crate::sysv::shm::Attachment {}

/// An unnamed, process-shared POSIX semaphore (`sem_init(sem, 1, value)`) at an
/// offset of shared memory; it borrows the mapping, so it cannot outlive it.
///
/// One process initialises it with [`init`](Self::init), once, before any other uses
/// it; every process (the initialiser too) then reaches it with
/// [`at`](Self::at) through its own mapping of the same memory. Dropping the handle
/// does nothing: the semaphore belongs to the memory, and on Linux it holds no other
/// resource (`sem_destroy` is not needed). Initialising it again while others use it
/// resets it under their feet: don't.
///
/// The operations are those of the [`Semaphore`] trait.
pub struct UnnamedSemaphore<'a> {
    sem: SemPtr,
    offset: usize,
    _mem: PhantomData<&'a ()>,
}

impl fmt::Debug for UnnamedSemaphore<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnnamedSemaphore")
            .field("addr", &self.sem.addr())
            .field("offset", &self.offset)
            .finish()
    }
}

#[allow(private_interfaces)]
impl sealed::Sealed for UnnamedSemaphore<'_> {
    fn raw(&self) -> SemPtr {
        self.sem
    }
    fn object(&self) -> Object {
        Object::Name(format!("unnamed semaphore at offset {}", self.offset))
    }
}

impl Semaphore for UnnamedSemaphore<'_> {}

impl<'a> UnnamedSemaphore<'a> {
    /// `sem_init(mem + offset, 1, value)`—Makes a new process-shared semaphore
    /// holding `value` in `mem` at `offset`, which must be a multiple of
    /// [`SEM_ALIGN`] with [`SEM_SIZE`] bytes of room.
    #[doc(alias = "sem_init")]
    pub fn init<M: SharedMemory>(mem: &'a M, offset: usize, value: u32) -> Result<UnnamedSemaphore<'a>> {
        let s = UnnamedSemaphore::at(mem, offset)?;
        check_value("sem_init", s.object(), value)?;
        #[allow(unsafe_code)]
        // SAFETY: `at` checked bounds, alignment and writability; the contract of
        // `init` (documented) is that nobody uses this semaphore yet.
        unsafe { sys::posix_sem::sem_init_shared(s.sem, value) }
            .map_err(|e| Error::sys("sem_init", s.object(), e))?;
        Ok(s)
    }

    /// The semaphore another process (or this one) initialised in `mem` at `offset`.
    /// Checks bounds, alignment and that the mapping is writable; it cannot check
    /// that [`init`](Self::init) ran.
    pub fn at<M: SharedMemory>(mem: &'a M, offset: usize) -> Result<UnnamedSemaphore<'a>> {
        let bad = |kind: ErrorKind, why: String| {
            Err(Error::new("sem_init", Object::Name(mem.label()), kind).with_detail(why))
        };
        if mem.read_only() {
            return bad(
                ErrorKind::ReadOnly,
                "a semaphore needs a read-write mapping (its waits and posts write it)".into(),
            );
        }
        if offset % SEM_ALIGN != 0 {
            return bad(ErrorKind::InvalidInput, format!("offset {offset} is not a multiple of {SEM_ALIGN}"));
        }
        if offset.checked_add(SEM_SIZE).is_none_or(|end| end > mem.size()) {
            return bad(
                ErrorKind::OutOfBounds,
                format!(
                    "a semaphore of {SEM_SIZE} bytes at offset {offset} passes the end ({} bytes)",
                    mem.size()
                ),
            );
        }
        let p = NonNull::new(mem.base().wrapping_add(offset)).expect("a mapping is never at address 0");
        #[allow(unsafe_code)]
        // SAFETY: bounds, alignment and writability were checked above, and the
        // lifetime `'a` keeps the mapping alive while the handle exists.
        let sem = unsafe { SemPtr::from_raw(p) };
        Ok(UnnamedSemaphore { sem, offset, _mem: PhantomData })
    }

    /// The semaphore's offset in its mapping.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

// ----- the guard -----------------------------------------------------------------

/// One unit taken by [`Semaphore::lock`]; dropping it posts it back.
///
/// A process killed while holding a guard never posts: see the [module docs](self).
#[must_use = "dropping the guard posts the unit back at once"]
pub struct SemGuard<'a> {
    sem: SemPtr,
    label: String,
    _sem: PhantomData<&'a ()>,
}

impl SemGuard<'_> {
    fn new<'a>(sem: SemPtr, label: String) -> SemGuard<'a> {
        SemGuard { sem, label, _sem: PhantomData }
    }

    /// Posts the unit back now, reporting any error.
    pub fn release(mut self) -> Result<()> {
        let label = std::mem::take(&mut self.label);
        let sem = self.sem;
        std::mem::forget(self);
        post(sem, &|| Object::Name(label.clone()))
    }
}

impl fmt::Debug for SemGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemGuard").field("semaphore", &self.label).finish()
    }
}

impl Drop for SemGuard<'_> {
    /// Posts the unit back; an error (impossible short of `SEM_VALUE_MAX`) is ignored.
    fn drop(&mut self) {
        let _ = sys::posix_sem::sem_post(self.sem);
    }
}
