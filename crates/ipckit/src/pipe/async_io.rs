//! Async pipe and FIFO ends for tokio (cargo feature `tokio`).

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::{PIPE_BUF, PipeReader, PipeWriter};
use crate::error::{Error, ErrorKind, Object, Result};

/// Registers an end with the reactor of the current tokio runtime.
///
/// Panics like tokio does if the runtime was built without IO (`enable_io`).
#[allow(unsafe_code)]
fn register<T: AsRawFd>(end: T, interest: Interest) -> Result<AsyncFd<T>> {
    let raw = end.as_raw_fd();
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new("epoll_ctl", Object::Fd(raw), ErrorKind::InvalidInput)
            .with_detail("into_async needs a tokio runtime: call it from inside one"));
    }
    // SAFETY: `end` is a PipeReader or PipeWriter, which owns its descriptor: it stays
    // open, and `as_raw_fd` returns the same number, until the end is dropped, which
    // the AsyncFd does only after deregistering it (or hands it back by into_inner).
    unsafe { AsyncFd::register_with_interest(end, interest) }
        .map_err(|e| register_error(raw, e.into_parts().1))
}

fn register_error(fd: RawFd, e: io::Error) -> Error {
    Error::io("epoll_ctl", Object::Fd(fd), &e).with_detail(format!(
        "cannot register the pipe end with tokio ({e}); call into_async inside a tokio runtime with IO enabled"
    ))
}

impl PipeReader {
    /// Makes this end non-blocking and registers it with the tokio runtime of the
    /// calling task, for use as an [`AsyncRead`].
    ///
    /// Must be called inside a tokio runtime with IO enabled. Reading waits for data
    /// (or for the last writer to leave) without blocking the thread.
    ///
    /// ```
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let (r, w) = ipckit::pipe::pipe()?;
    /// let (mut r, mut w) = (r.into_async()?, w.into_async()?);
    /// w.write_all(b"async").await?;
    /// drop(w);
    /// let mut text = String::new();
    /// r.read_to_string(&mut text).await?;
    /// assert_eq!(text, "async");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn into_async(self) -> Result<AsyncPipeReader> {
        self.set_nonblocking(true)?;
        Ok(AsyncPipeReader { inner: register(self, Interest::READABLE)? })
    }
}

impl PipeWriter {
    /// Makes this end non-blocking and registers it with the tokio runtime of the
    /// calling task, for use as an [`AsyncWrite`].
    ///
    /// Must be called inside a tokio runtime with IO enabled. Writing waits for room
    /// without blocking the thread, and fails with
    /// [`std::io::ErrorKind::BrokenPipe`] once no reader is left.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn into_async(self) -> Result<AsyncPipeWriter> {
        self.set_nonblocking(true)?;
        Ok(AsyncPipeWriter { inner: register(self, Interest::WRITABLE)? })
    }
}

/// The read end of a pipe or FIFO for tokio: implements [`AsyncRead`].
///
/// Made by [`PipeReader::into_async`] (or
/// [`Fifo::open_read_async`](crate::fifo::Fifo::open_read_async)). A read returns 0
/// (end-of-file) once the pipe is empty and every writer has closed.
///
/// ```
/// use tokio::io::AsyncReadExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let (r, w) = ipckit::pipe::pipe()?;
/// let mut r = r.into_async()?;
/// w.write_atomic(b"frame")?; // the other end may stay synchronous
/// drop(w);
/// let mut got = Vec::new();
/// r.read_to_end(&mut got).await?;
/// assert_eq!(got, b"frame");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub struct AsyncPipeReader {
    inner: AsyncFd<PipeReader>,
}

/// The write end of a pipe or FIFO for tokio: implements [`AsyncWrite`].
///
/// Made by [`PipeWriter::into_async`] (or
/// [`Fifo::open_write_async`](crate::fifo::Fifo::open_write_async)). Writes never
/// raise `SIGPIPE`: without a reader they fail with
/// [`std::io::ErrorKind::BrokenPipe`]. `shutdown` does nothing (a pipe has no
/// half-close); drop the writer to give the reader end-of-file.
///
/// ```
/// use std::io::Read;
/// use tokio::io::AsyncWriteExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let (mut r, w) = ipckit::pipe::pipe()?;
/// let mut w = w.into_async()?;
/// w.write_atomic(b"one frame").await?;
/// w.write_all(b", then bytes").await?;
/// drop(w);
/// let mut text = String::new();
/// r.read_to_string(&mut text)?;
/// assert_eq!(text, "one frame, then bytes");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub struct AsyncPipeWriter {
    inner: AsyncFd<PipeWriter>,
}

impl AsyncPipeReader {
    /// The synchronous end inside (for [`PipeReader::capacity`] and the like).
    pub fn get_ref(&self) -> &PipeReader {
        self.inner.get_ref()
    }

    /// Deregisters the end from tokio and returns it (still non-blocking).
    pub fn into_inner(self) -> PipeReader {
        self.inner.into_inner()
    }
}

impl AsyncPipeWriter {
    /// The synchronous end inside (for [`PipeWriter::capacity`] and the like).
    pub fn get_ref(&self) -> &PipeWriter {
        self.inner.get_ref()
    }

    /// Deregisters the end from tokio and returns it (still non-blocking).
    pub fn into_inner(self) -> PipeWriter {
        self.inner.into_inner()
    }

    /// Writes a frame of at most [`PIPE_BUF`] bytes in one atomic write, waiting
    /// (asynchronously) for room: the async form of [`PipeWriter::write_atomic`].
    pub async fn write_atomic(&self, frame: &[u8]) -> Result<()> {
        if frame.len() > PIPE_BUF {
            // The synchronous call gives the error, without writing anything.
            return self.inner.get_ref().write_atomic(frame);
        }
        loop {
            let mut guard = self.inner.writable().await.map_err(|e| register_error(self.as_raw_fd(), e))?;
            let attempt = guard.try_io(|inner| match inner.get_ref().write_atomic(frame) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
                other => Ok(other),
            });
            if let Ok(Ok(result)) = attempt {
                return result;
            }
        }
    }
}

impl AsFd for AsyncPipeReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

impl AsRawFd for AsyncPipeReader {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for AsyncPipeWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

impl AsRawFd for AsyncPipeWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsyncRead for AsyncPipeReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Not ready after all: readiness was cleared, wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for AsyncPipeWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write(buf)) {
                Ok(Ok(n)) => return Poll::Ready(Ok(n)),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write_vectored(bufs)) {
                Ok(Ok(n)) => return Poll::Ready(Ok(n)),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
