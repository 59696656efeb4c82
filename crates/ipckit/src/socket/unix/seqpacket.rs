//! [`UnixSeqpacket`]: a connected Unix seqpacket socket.

use std::io::IoSlice;
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

/// A connected Unix seqpacket socket (`SOCK_SEQPACKET`): reliable and ordered like a
/// stream, but it keeps message boundaries like a datagram; each
/// [`recv`](Self::recv) returns one whole message.
pub struct UnixSeqpacket {
    pub(super) fd: OwnedFd,
    pub(super) creds: CredsRoom,
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
