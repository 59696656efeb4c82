//! System V semaphore sets: `semget`, `semop`, `semtimedop`, `semctl`.
//!
//! A semaphore set is an array of counters (0 to 32767) kept by the kernel. One
//! [`SemSet::op`] call applies a list of [`SemOp`]s **atomically**: either every
//! operation can proceed and all are applied, or the caller waits (or, with
//! `IPC_NOWAIT`, nothing happens). An operation adds a delta to one semaphore: a
//! negative delta waits until the value is large enough (P, "take"), a positive one
//! never waits (V, "give"), and a zero delta waits until the value is zero.
//!
//! With `SEM_UNDO` the kernel remembers the operation and reverses it when the process
//! exits, however it exits: a process killed while holding a lock releases it.
//!
//! ```
//! use ipckit::{Key, Mode};
//! use ipckit::sysv::sem::{SemOp, SemSet};
//!
//! // A set of two semaphores: a lock (1 = free) and a counter.
//! let mut set = SemSet::create(Key::PRIVATE, &[1, 0], Mode::OWNER_RW)?;
//! set.set_remove_on_drop(true)?;
//! {
//!     let _guard = set.lock(0)?;               // P with SEM_UNDO; V on drop
//!     assert_eq!(set.value(0)?, 0);
//! }
//! assert_eq!(set.value(0)?, 1);
//!
//! // Take the lock and count one, atomically.
//! set.op(&[SemOp::new(0, -1), SemOp::new(1, 1)])?;
//! assert_eq!(set.values()?, vec![0, 1]);
//! // Nothing to take: a non-blocking P fails with "not now" and applies nothing.
//! assert!(set.try_op(&[SemOp::new(0, -1)]).unwrap_err().is_not_now());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # Creation without the initialisation race
//!
//! `semget` creates a set with every value 0, and setting the initial values takes a
//! second call: a process opening the set in between would see it uninitialised. ipckit
//! closes that gap with the protocol of W. R. Stevens (*UNIX Network Programming*,
//! vol. 2, §11.2): the creator alone gets the set (`IPC_CREAT | IPC_EXCL`), sets the
//! initial values, then performs one `semop`, which sets the set's `sem_otime`. Openers
//! that arrive through [`SemSet::open_or_create`] or [`SemSet::open_initialized`] wait
//! until `sem_otime` is non-zero. A set whose creator died before finishing is
//! reported as [`ErrorKind::NotInitialized`] after the timeout.
//!
//! References: [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html),
//! [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html),
//! [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html).

use std::fmt;
use std::time::{Duration, Instant};

use super::{Create, Ownership, Update, get_id, id_error, remaining};
pub use super::{InfoKind, StatAccess};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::limits::Limit;
use crate::perm::Mode;
use crate::sys::{self, Errno, sem::SemGet};
pub use crate::sysv_types::sem::{SemInfo, SemOp, SemStat};
use crate::wait::poll_until;

/// The largest value a semaphore can hold (`SEMVMX`).
pub const SEMVMX: u16 = sys::sem::SEMVMX;

/// How long [`SemSet::open_or_create`] waits for another process to finish creating.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a comma-separated list of operations, such as `0-1,1+1`, each in the text
/// form of [`SemOp`] (its `FromStr`).
pub fn parse_ops(text: &str) -> Result<Vec<SemOp>> {
    text.split(',').map(str::parse).collect()
}

/// `semctl(0, 0, IPC_INFO)` ([`InfoKind::Limits`]) or `SEM_INFO`
/// ([`InfoKind::Usage`]), and the highest index in use in the kernel's table of sets.
pub fn info(kind: InfoKind) -> Result<(i32, SemInfo)> {
    sys::sem::info(kind == InfoKind::Usage)
        .map_err(|e| Error::sys("semctl", Object::None, e).with_detail("IPC_INFO/SEM_INFO failed"))
}

/// `semctl(index, 0, SEM_STAT_ANY)` (or `SEM_STAT`): the id and status of the set at a
/// slot of the kernel's table. Empty slots give [`ErrorKind::NotFound`].
pub fn stat_index(index: i32, access: StatAccess) -> Result<(i32, SemStat)> {
    sys::sem::stat_index(index, access == StatAccess::Any).map_err(|e| {
        let err = Error::sys("semctl", Object::Name(format!("index {index}")), e);
        if e == Errno::EINVAL { err.with_kind(ErrorKind::NotFound) } else { err }
    })
}

/// A handle on a System V semaphore set.
pub struct SemSet {
    key: Key,
    id: i32,
    nsems: u16,
    own: Ownership,
}

impl fmt::Debug for SemSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemSet")
            .field("key", &self.key)
            .field("id", &self.id)
            .field("nsems", &self.nsems)
            .field("created", &self.own.created())
            .finish()
    }
}

fn semget_explain(nsems: usize) -> impl Fn(Errno) -> Option<(Limit, String)> {
    move |e| match e {
        Errno::ENOSPC => {
            Some((Limit::SemMni, "the number of sets (or semmns, the number of semaphores)".into()))
        }
        Errno::EINVAL if nsems > Limit::SemMsl.current().unwrap_or(u64::MAX) as usize => {
            Some((Limit::SemMsl, format!("a set of {nsems} semaphores")))
        }
        _ => None,
    }
}

impl SemSet {
    /// `semget(key, nsems, flags)`—Gets a set without initialising it.
    ///
    /// `nsems` is the size of a new set; when opening, it is the least size accepted
    /// (0 accepts any). A new set's values are all 0 and its `sem_otime` is unset; to
    /// create with initial values and no race, use [`create`](Self::create) or
    /// [`open_or_create`](Self::open_or_create).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when opening a key no set has; [`ErrorKind::AlreadyExists`]
    /// when creating exclusively a key that is taken; [`ErrorKind::PermissionDenied`] when
    /// the set's mode refuses the caller; [`ErrorKind::LimitExceeded`] for more than
    /// `SEMMSL` semaphores in a set, or when the system already has `SEMMNI` sets (both in
    /// `/proc/sys/kernel/sem`); [`ErrorKind::InvalidInput`] when an existing set is smaller
    /// than `nsems`.
    #[doc(alias = "semget")]
    pub fn get(key: Key, how: Create, nsems: usize, mode: Mode) -> Result<SemSet> {
        let n = i32::try_from(nsems).map_err(|_| {
            Error::new("semget", Object::Key(key), ErrorKind::InvalidInput).with_detail("too many semaphores")
        })?;
        if nsems == 0 && how != Create::Open {
            return Err(Error::new("semget", Object::Key(key), ErrorKind::InvalidInput)
                .with_detail("a new set needs at least one semaphore"));
        }
        let (id, created) = get_id(
            "semget",
            key,
            how,
            mode,
            |flags| sys::sem::semget(key.raw(), n, flags),
            semget_explain(nsems),
        )
        .map_err(|e| {
            if e.raw_os_error() == Some(Errno::EINVAL.0) && e.kind() != ErrorKind::LimitExceeded {
                e.with_detail(format!("the existing set has fewer than {nsems} semaphores"))
            } else {
                e
            }
        })?;
        let mut set = SemSet { key, id, nsems: 0, own: Ownership::new(created) };
        set.nsems = match set.stat() {
            Ok(st) => st.nsems as u16,
            // Without read permission the size is unknown; take the caller's word.
            Err(e) if e.kind() == ErrorKind::PermissionDenied => nsems as u16,
            Err(e) => return Err(e),
        };
        Ok(set)
    }

    /// Creates a new set holding `initial` values (one per semaphore), race-free: no
    /// process sees it before the values are set. Fails if `key` is taken.
    pub fn create(key: Key, initial: &[u16], mode: Mode) -> Result<SemSet> {
        let mut set = SemSet::get(key, Create::Exclusive, initial.len(), mode)?;
        if let Err(e) = set.initialise(initial) {
            // Do not leave a half-made set behind.
            let _ = sys::sem::rmid(set.id);
            set.own.disarm();
            return Err(e);
        }
        Ok(set)
    }

    /// Opens the set with this key, creating and initialising it with `initial` if
    /// missing. If another process is creating it at the same moment, waits (up to
    /// [`DEFAULT_INIT_TIMEOUT`]) until that process has set the initial values, so the
    /// caller never sees an uninitialised set.
    pub fn open_or_create(key: Key, initial: &[u16], mode: Mode) -> Result<SemSet> {
        SemSet::open_or_create_timeout(key, initial, mode, DEFAULT_INIT_TIMEOUT)
    }

    /// [`open_or_create`](Self::open_or_create) with a chosen wait for initialisation.
    pub fn open_or_create_timeout(
        key: Key,
        initial: &[u16],
        mode: Mode,
        timeout: Duration,
    ) -> Result<SemSet> {
        if key.is_private() {
            return SemSet::create(key, initial, mode);
        }
        loop {
            match SemSet::create(key, initial, mode) {
                Ok(set) => return Ok(set),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            match SemSet::open_initialized(key, timeout) {
                Ok(set) if (set.nsems as usize) < initial.len() => {
                    return Err(Error::new("semget", set.obj(), ErrorKind::InvalidInput).with_detail(
                        format!(
                            "the existing set has {} semaphores, fewer than the {} asked for",
                            set.nsems,
                            initial.len()
                        ),
                    ));
                }
                Ok(set) => return Ok(set),
                // Removed between our two calls: try to create it again.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens the existing set with this key, without waiting for initialisation.
    /// Sets made by other tools (`ipcmk -S`, C programs) may never set `sem_otime`;
    /// this is the call for them.
    pub fn open(key: Key) -> Result<SemSet> {
        SemSet::get(key, Create::Open, 0, Mode::OWNER_RW)
    }

    /// Opens the existing set with this key and waits up to `timeout` until its
    /// creator has initialised it (its `sem_otime` is set).
    pub fn open_initialized(key: Key, timeout: Duration) -> Result<SemSet> {
        let set = SemSet::open(key)?;
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 30));
        let ready = poll_until(deadline, || set.stat().map(|st| st.otime.map(|_| ())))?;
        match ready {
            Some(()) => Ok(set),
            None => Err(Error::new("semget", set.obj(), ErrorKind::NotInitialized).with_detail(format!(
                "the set was not initialised within {} s: its creator may have died before \
                 setting the values (remove set id {} with IPC_RMID, then create it again)",
                timeout.as_secs_f64(),
                set.id
            ))),
        }
    }

    /// A handle on the set with this id, checked to exist. The handle does not own it.
    /// If the set's permissions refuse reading its status, the handle is still made,
    /// with its size unknown ([`len`](Self::len) is 0).
    pub fn from_id(id: i32) -> Result<SemSet> {
        match sys::sem::stat(id) {
            Ok(st) => Ok(SemSet { key: st.perm.key, id, nsems: st.nsems as u16, own: Ownership::new(false) }),
            // It exists, but we may not read its status (the owner or root may still
            // remove it); key and size stay unknown, as for queues and segments.
            Err(Errno::EACCES) => Ok(SemSet { key: Key::PRIVATE, id, nsems: 0, own: Ownership::new(false) }),
            Err(e) => Err(id_error("semctl(IPC_STAT)", Key::PRIVATE, id, e)),
        }
    }

    /// Sets the initial values, then marks the set initialised with one `semop`.
    fn initialise(&mut self, initial: &[u16]) -> Result<()> {
        if let Some(&v) = initial.iter().find(|&&v| v > SEMVMX) {
            return Err(Error::new("semctl(SETALL)", self.obj(), ErrorKind::LimitExceeded)
                .with_limit(Limit::SemVmx, format!("initial value {v}")));
        }
        // Set semaphore 0 one step away from its target, then step it there with a
        // semop: that one call both finishes the values and sets sem_otime.
        let mut vals = initial.to_vec();
        let step: i16 = if vals[0] < SEMVMX { -1 } else { 1 };
        vals[0] = (i32::from(vals[0]) - i32::from(step)) as u16;
        self.set_values(&vals)?;
        sys::sem::semop(self.id, &[SemOp::new(0, step)], None).map_err(|e| self.err("semop", e))
    }

    /// The set's id.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key the handle was obtained with.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The number of semaphores in the set.
    pub fn len(&self) -> usize {
        usize::from(self.nsems)
    }

    /// Whether the set has no semaphores (never true for a set that exists).
    pub fn is_empty(&self) -> bool {
        self.nsems == 0
    }

    /// Whether this handle created the set.
    pub fn created(&self) -> bool {
        self.own.created()
    }

    /// Asks for the set to be removed when this handle is dropped (only in the process
    /// that made the handle). Refused for a handle that did not create it.
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", self.obj())
    }

    fn obj(&self) -> Object {
        Object::KeyId(self.key, self.id)
    }

    fn err(&self, op: &'static str, e: Errno) -> Error {
        id_error(op, self.key, self.id, e)
    }

    fn check_num(&self, op: &'static str, num: u16) -> Result<()> {
        if num >= self.nsems && self.nsems != 0 {
            return Err(Error::new(op, self.obj(), ErrorKind::OutOfBounds).with_detail(format!(
                "semaphore {num} does not exist: the set has {} (0 to {})",
                self.nsems,
                self.nsems - 1
            )));
        }
        Ok(())
    }

    // ----- semop ---------------------------------------------------------------

    /// `semop`—Applies `ops` atomically, waiting until all can proceed.
    #[doc(alias = "semop")]
    ///
    /// Only an operation flagged `IPC_NOWAIT` can make it return without applying
    /// anything: then it fails with [`ErrorKind::WouldBlock`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] when an operation flagged `IPC_NOWAIT` cannot proceed
    /// (nothing is applied); [`ErrorKind::LimitExceeded`] for more than `SEMOPM` operations,
    /// or a result above `SEMVMX` (32767); [`ErrorKind::InvalidInput`] for a semaphore
    /// number outside the set; [`ErrorKind::Removed`] when the set is removed while the call
    /// waits; [`ErrorKind::Interrupted`] when a signal ends the wait.
    pub fn op(&self, ops: &[SemOp]) -> Result<()> {
        self.op_raw(ops, None)
    }

    /// Applies `ops` atomically if all can proceed now; [`ErrorKind::WouldBlock`] (and
    /// nothing applied) otherwise. Every operation gets `IPC_NOWAIT`.
    pub fn try_op(&self, ops: &[SemOp]) -> Result<()> {
        let ops: Vec<SemOp> = ops.iter().map(|o| o.nowait()).collect();
        self.op_raw(&ops, None)
    }

    /// `semtimedop`—Applies `ops` atomically, waiting at most `timeout`;
    /// [`ErrorKind::TimedOut`] if time ran out (nothing applied).
    #[doc(alias = "semtimedop")]
    pub fn op_timeout(&self, ops: &[SemOp], timeout: Duration) -> Result<()> {
        self.op_raw(ops, Some(timeout))
    }

    /// Applies `ops` atomically, waiting until `deadline` at the latest;
    /// [`ErrorKind::TimedOut`] if time ran out.
    pub fn op_deadline(&self, ops: &[SemOp], deadline: Instant) -> Result<()> {
        self.op_raw(ops, Some(remaining(deadline).unwrap_or(Duration::ZERO)))
    }

    fn op_raw(&self, ops: &[SemOp], timeout: Option<Duration>) -> Result<()> {
        if ops.is_empty() {
            return Err(
                Error::new("semop", self.obj(), ErrorKind::InvalidInput).with_detail("no operations given")
            );
        }
        for op in ops {
            self.check_num("semop", op.num)?;
        }
        match sys::sem::semop(self.id, ops, timeout) {
            Ok(()) => Ok(()),
            Err(Errno::EAGAIN) => Err(Error::not_now("semop", timeout.is_some())),
            Err(e) => Err(self.op_error(e, ops)),
        }
    }

    fn op_error(&self, e: Errno, ops: &[SemOp]) -> Error {
        let err = Error::sys("semop", self.obj(), e);
        match e {
            Errno::E2BIG => err.with_limit(Limit::SemOpm, format!("a call with {} operations", ops.len())),
            Errno::ERANGE => err.with_limit(Limit::SemVmx, "the resulting value"),
            Errno::EFBIG => {
                err.with_kind(ErrorKind::OutOfBounds).with_detail("a semaphore index is out of range")
            }
            Errno::ENOSPC => err.with_detail("the kernel has no memory for the SEM_UNDO record"),
            Errno::EIDRM => err.with_detail("the set was removed while waiting"),
            _ => self.err("semop", e),
        }
    }

    /// P on semaphore `num`: subtract one, waiting until the value is at least one.
    /// No `SEM_UNDO`: for a lock that survives a crash, use [`lock`](Self::lock).
    pub fn p(&self, num: u16) -> Result<()> {
        self.op(&[SemOp::p(num)])
    }

    /// V on semaphore `num`: add one.
    pub fn v(&self, num: u16) -> Result<()> {
        self.op(&[SemOp::v(num)])
    }

    /// Waits until semaphore `num` is zero.
    pub fn wait_zero(&self, num: u16) -> Result<()> {
        self.op(&[SemOp::wait_zero(num)])
    }

    /// Takes semaphore `num` as a lock: P with `SEM_UNDO`, returning a guard whose drop
    /// gives it back (V with `SEM_UNDO`). If the process dies while holding it, the
    /// kernel gives it back.
    pub fn lock(&self, num: u16) -> Result<SemGuard<'_>> {
        self.op(&[SemOp::p(num).undo()])?;
        Ok(SemGuard { set: self, num })
    }

    /// Takes the lock if it is free now; [`ErrorKind::WouldBlock`] otherwise.
    pub fn try_lock(&self, num: u16) -> Result<SemGuard<'_>> {
        self.try_op(&[SemOp::p(num).undo()])?;
        Ok(SemGuard { set: self, num })
    }

    /// Takes the lock, waiting at most `timeout`; [`ErrorKind::TimedOut`] if time ran out.
    pub fn lock_timeout(&self, num: u16, timeout: Duration) -> Result<SemGuard<'_>> {
        self.op_timeout(&[SemOp::p(num).undo()], timeout)?;
        Ok(SemGuard { set: self, num })
    }

    /// Takes the lock, waiting until `deadline` at the latest; [`ErrorKind::TimedOut`]
    /// if it passed.
    pub fn lock_deadline(&self, num: u16, deadline: Instant) -> Result<SemGuard<'_>> {
        self.op_deadline(&[SemOp::p(num).undo()], deadline)?;
        Ok(SemGuard { set: self, num })
    }

    // ----- semctl --------------------------------------------------------------

    fn get_one(&self, op: &'static str, num: u16, what: SemGet) -> Result<i32> {
        self.check_num(op, num)?;
        sys::sem::get(self.id, num, what).map_err(|e| self.err(op, e))
    }

    /// `GETVAL`—The value of semaphore `num`.
    #[doc(alias = "GETVAL")]
    pub fn value(&self, num: u16) -> Result<u16> {
        Ok(self.get_one("semctl(GETVAL)", num, SemGet::Val)? as u16)
    }

    /// `SETVAL`—Sets semaphore `num` (0 to 32767). Cancels every process's `SEM_UNDO`
    /// adjustment for it.
    #[doc(alias = "SETVAL")]
    pub fn set_value(&self, num: u16, value: u16) -> Result<()> {
        self.check_num("semctl(SETVAL)", num)?;
        sys::sem::setval(self.id, num, i32::from(value)).map_err(|e| match e {
            Errno::ERANGE => Error::sys("semctl(SETVAL)", self.obj(), e)
                .with_limit(Limit::SemVmx, format!("value {value}")),
            _ => self.err("semctl(SETVAL)", e),
        })
    }

    /// `GETALL`—Every value, in order.
    #[doc(alias = "GETALL")]
    pub fn values(&self) -> Result<Vec<u16>> {
        // Size the buffer from the kernel's count, not our cached one.
        let n = self.stat()?.nsems as usize;
        let mut v = vec![0u16; n];
        sys::sem::getall(self.id, &mut v).map_err(|e| self.err("semctl(GETALL)", e))?;
        Ok(v)
    }

    /// `SETALL`—Sets every value; `values` must have one per semaphore. Cancels every
    /// `SEM_UNDO` adjustment of the set.
    #[doc(alias = "SETALL")]
    pub fn set_values(&self, values: &[u16]) -> Result<()> {
        let n = self.stat()?.nsems as usize;
        if values.len() != n {
            return Err(Error::new("semctl(SETALL)", self.obj(), ErrorKind::InvalidInput)
                .with_detail(format!("{} values given for a set of {n} semaphores", values.len())));
        }
        sys::sem::setall(self.id, values).map_err(|e| match e {
            Errno::ERANGE => Error::sys("semctl(SETALL)", self.obj(), e).with_limit(Limit::SemVmx, "a value"),
            _ => self.err("semctl(SETALL)", e),
        })
    }

    /// `GETPID`—The process that last operated on semaphore `num` (0 if none).
    #[doc(alias = "GETPID")]
    pub fn last_pid(&self, num: u16) -> Result<u32> {
        Ok(self.get_one("semctl(GETPID)", num, SemGet::Pid)? as u32)
    }

    /// `GETNCNT`—How many processes wait for semaphore `num` to increase.
    #[doc(alias = "GETNCNT")]
    pub fn waiting_to_take(&self, num: u16) -> Result<u32> {
        Ok(self.get_one("semctl(GETNCNT)", num, SemGet::Ncnt)? as u32)
    }

    /// `GETZCNT`—How many processes wait for semaphore `num` to become zero.
    #[doc(alias = "GETZCNT")]
    pub fn waiting_for_zero(&self, num: u16) -> Result<u32> {
        Ok(self.get_one("semctl(GETZCNT)", num, SemGet::Zcnt)? as u32)
    }

    /// `IPC_STAT`—The set's status.
    #[doc(alias = "IPC_STAT")]
    pub fn stat(&self) -> Result<SemStat> {
        sys::sem::stat(self.id).map_err(|e| self.err("semctl(IPC_STAT)", e))
    }

    /// `IPC_SET`—Changes owner or permissions.
    #[doc(alias = "IPC_SET")]
    pub fn update(&self, update: &Update) -> Result<()> {
        sys::sem::set(self.id, update).map_err(|e| self.err("semctl(IPC_SET)", e))
    }

    /// `IPC_RMID`—Removes the set now; processes waiting on it wake up with
    /// [`ErrorKind::Removed`].
    #[doc(alias = "IPC_RMID")]
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        sys::sem::rmid(self.id).map_err(|e| self.err("semctl(IPC_RMID)", e))
    }
}

impl Drop for SemSet {
    /// Removes the set if [`set_remove_on_drop`](Self::set_remove_on_drop) asked for
    /// it; errors are ignored (call [`remove`](Self::remove) to see them).
    fn drop(&mut self) {
        if self.own.should_remove() {
            let _ = sys::sem::rmid(self.id);
        }
    }
}

/// A semaphore taken as a lock by [`SemSet::lock`]; dropping it gives it back.
#[must_use = "dropping the guard releases the lock at once"]
pub struct SemGuard<'a> {
    set: &'a SemSet,
    num: u16,
}

impl SemGuard<'_> {
    /// Gives the lock back now, reporting any error (the set may have been removed).
    pub fn release(self) -> Result<()> {
        let r = self.set.op(&[SemOp::v(self.num).undo()]);
        std::mem::forget(self);
        r
    }
}

impl fmt::Debug for SemGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemGuard").field("set", &self.set.id).field("num", &self.num).finish()
    }
}

impl Drop for SemGuard<'_> {
    /// Gives the lock back (V with `SEM_UNDO`, cancelling the P's adjustment).
    /// Errors are ignored: if the set is gone there is nothing to give back.
    fn drop(&mut self) {
        let _ = self.set.op(&[SemOp::v(self.num).undo()]);
    }
}
