//! POSIX message queues: `mq_open`, `mq_send`, `mq_receive`, `mq_getattr`, `mq_unlink`.
//!
//! A POSIX message queue holds up to `maxmsg` messages of up to `msgsize` bytes
//! each, found by a name such as `/jobs`. Each message has a priority; a receive
//! always takes the oldest message of the highest priority. Unlike a System V queue,
//! the queue is a file descriptor (it can be polled), and the timed calls take a real
//! deadline.
//!
//! ```
//! use ipckit::Mode;
//! use ipckit::posix::mq::{MsgQueue, QueueAttr};
//!
//! let name = format!("/ipckit-doc-mq-{}", std::process::id());
//! let mut q = MsgQueue::create(&name, QueueAttr { maxmsg: 4, msgsize: 128 }, Mode::OWNER_RW)?;
//! q.set_remove_on_drop(true)?;
//! q.send(b"low", 1)?;
//! q.send(b"high", 9)?;
//! let mut buf = [0u8; 128];
//! let got = q.recv(&mut buf)?;
//! assert_eq!((&buf[..got.len], got.priority), (&b"high"[..], 9));
//! assert!(q.try_recv(&mut buf).is_ok());
//! assert!(q.try_recv(&mut buf).unwrap_err().is_not_now()); // empty: "not now"
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! To hear of a message without waiting in `mq_receive`: [`MsgQueue::notify`]
//! (`mq_notify`, a callback on a thread), [`MsgQueue::wait_readable`] (`poll`
//! on the descriptor), and, with the `tokio` feature, `AsyncMessageQueue`
//! ([`MsgQueue::into_async`]) whose `send` and `recv` are `async`.
//!
//! Limits: an unprivileged queue holds at most `msg_max` messages
//! (`/proc/sys/fs/mqueue/msg_max`, 10 by default) of at most `msgsize_max` bytes
//! (`/proc/sys/fs/mqueue/msgsize_max`, 8192); larger attributes are refused with
//! [`ErrorKind::LimitExceeded`] naming the limit.
//!
//! References: [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
//! [mq_open(3)](https://man7.org/linux/man-pages/man3/mq_open.3.html),
//! [mq_send(3)](https://man7.org/linux/man-pages/man3/mq_send.3.html),
//! [mq_receive(3)](https://man7.org/linux/man-pages/man3/mq_receive.3.html).

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, ErrorKind, Object, Result};
use crate::limits::Limit;
use crate::perm::Mode;
use crate::sys::{self, Errno, posix_mq::RawAttr};
use crate::sysv::Ownership;
use crate::wait::Wait;

mod notify;
pub use notify::Notification;
#[cfg(feature = "tokio")]
mod async_queue;
#[cfg(feature = "tokio")]
pub use async_queue::AsyncMessageQueue;

/// The size of a new queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueueAttr {
    /// Most messages the queue holds (`mq_maxmsg`).
    pub maxmsg: usize,
    /// Largest message, in bytes (`mq_msgsize`).
    pub msgsize: usize,
}

/// What a receive got: the message's length in the caller's buffer and its priority.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// How many bytes were written to the buffer.
    pub len: usize,
    /// The message's priority.
    pub priority: u32,
}

/// A queue's current attributes (`mq_getattr`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStatus {
    /// Most messages the queue holds.
    pub maxmsg: usize,
    /// Largest message, in bytes.
    pub msgsize: usize,
    /// Messages now in the queue.
    pub curmsgs: usize,
    /// Whether this descriptor is non-blocking (`O_NONBLOCK`).
    pub nonblocking: bool,
}

/// A handle on a POSIX message queue (an open queue descriptor).
pub struct MsgQueue {
    fd: OwnedFd,
    name: String,
    c_name: CString,
    own: Ownership,
    msgsize: usize,
}

impl fmt::Debug for MsgQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgQueue")
            .field("name", &self.name)
            .field("fd", &self.fd)
            .field("msgsize", &self.msgsize)
            .field("created", &self.own.created())
            .finish()
    }
}

impl MsgQueue {
    /// `mq_open(name, O_CREAT | O_EXCL | O_RDWR, mode, attr)`—Creates a new queue;
    /// fails if the name is taken.
    ///
    /// The queue gets exactly `mode`: `mq_open` applies the process umask (022 turns
    /// 0666 into 0644), so the mode is set again with `fchmod` after creation; if that
    /// fails the new queue is unlinked again.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a bad name (empty, too long, or with a `/` after the
    /// first character); [`ErrorKind::AlreadyExists`] when the name is taken;
    /// [`ErrorKind::LimitExceeded`] for a capacity or message size above
    /// `/proc/sys/fs/mqueue/msg_max` / `msgsize_max` (without `CAP_SYS_RESOURCE`), or when
    /// the user already has `/proc/sys/fs/mqueue/queues_max` queues or its `RLIMIT_MSGQUEUE`
    /// is used up.
    #[doc(alias = "mq_open")]
    pub fn create(name: &str, attr: QueueAttr, mode: Mode) -> Result<MsgQueue> {
        let (full, c) = super::c_name("mq_open", name)?;
        let raw = RawAttr { flags: 0, maxmsg: attr.maxmsg as i64, msgsize: attr.msgsize as i64, curmsgs: 0 };
        let fd =
            sys::posix_mq::mq_open(&c, true, true, true, false, mode.bits(), Some(&raw)).map_err(|e| {
                let err = open_error(&full, e);
                if e == Errno::EINVAL || e == Errno::EMFILE {
                    let maxmsg = Limit::MqMsgMax.current().unwrap_or(u64::MAX);
                    let msgsize = Limit::MqMsgSizeMax.current().unwrap_or(u64::MAX);
                    if attr.maxmsg as u64 > maxmsg {
                        return err
                            .with_limit(Limit::MqMsgMax, format!("a queue of {} messages", attr.maxmsg));
                    }
                    if attr.msgsize as u64 > msgsize {
                        return err
                            .with_limit(Limit::MqMsgSizeMax, format!("messages of {} bytes", attr.msgsize));
                    }
                }
                if e == Errno::ENOSPC {
                    return err.with_limit(Limit::MqQueuesMax, "the number of queues");
                }
                err
            })?;
        let mut q = MsgQueue { fd, name: full, c_name: c, own: Ownership::new(true), msgsize: 0 };
        if let Err(e) = sys::mman::fchmod(q.fd.as_fd(), mode.bits()) {
            let _ = sys::posix_mq::mq_unlink(&q.c_name);
            return Err(
                Error::sys("fchmod", q.obj(), e).with_detail("setting the new queue's mode past the umask")
            );
        }
        q.msgsize = q.status()?.msgsize;
        Ok(q)
    }

    /// `mq_open(name, O_RDWR)`—Opens an existing queue.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when no queue has the name; [`ErrorKind::PermissionDenied`]
    /// when its mode refuses reading and writing; [`ErrorKind::InvalidInput`] for a bad
    /// name.
    pub fn open(name: &str) -> Result<MsgQueue> {
        let (full, c) = super::c_name("mq_open", name)?;
        let fd = sys::posix_mq::mq_open(&c, false, true, true, false, 0, None)
            .map_err(|e| open_error(&full, e))?;
        let mut q = MsgQueue { fd, name: full, c_name: c, own: Ownership::new(false), msgsize: 0 };
        q.msgsize = q.status()?.msgsize;
        Ok(q)
    }

    /// Takes ownership of a queue descriptor received from another process (over a
    /// Unix socket, say), after checking with `mq_getattr` that it is one. The handle
    /// never unlinks anything; `label` names it in errors (the queue's name if known).
    ///
    /// Fails with [`ErrorKind::WrongType`] for a descriptor of anything else.
    pub fn from_fd(fd: OwnedFd, label: &str) -> Result<MsgQueue> {
        let name = label.to_string();
        let a = sys::posix_mq::mq_getattr(fd.as_fd()).map_err(|e| {
            let err = Error::sys("mq_getattr", Object::Name(name.clone()), e);
            if e == Errno::EBADF {
                err.with_kind(ErrorKind::WrongType).with_detail("the descriptor is not a POSIX message queue")
            } else {
                err
            }
        })?;
        let c_name = CString::new(name.replace('\0', "")).unwrap_or_default();
        Ok(MsgQueue { fd, name, c_name, own: Ownership::new(false), msgsize: a.msgsize as usize })
    }

    /// The queue's name (`/name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The largest message this queue carries, in bytes.
    pub fn msgsize(&self) -> usize {
        self.msgsize
    }

    fn obj(&self) -> Object {
        Object::Name(self.name.clone())
    }

    /// Asks for the name to be unlinked when this handle is dropped (creators only).
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        let obj = self.obj();
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", obj)
    }

    /// `mq_unlink(name)`—Removes the name now; open descriptors keep working.
    #[doc(alias = "mq_unlink")]
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        sys::posix_mq::mq_unlink(&self.c_name).map_err(|e| open_error(&self.name, e))
    }

    /// `mq_unlink(name)`—Removes a queue this process holds no handle on.
    pub fn unlink(name: &str) -> Result<()> {
        let (full, c) = super::c_name("mq_unlink", name)?;
        sys::posix_mq::mq_unlink(&c).map_err(|e| open_error(&full, e))
    }

    /// `fstat`—The queue's permission bits.
    pub fn mode(&self) -> Result<Mode> {
        sys::mman::fstat_size_mode(self.fd.as_fd())
            .map(|(_, m)| Mode::new(m))
            .map_err(|e| Error::sys("fstat", self.obj(), e))
    }

    /// `mq_getattr`—The queue's attributes and how many messages it holds.
    #[doc(alias = "mq_getattr")]
    pub fn status(&self) -> Result<QueueStatus> {
        let a = sys::posix_mq::mq_getattr(self.fd.as_fd())
            .map_err(|e| Error::sys("mq_getattr", self.obj(), e))?;
        Ok(QueueStatus {
            maxmsg: a.maxmsg.max(0) as usize,
            msgsize: a.msgsize.max(0) as usize,
            curmsgs: a.curmsgs.max(0) as usize,
            nonblocking: a.flags & sys::posix_mq::O_NONBLOCK != 0,
        })
    }

    /// `mq_send(fd, data, prio)`—Sends, waiting while the queue is full.
    #[doc(alias = "mq_send")]
    pub fn send(&self, data: &[u8], prio: u32) -> Result<()> {
        self.send_with(data, prio, Wait::Block)
    }

    /// Sends if there is room now; [`ErrorKind::WouldBlock`] (nothing sent) if the
    /// queue is full.
    pub fn try_send(&self, data: &[u8], prio: u32) -> Result<()> {
        self.send_with(data, prio, Wait::NoWait)
    }

    /// Sends, waiting at most `timeout` for room; [`ErrorKind::TimedOut`] on timeout.
    pub fn send_timeout(&self, data: &[u8], prio: u32, timeout: Duration) -> Result<()> {
        self.send_with(data, prio, Wait::Timeout(timeout))
    }

    /// Sends, waiting until `deadline` for room; [`ErrorKind::TimedOut`] if it passed.
    pub fn send_deadline(&self, data: &[u8], prio: u32, deadline: Instant) -> Result<()> {
        self.send_with(data, prio, Wait::Deadline(deadline))
    }

    /// `mq_timedsend`—Sends, waiting as `wait` says; "not now"
    /// ([`Error::is_not_now`]) if it ran out of time.
    ///
    /// # Errors
    ///
    /// "Not now" ([`ErrorKind::WouldBlock`] or [`ErrorKind::TimedOut`]) when the queue
    /// stayed full, with nothing sent; [`ErrorKind::MessageTooLarge`] for a message longer
    /// than the queue's message size; [`ErrorKind::InvalidInput`] for a priority at or
    /// above `MQ_PRIO_MAX`;
    /// [`ErrorKind::Interrupted`] when a signal ends the wait.
    #[doc(alias = "mq_timedsend")]
    pub fn send_with(&self, data: &[u8], prio: u32, wait: Wait) -> Result<()> {
        self.check_send_len(data)?;
        loop {
            match sys::posix_mq::mq_send(self.fd.as_fd(), data, prio, abs_deadline(wait)) {
                Ok(()) => return Ok(()),
                Err(Errno::ETIMEDOUT) => return Err(wait.not_now("mq_send")),
                Err(Errno::EINTR) if wait == Wait::Block => continue,
                Err(e) => return Err(Error::sys("mq_send", self.obj(), e)),
            }
        }
    }

    /// `mq_receive(fd, buf)`—Receives the oldest message of the highest priority,
    /// waiting for one; returns its length and priority ([`Received`]). `buf` must hold at least
    /// [`msgsize`](Self::msgsize) bytes.
    #[doc(alias = "mq_receive")]
    pub fn recv(&self, buf: &mut [u8]) -> Result<Received> {
        self.recv_with(buf, Wait::Block)
    }

    /// Receives if a message is there now; [`ErrorKind::WouldBlock`] if the queue is
    /// empty.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Received> {
        self.recv_with(buf, Wait::NoWait)
    }

    /// Receives, waiting at most `timeout`; [`ErrorKind::TimedOut`] on timeout.
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Received> {
        self.recv_with(buf, Wait::Timeout(timeout))
    }

    /// Receives, waiting until `deadline`; [`ErrorKind::TimedOut`] if it passed.
    pub fn recv_deadline(&self, buf: &mut [u8], deadline: Instant) -> Result<Received> {
        self.recv_with(buf, Wait::Deadline(deadline))
    }

    /// `mq_timedreceive`—Receives, waiting as `wait` says; "not now"
    /// ([`Error::is_not_now`]) if it ran out of time.
    ///
    /// # Errors
    ///
    /// "Not now" ([`ErrorKind::WouldBlock`] or [`ErrorKind::TimedOut`]) when the queue
    /// stayed empty; [`ErrorKind::InvalidInput`] when `buf` is shorter than the queue's
    /// message size (checked before receiving, so nothing is taken);
    /// [`ErrorKind::Interrupted`] when a signal ends the wait.
    #[doc(alias = "mq_timedreceive")]
    pub fn recv_with(&self, buf: &mut [u8], wait: Wait) -> Result<Received> {
        self.check_recv_buf(buf)?;
        loop {
            match sys::posix_mq::mq_receive(self.fd.as_fd(), buf, abs_deadline(wait)) {
                Ok((len, priority)) => return Ok(Received { len, priority }),
                Err(Errno::ETIMEDOUT) => return Err(wait.not_now("mq_receive")),
                Err(Errno::EINTR) if wait == Wait::Block => continue,
                Err(e) => return Err(Error::sys("mq_receive", self.obj(), e)),
            }
        }
    }
}

impl MsgQueue {
    fn check_send_len(&self, data: &[u8]) -> Result<()> {
        if data.len() > self.msgsize {
            return Err(Error::new("mq_send", self.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
                "a message of {} bytes exceeds the queue's msgsize of {}",
                data.len(),
                self.msgsize
            )));
        }
        Ok(())
    }

    fn check_recv_buf(&self, buf: &[u8]) -> Result<()> {
        if buf.len() < self.msgsize {
            return Err(Error::new("mq_receive", self.obj(), ErrorKind::InvalidInput).with_detail(format!(
                "the buffer of {} bytes is smaller than the queue's msgsize of {} (EMSGSIZE)",
                buf.len(),
                self.msgsize
            )));
        }
        Ok(())
    }
}

/// The absolute `CLOCK_REALTIME` deadline for `mq_timed*`, or `None` to block.
/// `NoWait` becomes a deadline in the past: the call returns `ETIMEDOUT` at once
/// if it would block.
fn abs_deadline(wait: Wait) -> Option<SystemTime> {
    let left = match wait {
        Wait::Block => return None,
        Wait::NoWait => return Some(SystemTime::UNIX_EPOCH),
        Wait::Timeout(d) => d,
        Wait::Deadline(t) => t.saturating_duration_since(Instant::now()),
    };
    Some(
        SystemTime::now()
            .checked_add(left)
            .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(i32::MAX as u64)),
    )
}

impl AsFd for MsgQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for MsgQueue {
    /// Unlinks the name if asked for; errors are ignored (use [`remove`](Self::remove)).
    fn drop(&mut self) {
        if self.own.should_remove() {
            let _ = sys::posix_mq::mq_unlink(&self.c_name);
        }
    }
}

fn open_error(name: &str, e: Errno) -> Error {
    let err = Error::sys("mq_open", Object::Name(name.to_string()), e);
    match e {
        Errno::ENOENT => err.with_detail("no message queue has this name"),
        Errno::EEXIST => err.with_detail("a message queue with this name already exists"),
        Errno::EACCES => err.with_detail("the queue's permissions refuse this access"),
        _ => err,
    }
}
