//! `errno` values and their names.

use std::fmt;

/// An `errno` value: the kernel's reason for a failed call, as a typed value.
///
/// Compare with the constants (`Errno::EAGAIN`), or get the number with
/// [`raw`](Self::raw) and the symbolic name with [`name`](Self::name).
///
/// ```
/// use ipckit::Errno;
/// assert_eq!(Errno::from_raw(2), Errno::ENOENT);
/// assert_eq!(Errno::ENOENT.name(), Some("ENOENT"));
/// ```
///
/// See errno(3).
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Errno(pub(crate) i32);

/// The result of a call in the `sys` layer.
pub(crate) type SysResult<T> = Result<T, Errno>;

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub const $name: Errno = Errno(libc::$name);
            )*

            /// The symbolic name of this value (`"ENOENT"`), if it is a common one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(libc::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

errnos!(
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    ENXIO,
    E2BIG,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EBUSY,
    EEXIST,
    EXDEV,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    ENFILE,
    EMFILE,
    ETXTBSY,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EROFS,
    EMLINK,
    EPIPE,
    ERANGE,
    EDEADLK,
    ENAMETOOLONG,
    ENOSYS,
    ELOOP,
    ENOMSG,
    EIDRM,
    EOVERFLOW,
    ETIMEDOUT,
    ECONNREFUSED,
    EOPNOTSUPP,
    EMSGSIZE,
    ENOTCONN,
    ECONNRESET,
    EADDRINUSE,
    EADDRNOTAVAIL,
    ENOPROTOOPT,
    ENOTSOCK,
    EPROTOTYPE,
    ECONNABORTED,
    EISCONN,
    EDESTADDRREQ,
    ETOOMANYREFS,
    EOWNERDEAD,
    ENOTRECOVERABLE,
);

impl Errno {
    /// The value with this number.
    pub const fn from_raw(raw: i32) -> Errno {
        Errno(raw)
    }

    /// The number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The calling thread's current `errno`.
    #[inline]
    pub(crate) fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Display for Errno {
    /// The name and the C library's description: `ENOENT (No such file or directory)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.0).to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        match self.name() {
            Some(n) => write!(f, "{n} ({text})"),
            None => write!(f, "errno {} ({text})", self.0),
        }
    }
}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        std::io::Error::from_raw_os_error(e.0)
    }
}
