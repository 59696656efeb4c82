//! System V message queues: `msgget`, `msgsnd`, `msgrcv`, `msgctl`.
//!
//! This file stays whole (~780 lines) because most of it is the one [`MsgQueue`] type,
//! whose send and receive families share the scratch buffer, the type checks and the
//! size hint defined just above it.
//!
//! A message queue is a list of messages kept by the kernel. Each message has a
//! **type** (a positive integer chosen by the sender) and a body of bytes. A receiver
//! takes the first message, or picks by type with a [`Select`]: exactly one type, the
//! lowest type up to a bound (a simple priority queue), or any type but one. Messages
//! keep their boundaries: one send is one receive.
//!
//! ```
//! use ipckit::{Key, Mode, Wait};
//! use ipckit::sysv::msg::{MsgQueue, Select};
//!
//! let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW)?;
//! q.set_remove_on_drop(true)?;
//!
//! q.send(b"second", 2)?;
//! q.send(b"first", 1)?;
//!
//! // The lowest type up to 2 comes out first, whatever the order of sending.
//! let mut buf = [0u8; 64];
//! let got = q.recv(&mut buf, Select::UpTo(2))?;
//! assert_eq!((got.mtype, &buf[..got.len]), (1, &b"first"[..]));
//!
//! // "No message now" is the "not now" error: `?` passes it on, never ignores it.
//! assert!(q.try_recv(&mut buf, Select::Type(7)).unwrap_err().is_not_now());
//!
//! // Plain-old-data structs travel byte for byte, as a C program would send them.
//! #[derive(Copy, Clone, bytemuck::Pod, bytemuck::Zeroable)]
//! #[repr(C)]
//! struct Score { name: [u8; 32], math: i32, chinese: i32 }
//! let mut name = [0u8; 32];
//! name[..4].copy_from_slice(b"alan");
//! q.send_pod(&Score { name, math: 90, chinese: 80 }, 3, Wait::Block)?;
//! let (_, s): (i64, Score) = q.recv_pod(Select::Type(3), Wait::Block)?;
//! assert_eq!((s.math, s.chinese), (90, 80));
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # Waiting
//!
//! Sends wait while the queue is full; receives wait until a matching message
//! arrives. Each direction comes as a family: `send` / `try_send` / `send_timeout` /
//! `send_deadline` (and the same for `recv`), or the general [`Wait`] argument of the
//! `*_with` and typed methods. The kernel has no timed wait for message queues, so
//! the timed forms poll with `IPC_NOWAIT`, sleeping 20 µs at first and up to 1 ms
//! between attempts: they may return up to about 1 ms after a message arrives.
//!
//! A blocking call that a signal interrupts returns [`ErrorKind::Interrupted`]; if the
//! queue is removed while a call waits on it, the call returns [`ErrorKind::Removed`].
//!
//! # Sizes
//!
//! A message body can be at most `msgmax` bytes (`/proc/sys/kernel/msgmax`, 8192 by
//! default) and a queue holds at most `msg_qbytes` bytes (from `msgmnb`, 16384 by
//! default). A larger message is refused with [`ErrorKind::LimitExceeded`] naming the
//! limit, rather than waiting forever for room that can never appear.
//!
//! References: [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html),
//! [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
//! [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html).

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Create, Ownership, get_id, id_error};
pub use super::{InfoKind, StatAccess};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::limits::Limit;
use crate::perm::Mode;
use crate::sys::{self, Errno, msg::MTYPE_SIZE};
pub use crate::sysv_types::msg::{MsgInfo, MsgStat, QueueUpdate};
use crate::wait::{Wait, poll_until};

/// Which message a receive takes (the `msgtyp` argument of `msgrcv`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Select {
    /// The first message in the queue, whatever its type (`msgtyp == 0`).
    Any,
    /// The first message of exactly this type (`msgtyp > 0`). Must be positive.
    Type(i64),
    /// The first message of the lowest type that is at most this value
    /// (`msgtyp < 0`, with `|msgtyp|` the bound). Must be positive.
    UpTo(i64),
    /// The first message of any type except this one (`MSG_EXCEPT`). Must be positive.
    Except(i64),
}

impl Select {
    /// `(msgtyp, extra flags)` for `msgrcv`, or an error for a non-positive type.
    fn raw(self) -> std::result::Result<(std::ffi::c_long, i32), String> {
        let positive = |t: i64, what: &str| -> std::result::Result<std::ffi::c_long, String> {
            if t <= 0 {
                return Err(format!("{what} must be a positive message type, not {t}"));
            }
            std::ffi::c_long::try_from(t).map_err(|_| format!("message type {t} does not fit a C long"))
        };
        Ok(match self {
            Select::Any => (0, 0),
            Select::Type(t) => (positive(t, "Select::Type")?, 0),
            Select::UpTo(t) => (-positive(t, "Select::UpTo")?, 0),
            Select::Except(t) => (positive(t, "Select::Except")?, sys::msg::MSG_EXCEPT),
        })
    }
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Select::Any => f.write_str("any type"),
            Select::Type(t) => write!(f, "type {t}"),
            Select::UpTo(t) => write!(f, "lowest type <= {t}"),
            Select::Except(t) => write!(f, "any type but {t}"),
        }
    }
}

/// What a receive does with a message longer than the buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Oversize {
    /// Fail with [`ErrorKind::MessageTooLarge`] (`E2BIG`); the message stays in the
    /// queue.
    Refuse,
    /// Cut the message to fit (`MSG_NOERROR`); the rest of its body is lost, and
    /// [`Received::truncated`] says so.
    Truncate,
}

/// What a receive into a caller's buffer got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The message's type.
    pub mtype: i64,
    /// How many body bytes were written to the buffer.
    pub len: usize,
    /// Whether the body was cut to fit the buffer (only when truncation was asked for;
    /// the rest of the body is lost).
    pub truncated: bool,
}

/// A message received into a new `Vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The message's type.
    pub mtype: i64,
    /// The body.
    pub data: Vec<u8>,
}

/// `msgctl(0, IPC_INFO)` ([`InfoKind::Limits`]) or `MSG_INFO` ([`InfoKind::Usage`]:
/// what is in use). Also returns the highest index in use in the kernel's table of
/// queues.
pub fn info(kind: InfoKind) -> Result<(i32, MsgInfo)> {
    sys::msg::info(kind == InfoKind::Usage)
        .map_err(|e| Error::sys("msgctl", Object::None, e).with_detail("IPC_INFO/MSG_INFO failed"))
}

/// `msgctl(index, MSG_STAT_ANY)`: the id and status of the queue at a slot of the
/// kernel's table (0 to the highest index from [`info`]). `MSG_STAT_ANY`
/// ([`StatAccess::Any`], Linux 4.17) does not check read permission; `MSG_STAT`
/// ([`StatAccess::CheckRead`]) does. Empty slots give [`ErrorKind::NotFound`].
pub fn stat_index(index: i32, access: StatAccess) -> Result<(i32, MsgStat)> {
    sys::msg::stat_index(index, access == StatAccess::Any).map_err(|e| {
        let err = Error::sys("msgctl", Object::Name(format!("index {index}")), e);
        if e == Errno::EINVAL { err.with_kind(ErrorKind::NotFound) } else { err }
    })
}

/// A buffer laid out as `msgsnd`/`msgrcv` want it (a `long` type, then the body), for
/// sending and receiving without the copy the slice-based methods make.
///
/// ```
/// use ipckit::{Key, Mode, Wait};
/// use ipckit::sysv::msg::{MsgBuf, MsgQueue, Oversize, Select};
///
/// let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW)?;
/// q.set_remove_on_drop(true)?;
/// let mut buf = MsgBuf::with_capacity(128);
/// buf.set(5, b"payload")?;
/// q.send_buf(&buf, Wait::Block)?;
/// buf.clear();
/// q.recv_buf(&mut buf, Select::Type(5), Oversize::Refuse, Wait::Block)?;
/// assert_eq!((buf.mtype(), buf.body()), (5, &b"payload"[..]));
/// # Ok::<(), ipckit::Error>(())
/// ```
#[derive(Clone)]
pub struct MsgBuf {
    bytes: Vec<u8>,
    len: usize,
}

impl MsgBuf {
    /// A buffer for bodies of up to `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> MsgBuf {
        MsgBuf { bytes: vec![0; MTYPE_SIZE + capacity], len: 0 }
    }

    /// The largest body this buffer holds.
    pub fn capacity(&self) -> usize {
        self.bytes.len() - MTYPE_SIZE
    }

    /// The message type.
    pub fn mtype(&self) -> i64 {
        sys::msg::read_mtype(&self.bytes)
    }

    /// Sets the message type (checked when sending: it must be positive).
    pub fn set_mtype(&mut self, mtype: i64) {
        let t = mtype as std::ffi::c_long;
        self.bytes[..MTYPE_SIZE].copy_from_slice(&t.to_ne_bytes());
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.bytes[MTYPE_SIZE..MTYPE_SIZE + self.len]
    }

    /// The body, resized to `len` bytes, for filling in place.
    pub fn body_mut(&mut self, len: usize) -> Result<&mut [u8]> {
        if len > self.capacity() {
            return Err(Error::new("MsgBuf::body_mut", Object::None, ErrorKind::OutOfBounds)
                .with_detail(format!("{len} bytes exceed the buffer's capacity of {}", self.capacity())));
        }
        self.len = len;
        Ok(&mut self.bytes[MTYPE_SIZE..MTYPE_SIZE + len])
    }

    /// Sets the type and copies `body` in.
    pub fn set(&mut self, mtype: i64, body: &[u8]) -> Result<()> {
        self.body_mut(body.len())?.copy_from_slice(body);
        self.set_mtype(mtype);
        Ok(())
    }

    /// Empties the body.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl fmt::Debug for MsgBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgBuf")
            .field("mtype", &self.mtype())
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// The largest scratch buffer kept per thread; larger messages use a temporary one.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a zeroed-length-agnostic scratch buffer of at least `len` bytes.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if len > SCRATCH_KEEP {
        let mut tmp = vec![0u8; len];
        return f(&mut tmp);
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < len {
                v.resize(len, 0);
            }
            f(&mut v[..len])
        }
        // Re-entered (from a callback); use a temporary buffer.
        Err(_) => f(&mut vec![0u8; len]),
    })
}

/// The last known `msgmax`, to size receive buffers for messages of unknown length.
static MSGMAX_HINT: AtomicUsize = AtomicUsize::new(0);

fn msgmax_hint(refresh: bool) -> usize {
    let cached = MSGMAX_HINT.load(Ordering::Relaxed);
    if cached != 0 && !refresh {
        return cached;
    }
    let v = Limit::MsgMax.current().map(|v| v as usize).unwrap_or(8192).max(1);
    MSGMAX_HINT.store(v, Ordering::Relaxed);
    v
}

/// A handle on a System V message queue.
///
/// See the [module documentation](self) for an overview.
pub struct MsgQueue {
    key: Key,
    id: i32,
    own: Ownership,
}

impl fmt::Debug for MsgQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgQueue")
            .field("key", &self.key)
            .field("id", &self.id)
            .field("created", &self.own.created())
            .finish()
    }
}

fn check_mtype(op: &'static str, obj: Object, mtype: i64) -> Result<std::ffi::c_long> {
    if mtype <= 0 {
        return Err(Error::new(op, obj, ErrorKind::InvalidInput)
            .with_detail(format!("message type must be positive (> 0), got {mtype}")));
    }
    std::ffi::c_long::try_from(mtype).map_err(|_| {
        Error::new(op, obj, ErrorKind::InvalidInput)
            .with_detail(format!("message type {mtype} does not fit a C long"))
    })
}

impl MsgQueue {
    /// `msgget(key, flags)`—Gets a queue as `how` says, creating it with `mode`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when opening a key no queue has; [`ErrorKind::AlreadyExists`]
    /// when creating exclusively a key that is taken; [`ErrorKind::PermissionDenied`] when
    /// the queue's mode refuses the caller; [`ErrorKind::LimitExceeded`] when the system
    /// already has `MSGMNI` queues (`/proc/sys/kernel/msgmni`).
    #[doc(alias = "msgget")]
    pub fn get(key: Key, how: Create, mode: Mode) -> Result<MsgQueue> {
        let (id, created) = get_id(
            "msgget",
            key,
            how,
            mode,
            |flags| sys::msg::msgget(key.raw(), flags),
            |e| (e == Errno::ENOSPC).then(|| (Limit::MsgMni, "the number of queues".to_string())),
        )?;
        Ok(MsgQueue { key, id, own: Ownership::new(created) })
    }

    /// Creates a new queue with permissions `mode`; fails if `key` is taken
    /// (`IPC_CREAT | IPC_EXCL`). [`Key::PRIVATE`] always makes a new queue.
    pub fn create(key: Key, mode: Mode) -> Result<MsgQueue> {
        MsgQueue::get(key, Create::Exclusive, mode)
    }

    /// Opens the existing queue with this key.
    pub fn open(key: Key) -> Result<MsgQueue> {
        MsgQueue::get(key, Create::Open, Mode::OWNER_RW)
    }

    /// Opens the queue with this key, creating it with `mode` if missing.
    /// [`created`](Self::created) tells which happened.
    pub fn open_or_create(key: Key, mode: Mode) -> Result<MsgQueue> {
        MsgQueue::get(key, Create::OpenOrCreate, mode)
    }

    /// A handle on the queue with this id (as `ipcs` shows it), checked to exist.
    /// The handle does not own the queue.
    pub fn from_id(id: i32) -> Result<MsgQueue> {
        match sys::msg::stat(id) {
            Ok(st) => Ok(MsgQueue { key: st.perm.key, id, own: Ownership::new(false) }),
            // It exists, but we may not read its status; the key stays unknown.
            Err(Errno::EACCES) => Ok(MsgQueue { key: Key::PRIVATE, id, own: Ownership::new(false) }),
            Err(e) => Err(id_error("msgctl", Key::PRIVATE, id, e)),
        }
    }

    /// The queue's id.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key the handle was obtained with ([`Key::PRIVATE`] if by id and unknown).
    pub fn key(&self) -> Key {
        self.key
    }

    /// Whether this handle created the queue.
    pub fn created(&self) -> bool {
        self.own.created()
    }

    /// Asks for the queue to be removed when this handle is dropped (only in the
    /// process that made the handle). Refused for a handle that did not create it.
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", self.obj())
    }

    fn obj(&self) -> Object {
        Object::KeyId(self.key, self.id)
    }

    fn err(&self, op: &'static str, e: Errno) -> Error {
        id_error(op, self.key, self.id, e)
    }

    /// `msgctl(id, IPC_RMID)`—Removes the queue now. Waiting senders and receivers
    /// wake up with [`ErrorKind::Removed`]; queued messages are lost.
    #[doc(alias = "IPC_RMID")]
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        sys::msg::rmid(self.id).map_err(|e| self.err("msgctl(IPC_RMID)", e))
    }

    /// `msgctl(id, IPC_STAT)`—The queue's status.
    #[doc(alias = "IPC_STAT")]
    pub fn stat(&self) -> Result<MsgStat> {
        sys::msg::stat(self.id).map_err(|e| self.err("msgctl(IPC_STAT)", e))
    }

    /// `msgctl(id, IPC_SET)`—Changes owner, permissions or capacity.
    #[doc(alias = "IPC_SET")]
    pub fn update(&self, update: &QueueUpdate) -> Result<()> {
        sys::msg::set(self.id, update).map_err(|e| {
            let err = self.err("msgctl(IPC_SET)", e);
            match (e, update.qbytes) {
                (Errno::EPERM, Some(q)) => err.with_limit(
                    Limit::MsgMnb,
                    format!("raising the capacity to {q} bytes without CAP_SYS_RESOURCE"),
                ),
                _ => err,
            }
        })
    }

    // ----- sending -------------------------------------------------------------

    /// `msgsnd`—Sends a message of type `mtype` (> 0), waiting while the queue is full.
    #[doc(alias = "msgsnd")]
    pub fn send(&self, data: &[u8], mtype: i64) -> Result<()> {
        self.send_with(data, mtype, Wait::Block)
    }

    /// Sends without waiting (`IPC_NOWAIT`); fails with [`ErrorKind::WouldBlock`] (and
    /// sends nothing) if the queue is full.
    pub fn try_send(&self, data: &[u8], mtype: i64) -> Result<()> {
        self.send_with(data, mtype, Wait::NoWait)
    }

    /// Sends, waiting at most `timeout` for room; [`ErrorKind::TimedOut`] if time ran out.
    pub fn send_timeout(&self, data: &[u8], mtype: i64, timeout: Duration) -> Result<()> {
        self.send_with(data, mtype, Wait::Timeout(timeout))
    }

    /// Sends, waiting until `deadline` at the latest; [`ErrorKind::TimedOut`] if it passed.
    pub fn send_deadline(&self, data: &[u8], mtype: i64, deadline: Instant) -> Result<()> {
        self.send_with(data, mtype, Wait::Deadline(deadline))
    }

    /// Sends as `wait` says; "not now" ([`Error::is_not_now`]) if the queue stayed full.
    ///
    /// # Errors
    ///
    /// "Not now" ([`ErrorKind::WouldBlock`] or [`ErrorKind::TimedOut`]) when the queue
    /// stayed full, with nothing sent; [`ErrorKind::InvalidInput`] for an `mtype` that is
    /// not positive; [`ErrorKind::LimitExceeded`] for a message longer than `MSGMAX`
    /// (`/proc/sys/kernel/msgmax`); [`ErrorKind::Removed`] when the queue is removed while
    /// the call waits; [`ErrorKind::Interrupted`] when a signal ends the wait.
    pub fn send_with(&self, data: &[u8], mtype: i64, wait: Wait) -> Result<()> {
        let t = check_mtype("msgsnd", self.obj(), mtype)?;
        with_scratch(MTYPE_SIZE + data.len(), |buf| {
            buf[..MTYPE_SIZE].copy_from_slice(&t.to_ne_bytes());
            buf[MTYPE_SIZE..].copy_from_slice(data);
            self.send_raw(buf, wait)
        })
    }

    /// Sends the message in `buf` as `wait` says; "not now" if the queue stayed full.
    pub fn send_buf(&self, buf: &MsgBuf, wait: Wait) -> Result<()> {
        check_mtype("msgsnd", self.obj(), buf.mtype())?;
        self.send_raw(&buf.bytes[..MTYPE_SIZE + buf.len], wait)
    }

    /// Sends a plain-old-data value byte for byte, as C's `msgsnd(id, &msg,
    /// sizeof msg - sizeof(long), flags)` sends the body of a struct; "not now" if the
    /// queue stayed full.
    pub fn send_pod<T: bytemuck::Pod>(&self, value: &T, mtype: i64, wait: Wait) -> Result<()> {
        self.send_with(bytemuck::bytes_of(value), mtype, wait)
    }

    /// Sends any `serde` value, serialized with postcard; "not now" if the queue
    /// stayed full.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn send_value<T: serde::Serialize + ?Sized>(&self, value: &T, mtype: i64, wait: Wait) -> Result<()> {
        let bytes = postcard::to_stdvec(value)
            .map_err(|e| Error::new("serialize", self.obj(), ErrorKind::Codec).with_detail(e.to_string()))?;
        self.send_with(&bytes, mtype, wait)
    }

    /// `buf` is the type then the body.
    fn send_raw(&self, buf: &[u8], wait: Wait) -> Result<()> {
        let body = buf.len() - MTYPE_SIZE;
        let attempt = || match sys::msg::msgsnd(self.id, buf, sys::ipc::IPC_NOWAIT) {
            Ok(()) => Ok(Some(())),
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(self.send_error(e, body)),
        };
        match wait {
            Wait::NoWait => {
                if attempt()?.is_none() {
                    self.check_fits(body)?;
                    return Err(wait.not_now("msgsnd"));
                }
                Ok(())
            }
            Wait::Block => {
                // Try without waiting first: if the queue is full, make sure the
                // message can ever fit before going to sleep.
                if attempt()?.is_some() {
                    return Ok(());
                }
                self.check_fits(body)?;
                sys::msg::msgsnd(self.id, buf, 0).map_err(|e| self.send_error(e, body))
            }
            Wait::Timeout(_) | Wait::Deadline(_) => {
                let deadline = wait.deadline().expect("timed wait has a deadline");
                if attempt()?.is_some() {
                    return Ok(());
                }
                self.check_fits(body)?;
                poll_until(deadline, attempt)?.ok_or_else(|| wait.not_now("msgsnd"))
            }
        }
    }

    /// Refuses a message larger than the queue's capacity: it would wait forever.
    fn check_fits(&self, body: usize) -> Result<()> {
        if let Ok(st) = sys::msg::stat(self.id)
            && body as u64 > st.qbytes
        {
            return Err(Error::new("msgsnd", self.obj(), ErrorKind::LimitExceeded).with_detail(format!(
                "message of {body} bytes can never fit this queue's capacity of {} bytes \
                         (msg_qbytes; new queues get msgmnb, /proc/sys/kernel/msgmnb)",
                st.qbytes
            )));
        }
        Ok(())
    }

    fn send_error(&self, e: Errno, body: usize) -> Error {
        if e == Errno::EINVAL
            && let Some(max) = Limit::MsgMax.current()
            && body as u64 > max
        {
            return Error::sys("msgsnd", self.obj(), e)
                .with_limit(Limit::MsgMax, format!("message of {body} bytes"));
        }
        if e == Errno::ENOMEM {
            return Error::sys("msgsnd", self.obj(), e)
                .with_detail("the kernel has no memory for a copy of the message");
        }
        self.err("msgsnd", e)
    }

    // ----- receiving -----------------------------------------------------------

    /// `msgrcv`—Receives the first message that `select` picks into `buf`, waiting
    /// until there is one. A message larger than `buf` is an error
    /// ([`ErrorKind::MessageTooLarge`]) and stays in the queue.
    #[doc(alias = "msgrcv")]
    pub fn recv(&self, buf: &mut [u8], select: Select) -> Result<Received> {
        self.recv_with(buf, select, Oversize::Refuse, Wait::Block)
    }

    /// Receives without waiting (`IPC_NOWAIT`); [`ErrorKind::WouldBlock`] when no
    /// message matches.
    pub fn try_recv(&self, buf: &mut [u8], select: Select) -> Result<Received> {
        self.recv_with(buf, select, Oversize::Refuse, Wait::NoWait)
    }

    /// Receives, waiting at most `timeout`; [`ErrorKind::TimedOut`] if no message
    /// arrived in time.
    pub fn recv_timeout(&self, buf: &mut [u8], select: Select, timeout: Duration) -> Result<Received> {
        self.recv_with(buf, select, Oversize::Refuse, Wait::Timeout(timeout))
    }

    /// Receives, waiting until `deadline` at the latest; [`ErrorKind::TimedOut`] if no
    /// message arrived.
    pub fn recv_deadline(&self, buf: &mut [u8], select: Select, deadline: Instant) -> Result<Received> {
        self.recv_with(buf, select, Oversize::Refuse, Wait::Deadline(deadline))
    }

    /// Receives as `wait` says. With [`Oversize::Truncate`] (`MSG_NOERROR`), a message
    /// longer than `buf` is cut to fit (and [`Received::truncated`] says so); with
    /// [`Oversize::Refuse`], such a message is an error and stays in the queue. "Not now" ([`Error::is_not_now`])
    /// when nothing matched in time.
    ///
    /// # Errors
    ///
    /// "Not now" ([`ErrorKind::WouldBlock`] or [`ErrorKind::TimedOut`]) when no message
    /// matched in time; [`ErrorKind::MessageTooLarge`] with [`Oversize::Refuse`] when the
    /// message does not fit `buf` (it stays in the queue); [`ErrorKind::Removed`] when the
    /// queue is removed while the call waits; [`ErrorKind::Interrupted`] when a signal ends
    /// the wait; [`ErrorKind::PermissionDenied`] without read permission.
    pub fn recv_with(
        &self,
        buf: &mut [u8],
        select: Select,
        oversize: Oversize,
        wait: Wait,
    ) -> Result<Received> {
        let truncate = oversize == Oversize::Truncate;
        let (msgtyp, flags) = self.select_raw(select)?;
        // With truncation, receive one byte more than asked, to learn whether the
        // message was longer than the caller's buffer.
        let extra = usize::from(truncate);
        let flags = flags | if truncate { sys::msg::MSG_NOERROR } else { 0 };
        with_scratch(MTYPE_SIZE + buf.len() + extra, |scratch| {
            let n = self.recv_raw(scratch, msgtyp, flags, wait, select)?;
            let len = n.min(buf.len());
            buf[..len].copy_from_slice(&scratch[MTYPE_SIZE..MTYPE_SIZE + len]);
            Ok(Received { mtype: mtype_of(scratch), len, truncated: n > buf.len() })
        })
    }

    /// Receives into a new `Vec` sized for the largest possible message; "not now"
    /// when nothing matched in time.
    pub fn recv_vec(&self, select: Select, wait: Wait) -> Result<Message> {
        let (msgtyp, flags) = self.select_raw(select)?;
        let mut size = msgmax_hint(false);
        for _ in 0..32 {
            let mut bytes = vec![0u8; MTYPE_SIZE + size];
            match self.recv_raw(&mut bytes, msgtyp, flags, wait, select) {
                Ok(n) => {
                    let mtype = mtype_of(&bytes);
                    bytes.truncate(MTYPE_SIZE + n);
                    bytes.drain(..MTYPE_SIZE);
                    return Ok(Message { mtype, data: bytes });
                }
                // msgmax may have been raised since we read it: look again and retry.
                Err(e) if e.kind() == ErrorKind::MessageTooLarge => {
                    size = msgmax_hint(true).max(size.saturating_mul(2));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new("msgrcv", self.obj(), ErrorKind::MessageTooLarge)
            .with_detail("the message is larger than any buffer tried"))
    }

    /// Receives into `buf`, growing nothing: with [`Oversize::Truncate`] a longer
    /// message is cut to the buffer's capacity. The type and body are in `buf` afterwards; "not now"
    /// when nothing matched in time.
    pub fn recv_buf(&self, buf: &mut MsgBuf, select: Select, oversize: Oversize, wait: Wait) -> Result<()> {
        let (msgtyp, flags) = self.select_raw(select)?;
        let flags = flags | if oversize == Oversize::Truncate { sys::msg::MSG_NOERROR } else { 0 };
        buf.len = self.recv_raw(&mut buf.bytes, msgtyp, flags, wait, select)?;
        Ok(())
    }

    /// Receives a plain-old-data value sent byte for byte (by [`send_pod`](Self::send_pod)
    /// or by C). A message whose size differs from `T`'s is an error: a longer one
    /// stays in the queue; a shorter one has been consumed.
    pub fn recv_pod<T: bytemuck::Pod>(&self, select: Select, wait: Wait) -> Result<(i64, T)> {
        let size = std::mem::size_of::<T>();
        let (msgtyp, flags) = self.select_raw(select)?;
        with_scratch(MTYPE_SIZE + size, |scratch| {
            let n = self.recv_raw(scratch, msgtyp, flags, wait, select).map_err(|e| {
                if e.kind() == ErrorKind::MessageTooLarge {
                    e.with_detail(format!(
                        "the message is longer than the {size}-byte type {}; it stays in the queue",
                        std::any::type_name::<T>()
                    ))
                } else {
                    e
                }
            })?;
            if n != size {
                return Err(Error::new("msgrcv", self.obj(), ErrorKind::Codec).with_detail(format!(
                    "a {n}-byte message does not match the {size}-byte type {}",
                    std::any::type_name::<T>()
                )));
            }
            Ok((mtype_of(scratch), bytemuck::pod_read_unaligned(&scratch[MTYPE_SIZE..MTYPE_SIZE + size])))
        })
    }

    /// Receives a `serde` value sent by [`send_value`](Self::send_value).
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn recv_value<T: serde::de::DeserializeOwned>(&self, select: Select, wait: Wait) -> Result<(i64, T)> {
        let m = self.recv_vec(select, wait)?;
        postcard::from_bytes(&m.data).map(|v| (m.mtype, v)).map_err(|e| {
            Error::new("deserialize", self.obj(), ErrorKind::Codec).with_detail(format!(
                "message of type {} ({} bytes): {e}",
                m.mtype,
                m.data.len()
            ))
        })
    }

    /// `msgrcv(id, buf, len, index, MSG_COPY | IPC_NOWAIT)`—Copies the message at
    /// position `index` (0 = the first) without removing it. `None` if there is no
    /// such message. A message longer than `buf` is not copied at all (the kernel
    /// cannot truncate a copy): [`ErrorKind::MessageTooLarge`], and the message stays
    /// where it is. The kernel copies in a buffer of `buf`'s length whatever the
    /// message's size, so a buffer not much larger than the messages is cheaper.
    /// Needs a kernel built with `CONFIG_CHECKPOINT_RESTORE`
    /// ([`ErrorKind::Unsupported`] otherwise).
    #[doc(alias = "MSG_COPY")]
    pub fn peek(&self, index: usize, buf: &mut [u8]) -> Result<Option<Received>> {
        let idx = std::ffi::c_long::try_from(index).map_err(|_| {
            Error::new("msgrcv", self.obj(), ErrorKind::InvalidInput).with_detail("index too large")
        })?;
        // Without MSG_NOERROR: with it, the kernel refuses a copy into a smaller
        // buffer with EINVAL, which says less than E2BIG.
        let flags = sys::msg::MSG_COPY | sys::ipc::IPC_NOWAIT;
        with_scratch(MTYPE_SIZE + buf.len(), |scratch| match sys::msg::msgrcv(self.id, scratch, idx, flags) {
            Ok(n) => {
                buf[..n].copy_from_slice(&scratch[MTYPE_SIZE..MTYPE_SIZE + n]);
                Ok(Some(Received { mtype: mtype_of(scratch), len: n, truncated: false }))
            }
            Err(Errno::ENOMSG) => Ok(None),
            Err(e @ Errno::E2BIG) => Err(Error::sys("msgrcv(MSG_COPY)", self.obj(), e).with_detail(format!(
                "the message at index {index} is longer than the {}-byte buffer; nothing was copied",
                buf.len()
            ))),
            Err(e @ Errno::ENOSYS) => Err(Error::sys("msgrcv(MSG_COPY)", self.obj(), e)
                .with_detail("MSG_COPY needs a kernel built with CONFIG_CHECKPOINT_RESTORE")),
            Err(e) => Err(self.err("msgrcv(MSG_COPY)", e)),
        })
    }

    fn select_raw(&self, select: Select) -> Result<(std::ffi::c_long, i32)> {
        select.raw().map_err(|why| Error::new("msgrcv", self.obj(), ErrorKind::InvalidInput).with_detail(why))
    }

    /// Receives into `buf` (type + body). Returns the body length; "not now" when
    /// nothing matched in time.
    fn recv_raw(
        &self,
        buf: &mut [u8],
        msgtyp: std::ffi::c_long,
        flags: i32,
        wait: Wait,
        select: Select,
    ) -> Result<usize> {
        let cap = buf.len() - MTYPE_SIZE;
        let mut attempt = |extra: i32| match sys::msg::msgrcv(self.id, buf, msgtyp, flags | extra) {
            Ok(n) => Ok(Some(n)),
            Err(Errno::ENOMSG) if extra != 0 => Ok(None),
            Err(e) => Err(self.recv_error(e, cap, select)),
        };
        let got = match wait {
            Wait::Block => attempt(0),
            Wait::NoWait => attempt(sys::ipc::IPC_NOWAIT),
            Wait::Timeout(_) | Wait::Deadline(_) => {
                let deadline = wait.deadline().expect("timed wait has a deadline");
                poll_until(deadline, || attempt(sys::ipc::IPC_NOWAIT))
            }
        }?;
        got.ok_or_else(|| wait.not_now("msgrcv"))
    }

    fn recv_error(&self, e: Errno, cap: usize, select: Select) -> Error {
        match e {
            Errno::E2BIG => Error::sys("msgrcv", self.obj(), e).with_detail(format!(
                "the next message ({select}) is longer than the {cap}-byte buffer; it stays in the \
                 queue (use a larger buffer, or ask for truncation with MSG_NOERROR)"
            )),
            Errno::EIDRM => Error::sys("msgrcv", self.obj(), e)
                .with_detail("the queue was removed while waiting for a message"),
            _ => self.err("msgrcv", e),
        }
    }
}

fn mtype_of(buf: &[u8]) -> i64 {
    sys::msg::read_mtype(buf)
}

impl Drop for MsgQueue {
    /// Removes the queue if [`set_remove_on_drop`](Self::set_remove_on_drop) asked
    /// for it. Errors are ignored: the queue may already be gone, and `drop` cannot
    /// report them (call [`remove`](Self::remove) to see them).
    fn drop(&mut self) {
        if self.own.should_remove() {
            let _ = sys::msg::rmid(self.id);
        }
    }
}
