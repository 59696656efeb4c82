//! Async Unix stream and seqpacket ends for tokio (cargo feature `tokio`), with
//! descriptor passing.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::{Passable, Received, UnixSeqpacket, UnixStream};
use crate::error::{Error, ErrorKind, Object, Result};

/// Turns the `io::Error` that carried an ipckit error through tokio back into it.
fn back(e: io::Error) -> Error {
    let kind = e.kind();
    let raw = e.raw_os_error();
    match e.into_inner().map(|b| b.downcast::<Error>()) {
        Some(Ok(err)) => *err,
        _ => match raw {
            Some(n) => Error::sys("epoll_wait", Object::None, crate::sys::Errno(n)),
            None => Error::new("epoll_wait", Object::None, ErrorKind::Other).with_detail(kind.to_string()),
        },
    }
}

#[allow(unsafe_code)]
fn register<T: AsRawFd + AsFd>(sock: T) -> Result<AsyncFd<T>> {
    let raw = sock.as_raw_fd();
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new("epoll_ctl", Object::Fd(raw), ErrorKind::InvalidInput)
            .with_detail("into_async needs a tokio runtime: call it from inside one"));
    }
    // SAFETY: `sock` is a UnixStream or UnixSeqpacket, which owns its descriptor: it
    // stays open, and `as_raw_fd` returns the same number, until the socket is dropped,
    // which the AsyncFd does only after deregistering it (or hands it back by
    // into_inner).
    unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE | Interest::WRITABLE) }.map_err(|e| {
        let e = e.into_parts().1;
        Error::io("epoll_ctl", Object::Fd(raw), &e)
            .with_detail(format!("cannot register the socket with tokio ({e})"))
    })
}

macro_rules! async_socket {
    ($A:ident, $S:ident) => {
        impl $S {
            /// Makes this socket non-blocking and registers it with the tokio runtime
            /// of the calling task. Must be called inside a runtime with IO enabled.
            pub fn into_async(self) -> Result<$A> {
                self.set_nonblocking(true)?;
                Ok($A { inner: register(self)? })
            }
        }

        impl $A {
            /// The socket.
            pub fn get_ref(&self) -> &$S {
                self.inner.get_ref()
            }

            /// The blocking socket back (still non-blocking: see
            /// [`set_nonblocking`]($S::set_nonblocking)).
            pub fn into_inner(self) -> $S {
                self.inner.into_inner()
            }

            /// [`send`]($S::send), waiting for room without blocking the thread.
            pub async fn send(&self, data: &[u8]) -> Result<usize> {
                self.inner
                    .async_io(Interest::WRITABLE, |s| s.try_send(data).map_err(io::Error::from))
                    .await
                    .map_err(back)
            }

            /// [`recv`]($S::recv), waiting for data without blocking the thread.
            pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
                self.inner
                    .async_io(Interest::READABLE, |s| s.try_recv(buf).map_err(io::Error::from))
                    .await
                    .map_err(back)
            }

            /// [`send_fds`]($S::send_fds), waiting for room without blocking the thread.
            pub async fn send_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<usize> {
                self.inner
                    .async_io(Interest::WRITABLE, |s| {
                        s.send_fds_with(data, fds, super::unix::NEVER).map_err(io::Error::from)
                    })
                    .await
                    .map_err(back)
            }

            /// [`recv_fds`]($S::recv_fds), waiting for a message without blocking the
            /// thread. `MSG_CTRUNC` is handled as in the blocking call: an error, with
            /// the descriptors that arrived closed.
            pub async fn recv_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<Received> {
                self.inner
                    .async_io(Interest::READABLE, |s| s.try_recv_fds(buf, max_fds).map_err(io::Error::from))
                    .await
                    .map_err(back)
            }

            /// [`send_handle`]($S::send_handle) without blocking the thread.
            pub async fn send_handle<H: Passable>(&self, handle: &H) -> Result<()> {
                let fd = handle.passed_fd()?;
                let t = super::handoff::tag(H::KIND);
                let mut n = self.send_fds(&t, &[fd]).await?;
                while n < t.len() {
                    n += self.send(&t[n..]).await?;
                }
                Ok(())
            }

            /// [`recv_handle`]($S::recv_handle) without blocking the thread.
            pub async fn recv_handle<H: Passable>(&self) -> Result<H> {
                let mut t = [0u8; super::HANDLE_TAG];
                let r = self.recv_fds(&mut t, 1).await?;
                let obj = Object::Fd(self.as_raw_fd());
                if r.len == 0 && r.fds.is_empty() {
                    return Err(Error::new("recv_handle", obj, ErrorKind::Disconnected)
                        .with_detail("the peer closed the connection"));
                }
                let mut have = r.len;
                while !r.truncated && have < t.len() {
                    let n = self.recv(&mut t[have..]).await?;
                    if n == 0 {
                        return Err(Error::new("recv_handle", obj, ErrorKind::Disconnected)
                            .with_detail("the peer closed the connection in the middle of a handle's tag"));
                    }
                    have += n;
                }
                super::handoff::finish::<H>(&t[..have], r.fds, obj)
            }
        }

        impl AsFd for $A {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.get_ref().as_fd()
            }
        }

        impl AsRawFd for $A {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.get_ref().as_raw_fd()
            }
        }
    };
}

/// A [`UnixStream`] for tokio: `AsyncRead` + `AsyncWrite`, and descriptor passing.
///
/// ```
/// use std::os::fd::AsFd;
/// use ipckit::socket::UnixStream;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let (a, b) = UnixStream::pair()?;
/// let (a, b) = (a.into_async()?, b.into_async()?);
/// let file = tempfile::tempfile()?;
/// a.send_fds(b"f", &[file.as_fd()]).await?;
/// let mut buf = [0u8; 1];
/// let got = b.recv_fds(&mut buf, 1).await?;
/// assert_eq!(got.fds.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncUnixStream {
    inner: AsyncFd<UnixStream>,
}

/// A [`UnixSeqpacket`] for tokio, with descriptor passing.
#[derive(Debug)]
pub struct AsyncUnixSeqpacket {
    inner: AsyncFd<UnixSeqpacket>,
}

async_socket!(AsyncUnixStream, UnixStream);
async_socket!(AsyncUnixSeqpacket, UnixSeqpacket);

impl AsyncRead for AsyncUnixStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|s| s.get_ref().try_recv(unfilled).map_err(io::Error::from)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for AsyncUnixStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx))?;
            match guard.try_io(|s| s.get_ref().try_send(data).map_err(io::Error::from)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.get_ref().shutdown_write().map_err(io::Error::from))
    }
}
