//! The plumbing every Unix socket type shares: turning errors into `Error`s, waiting
//! within a deadline, connecting, and `recvmsg` with room for descriptors and credentials.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Credentials, MAX_FDS_PER_MESSAGE, Received};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::socket::{Fds, UnixAddr};
use crate::sys::socket::{self as raw, RawAddr, SockType};
use crate::sys::{self, Errno, SysResult};
use crate::wait::Wait;

/// Whether a receive must make room for credentials in the control data: whether
/// `SO_PASSCRED` is on. Shared by every handle of one socket
/// ([`try_clone`](UnixStream::try_clone)), so that turning credentials on through one
/// handle reaches the others. Sockets ipckit makes start with it off; a descriptor
/// from elsewhere is asked (`getsockopt(SO_PASSCRED)`, room is made when that fails).
/// Without it, a message needs no room but for its descriptors: a receive then
/// allocates nothing and clears only what it asks the kernel to fill.
#[derive(Clone, Debug)]
pub(super) struct CredsRoom(Arc<AtomicBool>);

impl CredsRoom {
    pub(super) fn off() -> CredsRoom {
        CredsRoom(Arc::new(AtomicBool::new(false)))
    }

    pub(super) fn of(fd: BorrowedFd<'_>) -> CredsRoom {
        CredsRoom(Arc::new(AtomicBool::new(raw::passcred(fd).unwrap_or(true))))
    }

    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(super) fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

pub(super) fn obj(fd: BorrowedFd<'_>) -> Object {
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

pub(super) fn check_kind(fd: &OwnedFd, want: SockType, what: &str) -> Result<()> {
    let (unix, ty) =
        raw::socket_kind(fd.as_fd()).map_err(|e| sock_error("getsockopt(SO_TYPE)", obj(fd.as_fd()), e))?;
    if !unix || ty != Some(want) {
        return Err(Error::new("getsockopt(SO_TYPE)", obj(fd.as_fd()), ErrorKind::WrongType)
            .with_detail(format!("the descriptor is not {what}")));
    }
    Ok(())
}

pub(super) fn addr_error(op: &'static str, addr: &UnixAddr, e: Errno) -> Error {
    let err = sock_error(op, addr.object(), e);
    if e == Errno::EADDRINUSE { err.with_kind(ErrorKind::AlreadyExists) } else { err }
}

pub(super) fn connect_fd(ty: SockType, addr: &UnixAddr) -> Result<OwnedFd> {
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
/// `recvmsg` with room for `max_fds` descriptors (and credentials when `SO_PASSCRED`
/// is on), within `wait`; turns `MSG_CTRUNC` into an error after closing what arrived.
/// Allocates nothing for a message with up to [`INLINE_FDS`](crate::socket::INLINE_FDS)
/// descriptors.
pub(super) fn recv_fds_on(
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
