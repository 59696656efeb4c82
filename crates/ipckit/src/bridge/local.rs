//! The local end of a bridge: the object messages are taken from (exporter) or put
//! into (importer), behind one small interface so the NATS side does not care which.
//!
//! A System V queue can be read without removing (`MSG_COPY`), so the exporter
//! publishes first and removes after the server's acknowledgement. A POSIX queue
//! cannot: each message is taken and appended to a spool file, then published (see the
//! module docs of [`bridge`](super) for the window this leaves). A FIFO is read
//! without removing through `tee` (see [`FifoEnd`]), a channel by reading its ring
//! in place (see [`ChannelEnd`]).

use std::os::fd::{AsFd, OwnedFd};

use super::channel::ChannelEnd;
use super::fifo::FifoEnd;
use super::landing::Landing;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::limits::Limit;
use crate::posix::mq;
use crate::sysv::msg::{MsgQueue, Oversize, Select};
use crate::wait::Wait;

/// One local message: its body and its tag (the System V type, or the POSIX
/// priority; 0 where the object has neither: a FIFO, a channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMessage {
    /// System V `mtype` or POSIX priority.
    pub tag: i64,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// A local object a bridge carries messages from or to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Local {
    /// A System V message queue: the tag is the message type.
    SysvQueue(MsgQueue),
    /// A POSIX message queue: the tag is the priority.
    PosixQueue(mq::MsgQueue),
    /// A FIFO, framed by newline or by length: no tag.
    Fifo(FifoEnd),
    /// One end of an ipckit channel: no tag.
    Channel(ChannelEnd),
}

impl Local {
    /// What kind of object this is, as the `Ipckit-Kind` header says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Local::SysvQueue(_) => "sysv",
            Local::PosixQueue(_) => "posix",
            Local::Fifo(_) => "fifo",
            Local::Channel(_) => "channel",
        }
    }

    /// The object, for error messages.
    pub fn object(&self) -> Object {
        match self {
            Local::SysvQueue(q) => Object::KeyId(q.key(), q.id()),
            Local::PosixQueue(q) => Object::Name(q.name().to_string()),
            Local::Fifo(f) => f.object(),
            Local::Channel(c) => c.object(),
        }
    }

    /// The largest body this object takes, and the limit that sets it.
    pub fn max_body(&self) -> (usize, String) {
        match self {
            Local::SysvQueue(q) => {
                let msgmax = Limit::MsgMax.current().unwrap_or(8192);
                let qbytes = q.stat().map(|s| s.qbytes).unwrap_or(msgmax);
                if qbytes < msgmax {
                    (qbytes as usize, format!("{qbytes} bytes (the queue's msg_qbytes)"))
                } else {
                    (msgmax as usize, format!("{msgmax} bytes (msgmax, /proc/sys/kernel/msgmax)"))
                }
            }
            Local::PosixQueue(q) => (q.msgsize(), format!("{} bytes (the queue's mq_msgsize)", q.msgsize())),
            Local::Fifo(f) => f.max_body(),
            Local::Channel(c) => c.max_body(),
        }
    }

    /// Whether messages can be read without removing them.
    pub(crate) fn peekable(&self) -> bool {
        match self {
            Local::SysvQueue(_) => true,
            Local::Fifo(f) => f.is_reader(),
            Local::Channel(c) => c.is_receiver(),
            Local::PosixQueue(_) => false,
        }
    }

    /// Whether nothing more can come out of the object (a channel whose sender
    /// closed its end, every message taken).
    pub(crate) fn finished(&self) -> bool {
        matches!(self, Local::Channel(c) if c.finished())
    }

    /// Whether `msg` can be put into the object at all (a newline in a message is
    /// refused by a line-framed FIFO).
    pub(crate) fn check(&self, msg: &LocalMessage) -> Result<()> {
        match self {
            Local::Fifo(f) => f.check(msg),
            _ => Ok(()),
        }
    }

    /// A descriptor the kernel marks readable when a message may have come in (a
    /// duplicate, on the same open file), for the objects that have one: a Linux
    /// POSIX queue's (readable while it holds a message, see mq_overview(7)) and the
    /// exporter's end of a FIFO (at each write). `None` for a System V queue (no
    /// descriptor; `MSG_COPY` cannot wait) and a channel.
    pub(crate) fn arrivals(&self) -> Result<Option<OwnedFd>> {
        let fd = match self {
            Local::PosixQueue(q) => q.as_fd().try_clone_to_owned(),
            Local::Fifo(f) => match f.arrivals() {
                Some(fd) => fd,
                None => return Ok(None),
            },
            Local::SysvQueue(_) | Local::Channel(_) => return Ok(None),
        };
        fd.map(Some).map_err(|e| Error::io("fcntl(F_DUPFD_CLOEXEC)", self.object(), &e))
    }

    /// How many messages the object holds, where that is cheaper to ask than a
    /// [`peek`](Self::peek) that finds nothing: a System V queue's `msg_qnum`
    /// (`msgctl(IPC_STAT)`), where an empty `msgrcv(MSG_COPY)` costs the kernel a
    /// copy of the whole receive buffer (`msgmax` bytes) all the same. `None` for the
    /// other objects.
    pub(crate) fn count(&self) -> Result<Option<usize>> {
        match self {
            Local::SysvQueue(q) => Ok(Some(usize::try_from(q.stat()?.qnum).unwrap_or(usize::MAX))),
            _ => Ok(None),
        }
    }

    /// Copies the message at `index` (0 = the next one out) without removing it.
    pub(crate) fn peek(&self, index: usize, buf: &mut Vec<u8>) -> Result<Option<LocalMessage>> {
        match self {
            // `msgrcv(MSG_COPY)` makes the kernel copy in as many bytes as the buffer
            // holds, whatever the message's size: a small buffer first (most messages
            // fit), the whole one when the message is larger.
            Local::SysvQueue(q) => {
                let mut room = PEEK_FIRST.min(buf.len());
                loop {
                    match q.peek(index, &mut buf[..room]) {
                        Ok(None) => return Ok(None),
                        Ok(Some(r)) => {
                            return Ok(Some(LocalMessage { tag: r.mtype, body: buf[..r.len].to_vec() }));
                        }
                        Err(e) if e.kind() == ErrorKind::MessageTooLarge => {
                            if room == buf.len() {
                                // Larger than msgmax when the bridge started: it rose.
                                let bigger = buf.len().max(64) * 2;
                                buf.resize(bigger, 0);
                            }
                            room = buf.len();
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Local::Fifo(f) => f.peek(index),
            Local::Channel(c) => c.peek(index),
            Local::PosixQueue(_) => Err(self.unsupported("peek")),
        }
    }

    /// Removes the next message (of a `len`-byte body), which the caller has seen with
    /// [`peek`](Self::peek): a System V queue's or a FIFO's into `landing` (see
    /// `landing.rs`; a FIFO has no other way), a channel's by freeing it.
    pub(crate) fn remove_next(
        &self,
        landing: Option<&mut Landing>,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<Option<LocalMessage>> {
        match (self, landing) {
            (Local::SysvQueue(q), Some(l)) => l.remove_next(q, len),
            (Local::Fifo(f), Some(l)) => f.remove_next(l),
            (Local::Fifo(_), None) => Err(self.unsupported("remove a frame without a landing")),
            (Local::Channel(c), _) => c.remove_next(),
            _ => self.take(None, 0, buf),
        }
    }

    /// Takes the next message out, if there is one now: a POSIX queue's into
    /// `landing` when there is one, as the message with id number `id` (see
    /// `landing.rs`; [`Landing::release`] follows once it is written down).
    pub(crate) fn take(
        &self,
        landing: Option<&mut Landing>,
        id: u64,
        buf: &mut Vec<u8>,
    ) -> Result<Option<LocalMessage>> {
        match (self, landing) {
            (Local::PosixQueue(q), Some(l)) => l.catch(q, id),
            (Local::SysvQueue(q), _) => loop {
                match q.recv_with(buf, Select::Any, Oversize::Refuse, Wait::NoWait) {
                    Err(e) if e.is_not_now() => return Ok(None),
                    Ok(r) => {
                        return Ok(Some(LocalMessage { tag: r.mtype, body: buf[..r.len].to_vec() }));
                    }
                    Err(e) if e.kind() == ErrorKind::MessageTooLarge => {
                        let bigger = buf.len().max(64) * 2;
                        buf.resize(bigger, 0);
                    }
                    Err(e) => return Err(e),
                }
            },
            (Local::PosixQueue(q), None) => {
                if buf.len() < q.msgsize() {
                    buf.resize(q.msgsize(), 0);
                }
                match q.try_recv(buf) {
                    Ok(r) => {
                        Ok(Some(LocalMessage { tag: i64::from(r.priority), body: buf[..r.len].to_vec() }))
                    }
                    Err(e) if e.is_not_now() => Ok(None),
                    Err(e) => Err(e),
                }
            }
            (Local::Channel(c), _) => c.take(buf),
            (Local::Fifo(_), _) => Err(self.unsupported("be taken from without a look first")),
        }
    }

    /// Puts a message in if there is room now; `false` when the object is full.
    pub(crate) fn try_put(&self, msg: &LocalMessage) -> Result<bool> {
        match self {
            Local::SysvQueue(q) => {
                let mtype = if msg.tag > 0 { msg.tag } else { 1 };
                ready(q.send_with(&msg.body, mtype, Wait::NoWait))
            }
            Local::PosixQueue(q) => {
                let prio = u32::try_from(msg.tag.max(0)).unwrap_or(u32::MAX);
                ready(q.send_with(&msg.body, prio, Wait::NoWait))
            }
            Local::Fifo(f) => f.try_put(msg),
            Local::Channel(c) => c.try_put(msg),
        }
    }

    /// Puts a message in like [`try_put`](Self::try_put), calling `record` first
    /// with a mark that tells afterwards whether the message went out. Into a channel
    /// the room is reserved first and the mark is its position
    /// ([`was_put`](Self::was_put) reads it). Queues and FIFOs keep no such evidence:
    /// the mark is 0, and `record` is called before every attempt, so after `false`
    /// (full) the caller undoes the record unless [`put_begun`](Self::put_begun).
    pub(crate) fn try_put_marked(
        &self,
        msg: &LocalMessage,
        record: &mut dyn FnMut(u64) -> Result<()>,
    ) -> Result<bool> {
        match self {
            Local::Channel(c) => c.try_put_marked(msg, record),
            _ => {
                record(0)?;
                self.try_put(msg)
            }
        }
    }

    /// Whether the message an importer was putting in when it was killed went in,
    /// from the mark it recorded ([`try_put_marked`](Self::try_put_marked)):
    /// `Some` where the object can tell (a channel), `None` where it cannot (a
    /// queue or FIFO whose reader may have taken the message already).
    pub(crate) fn was_put(&self, mark: u64) -> Result<Option<bool>> {
        match self {
            Local::Channel(c) => c.was_put(mark).map(Some),
            _ => Ok(None),
        }
    }

    /// Whether `msg` would fit now, where the object says so cheaply: a System V
    /// queue by its byte and message counts (`msgsnd`'s own test), a POSIX queue by
    /// its message count. `None` for a FIFO and a channel (only a put can tell). An
    /// importer waiting for room asks before each retry, so that it records
    /// "putting" only for a put that may go in.
    pub(crate) fn has_room(&self, msg: &LocalMessage) -> Result<Option<bool>> {
        match self {
            Local::SysvQueue(q) => {
                let st = q.stat()?;
                let len = msg.body.len() as u64;
                Ok(Some(st.cbytes + len <= st.qbytes && st.qnum < st.qbytes))
            }
            Local::PosixQueue(q) => {
                let st = q.status()?;
                Ok(Some(st.curmsgs < st.maxmsg))
            }
            Local::Fifo(_) | Local::Channel(_) => Ok(None),
        }
    }

    /// Whether part of the message being put in is already in the object although
    /// [`try_put`](Self::try_put) said `false`: a FIFO frame larger than `PIPE_BUF`
    /// written in pieces.
    pub(crate) fn put_begun(&self) -> bool {
        match self {
            Local::Fifo(f) => f.put_begun(),
            _ => false,
        }
    }

    fn unsupported(&self, what: &str) -> Error {
        Error::new("bridge", self.object(), ErrorKind::Unsupported)
            .with_detail(format!("{} objects cannot {what}", self.kind()))
    }
}

/// The receive buffer of a System V queue's first copy of a message (see
/// [`Local::peek`]).
const PEEK_FIRST: usize = 512;

/// A non-waiting call's outcome as "done" (`true`) or "not now" (`false`).
fn ready(r: Result<()>) -> Result<bool> {
    Ok(crate::NotNow::now(r)?.is_some())
}
