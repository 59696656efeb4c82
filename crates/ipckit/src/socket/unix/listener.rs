//! Listening Unix sockets: [`BindOptions`], binding with stale-file detection, and the
//! [`UnixListener`] / [`SeqpacketListener`] pair written once as the `listener!` macro.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::seqpacket::UnixSeqpacket;
use super::shared::{CredsRoom, FOREVER, NEVER, addr_error, check_kind, obj, sock_error, with_wait};
use super::stream::UnixStream;
use crate::error::{Error, ErrorKind, Result};
use crate::socket::UnixAddr;
use crate::sys::socket::{self as raw, RawAddr, SockType};
use crate::sys::{self, Errno};
use crate::wait::Wait;

/// How [`UnixListener::bind_with`] treats a socket file already at the path.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BindOptions {
    replace_stale: bool,
    backlog: Option<i32>,
}

impl BindOptions {
    /// The defaults: never replace a file, the kernel's largest backlog (`SOMAXCONN`).
    pub fn new() -> BindOptions {
        BindOptions::default()
    }

    /// Replaces a **stale** socket file—one that nothing listens behind, which a
    /// process that died leaves behind—but only after a `connect` to it is refused
    /// (`ECONNREFUSED`), so a live server is never displaced, and only if the file is
    /// a socket. (A live server sees that probe as one connection closed at once.)
    pub fn replace_stale(mut self, on: bool) -> BindOptions {
        self.replace_stale = on;
        self
    }

    /// The length of the queue of connections not yet accepted (`listen` backlog).
    pub fn backlog(mut self, n: i32) -> BindOptions {
        self.backlog = Some(n);
        self
    }
}

/// Binds a listening socket of `ty` at `addr`, handling a stale file as `opts` says.
/// Returns the socket and the identity of the socket file it made (to remove it later).
fn bind_listener(ty: SockType, addr: &UnixAddr, opts: BindOptions) -> Result<(OwnedFd, Option<(u64, u64)>)> {
    let raw_addr = RawAddr::new(&addr.to_bytes()).map_err(|e| addr_error("bind", addr, e))?;
    let fd = raw::socket(ty).map_err(|e| addr_error("socket", addr, e))?;
    let mut replaced = false;
    loop {
        match raw::bind(fd.as_fd(), &raw_addr) {
            Ok(()) => break,
            Err(Errno::EADDRINUSE) if !replaced => {
                let Some(path) = addr.as_path() else {
                    return Err(addr_error("bind", addr, Errno::EADDRINUSE)
                        .with_detail("another socket is bound to this abstract name"));
                };
                match probe(ty, &raw_addr) {
                    Probe::Live => {
                        return Err(addr_error("bind", addr, Errno::EADDRINUSE)
                            .with_detail("a process is listening on this socket file already"));
                    }
                    Probe::Other(e) => {
                        return Err(addr_error("bind", addr, Errno::EADDRINUSE).with_detail(format!(
                            "the path is taken; a connect to it failed with {e:?}, so it is not known to be stale"
                        )));
                    }
                    Probe::Refused if opts.replace_stale => {
                        let c = path_cstr(path, addr)?;
                        match sys::pipe::lstat(&c) {
                            Ok(id) if id.kind == sys::pipe::FileType::Socket => {}
                            _ => {
                                return Err(addr_error("bind", addr, Errno::EADDRINUSE)
                                    .with_kind(ErrorKind::WrongType)
                                    .with_detail("the path is not a socket file; it was left alone"));
                            }
                        }
                        sys::fifo::unlink(&c).map_err(|e| addr_error("unlink", addr, e))?;
                        replaced = true;
                    }
                    Probe::Refused => {
                        return Err(addr_error("bind", addr, Errno::EADDRINUSE).with_detail(format!(
                            "{} is a stale socket file: nothing listens behind it (a connect is refused), most \
                             likely left by a process that died; remove the file, or bind with \
                             BindOptions::replace_stale(true)",
                            path.display()
                        )));
                    }
                }
            }
            Err(e) => return Err(addr_error("bind", addr, e)),
        }
    }
    raw::listen(fd.as_fd(), opts.backlog.unwrap_or(SOMAXCONN)).map_err(|e| addr_error("listen", addr, e))?;
    let id = match addr.as_path() {
        Some(p) => {
            let c = path_cstr(p, addr)?;
            sys::pipe::lstat(&c).ok().map(|id| (id.dev, id.ino))
        }
        None => None,
    };
    Ok((fd, id))
}

/// The default backlog: the kernel caps it at `/proc/sys/net/core/somaxconn`.
const SOMAXCONN: i32 = 4096;

enum Probe {
    Live,
    Refused,
    Other(Errno),
}

fn probe(ty: SockType, addr: &RawAddr) -> Probe {
    let Ok(s) = raw::socket(ty) else { return Probe::Other(Errno::EMFILE) };
    match raw::connect(s.as_fd(), addr) {
        Ok(()) => Probe::Live,
        Err(Errno::ECONNREFUSED) => Probe::Refused,
        Err(e) => Probe::Other(e),
    }
}

fn path_cstr(p: &std::path::Path, addr: &UnixAddr) -> Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        Error::new("bind", addr.object(), ErrorKind::InvalidInput)
            .with_detail("a socket path holds no NUL byte")
    })
}

/// Listener methods shared by the stream and seqpacket listeners.
macro_rules! listener {
    ($L:ident, $S:ident, $ty:expr, $what:literal) => {
        impl $L {
            /// `socket` + `bind(addr)` + `listen`—Listens at `addr`. A socket file left
            /// by a dead process makes this fail with an explanation
            /// ([`ErrorKind::AlreadyExists`]); see [`bind_with`](Self::bind_with). The
            /// socket file is removed when the listener is dropped (if it is still
            /// the one this listener made).
            #[doc(alias = "listen")]
            pub fn bind(addr: impl Into<UnixAddr>) -> Result<$L> {
                $L::bind_with(addr, BindOptions::new())
            }

            /// [`bind`](Self::bind) with options (replace a stale socket file, backlog).
            pub fn bind_with(addr: impl Into<UnixAddr>, opts: BindOptions) -> Result<$L> {
                let addr = addr.into();
                let (fd, file) = bind_listener($ty, &addr, opts)?;
                let path = file.and(addr.as_path().map(|p| p.to_path_buf()));
                Ok($L { fd, path, file, foreign: false })
            }

            #[doc = concat!("Wraps a listening ", $what, " descriptor (checked with `getsockopt`).")]
            /// The listener removes no socket file.
            pub fn from_fd(fd: OwnedFd) -> Result<$L> {
                check_kind(&fd, $ty, $what)?;
                let listening = raw::is_listening(fd.as_fd())
                    .map_err(|e| sock_error("getsockopt(SO_ACCEPTCONN)", obj(fd.as_fd()), e))?;
                if !listening {
                    return Err(Error::new(
                        "getsockopt(SO_ACCEPTCONN)",
                        obj(fd.as_fd()),
                        ErrorKind::WrongType,
                    )
                    .with_detail("the socket does not listen"));
                }
                Ok($L { fd, path: None, file: None, foreign: true })
            }

            /// `getsockname`—The address this listener is bound to.
            pub fn local_addr(&self) -> Result<UnixAddr> {
                raw::name(self.fd.as_fd(), false)
                    .map(UnixAddr::from_bytes)
                    .map_err(|e| sock_error("getsockname", obj(self.fd.as_fd()), e))
            }

            /// `accept4(fd, SOCK_CLOEXEC)`—Waits for a connection.
            #[doc(alias = "accept4")]
            pub fn accept(&self) -> Result<$S> {
                self.accept_with(FOREVER)
            }

            /// Like [`accept`](Self::accept) but never waits: [`ErrorKind::WouldBlock`] if no connection waits.
            pub fn try_accept(&self) -> Result<$S> {
                self.accept_with(NEVER)
            }

            /// Like [`accept`](Self::accept), waiting at most `timeout`.
            pub fn accept_timeout(&self, timeout: Duration) -> Result<$S> {
                self.accept_with(Wait::Timeout(timeout))
            }

            /// Like [`accept`](Self::accept), waiting until `deadline` at the latest.
            pub fn accept_deadline(&self, deadline: Instant) -> Result<$S> {
                self.accept_with(Wait::Deadline(deadline))
            }

            /// [`accept`](Self::accept) within `wait`. The accepted socket is blocking.
            pub fn accept_with(&self, wait: Wait) -> Result<$S> {
                let got = with_wait(self.fd.as_fd(), false, wait, |nb| {
                    if nb {
                        // accept4 has no "do not wait" flag: ask poll first whether a
                        // connection is waiting.
                        match sys::pipe::poll(self.fd.as_fd(), false, Some(Duration::ZERO)) {
                            Ok(r) if !r.readable => return Err(Errno::EAGAIN),
                            Ok(_) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    raw::accept(self.fd.as_fd(), false)
                })
                .map_err(|e| sock_error("accept4", obj(self.fd.as_fd()), e))?;
                // An accepted socket inherits SO_PASSCRED from the listener, which only
                // a listener from elsewhere can have on.
                let creds = if self.foreign { CredsRoom::of(got.as_fd()) } else { CredsRoom::off() };
                Ok($S { fd: got, creds })
            }

            /// Keeps the socket file when this listener is dropped (it is removed by
            /// default, when this listener made it).
            pub fn keep_file(&mut self) {
                self.path = None;
            }
        }

        impl fmt::Debug for $L {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($L))
                    .field("fd", &self.fd.as_raw_fd())
                    .field("path", &self.path)
                    .finish()
            }
        }

        impl AsFd for $L {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $L {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl Drop for $L {
            /// Removes the socket file this listener made, if it is still the same
            /// file (same device and inode); errors are ignored.
            fn drop(&mut self) {
                if let (Some(p), Some((dev, ino))) = (self.path.take(), self.file) {
                    use std::os::unix::ffi::OsStrExt;
                    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) {
                        if let Ok(id) = sys::pipe::lstat(&c) {
                            if id.dev == dev && id.ino == ino {
                                let _ = sys::fifo::unlink(&c);
                            }
                        }
                    }
                }
            }
        }
    };
}

/// A listening Unix stream socket: [`accept`](Self::accept) gives a [`UnixStream`]
/// per client.
///
/// Converts from the standard library's [`std::os::unix::net::UnixListener`].
pub struct UnixListener {
    fd: OwnedFd,
    path: Option<PathBuf>,
    file: Option<(u64, u64)>,
    /// Made from a descriptor from elsewhere (which may have `SO_PASSCRED` on).
    foreign: bool,
}

listener!(UnixListener, UnixStream, SockType::Stream, "Unix stream socket");

impl From<std::os::unix::net::UnixListener> for UnixListener {
    fn from(l: std::os::unix::net::UnixListener) -> UnixListener {
        UnixListener { fd: l.into(), path: None, file: None, foreign: true }
    }
}

/// A listening Unix seqpacket socket: [`accept`](Self::accept) gives a
/// [`UnixSeqpacket`] per client.
pub struct SeqpacketListener {
    fd: OwnedFd,
    path: Option<PathBuf>,
    file: Option<(u64, u64)>,
    /// Made from a descriptor from elsewhere (which may have `SO_PASSCRED` on).
    foreign: bool,
}

listener!(SeqpacketListener, UnixSeqpacket, SockType::Seqpacket, "Unix seqpacket socket");
