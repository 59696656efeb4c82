//! [`UnixDatagram`]: a Unix datagram socket, bound, unbound or connected.

use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use super::shared::{
    CredsRoom, FOREVER, NEVER, addr_error, check_kind, obj, recv_fds_on, sock_error, with_wait,
};
use super::{Credentials, MAX_FDS_PER_MESSAGE, Received};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::socket::UnixAddr;
use crate::socket::handoff::{self, Passable};
use crate::sys::socket::{self as raw, RawAddr, SockType};
use crate::sys::{self, Errno};
use crate::wait::Wait;

/// A Unix datagram socket (`SOCK_DGRAM`): messages with boundaries, connected to one
/// peer or sent to any address. On Unix sockets, datagrams are reliable and ordered;
/// a sender waits while the receiver's queue is full.
pub struct UnixDatagram {
    pub(super) fd: OwnedFd,
    pub(super) creds: CredsRoom,
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
