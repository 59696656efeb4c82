//! [`UnixStream`]: a connected Unix stream socket, with `Read`/`Write` and conversion
//! to and from the standard library's type.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use super::shared::{
    CredsRoom, FOREVER, NEVER, check_kind, connect_fd, obj, recv_fds_on, sock_error, with_wait,
};
use super::{Credentials, MAX_FDS_PER_MESSAGE, Received};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::socket::UnixAddr;
use crate::socket::handoff::{self, Passable};
use crate::sys::socket::{self as raw, SockType};
use crate::sys::{self, Errno};
use crate::wait::Wait;

/// A connected Unix stream socket (`SOCK_STREAM`): a reliable, ordered byte stream in
/// both directions, like a pair of pipes, that can also carry descriptors.
///
/// Converts to and from the standard library's
/// [`std::os::unix::net::UnixStream`] at no cost.
pub struct UnixStream {
    pub(super) fd: OwnedFd,
    pub(super) creds: CredsRoom,
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
