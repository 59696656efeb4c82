//! Unix domain sockets: stream, seqpacket and datagram ends, listeners, pairs,
//! descriptor passing and peer credentials.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::handoff::{self, Passable};
use super::{Fds, UnixAddr};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::sys::socket::{self as raw, RawAddr, SockType};
use crate::sys::{self, Errno, SysResult};
use crate::wait::Wait;

/// The most descriptors one message may carry (`SCM_MAX_FD` in the kernel, 253).
pub const MAX_FDS_PER_MESSAGE: usize = raw::SCM_MAX_FD;

/// The identity of a process at the other end of a socket: `struct ucred`.
///
/// From [`UnixStream::peer_credentials`] (`SO_PEERCRED`: the peer when it connected or
/// the pair was made) or a received message ([`Received::credentials`],
/// `SCM_CREDENTIALS`: the sender of that message). The kernel fills these in; a
/// process can claim other values only with `CAP_SYS_ADMIN` (pid) or
/// `CAP_SETUID`/`CAP_SETGID` (uid, gid). The pid is as seen from the receiver's pid
/// namespace (0 if the sender is not visible there).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Credentials {
    /// Process id.
    pub pid: u32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

impl From<raw::Ucred> for Credentials {
    fn from(u: raw::Ucred) -> Credentials {
        Credentials { pid: u.pid.max(0) as u32, uid: u.uid, gid: u.gid }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid={} uid={} gid={}", self.pid, self.uid, self.gid)
    }
}

/// One message received with [`recv_fds`](UnixStream::recv_fds) and friends.
#[derive(Debug)]
#[non_exhaustive]
pub struct Received {
    /// Bytes placed in the buffer.
    pub len: usize,
    /// The descriptors that came with the message, in the order sent; each is
    /// close-on-exec and closed when dropped. A few are held without allocating.
    pub fds: Fds,
    /// The sender's credentials, when the socket asked for them
    /// ([`set_pass_credentials`](UnixDatagram::set_pass_credentials)).
    pub credentials: Option<Credentials>,
    /// The datagram or packet was longer than the buffer and its tail is lost
    /// (`MSG_TRUNC`; never set for a stream, where the rest waits for the next call).
    pub truncated: bool,
}

/// Whether a receive must make room for credentials in the control data: whether
/// `SO_PASSCRED` is on. Shared by every handle of one socket
/// ([`try_clone`](UnixStream::try_clone)), so that turning credentials on through one
/// handle reaches the others. Sockets ipckit makes start with it off; a descriptor
/// from elsewhere is asked (`getsockopt(SO_PASSCRED)`, room is made when that fails).
/// Without it, a message needs no room but for its descriptors: a receive then
/// allocates nothing and clears only what it asks the kernel to fill.
#[derive(Clone, Debug)]
struct CredsRoom(Arc<AtomicBool>);

impl CredsRoom {
    fn off() -> CredsRoom {
        CredsRoom(Arc::new(AtomicBool::new(false)))
    }

    fn of(fd: BorrowedFd<'_>) -> CredsRoom {
        CredsRoom(Arc::new(AtomicBool::new(raw::passcred(fd).unwrap_or(true))))
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

fn obj(fd: BorrowedFd<'_>) -> Object {
    Object::Fd(fd.as_raw_fd())
}

pub(crate) fn sock_error(op: &'static str, object: Object, e: Errno) -> Error {
    let err = Error::sys(op, object, e);
    match e {
        Errno::ECONNREFUSED => err.with_kind(ErrorKind::NotFound).with_detail("connection refused: nothing listens at this address"),
        Errno::ECONNRESET | Errno::EPIPE | Errno::ENOTCONN => {
            err.with_kind(ErrorKind::Disconnected).with_detail("the peer closed the connection")
        }
        Errno::ENOTSOCK => err.with_kind(ErrorKind::WrongType).with_detail("the descriptor is not a socket"),
        Errno::ENAMETOOLONG => err.with_detail(
            "the name is too long for a Unix socket address: at most 107 bytes (sun_path holds 108)",
        ),
        Errno::EMSGSIZE => err.with_kind(ErrorKind::MessageTooLarge).with_detail(
            "the message is larger than the socket's send buffer allows (SO_SNDBUF, /proc/sys/net/core/wmem_max)",
        ),
        Errno::ETOOMANYREFS => err.with_kind(ErrorKind::LimitExceeded).with_detail(
            "too many descriptors in flight: the sender's RLIMIT_NOFILE bounds descriptors sent and not yet received",
        ),
        _ => err,
    }
}

/// [`Wait`] to wait as long as it takes (named once here, so that a rename of the
/// variant touches one line).
pub(crate) const FOREVER: Wait = Wait::Block;
/// [`Wait`] not to wait at all.
pub(crate) const NEVER: Wait = Wait::NoWait;

/// Runs `attempt` (given "do not wait") until it succeeds, waiting for readiness
/// within `wait`. "Not now" is an error: `EAGAIN` for [`NEVER`], `ETIMEDOUT` when a
/// timeout or deadline ran out (the ipckit convention: same `T` as the blocking call).
pub(crate) fn with_wait<T>(
    fd: BorrowedFd<'_>,
    write: bool,
    wait: Wait,
    mut attempt: impl FnMut(bool) -> SysResult<T>,
) -> SysResult<T> {
    if wait == FOREVER {
        loop {
            match attempt(false) {
                Err(Errno::EINTR) => continue,
                r => return r,
            }
        }
    }
    let deadline = wait.deadline();
    loop {
        match attempt(true) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if wait == NEVER => return Err(Errno::EAGAIN),
            Err(Errno::EAGAIN) => {}
            r => return r,
        }
        let left = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(Errno::ETIMEDOUT);
                }
                Some(d - now)
            }
            None => None,
        };
        match sys::pipe::poll(fd, write, left) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

fn check_kind(fd: &OwnedFd, want: SockType, what: &str) -> Result<()> {
    let (unix, ty) =
        raw::socket_kind(fd.as_fd()).map_err(|e| sock_error("getsockopt(SO_TYPE)", obj(fd.as_fd()), e))?;
    if !unix || ty != Some(want) {
        return Err(Error::new("getsockopt(SO_TYPE)", obj(fd.as_fd()), ErrorKind::WrongType)
            .with_detail(format!("the descriptor is not {what}")));
    }
    Ok(())
}

fn addr_error(op: &'static str, addr: &UnixAddr, e: Errno) -> Error {
    let err = sock_error(op, addr.object(), e);
    if e == Errno::EADDRINUSE { err.with_kind(ErrorKind::AlreadyExists) } else { err }
}

fn connect_fd(ty: SockType, addr: &UnixAddr) -> Result<OwnedFd> {
    let raw_addr = RawAddr::new(&addr.to_bytes()).map_err(|e| addr_error("connect", addr, e))?;
    let fd = raw::socket(ty).map_err(|e| addr_error("socket", addr, e))?;
    raw::connect(fd.as_fd(), &raw_addr).map_err(|e| {
        let err = addr_error("connect", addr, e);
        if e == Errno::ENOENT {
            err.with_detail("no socket file at this path")
        } else if e == Errno::EPROTOTYPE {
            err.with_kind(ErrorKind::WrongType).with_detail("the socket at this address is of another type")
        } else {
            err
        }
    })?;
    Ok(fd)
}

/// Methods shared by every connected or connectable Unix socket type.
macro_rules! unix_common {
    ($T:ident, $ty:expr, $what:literal) => {
        impl $T {
            #[doc = concat!("Wraps an owned descriptor after checking that it is ", $what)]
            /// (`getsockopt(SO_DOMAIN, SO_TYPE)`); [`ErrorKind::WrongType`] otherwise.
            pub fn from_fd(fd: OwnedFd) -> Result<$T> {
                check_kind(&fd, $ty, $what)?;
                Ok($T { creds: CredsRoom::of(fd.as_fd()), fd })
            }

            /// `getsockname`—This socket's own address.
            #[doc(alias = "getsockname")]
            pub fn local_addr(&self) -> Result<UnixAddr> {
                raw::name(self.fd.as_fd(), false)
                    .map(UnixAddr::from_bytes)
                    .map_err(|e| sock_error("getsockname", self.obj(), e))
            }

            /// `getpeername`—The address of the connected peer.
            #[doc(alias = "getpeername")]
            pub fn peer_addr(&self) -> Result<UnixAddr> {
                raw::name(self.fd.as_fd(), true)
                    .map(UnixAddr::from_bytes)
                    .map_err(|e| sock_error("getpeername", self.obj(), e))
            }

            /// `getsockopt(SOL_SOCKET, SO_PEERCRED)`—The pid, uid and gid of the peer,
            /// as they were when it connected (or when the pair was made).
            ///
            /// References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html).
            #[doc(alias = "SO_PEERCRED")]
            pub fn peer_credentials(&self) -> Result<Credentials> {
                raw::peer_cred(self.fd.as_fd())
                    .map(Credentials::from)
                    .map_err(|e| sock_error("getsockopt(SO_PEERCRED)", self.obj(), e))
            }

            /// `getsockopt(SOL_SOCKET, SO_PEERPIDFD)`—A pidfd of the peer process
            /// (Linux 6.5): unlike a pid, it can never name another process later.
            /// `Ok(None)` on kernels without it.
            ///
            /// References: [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html).
            #[doc(alias = "SO_PEERPIDFD")]
            pub fn peer_pidfd(&self) -> Result<Option<OwnedFd>> {
                match raw::peer_pidfd(self.fd.as_fd()) {
                    Ok(fd) => Ok(Some(fd)),
                    Err(Errno::ENOPROTOOPT) => Ok(None),
                    Err(e) => Err(sock_error("getsockopt(SO_PEERPIDFD)", self.obj(), e)),
                }
            }

            /// `setsockopt(SOL_SOCKET, SO_PASSCRED)`—Asks the kernel to attach the
            /// sender's credentials (`SCM_CREDENTIALS`) to every message received, so
            /// that [`Received::credentials`] is filled in.
            #[doc(alias = "SO_PASSCRED")]
            pub fn set_pass_credentials(&self, on: bool) -> Result<()> {
                // Room first, so that no receive meets credentials without room.
                if on {
                    self.creds.set(true);
                }
                raw::set_passcred(self.fd.as_fd(), on)
                    .map_err(|e| sock_error("setsockopt(SO_PASSCRED)", self.obj(), e))?;
                self.creds.set(on);
                Ok(())
            }

            /// `fcntl(F_SETFL, O_NONBLOCK)`—With it, the blocking calls fail with
            /// [`ErrorKind::WouldBlock`]; the `try_*` calls work either way.
            pub fn set_nonblocking(&self, on: bool) -> Result<()> {
                sys::pipe::set_nonblocking(self.fd.as_fd(), on)
                    .map_err(|e| sock_error("fcntl(F_SETFL)", self.obj(), e))
            }

            /// `shutdown(fd, SHUT_WR)`—Tells the peer no more will be sent: it reads
            /// end-of-file once it has read what was sent.
            #[doc(alias = "shutdown")]
            pub fn shutdown_write(&self) -> Result<()> {
                raw::shutdown(self.fd.as_fd(), false, true).map_err(|e| sock_error("shutdown", self.obj(), e))
            }

            /// `fcntl(F_DUPFD_CLOEXEC)`—A second handle on the same socket.
            pub fn try_clone(&self) -> Result<$T> {
                let fd = sys::pipe::dup_cloexec(self.fd.as_fd()).map_err(|e| sock_error("dup", self.obj(), e))?;
                Ok($T { fd, creds: self.creds.clone() })
            }

            /// `send(fd, data, MSG_NOSIGNAL)`—Sends bytes; returns how many the kernel
            /// took (all of them for a packet or datagram). Never raises `SIGPIPE`: a
            /// closed peer is [`ErrorKind::Disconnected`].
            #[inline]
            pub fn send(&self, data: &[u8]) -> Result<usize> {
                loop {
                    match raw::send(self.fd.as_fd(), data, false) {
                        Err(Errno::EINTR) => continue,
                        r => return r.map_err(|e| sock_error("send", self.obj(), e)),
                    }
                }
            }

            /// Like [`send`](Self::send) within `wait`: [`ErrorKind::WouldBlock`] / [`ErrorKind::TimedOut`] if no room came in time.
            pub fn send_with(&self, data: &[u8], wait: Wait) -> Result<usize> {
                with_wait(self.fd.as_fd(), true, wait, |nb| raw::send(self.fd.as_fd(), data, nb))
                    .map_err(|e| sock_error("send", self.obj(), e))
            }

            /// Like [`send`](Self::send) but never waits: [`ErrorKind::WouldBlock`] if the socket is full.
            pub fn try_send(&self, data: &[u8]) -> Result<usize> {
                self.send_with(data, NEVER)
            }

            /// `recv(fd, buf)`—Receives bytes; returns how many. For a stream, 0 means the
            /// peer closed its end (end-of-file); for a packet or datagram, the part of
            /// a longer message that does not fit `buf` is lost (use
            /// [`recv_fds`](Self::recv_fds) to learn that it happened).
            #[inline]
            pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
                loop {
                    match raw::recv(self.fd.as_fd(), buf, false) {
                        Err(Errno::EINTR) => continue,
                        r => return r.map_err(|e| sock_error("recv", self.obj(), e)),
                    }
                }
            }

            /// Like [`recv`](Self::recv) but never waits: [`ErrorKind::WouldBlock`] if nothing is there.
            pub fn try_recv(&self, buf: &mut [u8]) -> Result<usize> {
                self.recv_with(buf, NEVER)
            }

            /// Like [`recv`](Self::recv), waiting at most `timeout` ([`ErrorKind::TimedOut`] then).
            pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
                self.recv_with(buf, Wait::Timeout(timeout))
            }

            /// Like [`recv`](Self::recv), waiting until `deadline` at the latest.
            pub fn recv_deadline(&self, buf: &mut [u8], deadline: Instant) -> Result<usize> {
                self.recv_with(buf, Wait::Deadline(deadline))
            }

            /// [`recv`](Self::recv) within `wait`.
            pub fn recv_with(&self, buf: &mut [u8], wait: Wait) -> Result<usize> {
                with_wait(self.fd.as_fd(), false, wait, |nb| raw::recv(self.fd.as_fd(), buf, nb))
                    .map_err(|e| sock_error("recv", self.obj(), e))
            }

            /// `sendmsg(fd, {data, SCM_RIGHTS fds}, MSG_NOSIGNAL)`—Sends bytes with
            /// descriptors, which the receiver gets as new descriptors of the same open
            /// files. Returns the bytes sent.
            ///
            /// Up to [`MAX_FDS_PER_MESSAGE`] descriptors per message. Descriptors are
            /// in flight until received; each sent one counts against the sender's
            /// `RLIMIT_NOFILE` meanwhile (`ETOOMANYREFS` past it). On a stream, the
            /// descriptors travel with the first byte of `data`, so `data` must not be
            /// empty.
            ///
            /// References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
            /// (`SCM_RIGHTS`), [sendmsg(2)](https://man7.org/linux/man-pages/man2/sendmsg.2.html).
            #[doc(alias = "sendmsg")]
            #[doc(alias = "SCM_RIGHTS")]
            pub fn send_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<usize> {
                self.send_fds_with(data, fds, FOREVER)
            }

            /// [`send_fds`](Self::send_fds) within `wait`: [`ErrorKind::WouldBlock`] or
            /// [`ErrorKind::TimedOut`] if no room came in time (nothing was sent).
            pub fn send_fds_with(&self, data: &[u8], fds: &[BorrowedFd<'_>], wait: Wait) -> Result<usize> {
                self.check_fds_out(data, fds)?;
                let bufs = [IoSlice::new(data)];
                with_wait(self.fd.as_fd(), true, wait, |nb| raw::send_msg(self.fd.as_fd(), &bufs, fds, None, None, nb))
                    .map_err(|e| sock_error("sendmsg", self.obj(), e))
            }

            fn check_fds_out(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
                if fds.len() > MAX_FDS_PER_MESSAGE {
                    return Err(Error::new("sendmsg", self.obj(), ErrorKind::LimitExceeded).with_detail(format!(
                        "{} descriptors in one message exceed the kernel's SCM_MAX_FD = {MAX_FDS_PER_MESSAGE}; send them in several messages",
                        fds.len()
                    )));
                }
                if $ty == SockType::Stream && data.is_empty() && !fds.is_empty() {
                    return Err(Error::new("sendmsg", self.obj(), ErrorKind::InvalidInput)
                        .with_detail("a stream carries descriptors only with at least one byte of data"));
                }
                Ok(())
            }

            /// `recvmsg(fd, {buf, control}, MSG_CMSG_CLOEXEC)`—Receives bytes with up to
            /// `max_fds` descriptors (and credentials, if
            /// [`set_pass_credentials`](Self::set_pass_credentials) is on).
            ///
            /// If the message carried more descriptors than `max_fds` (`MSG_CTRUNC`),
            /// the kernel closes the ones that did not fit; this call closes the ones
            /// that did and fails with [`ErrorKind::LimitExceeded`]: no descriptor is
            /// lost silently or leaked. The same happens when this process is out of
            /// descriptors (`RLIMIT_NOFILE`). The bytes of that message are consumed.
            ///
            /// On a stream, a call returns at most the bytes up to the next message that
            /// carries descriptors, so descriptors are never mixed up across messages;
            /// 0 bytes and no descriptors means end-of-file.
            ///
            /// References: [recvmsg(2)](https://man7.org/linux/man-pages/man2/recvmsg.2.html),
            /// [cmsg(3)](https://man7.org/linux/man-pages/man3/cmsg.3.html).
            #[doc(alias = "recvmsg")]
            pub fn recv_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, FOREVER)
            }

            /// Like [`recv_fds`](Self::recv_fds) but never waits: [`ErrorKind::WouldBlock`]
            /// if nothing is there.
            pub fn try_recv_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, NEVER)
            }

            /// Like [`recv_fds`](Self::recv_fds), waiting at most `timeout`.
            pub fn recv_fds_timeout(&self, buf: &mut [u8], max_fds: usize, timeout: Duration) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, Wait::Timeout(timeout))
            }

            /// Like [`recv_fds`](Self::recv_fds), waiting until `deadline` at the latest.
            pub fn recv_fds_deadline(&self, buf: &mut [u8], max_fds: usize, deadline: Instant) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, Wait::Deadline(deadline))
            }

            /// [`recv_fds`](Self::recv_fds) within `wait`.
            pub fn recv_fds_with(&self, buf: &mut [u8], max_fds: usize, wait: Wait) -> Result<Received> {
                recv_fds_on(self.fd.as_fd(), &self.creds, buf, max_fds, wait, false).map(|(r, _)| r)
            }

            /// Sends an ipckit handle (a pipe end, shared memory, a queue, a channel...)
            /// as its descriptor with a tag naming its kind; the receiver rebuilds it
            /// with [`recv_handle`](Self::recv_handle). The handle stays usable here: the
            /// two processes then share the object.
            pub fn send_handle<H: Passable>(&self, handle: &H) -> Result<()> {
                let fd = handle.passed_fd()?;
                let t = handoff::tag(H::KIND);
                let n = self.send_fds(&t, &[fd])?;
                if n < t.len() {
                    self.send_rest(&t[n..])?;
                }
                Ok(())
            }

            /// Receives a handle sent with [`send_handle`](Self::send_handle), as type `H`.
            /// Fails with [`ErrorKind::WrongType`] if the peer sent another kind, or if
            /// the descriptor is not what its tag says (checked with `fstat`, `fstatfs`
            /// or the object's own header); the descriptor is closed then.
            pub fn recv_handle<H: Passable>(&self) -> Result<H> {
                let mut t = [0u8; handoff::HANDLE_TAG];
                let r = self.recv_fds(&mut t, 1)?;
                let mut have = r.len;
                if r.truncated {
                    return Err(Error::new("recv_handle", self.obj(), ErrorKind::Corrupted)
                        .with_detail("the message is longer than a handle's tag; it is not an ipckit handle"));
                }
                if have == 0 && r.fds.is_empty() {
                    return Err(Error::new("recv_handle", self.obj(), ErrorKind::Disconnected)
                        .with_detail("the peer closed the connection"));
                }
                if $ty == SockType::Stream {
                    while have < t.len() {
                        let n = self.recv(&mut t[have..])?;
                        if n == 0 {
                            return Err(Error::new("recv_handle", self.obj(), ErrorKind::Disconnected)
                                .with_detail("the peer closed the connection in the middle of a handle's tag"));
                        }
                        have += n;
                    }
                }
                handoff::finish::<H>(&t[..have], r.fds, self.obj())
            }

            fn send_rest(&self, mut data: &[u8]) -> Result<()> {
                while !data.is_empty() {
                    let n = self.send(data)?;
                    data = &data[n..];
                }
                Ok(())
            }

            fn obj(&self) -> Object {
                obj(self.fd.as_fd())
            }
        }

        impl fmt::Debug for $T {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($T)).field("fd", &self.fd.as_raw_fd()).finish()
            }
        }

        impl AsFd for $T {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $T {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl IntoRawFd for $T {
            fn into_raw_fd(self) -> RawFd {
                self.fd.into_raw_fd()
            }
        }

        impl From<$T> for OwnedFd {
            fn from(s: $T) -> OwnedFd {
                s.fd
            }
        }

        impl TryFrom<OwnedFd> for $T {
            type Error = Error;
            fn try_from(fd: OwnedFd) -> Result<$T> {
                $T::from_fd(fd)
            }
        }
    };
}

/// `recvmsg` with room for `max_fds` descriptors (and credentials when `SO_PASSCRED`
/// is on), within `wait`; turns `MSG_CTRUNC` into an error after closing what arrived.
/// Allocates nothing for a message with up to [`INLINE_FDS`](super::INLINE_FDS)
/// descriptors.
fn recv_fds_on(
    fd: BorrowedFd<'_>,
    creds: &CredsRoom,
    buf: &mut [u8],
    max_fds: usize,
    wait: Wait,
    want_from: bool,
) -> Result<(Received, Option<UnixAddr>)> {
    let op = "recvmsg";
    let max_fds = max_fds.min(MAX_FDS_PER_MESSAGE);
    let want_creds = creds.get();
    let mut fds = Fds::new();
    let meta = with_wait(fd, false, wait, |nb| {
        fds.clear();
        raw::recv_msg(fd, buf, |f| fds.push(f), max_fds, want_creds, want_from, nb)
    })
    .map_err(|e| sock_error(op, obj(fd), e))?;
    // The control buffer is rounded up to 8 bytes (and may have room for credentials
    // that did not come), which the kernel may fill with descriptors: more than
    // `max_fds` is the same overflow as MSG_CTRUNC.
    if meta.ctrunc || fds.len() > max_fds {
        let arrived = fds.len();
        drop(fds); // close whatever did arrive: none may leak
        let mut why = format!(
            "the control data was truncated (MSG_CTRUNC): the message carried more descriptors than the {max_fds} \
             asked for, or this process reached its descriptor limit (RLIMIT_NOFILE); the {arrived} that arrived \
             were closed, the kernel closed the rest, and the message's {} bytes were consumed",
            meta.len
        );
        // SO_PASSCRED turned on behind this handle's back (setsockopt on its
        // descriptor): credentials found no room. Make room from now on.
        if !want_creds && meta.ctrunc && raw::passcred(fd) == Ok(true) {
            creds.set(true);
            why.push_str(
                "; SO_PASSCRED was turned on other than through set_pass_credentials, so no room was made for \
                 the credentials (there is from now on)",
            );
        }
        return Err(Error::new(op, obj(fd), ErrorKind::LimitExceeded).with_detail(why));
    }
    let received = Received {
        len: meta.len,
        fds,
        credentials: meta.creds.map(Credentials::from),
        truncated: meta.truncated,
    };
    Ok((received, meta.from.map(UnixAddr::from_bytes)))
}

/// A connected Unix stream socket (`SOCK_STREAM`): a reliable, ordered byte stream in
/// both directions, like a pair of pipes, that can also carry descriptors.
///
/// Converts to and from the standard library's
/// [`std::os::unix::net::UnixStream`] at no cost.
pub struct UnixStream {
    fd: OwnedFd,
    creds: CredsRoom,
}

unix_common!(UnixStream, SockType::Stream, "a Unix stream socket");

impl UnixStream {
    /// `socket(AF_UNIX, SOCK_STREAM)` + `connect(addr)`—Connects to a listening
    /// socket. [`ErrorKind::NotFound`] if nothing listens there.
    pub fn connect(addr: impl Into<UnixAddr>) -> Result<UnixStream> {
        Ok(UnixStream { fd: connect_fd(SockType::Stream, &addr.into())?, creds: CredsRoom::off() })
    }

    /// `socketpair(AF_UNIX, SOCK_STREAM)`—Two connected ends with no name.
    #[doc(alias = "socketpair")]
    pub fn pair() -> Result<(UnixStream, UnixStream)> {
        let (a, b) = raw::socketpair(SockType::Stream)
            .map_err(|e| sock_error("socketpair", Object::Name("stream pair".into()), e))?;
        Ok((UnixStream { fd: a, creds: CredsRoom::off() }, UnixStream { fd: b, creds: CredsRoom::off() }))
    }

    /// Sends all of `data`, waiting for room as needed.
    pub fn send_all(&self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let n = self.send(data)?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Receives exactly `buf.len()` bytes; [`ErrorKind::Disconnected`] if the peer closes
    /// first (saying how many bytes arrived).
    pub fn recv_exact(&self, buf: &mut [u8]) -> Result<()> {
        let mut have = 0;
        while have < buf.len() {
            let n = self.recv(&mut buf[have..])?;
            if n == 0 {
                return Err(Error::new("recv", self.obj(), ErrorKind::Disconnected).with_detail(format!(
                    "the peer closed the connection after {have} of {} bytes",
                    buf.len()
                )));
            }
            have += n;
        }
        Ok(())
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(UnixStream::recv(self, buf)?)
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(UnixStream::send(self, buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl From<std::os::unix::net::UnixStream> for UnixStream {
    fn from(s: std::os::unix::net::UnixStream) -> UnixStream {
        let fd: OwnedFd = s.into();
        UnixStream { creds: CredsRoom::of(fd.as_fd()), fd }
    }
}

impl From<UnixStream> for std::os::unix::net::UnixStream {
    fn from(s: UnixStream) -> std::os::unix::net::UnixStream {
        s.fd.into()
    }
}

/// A connected Unix seqpacket socket (`SOCK_SEQPACKET`): reliable and ordered like a
/// stream, but it keeps message boundaries like a datagram; each
/// [`recv`](Self::recv) returns one whole message.
pub struct UnixSeqpacket {
    fd: OwnedFd,
    creds: CredsRoom,
}

unix_common!(UnixSeqpacket, SockType::Seqpacket, "a Unix seqpacket socket");

impl UnixSeqpacket {
    /// `socket(AF_UNIX, SOCK_SEQPACKET)` + `connect(addr)`.
    pub fn connect(addr: impl Into<UnixAddr>) -> Result<UnixSeqpacket> {
        Ok(UnixSeqpacket { fd: connect_fd(SockType::Seqpacket, &addr.into())?, creds: CredsRoom::off() })
    }

    /// `socketpair(AF_UNIX, SOCK_SEQPACKET)`—Two connected ends with no name.
    #[doc(alias = "socketpair")]
    pub fn pair() -> Result<(UnixSeqpacket, UnixSeqpacket)> {
        let (a, b) = raw::socketpair(SockType::Seqpacket)
            .map_err(|e| sock_error("socketpair", Object::Name("seqpacket pair".into()), e))?;
        Ok((
            UnixSeqpacket { fd: a, creds: CredsRoom::off() },
            UnixSeqpacket { fd: b, creds: CredsRoom::off() },
        ))
    }
}

/// A Unix datagram socket (`SOCK_DGRAM`): messages with boundaries, connected to one
/// peer or sent to any address. On Unix sockets, datagrams are reliable and ordered;
/// a sender waits while the receiver's queue is full.
pub struct UnixDatagram {
    fd: OwnedFd,
    creds: CredsRoom,
}

unix_common!(UnixDatagram, SockType::Datagram, "a Unix datagram socket");

impl UnixDatagram {
    /// `socket(AF_UNIX, SOCK_DGRAM)` + `bind(addr)`—A datagram socket others can send
    /// to.
    pub fn bind(addr: impl Into<UnixAddr>) -> Result<UnixDatagram> {
        let addr = addr.into();
        let raw_addr = RawAddr::new(&addr.to_bytes()).map_err(|e| addr_error("bind", &addr, e))?;
        let fd = raw::socket(SockType::Datagram).map_err(|e| addr_error("socket", &addr, e))?;
        raw::bind(fd.as_fd(), &raw_addr).map_err(|e| addr_error("bind", &addr, e))?;
        Ok(UnixDatagram { fd, creds: CredsRoom::off() })
    }

    /// `socket(AF_UNIX, SOCK_DGRAM)`—An unnamed datagram socket, to send from.
    pub fn unbound() -> Result<UnixDatagram> {
        let fd = raw::socket(SockType::Datagram)
            .map_err(|e| sock_error("socket", Object::Name("datagram socket".into()), e))?;
        Ok(UnixDatagram { fd, creds: CredsRoom::off() })
    }

    /// `socketpair(AF_UNIX, SOCK_DGRAM)`—Two connected ends with no name.
    #[doc(alias = "socketpair")]
    pub fn pair() -> Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = raw::socketpair(SockType::Datagram)
            .map_err(|e| sock_error("socketpair", Object::Name("datagram pair".into()), e))?;
        Ok((UnixDatagram { fd: a, creds: CredsRoom::off() }, UnixDatagram { fd: b, creds: CredsRoom::off() }))
    }

    /// `connect(addr)`—Sets the default destination, and receives only from it.
    pub fn connect(&self, addr: impl Into<UnixAddr>) -> Result<()> {
        let addr = addr.into();
        let raw_addr = RawAddr::new(&addr.to_bytes()).map_err(|e| addr_error("connect", &addr, e))?;
        raw::connect(self.fd.as_fd(), &raw_addr).map_err(|e| addr_error("connect", &addr, e))
    }

    /// `sendmsg(fd, {data, SCM_RIGHTS fds}, to addr)`—Sends one datagram (with
    /// descriptors, possibly none) to `addr`.
    #[doc(alias = "sendto")]
    pub fn send_to_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>], addr: &UnixAddr) -> Result<usize> {
        self.check_fds_out(data, fds)?;
        let raw_addr = RawAddr::new(&addr.to_bytes()).map_err(|e| addr_error("sendmsg", addr, e))?;
        let bufs = [IoSlice::new(data)];
        with_wait(self.fd.as_fd(), true, FOREVER, |nb| {
            raw::send_msg(self.fd.as_fd(), &bufs, fds, None, Some(&raw_addr), nb)
        })
        .map_err(|e| addr_error("sendmsg", addr, e))
    }

    /// `sendto(fd, data, addr)`—Sends one datagram to `addr`.
    #[doc(alias = "sendto")]
    pub fn send_to(&self, data: &[u8], addr: &UnixAddr) -> Result<usize> {
        self.send_to_fds(data, &[], addr)
    }

    /// `recvmsg` with the sender's address—Receives one datagram, with up to `max_fds`
    /// descriptors; see [`recv_fds`](Self::recv_fds).
    #[doc(alias = "recvfrom")]
    pub fn recv_from_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<(Received, UnixAddr)> {
        let (r, from) = recv_fds_on(self.fd.as_fd(), &self.creds, buf, max_fds, FOREVER, true)?;
        Ok((r, from.unwrap_or(UnixAddr::Unnamed)))
    }
}

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
