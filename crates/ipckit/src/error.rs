//! The one error type of ipckit.
//!
//! Every failure carries three things: the **operation** that failed (the C call,
//! such as `msgsnd`), the **object** it was applied to (a key, an id, a path...), and
//! a [`ErrorKind`] that says what went wrong in terms a program can match on. Where
//! the kernel reported it, the raw `errno` is kept too, and where a kernel limit is the
//! cause, the kind is [`ErrorKind::LimitExceeded`] and the message names the limit, its
//! current value and the `/proc/sys` file that sets it:
//!
//! ```text
//! msgsnd(id 32769): message of 9000 bytes exceeds msgmax = 8192 (/proc/sys/kernel/msgmax)
//! ```
//!
//! [`Error`] converts into [`std::io::Error`] (keeping the message), so ipckit calls
//! compose with `?` in functions that return `io::Result`.
//!
//! ```
//! use ipckit::{ErrorKind, Key};
//! use ipckit::sysv::msg::MsgQueue;
//!
//! // A key that nobody uses: opening without creating reports NotFound.
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("anchor");
//! std::fs::write(&path, b"")?;
//! let key = Key::ftok(&path, b'z')?;
//! match MsgQueue::open(key) {
//!     Err(e) if e.kind() == ErrorKind::NotFound => println!("{e}"),
//!     Err(e) => return Err(e.into()),
//!     Ok(q) => println!("someone else created {}", q.id()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::PathBuf;

use crate::key::Key;
use crate::limits::Limit;
use crate::sys::Errno;

/// The result type of ipckit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a program can act on.
///
/// The list may grow; match with a wildcard arm.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No object with that key, id, name or path exists (`ENOENT`, or `EINVAL` for an
    /// id the kernel does not know).
    NotFound,
    /// Exclusive creation found an object already there (`EEXIST`).
    AlreadyExists,
    /// The object's permissions refuse this caller (`EACCES`, `EPERM`).
    PermissionDenied,
    /// The object was removed, possibly while the call was waiting on it (`EIDRM`).
    Removed,
    /// A signal interrupted a blocking call (`EINTR`). Retrying is usually right.
    Interrupted,
    /// "Not now": a call with a timeout or deadline ran out of time and did nothing.
    /// See [`Error::is_not_now`].
    TimedOut,
    /// A kernel limit refused the request; [`Error::limit`] says which.
    LimitExceeded,
    /// A received message is larger than the buffer and truncation was not asked for
    /// (`E2BIG`).
    MessageTooLarge,
    /// An argument is invalid; checked before any system call where possible.
    InvalidInput,
    /// An offset or length falls outside an object (a shared-memory segment, a ring).
    OutOfBounds,
    /// A write was attempted through a read-only attachment or end.
    ReadOnly,
    /// Writing with no reader left (`EPIPE`); ipckit never lets `SIGPIPE` kill the process.
    BrokenPipe,
    /// A non-blocking open of a FIFO for writing found no reader (`ENXIO`).
    NoReader,
    /// A path exists but is not the kind of object asked for (a FIFO, say).
    WrongType,
    /// The peer of a channel is gone (its process exited or was killed).
    Disconnected,
    /// Shared state failed validation: a bad magic number, version, size or index.
    Corrupted,
    /// An object exists but its creator has not finished initialising it.
    NotInitialized,
    /// "Not now": a `try_` call found the object not ready (full, empty, locked, no
    /// peer yet) and did nothing (`EAGAIN`). See [`Error::is_not_now`].
    WouldBlock,
    /// The kernel does not support this call or flag (`ENOSYS`, `EOPNOTSUPP`).
    Unsupported,
    /// Serializing or deserializing a typed message failed.
    Codec,
    /// Any other failure; [`Error::raw_os_error`] has the `errno`.
    Other,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "no such object",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Removed => "the object was removed",
            ErrorKind::Interrupted => "interrupted by a signal",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::LimitExceeded => "a kernel limit was exceeded",
            ErrorKind::MessageTooLarge => "the message is larger than the buffer",
            ErrorKind::InvalidInput => "invalid argument",
            ErrorKind::OutOfBounds => "out of bounds",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::BrokenPipe => "broken pipe: no reader is left",
            ErrorKind::NoReader => "no process has the FIFO open for reading",
            ErrorKind::WrongType => "wrong type of object",
            ErrorKind::Disconnected => "the peer is gone",
            ErrorKind::Corrupted => "shared state is corrupted",
            ErrorKind::NotInitialized => "the object is not initialised yet",
            ErrorKind::WouldBlock => "the operation would block",
            ErrorKind::Unsupported => "not supported by this kernel",
            ErrorKind::Codec => "message encoding failed",
            ErrorKind::Other => "system call failed",
        }
    }

    fn from_errno(e: Errno) -> ErrorKind {
        match e {
            Errno::ENOENT => ErrorKind::NotFound,
            Errno::EEXIST => ErrorKind::AlreadyExists,
            Errno::EACCES | Errno::EPERM => ErrorKind::PermissionDenied,
            Errno::EIDRM => ErrorKind::Removed,
            Errno::EINTR => ErrorKind::Interrupted,
            Errno::ETIMEDOUT => ErrorKind::TimedOut,
            Errno::E2BIG => ErrorKind::MessageTooLarge,
            Errno::EINVAL | Errno::ERANGE | Errno::EFAULT | Errno::ENAMETOOLONG => ErrorKind::InvalidInput,
            Errno::EPIPE => ErrorKind::BrokenPipe,
            Errno::ENXIO => ErrorKind::NoReader,
            Errno::EAGAIN => ErrorKind::WouldBlock,
            Errno::ENOSYS | Errno::EOPNOTSUPP => ErrorKind::Unsupported,
            Errno::ENOSPC | Errno::ENOMEM | Errno::EMFILE | Errno::ENFILE | Errno::EFBIG => {
                ErrorKind::LimitExceeded
            }
            _ => ErrorKind::Other,
        }
    }
}

/// The object an operation was applied to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Object {
    /// No particular object (a query of the whole system, say).
    None,
    /// A System V key.
    Key(Key),
    /// A System V id.
    Id(i32),
    /// A System V object known by both key and id.
    KeyId(Key, i32),
    /// A file-system path (a FIFO, an `ftok` anchor, a POSIX object).
    Path(PathBuf),
    /// A name (a POSIX object, a channel).
    Name(String),
    /// A file descriptor.
    Fd(i32),
    /// A process.
    Pid(u32),
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::None => Ok(()),
            Object::Key(k) => write!(f, "key {k}"),
            Object::Id(id) => write!(f, "id {id}"),
            Object::KeyId(k, id) if k.is_private() => write!(f, "id {id}"),
            Object::KeyId(k, id) => write!(f, "key {k}, id {id}"),
            Object::Path(p) => write!(f, "{}", p.display()),
            Object::Name(n) => write!(f, "{n}"),
            Object::Fd(fd) => write!(f, "fd {fd}"),
            Object::Pid(p) => write!(f, "pid {p}"),
        }
    }
}

/// An ipckit error: the failed operation, its object, a kind, and details.
///
/// It is small (32 bytes; the object, the limit and the explanation live in one box,
/// allocated only when there is one), so that `Result`s stay cheap on hot paths, and
/// an error without an object (the "not now" of a `try_` call) allocates nothing.
#[derive(Clone)]
pub struct Error {
    op: &'static str,
    kind: ErrorKind,
    /// The `errno`, 0 when the failure did not come from a system call.
    errno: i32,
    rare: Option<Box<Rare>>,
}

/// The parts of an error that are often absent or large.
#[derive(Clone)]
struct Rare {
    object: Object,
    limit: Option<Limit>,
    detail: Option<Box<str>>,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Error>() <= 32);

impl Error {
    /// An error of `kind` from `op` on `object`, with no `errno`.
    pub fn new(op: &'static str, object: Object, kind: ErrorKind) -> Error {
        let rare = match object {
            Object::None => None,
            object => Some(Box::new(Rare { object, limit: None, detail: None })),
        };
        Error { op, kind, errno: 0, rare }
    }

    /// The "not now" of a call that did nothing (see [`is_not_now`](Self::is_not_now)):
    /// [`ErrorKind::WouldBlock`] for a `try_` call, [`ErrorKind::TimedOut`] for one
    /// with a timeout or deadline. Allocates nothing.
    #[inline]
    pub(crate) const fn not_now(op: &'static str, timed: bool) -> Error {
        let kind = if timed { ErrorKind::TimedOut } else { ErrorKind::WouldBlock };
        Error { op, kind, errno: 0, rare: None }
    }

    /// An error from a failed system call, classified by its `errno`.
    pub(crate) fn sys(op: &'static str, object: Object, errno: Errno) -> Error {
        let mut e = Error::new(op, object, ErrorKind::from_errno(errno));
        e.errno = errno.0;
        e
    }

    /// An error from a standard-library or tokio call that failed with `e`: as
    /// [`Error::sys`] where `e` carries an `errno`, else [`ErrorKind::Other`] with
    /// `e`'s text as the detail (which a caller's [`with_detail`](Self::with_detail)
    /// replaces).
    pub(crate) fn io(op: &'static str, object: Object, e: &std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(n) => Error::sys(op, object, Errno(n)),
            None => Error::new(op, object, ErrorKind::Other).with_detail(e.to_string()),
        }
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(|| Box::new(Rare { object: Object::None, limit: None, detail: None }))
    }

    /// Adds a human explanation that replaces the generic description.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.rare_mut().detail = Some(detail.into().into_boxed_str());
        self
    }

    /// Overrides the kind (where the call's context knows better than `errno`).
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.kind = kind;
        self
    }

    /// Marks this error as caused by `limit`: the kind becomes
    /// [`ErrorKind::LimitExceeded`] and the message names the limit, its current value
    /// and its `/proc/sys` file.
    pub(crate) fn with_limit(mut self, limit: Limit, what: impl fmt::Display) -> Error {
        self.kind = ErrorKind::LimitExceeded;
        let current = match limit.current() {
            Some(v) => format!("{v}"),
            None => "unknown".to_string(),
        };
        let file = match limit.proc_path() {
            Some(p) => format!(" ({p})"),
            None => String::new(),
        };
        let rare = self.rare_mut();
        rare.limit = Some(limit);
        rare.detail = Some(format!("{what} exceeds {} = {current}{file}", limit.name()).into_boxed_str());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether this is the "not now" of a call that did nothing and may succeed
    /// later: [`ErrorKind::WouldBlock`] (a `try_` call found the object not ready) or
    /// [`ErrorKind::TimedOut`] (a call with a timeout or deadline ran out of time).
    ///
    /// ```
    /// use ipckit::channel::{Channel, ChannelConfig};
    /// let chan = Channel::create_memfd(&ChannelConfig::new())?;
    /// let (_tx, mut rx) = (chan.sender()?, chan.receiver()?);
    /// match rx.try_recv(&mut [0u8; 64]) {
    ///     Ok(n) => println!("{n} bytes"),
    ///     Err(e) if e.is_not_now() => println!("nothing yet"),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`NotNow::now`] turns such a result into an `Option`.
    #[inline]
    pub fn is_not_now(&self) -> bool {
        matches!(self.kind, ErrorKind::WouldBlock | ErrorKind::TimedOut)
    }

    /// The failed operation: the C call (`"msgsnd"`) or an ipckit step.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The object the operation was applied to.
    pub fn object(&self) -> &Object {
        match &self.rare {
            Some(r) => &r.object,
            None => &Object::None,
        }
    }

    /// The `errno` the kernel reported, if the failure came from a system call.
    pub fn errno(&self) -> Option<Errno> {
        (self.errno != 0).then_some(Errno(self.errno))
    }

    /// The `errno` the kernel reported, as a number.
    pub fn raw_os_error(&self) -> Option<i32> {
        (self.errno != 0).then_some(self.errno)
    }

    /// The kernel limit behind a [`ErrorKind::LimitExceeded`] error, when known.
    pub fn limit(&self) -> Option<Limit> {
        self.rare.as_ref().and_then(|r| r.limit)
    }

    fn detail(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.detail.as_deref())
    }

    /// The explanation in the message: the detail if one was given, else the kind's
    /// description.
    pub(crate) fn explanation(&self) -> &str {
        self.detail().unwrap_or(self.kind.describe())
    }
}

/// The "not now" of a call as `None`: for code that treats "nothing yet" as an
/// ordinary outcome rather than an error to propagate.
///
/// Implemented for [`Result`]: `r.now()` is `Ok(Some(v))` when the call did its work,
/// `Ok(None)` when it reported "not now" ([`Error::is_not_now`]: `WouldBlock` from a
/// `try_` call, `TimedOut` from one with a timeout or deadline), and `Err(e)` for any
/// other failure, which `?` still propagates.
///
/// ```
/// use ipckit::NotNow;
/// use ipckit::channel::{Channel, ChannelConfig};
/// let chan = Channel::create_memfd(&ChannelConfig::new())?;
/// let (mut tx, mut rx) = (chan.sender()?, chan.receiver()?);
/// let mut buf = [0u8; 64];
/// assert_eq!(rx.try_recv(&mut buf).now()?, None); // empty: not now
/// tx.send(b"hi")?;
/// assert_eq!(rx.try_recv(&mut buf).now()?, Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait NotNow<T> {
    /// `Some` if the call did its work, `None` if it said "not now"; other errors stay
    /// errors.
    ///
    /// # Errors
    ///
    /// Every error of the call except "not now".
    fn now(self) -> Result<Option<T>>;
}

impl<T> NotNow<T> for Result<T> {
    #[inline]
    fn now(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_now() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}): ", self.op, self.object())?;
        f.write_str(self.explanation())?;
        if let Some(Errno(e)) = self.errno() {
            match Errno(e).name() {
                Some(name) => write!(f, " ({name})")?,
                None => write!(f, " (errno {e})")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("op", &self.op)
            .field("object", self.object())
            .field("kind", &self.kind)
            .field("errno", &self.errno())
            .field("limit", &self.limit())
            .field("message", &self.to_string())
            .finish()
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind as K;
        let kind = match e.kind {
            ErrorKind::NotFound => K::NotFound,
            ErrorKind::AlreadyExists => K::AlreadyExists,
            ErrorKind::PermissionDenied | ErrorKind::ReadOnly => K::PermissionDenied,
            ErrorKind::Interrupted => K::Interrupted,
            ErrorKind::TimedOut => K::TimedOut,
            ErrorKind::InvalidInput | ErrorKind::OutOfBounds => K::InvalidInput,
            ErrorKind::BrokenPipe => K::BrokenPipe,
            ErrorKind::WouldBlock => K::WouldBlock,
            ErrorKind::Unsupported => K::Unsupported,
            ErrorKind::Corrupted | ErrorKind::Codec | ErrorKind::MessageTooLarge => K::InvalidData,
            ErrorKind::Disconnected | ErrorKind::Removed => K::ConnectionAborted,
            ErrorKind::NoReader => K::NotConnected,
            ErrorKind::LimitExceeded => K::QuotaExceeded,
            ErrorKind::WrongType => K::InvalidInput,
            ErrorKind::NotInitialized | ErrorKind::Other => K::Other,
        };
        std::io::Error::new(kind, e)
    }
}
