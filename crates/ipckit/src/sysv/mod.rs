//! System V IPC: message queues, semaphore sets and shared-memory segments.
//!
//! The three mechanisms share one model. An object lives in the kernel, not in a
//! process: it outlives its creator until someone removes it (`ipcrm`, or
//! [`MsgQueue::remove`](msg::MsgQueue::remove) and friends). It is found by a
//! [`Key`] (derived from a path with [`Key::ftok`], or [`Key::PRIVATE`] for one
//! reachable only by id), has an **id** the kernel assigns, an owner, a creator and
//! permission bits ([`IpcPerm`]).
//!
//! Each handle (`MsgQueue`, `SemSet`, `ShmSegment`) remembers whether it **created**
//! the object. Only a creator can ask to remove the object when the handle is dropped
//! ([`set_remove_on_drop`](msg::MsgQueue::set_remove_on_drop)); a handle that merely
//! opened an object never removes it behind your back. A forked child inherits a copy
//! of the handle but never removes the object on drop: only the creating process does.
//!
//! How to get a handle is a [`Create`] choice: create exclusively, open an existing
//! object, or open it and create it if missing.
//!
//! ```
//! use ipckit::{Key, Mode};
//! use ipckit::sysv::msg::{MsgQueue, Select};
//!
//! let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW)?;
//! q.set_remove_on_drop(true)?;
//! q.send(b"hello", 1)?;
//! let mut buf = [0u8; 64];
//! let got = q.recv(&mut buf, Select::Any)?;
//! assert_eq!(&buf[..got.len], b"hello");
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
//! [ipc_perm in svipc(7)](https://man7.org/linux/man-pages/man7/svipc.7.html).

pub mod msg;
pub mod sem;
pub mod shm;

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::limits::Limit;
use crate::perm::Mode;
use crate::sys::{self, Errno, SysResult};
pub use crate::sysv_types::{IpcPerm, Update};

/// How to get a System V object.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Create {
    /// Create a new object; fail with [`ErrorKind::AlreadyExists`] if the key is taken
    /// (`IPC_CREAT | IPC_EXCL`). With [`Key::PRIVATE`], always a new object.
    Exclusive,
    /// Open the existing object; fail with [`ErrorKind::NotFound`] if there is none.
    Open,
    /// Open the object, creating it if missing (`IPC_CREAT`). The handle tells which
    /// happened ([`created`](msg::MsgQueue::created)).
    OpenOrCreate,
}

/// Which figures an `IPC_INFO`-style query returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum InfoKind {
    /// The system's limits (`IPC_INFO`).
    Limits,
    /// What is in use now (`MSG_INFO`, `SEM_INFO`).
    Usage,
}

/// Whether a stat of a table slot checks read permission.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StatAccess {
    /// `MSG_STAT`/`SEM_STAT`/`SHM_STAT`: refused for an object the caller cannot read.
    CheckRead,
    /// `MSG_STAT_ANY`/`SEM_STAT_ANY`/`SHM_STAT_ANY` (Linux 4.17): no permission check,
    /// as `/proc/sysvipc` shows every object.
    Any,
}

/// What a handle owns: whether it created its object, and whether (and by which
/// process) the object is to be removed when the handle is dropped.
#[derive(Debug)]
pub(crate) struct Ownership {
    created: bool,
    remove_on_drop: bool,
    pid: u32,
}

impl Ownership {
    pub(crate) fn new(created: bool) -> Ownership {
        Ownership { created, remove_on_drop: false, pid: sys::process::getpid() }
    }

    pub(crate) fn created(&self) -> bool {
        self.created
    }

    pub(crate) fn set_remove_on_drop(&mut self, remove: bool, op: &'static str, obj: Object) -> Result<()> {
        if remove && !self.created {
            return Err(Error::new(op, obj, ErrorKind::InvalidInput).with_detail(
                "this handle opened an existing object; only the handle that created it may \
                 remove it on drop (call remove() to remove it explicitly)",
            ));
        }
        self.remove_on_drop = remove;
        Ok(())
    }

    /// Whether `Drop` should remove the object: asked for, and this is the process that
    /// created the handle (not a forked child holding a copy).
    pub(crate) fn should_remove(&self) -> bool {
        self.remove_on_drop && sys::process::getpid() == self.pid
    }

    /// Called after an explicit remove: nothing is left to do on drop.
    pub(crate) fn disarm(&mut self) {
        self.remove_on_drop = false;
    }
}

/// Runs an `*get` call according to `how`. Returns the id and whether it was created.
///
/// `get(flags)` performs the call; `limit_for_enospc` names the limit an `ENOSPC`
/// means for this mechanism.
pub(crate) fn get_id(
    op: &'static str,
    key: Key,
    how: Create,
    mode: Mode,
    mut get: impl FnMut(i32) -> SysResult<i32>,
    explain: impl Fn(Errno) -> Option<(Limit, String)>,
) -> Result<(i32, bool)> {
    let perm = mode.bits() as i32;
    let fail = |e: Errno| {
        let err = Error::sys(op, Object::Key(key), e);
        match explain(e) {
            Some((limit, what)) => err.with_limit(limit, what),
            None => match e {
                Errno::ENOENT => err.with_detail("no object has this key (create it first)"),
                Errno::EEXIST => err.with_detail("an object with this key already exists"),
                Errno::EACCES => err.with_detail("the object's permissions refuse access"),
                _ => err,
            },
        }
    };
    if key.is_private() {
        return match how {
            Create::Open => Err(Error::new(op, Object::Key(key), ErrorKind::InvalidInput)
                .with_detail("IPC_PRIVATE always creates a new object; open a private object by id")),
            _ => get(sys::ipc::IPC_CREAT | perm).map(|id| (id, true)).map_err(fail),
        };
    }
    match how {
        Create::Exclusive => {
            get(sys::ipc::IPC_CREAT | sys::ipc::IPC_EXCL | perm).map(|id| (id, true)).map_err(fail)
        }
        Create::Open => get(0).map(|id| (id, false)).map_err(fail),
        Create::OpenOrCreate => {
            // Try to create exclusively first, so that we know whether we created it.
            // If another process removes the object between our two calls, go round
            // again: the loop ends as soon as one call succeeds or fails otherwise.
            for _ in 0..1000 {
                match get(sys::ipc::IPC_CREAT | sys::ipc::IPC_EXCL | perm) {
                    Ok(id) => return Ok((id, true)),
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(fail(e)),
                }
                match get(0) {
                    Ok(id) => return Ok((id, false)),
                    Err(Errno::ENOENT) => continue,
                    Err(e) => return Err(fail(e)),
                }
            }
            Err(Error::new(op, Object::Key(key), ErrorKind::Other)
                .with_detail("the object kept appearing and disappearing; gave up after 1000 tries"))
        }
    }
}

/// The error for a call on an object known by id.
pub(crate) fn id_error(op: &'static str, key: Key, id: i32, e: Errno) -> Error {
    let err = Error::sys(op, Object::KeyId(key, id), e);
    match e {
        // For calls on an id, EINVAL means the id names no object (any more).
        Errno::EINVAL => err
            .with_kind(ErrorKind::NotFound)
            .with_detail("no object has this id (it was removed, or never existed)"),
        Errno::EIDRM => err.with_detail("the object was removed"),
        Errno::EACCES => err.with_detail("the object's permissions refuse this access"),
        Errno::EPERM => err.with_detail("only the owner, the creator or root may do this"),
        _ => err,
    }
}

/// Remaining time until `deadline`, or `None` if it has passed.
pub(crate) fn remaining(deadline: Instant) -> Option<Duration> {
    let now = Instant::now();
    if now >= deadline { None } else { Some(deadline - now) }
}
