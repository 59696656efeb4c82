//! Knowing when a message arrives without sitting in `mq_receive`: `mq_notify` with a
//! callback on a thread, and readiness through `poll` on the queue's descriptor.
//!
//! - [`MsgQueue::notify`] (`mq_notify` with `SIGEV_THREAD`) runs a callback once,
//!   on a thread the C library starts, when a message arrives on the **empty** queue
//!   while nobody waits in `mq_receive`. One process at a time may be registered per
//!   queue; the registration ends when it fires, when the [`Notification`] is dropped
//!   or cancelled, or when the queue descriptor is closed. Register again from the
//!   callback (or after draining the queue) to hear of the next message.
//! - [`MsgQueue::wait_readable`] and its family wait, with `poll`, until the queue
//!   holds a message (Linux queue descriptors are pollable, so a queue can also sit
//!   in an `epoll` set or a tokio reactor: see `AsyncMessageQueue`, feature `tokio`). Readiness says nothing about
//!   who will get the message: another process may take it first, so follow it with
//!   a `try_recv`.
//!
//! References: [mq_notify(3)](https://man7.org/linux/man-pages/man3/mq_notify.3.html),
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html)
//! ("Polling message queue descriptors").

use std::fmt;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::MsgQueue;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::sys::{self, Errno};
use crate::wait::Wait;

struct Slot {
    callback: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    fired: AtomicBool,
}

/// A registration made by [`MsgQueue::notify`]; dropping it cancels it.
#[must_use = "dropping the notification cancels it at once"]
pub struct Notification<'q> {
    queue: &'q MsgQueue,
    slot: Arc<Slot>,
}

impl fmt::Debug for Notification<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification").field("queue", &self.queue.name).field("fired", &self.fired()).finish()
    }
}

impl Notification<'_> {
    /// Whether the notification has fired (its callback has started or finished).
    pub fn fired(&self) -> bool {
        self.slot.fired.load(Ordering::Acquire)
    }

    /// `mq_notify(fd, NULL)`—Cancels the registration, reporting any error. The
    /// callback is dropped unrun if it has not started.
    pub fn cancel(self) -> Result<()> {
        let r = self.cancel_now();
        std::mem::forget(self);
        r
    }

    fn cancel_now(&self) -> Result<()> {
        // Take the callback first: if the notification fires meanwhile, it finds
        // nothing to run (and the registration is over anyway).
        let taken = self.slot.callback.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
        if self.fired() {
            return Ok(());
        }
        sys::posix_mq::mq_notify_cancel(self.queue.fd.as_fd())
            .map_err(|e| Error::sys("mq_notify", Object::Name(self.queue.name.clone()), e))
    }
}

impl Drop for Notification<'_> {
    /// Cancels the registration; errors are ignored (call [`cancel`](Self::cancel)).
    fn drop(&mut self) {
        let _ = self.cancel_now();
    }
}

impl MsgQueue {
    /// `mq_notify(fd, {SIGEV_THREAD})`—Runs `callback` once, on a new thread, when a
    /// message arrives on the empty queue while nobody waits in `mq_receive`.
    ///
    /// Fails with [`ErrorKind::AlreadyExists`] if a process (this one or another)
    /// is already registered for the queue (`EBUSY`). A panic in the callback is
    /// caught and ignored (it must not unwind into the C library). Keep the
    /// [`Notification`] alive: dropping it cancels the registration.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ipckit::Mode;
    /// use ipckit::posix::mq::{MsgQueue, QueueAttr};
    ///
    /// let name = format!("/ipckit-doc-notify-{}", std::process::id());
    /// let mut q = MsgQueue::create(&name, QueueAttr { maxmsg: 4, msgsize: 64 }, Mode::OWNER_RW)?;
    /// q.set_remove_on_drop(true)?;
    /// let (tx, rx) = mpsc::channel();
    /// let note = q.notify(move || { let _ = tx.send(()); })?;
    /// MsgQueue::open(&name)?.send(b"ping", 0)?;     // as another process would
    /// rx.recv_timeout(Duration::from_secs(60)).expect("notified");
    /// assert!(note.fired());
    /// # Ok::<(), ipckit::Error>(())
    /// ```
    #[doc(alias = "mq_notify")]
    #[doc(alias = "SIGEV_THREAD")]
    pub fn notify(&self, callback: impl FnOnce() + Send + 'static) -> Result<Notification<'_>> {
        let slot =
            Arc::new(Slot { callback: Mutex::new(Some(Box::new(callback))), fired: AtomicBool::new(false) });
        let fire = Arc::clone(&slot);
        sys::posix_mq::mq_notify_thread(
            self.fd.as_fd(),
            Box::new(move || {
                fire.fired.store(true, Ordering::Release);
                let f = fire.callback.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(f) = f {
                    f();
                }
            }),
        )
        .map_err(|e| {
            let err = Error::sys("mq_notify", self.obj(), e);
            if e == Errno::EBUSY {
                err.with_kind(ErrorKind::AlreadyExists)
                    .with_detail("another registration for this queue exists (one process at a time)")
            } else {
                err
            }
        })?;
        Ok(Notification { queue: self, slot })
    }

    /// `poll(POLLIN)`—Waits until the queue holds a message, without taking it.
    #[doc(alias = "poll")]
    pub fn wait_readable(&self) -> Result<()> {
        self.wait_ready(false, Wait::Block)
    }

    /// Waits at most `timeout` for a message ([`ErrorKind::TimedOut`] if none came).
    pub fn wait_readable_timeout(&self, timeout: Duration) -> Result<()> {
        self.wait_ready(false, Wait::Timeout(timeout))
    }

    /// Waits until `deadline` at the latest for a message ([`ErrorKind::TimedOut`]).
    pub fn wait_readable_deadline(&self, deadline: Instant) -> Result<()> {
        self.wait_ready(false, Wait::Deadline(deadline))
    }

    /// Waits as `wait` says for a message: [`ErrorKind::WouldBlock`] for
    /// [`Wait::NoWait`] on an empty queue, [`ErrorKind::TimedOut`] when time runs out.
    pub fn wait_readable_with(&self, wait: Wait) -> Result<()> {
        self.wait_ready(false, wait)
    }

    /// `poll(POLLOUT)`—Waits as `wait` says until the queue has room for a message.
    pub fn wait_writable_with(&self, wait: Wait) -> Result<()> {
        self.wait_ready(true, wait)
    }

    fn wait_ready(&self, write: bool, wait: Wait) -> Result<()> {
        let deadline = wait.deadline();
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match sys::pipe::poll(self.fd.as_fd(), write, left) {
                Ok(r) if (write && r.writable) || (!write && r.readable) => return Ok(()),
                Ok(_) if wait == Wait::NoWait => {
                    return Err(Error::new("poll", Object::None, ErrorKind::WouldBlock));
                }
                Ok(_) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Err(Error::new("poll", Object::None, ErrorKind::TimedOut));
                }
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll", self.obj(), e)),
            }
        }
    }
}
