//! Unix domain sockets: stream, seqpacket and datagram ends, listeners, pairs,
//! descriptor passing and peer credentials.
//!
//! # Files
//!
//! - this file: [`Credentials`], [`Received`] and the limit on descriptors per message;
//! - `shared.rs`: the plumbing every socket type shares (errors, waiting, `recvmsg` with
//!   descriptors and credentials, connecting);
//! - `common.rs`: the methods every connected socket type has (send and receive with
//!   descriptors, credentials, timeouts), written once as a macro;
//! - `stream.rs`, `seqpacket.rs`, `datagram.rs`: one socket type each;
//! - `listener.rs`: [`BindOptions`], [`UnixListener`] and [`SeqpacketListener`].

use std::fmt;

use crate::socket::Fds;
use crate::sys::socket as raw;

#[macro_use]
mod common;
mod datagram;
mod listener;
mod seqpacket;
mod shared;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{BindOptions, SeqpacketListener, UnixListener};
pub use seqpacket::UnixSeqpacket;
pub(crate) use shared::{FOREVER, NEVER, sock_error, with_wait};
pub use stream::UnixStream;

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
