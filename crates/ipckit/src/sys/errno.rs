//! `errno` values and their names.

use std::fmt;

/// A raw `errno` value returned by a failed call.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Errno(pub(crate) i32);

/// The result of a call in the `sys` layer.
pub(crate) type SysResult<T> = Result<T, Errno>;

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        #[allow(dead_code)] // a table: not every value is matched on yet
        impl Errno {
            $(pub(crate) const $name: Errno = Errno(libc::$name);)*

            /// The symbolic name of this value (`"ENOENT"`), if it is a common one.
            pub(crate) fn name(self) -> Option<&'static str> {
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

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        std::io::Error::from_raw_os_error(e.0)
    }
}
