//! Unix socket addresses: a path in the file system, a name in the abstract namespace,
//! or no name at all.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Object;
use crate::sys::socket::AddrBytes;

/// The address of a Unix socket (`struct sockaddr_un`).
///
/// - [`UnixAddr::Path`]: a socket file in the file system, subject to its permissions;
///   it stays behind when the socket closes (a listener made by ipckit removes it on
///   drop).
/// - [`UnixAddr::Abstract`]: a name in the abstract namespace (Linux; `\0name` in C),
///   which leaves no file behind and vanishes with the last socket bound to it. It
///   belongs to the network namespace, and has no permissions: anyone in the namespace
///   may connect.
/// - [`UnixAddr::Unnamed`]: a socket with no name (from `socketpair`, or a client that
///   never bound).
///
/// A name holds at most 107 bytes (108 for `sun_path`, less the terminating NUL of a
/// path or the leading NUL of an abstract name).
///
/// References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// A path in the file system.
    Path(PathBuf),
    /// A name in the abstract namespace, without the leading NUL byte.
    Abstract(Vec<u8>),
    /// No name.
    Unnamed,
}

impl UnixAddr {
    /// A name in the abstract namespace (`\0name`).
    pub fn abstract_name(name: impl AsRef<[u8]>) -> UnixAddr {
        UnixAddr::Abstract(name.as_ref().to_vec())
    }

    /// The path of a pathname address.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            UnixAddr::Path(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn to_bytes(&self) -> AddrBytes {
        match self {
            UnixAddr::Path(p) => AddrBytes::Path(p.as_os_str().as_bytes().to_vec()),
            UnixAddr::Abstract(n) => AddrBytes::Abstract(n.clone()),
            UnixAddr::Unnamed => AddrBytes::Unnamed,
        }
    }

    pub(crate) fn from_bytes(b: AddrBytes) -> UnixAddr {
        match b {
            AddrBytes::Path(p) => UnixAddr::Path(PathBuf::from(OsStr::from_bytes(&p))),
            AddrBytes::Abstract(n) => UnixAddr::Abstract(n),
            AddrBytes::Unnamed => UnixAddr::Unnamed,
        }
    }

    pub(crate) fn object(&self) -> Object {
        match self {
            UnixAddr::Path(p) => Object::Path(p.clone()),
            other => Object::Name(other.to_string()),
        }
    }
}

impl fmt::Display for UnixAddr {
    /// A path as is, an abstract name as `@name` (as `ss` and `/proc/net/unix` show
    /// it), an unnamed socket as `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "{}", p.display()),
            UnixAddr::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            UnixAddr::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

impl fmt::Debug for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixAddr({self})")
    }
}

impl From<&Path> for UnixAddr {
    fn from(p: &Path) -> UnixAddr {
        UnixAddr::Path(p.to_path_buf())
    }
}

impl From<PathBuf> for UnixAddr {
    fn from(p: PathBuf) -> UnixAddr {
        UnixAddr::Path(p)
    }
}

impl From<&PathBuf> for UnixAddr {
    fn from(p: &PathBuf) -> UnixAddr {
        UnixAddr::Path(p.clone())
    }
}

impl From<&str> for UnixAddr {
    /// A path (use [`UnixAddr::abstract_name`] for the abstract namespace).
    fn from(p: &str) -> UnixAddr {
        UnixAddr::Path(PathBuf::from(p))
    }
}

impl From<&UnixAddr> for UnixAddr {
    fn from(a: &UnixAddr) -> UnixAddr {
        a.clone()
    }
}
