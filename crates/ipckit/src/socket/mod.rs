//! Sockets: Unix domain sockets with descriptor passing and peer credentials, and
//! framed messages over Unix and TCP streams.
//!
//! A Unix socket connects processes on one machine by an address (a path, or a name
//! in the abstract namespace) or by `socketpair`. It is the one IPC mechanism that can
//! carry **open descriptors** to a process that is not your child (`SCM_RIGHTS`) and
//! that tells each side **who** the other is (`SO_PEERCRED`, `SCM_CREDENTIALS`).
//!
//! | type | kernel | boundaries | here |
//! |---|---|---|---|
//! | stream | `SOCK_STREAM` | a byte stream, like a pipe in each direction | [`UnixStream`], [`UnixListener`] |
//! | seqpacket | `SOCK_SEQPACKET` | connected, each message whole | [`UnixSeqpacket`], [`SeqpacketListener`] |
//! | datagram | `SOCK_DGRAM` | each message whole, to any address | [`UnixDatagram`] |
//!
//! Addresses are [`UnixAddr`]s: [`UnixAddr::Path`], [`UnixAddr::Abstract`] (Linux's
//! `\0name`, which leaves no file behind) or [`UnixAddr::Unnamed`].
//!
//! ```
//! use std::io::Write;
//! use ipckit::socket::{UnixListener, UnixStream};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("sock");
//! let listener = UnixListener::bind(&path)?;
//! let client = UnixStream::connect(&path)?;       // in another process
//! let server = listener.accept()?;
//! assert_eq!(server.peer_credentials()?.pid, std::process::id());
//!
//! // Hand the client an open file: it arrives as a new descriptor of the same file.
//! let mut file = tempfile::tempfile()?;
//! file.write_all(b"shared")?;
//! use std::os::fd::AsFd;
//! server.send_fds(b"here", &[file.as_fd()])?;
//! let mut buf = [0u8; 16];
//! let got = client.recv_fds(&mut buf, 4)?;
//! assert_eq!(&buf[..got.len], b"here");
//! assert_eq!(got.fds.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Descriptors
//!
//! [`send_fds`](UnixStream::send_fds) sends bytes with up to
//! [`MAX_FDS_PER_MESSAGE`] descriptors; [`recv_fds`](UnixStream::recv_fds) receives
//! them as [`OwnedFd`](std::os::fd::OwnedFd)s, close-on-exec from the start
//! (`MSG_CMSG_CLOEXEC`). If a message brings more descriptors than the receiver made
//! room for, the kernel sets `MSG_CTRUNC` and closes the excess; ipckit closes the rest
//! and reports [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded): never a
//! silent loss, never a leak.
//!
//! Whole ipckit handles travel the same way, as their own type:
//! [`send_handle`](UnixStream::send_handle) and
//! [`recv_handle`](UnixStream::recv_handle) work for every [`Passable`] handle (pipe
//! and FIFO ends, POSIX shared memory and memfds, POSIX message queues, channels in a
//! memfd). A channel in a memfd, handed over a socket, has no name anywhere: nothing to
//! leak, nothing for a third process to open.
//!
//! # Who is on the other end
//!
//! [`peer_credentials`](UnixStream::peer_credentials) (`SO_PEERCRED`) gives the pid, uid
//! and gid of the peer when it connected; [`peer_pidfd`](UnixStream::peer_pidfd)
//! (`SO_PEERPIDFD`, Linux 6.5) a pidfd that cannot be confused with a later process
//! reusing the pid. With [`set_pass_credentials`](UnixDatagram::set_pass_credentials),
//! each received message carries its sender's credentials (`SCM_CREDENTIALS`), which
//! is what a datagram server needs. The kernel fills these in: a process cannot lie
//! about them without privileges.
//!
//! # Stale socket files
//!
//! A pathname socket leaves its file behind when its process dies, and the next
//! `bind` fails with `EADDRINUSE`. [`UnixListener::bind`] finds out whether anything
//! still listens (a `connect` refused means nothing does) and says so;
//! [`BindOptions::replace_stale`] removes such a file and binds again, never
//! displacing a live server. A listener removes its own file when dropped.
//!
//! # Messages over streams, on one host or across hosts
//!
//! [`Framed`] carries length-prefixed messages (a 4-byte little-endian length, then
//! the bytes) over a Unix or TCP stream, with the family `recv` / `try_recv` /
//! `recv_timeout` / `recv_deadline`, typed messages (`send_pod`, `send_value`), a
//! maximum frame size checked before allocating, and `TCP_NODELAY` on TCP so that
//! small messages leave at once.
//!
//! # Async
//!
//! With the cargo feature `tokio`, `UnixStream::into_async` and
//! `UnixSeqpacket::into_async` give `AsyncUnixStream` (`AsyncRead` + `AsyncWrite`) and
//! `AsyncUnixSeqpacket`, which send and receive bytes, descriptors and handles without
//! blocking a runtime thread.
//!
//! References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//! [socket(2)](https://man7.org/linux/man-pages/man2/socket.2.html),
//! [sendmsg(2)](https://man7.org/linux/man-pages/man2/sendmsg.2.html),
//! [recvmsg(2)](https://man7.org/linux/man-pages/man2/recvmsg.2.html),
//! [cmsg(3)](https://man7.org/linux/man-pages/man3/cmsg.3.html),
//! [tcp(7)](https://man7.org/linux/man-pages/man7/tcp.7.html).

mod addr;
#[cfg(feature = "tokio")]
mod async_io;
mod fds;
mod frame;
mod handoff;
mod unix;

pub use addr::UnixAddr;
#[cfg(feature = "tokio")]
pub use async_io::{AsyncUnixSeqpacket, AsyncUnixStream};
pub use fds::{Fds, FdsIntoIter, INLINE_FDS};
pub use frame::{DEFAULT_MAX_FRAME, FRAME_HEADER, FrameSocket, Framed};
pub use handoff::{HANDLE_TAG, Passable};
pub use unix::{
    BindOptions, Credentials, MAX_FDS_PER_MESSAGE, Received, SeqpacketListener, UnixDatagram, UnixListener,
    UnixSeqpacket, UnixStream,
};
