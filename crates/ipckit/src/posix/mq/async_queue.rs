//! An async POSIX message queue for tokio (cargo feature `tokio`): the queue's
//! descriptor, made non-blocking, in the runtime's reactor (`AsyncFd`).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::MsgQueue;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::sys::{self, Errno};

/// Lets the reactor see the queue's descriptor number.
struct Registered(MsgQueue);

impl AsRawFd for Registered {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd.as_raw_fd()
    }
}

/// A POSIX message queue whose `send` and `recv` are `async`: they wait for room or
/// for a message without blocking the thread. Made by [`MsgQueue::into_async`].
///
/// Linux queue descriptors are pollable: readable when the queue holds a message,
/// writable when it has room. Other processes can take a message between the wake-up
/// and the receive; the future then simply waits again.
///
/// ```
/// use ipckit::Mode;
/// use ipckit::posix::mq::{MsgQueue, QueueAttr};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let name = format!("/ipckit-doc-amq-{}", std::process::id());
/// let mut q = MsgQueue::create(&name, QueueAttr { maxmsg: 4, msgsize: 64 }, Mode::OWNER_RW)?;
/// q.set_remove_on_drop(true)?;
/// let q = q.into_async()?;
/// q.send(b"async", 3).await?;
/// let mut buf = [0u8; 64];
/// let (len, prio) = q.recv(&mut buf).await?;
/// assert_eq!((&buf[..len], prio), (&b"async"[..], 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncMessageQueue {
    inner: AsyncFd<Registered>,
}

impl fmt::Debug for AsyncMessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncMessageQueue").field("queue", &self.inner.get_ref().0).finish()
    }
}

impl MsgQueue {
    /// `mq_setattr(O_NONBLOCK)`—Makes the descriptor non-blocking and registers it
    /// with the tokio runtime of the calling task. Must be called inside a tokio
    /// runtime with IO enabled.
    pub fn into_async(self) -> Result<AsyncMessageQueue> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::new("epoll_ctl", self.obj(), ErrorKind::InvalidInput)
                .with_detail("into_async needs a tokio runtime: call it from inside one"));
        }
        sys::posix_mq::mq_set_nonblocking(self.fd.as_fd(), true)
            .map_err(|e| Error::sys("mq_setattr", self.obj(), e))?;
        let obj = self.obj();
        #[allow(unsafe_code)]
        // SAFETY: the MsgQueue owns its descriptor: it stays open, with the same
        // number, until the queue is dropped, which the AsyncFd does only after
        // deregistering it (or hands it back by into_inner).
        let inner = unsafe {
            AsyncFd::register_with_interest(Registered(self), Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| register_error(obj, e.into_parts().1))?;
        Ok(AsyncMessageQueue { inner })
    }
}

fn register_error(obj: Object, e: io::Error) -> Error {
    let err = match e.raw_os_error() {
        Some(n) => Error::sys("epoll_ctl", obj, Errno(n)),
        None => Error::new("epoll_ctl", obj, ErrorKind::Other),
    };
    err.with_detail(format!("cannot register the queue with tokio ({e})"))
}

impl AsyncMessageQueue {
    /// The queue.
    pub fn get_ref(&self) -> &MsgQueue {
        &self.inner.get_ref().0
    }

    /// Deregisters the queue and makes its descriptor blocking again.
    pub fn into_inner(self) -> Result<MsgQueue> {
        let q = self.inner.into_inner().0;
        sys::posix_mq::mq_set_nonblocking(q.fd.as_fd(), false)
            .map_err(|e| Error::sys("mq_setattr", q.obj(), e))?;
        Ok(q)
    }

    /// `mq_send`—Sends `data` with priority `prio`, waiting (asynchronously) for room.
    pub async fn send(&self, data: &[u8], prio: u32) -> Result<()> {
        let q = self.get_ref();
        q.check_send_len(data)?;
        loop {
            let mut ready = self.inner.writable().await.map_err(|e| register_error(q.obj(), e))?;
            match sys::posix_mq::mq_send(q.fd.as_fd(), data, prio, None) {
                Ok(()) => return Ok(()),
                Err(Errno::EAGAIN) => ready.clear_ready(),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::sys("mq_send", q.obj(), e)),
            }
        }
    }

    /// `mq_receive`—Receives the oldest message of the highest priority, waiting
    /// (asynchronously) for one; returns its length and priority. `buf` must hold at
    /// least [`msgsize`](MsgQueue::msgsize) bytes.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<(usize, u32)> {
        let q = self.get_ref();
        q.check_recv_buf(buf)?;
        loop {
            let mut ready = self.inner.readable().await.map_err(|e| register_error(q.obj(), e))?;
            match sys::posix_mq::mq_receive(q.fd.as_fd(), buf, None) {
                Ok(r) => return Ok(r),
                Err(Errno::EAGAIN) => ready.clear_ready(),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::sys("mq_receive", q.obj(), e)),
            }
        }
    }
}

impl AsFd for AsyncMessageQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().fd.as_fd()
    }
}
