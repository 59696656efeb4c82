//! Many to one: any number of senders, joining and leaving at any time, to one
//! receiver, which takes their messages in turn.
//!
//! Each sender claims a slot with a ring of its own (at most
//! [`PatternConfig::with_max_members`] at once); the receiver scans the slots
//! round-robin, so a busy sender cannot starve the others. A sender that dies in the
//! middle of a message leaves a record without a stamp, which is never read: the
//! receiver and the other senders carry on, and the receiver frees the dead sender's
//! slot (after taking every message it had published) within 50 ms of its next wait.
//! The protocol contract (layout, who writes what, every acquire/release pair) is at
//! the top of `channel/hub.rs`.
//!
//! ```
//! use ipckit::channel::{PatternConfig, merge::Merge};
//! use ipckit::process;
//!
//! let m = Merge::create_memfd(&PatternConfig::new().with_capacity(16 * 1024))?;
//! let mut rx = m.receiver()?;
//! let mut kids = Vec::new();
//! for k in 0..3u8 {
//!     // SAFETY: this example is single-threaded.
//!     kids.push(unsafe {
//!         process::fork_with(|| {
//!             let mut tx = m.sender().unwrap();
//!             tx.send(&[k]).unwrap();
//!             0
//!         })
//!     }?);
//! }
//! let mut seen = [false; 3];
//! let mut buf = [0u8; 16];
//! for _ in 0..3 {
//!     let got = rx.recv(&mut buf)?;
//!     seen[buf[0] as usize] = true;
//!     assert_eq!(got.len, 1);
//! }
//! assert_eq!(seen, [true; 3]);
//! for k in kids { assert!(k.wait()?.success()); }
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! "Nothing now" is an error: [`ErrorKind::WouldBlock`]
//! from `try_*`, [`ErrorKind::TimedOut`] from `*_timeout` and
//! `*_deadline`. The receiver never reports `Disconnected` (senders may join at any
//! time; [`Receiver::senders`] says how many are connected); a sender gets
//! `Disconnected` once the receiver closed or died.
//!
//! References: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`/proc/PID/stat`).

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::hub::{Base, Hub, MERGE, Member, Origin};
use super::mem::Segment;
use super::ring::{Record, RingData};
use super::table::{self, PatternConfig};
use super::wait::WaitStrategy;
use crate::error::{Error, ErrorKind, Result};
use crate::perm::Mode;
use crate::posix::shm::ShmObject;
use crate::wait::Wait;

/// A many-to-one channel in shared memory: take one [`Receiver`] and any number of
/// [`Sender`]s (up to the configured number at once).
pub struct Merge {
    base: Arc<Base>,
}

impl fmt::Debug for Merge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merge")
            .field("name", &self.base.seg.label())
            .field("capacity", &self.base.plan.geometry.capacity)
            .field("max_senders", &self.base.plan.slots)
            .finish()
    }
}

impl Merge {
    fn new(seg: Segment, create: Option<&PatternConfig>) -> Result<Merge> {
        let plan = create.map(|c| table::plan_for(MERGE, c, 0)).transpose()?;
        let (seg, plan) = table::setup(MERGE, seg, plan)?;
        Ok(Merge { base: Arc::new(Base { seg, plan, shape: MERGE }) })
    }

    /// Creates a channel in an anonymous memfd (`memfd_create`), shared with `fork`ed
    /// children or passed as a descriptor ([`fd`](Self::fd)).
    pub fn create_memfd(config: &PatternConfig) -> Result<Merge> {
        let plan = table::plan_for(MERGE, config, 0)?;
        Merge::new(Segment::create_memfd("ipckit-merge", plan.total_size)?, Some(config))
    }

    /// Creates a channel in a new named POSIX object (`shm_open(name, O_CREAT | O_EXCL)`).
    pub fn create_named(name: &str, config: &PatternConfig, mode: Mode) -> Result<Merge> {
        let plan = table::plan_for(MERGE, config, 0)?;
        Merge::new(Segment::create_named("many-to-one channel", name, plan.total_size, mode)?, Some(config))
    }

    /// Opens the channel in a named POSIX object; checks its header.
    pub fn open_named(name: &str) -> Result<Merge> {
        Merge::new(Segment::open_named("many-to-one channel", name)?, None)
    }

    /// Opens the channel in a memfd or POSIX object received as a descriptor.
    pub fn from_fd(fd: OwnedFd) -> Result<Merge> {
        Merge::new(Segment::from_fd("many-to-one channel", fd)?, None)
    }

    /// The descriptor of the shared-memory object.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.base.seg.fd()
    }

    /// The shared-memory object.
    pub fn shm_object(&self) -> &ShmObject {
        self.base.seg.object()
    }

    /// Bytes of each sender's ring.
    pub fn capacity(&self) -> usize {
        self.base.plan.geometry.capacity as usize
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.base.plan.max_payload(MERGE) as usize
    }

    /// How many senders may be connected at once.
    pub fn max_senders(&self) -> usize {
        self.base.plan.slots as usize
    }

    /// Takes a sender's slot. [`ErrorKind::LimitExceeded`] if all are taken,
    /// [`ErrorKind::Disconnected`] if the receiver has closed.
    pub fn sender(&self) -> Result<Sender> {
        Ok(Sender { member: Member::join(Arc::clone(&self.base), "sender")? })
    }

    /// Takes the receiving end; [`ErrorKind::AlreadyExists`] if a process took it before.
    pub fn receiver(&self) -> Result<Receiver> {
        Ok(Receiver { hub: Hub::new(Arc::clone(&self.base), "receiver")? })
    }
}

/// A sending end of a [`Merge`]: one slot, with its ring.
pub struct Sender {
    member: Member,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("slot", &self.member.slot).finish()
    }
}

impl Sender {
    /// This sender's slot number (0-based; what [`Received::sender`] reports).
    pub fn slot(&self) -> usize {
        self.member.slot
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.member.base.plan.max_payload(MERGE) as usize
    }

    /// Sets how this end waits for room.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.member.strategy = strategy;
    }

    /// Whether the receiver closed its end, or its process is gone.
    pub fn is_disconnected(&self) -> bool {
        self.member.hub_gone()
    }

    /// Sends `data`, waiting for room.
    #[inline]
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, Wait::Block)
    }

    /// Sends if there is room now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, Wait::NoWait)
    }

    /// Sends, waiting at most `timeout` for room; [`ErrorKind::TimedOut`] if none came.
    pub fn send_timeout(&mut self, data: &[u8], timeout: Duration) -> Result<()> {
        self.send_with(data, Wait::Timeout(timeout))
    }

    /// Sends, waiting until `deadline` for room; [`ErrorKind::TimedOut`] if none came.
    pub fn send_deadline(&mut self, data: &[u8], deadline: Instant) -> Result<()> {
        self.send_with(data, Wait::Deadline(deadline))
    }

    /// Sends, waiting for room as `wait` says.
    ///
    /// Errors: [`ErrorKind::MessageTooLarge`], [`ErrorKind::Disconnected`] once the
    /// receiver is gone, [`ErrorKind::Corrupted`] if the shared index is impossible,
    /// and "not now" as above.
    #[inline]
    pub fn send_with(&mut self, data: &[u8], wait: Wait) -> Result<()> {
        let s = self.member.reserve("send", data.len() as u64, wait)?;
        self.member.up().write(s.off, data);
        self.member.publish(s, data.len() as u64);
        Ok(())
    }

    /// Closes this end and gives its slot back (dropping it does the same); the
    /// receiver still gets every message sent.
    pub fn close(self) {}
}

/// What a receive into a buffer got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The message's length in bytes.
    pub len: usize,
    /// The slot of the sender it came from ([`Sender::slot`]).
    pub sender: usize,
}

/// The receiving end of a [`Merge`].
pub struct Receiver {
    hub: Hub,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("senders", &self.hub.members()).finish()
    }
}

impl Receiver {
    /// The number of senders holding a slot now (closed and dead ones count until the
    /// receiver has taken their messages and freed their slots).
    pub fn senders(&self) -> usize {
        self.hub.members()
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.hub.base.plan.max_payload(MERGE) as usize
    }

    /// Sets how this end waits for messages.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.hub.strategy = strategy;
    }

    /// Receives a message into `buf`, waiting for one.
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Received> {
        self.recv_with(buf, Wait::Block)
    }

    /// Receives if a message is there now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<Received> {
        self.recv_with(buf, Wait::NoWait)
    }

    /// Receives, waiting at most `timeout`; [`ErrorKind::TimedOut`] if nothing came.
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Received> {
        self.recv_with(buf, Wait::Timeout(timeout))
    }

    /// Receives, waiting until `deadline`; [`ErrorKind::TimedOut`] if nothing came.
    pub fn recv_deadline(&mut self, buf: &mut [u8], deadline: Instant) -> Result<Received> {
        self.recv_with(buf, Wait::Deadline(deadline))
    }

    /// Receives into `buf`, waiting as `wait` says; senders take turns.
    ///
    /// Errors: [`ErrorKind::MessageTooLarge`] if `buf` is too small (the message stays;
    /// the error gives its size), [`ErrorKind::Corrupted`] once for a sender's slot
    /// whose memory breaks the protocol (the slot is then ignored until that sender
    /// leaves; the others carry on), and "not now" as above.
    #[inline]
    pub fn recv_with(&mut self, buf: &mut [u8], wait: Wait) -> Result<Received> {
        let (o, rec) = self.hub.next("recv", wait)?;
        if rec.len as usize > buf.len() {
            return Err(Error::new("recv", self.hub.base.seg.obj(), ErrorKind::MessageTooLarge).with_detail(
                format!(
                    "the next message has {} bytes, the buffer {}; it stays in the channel",
                    rec.len,
                    buf.len()
                ),
            ));
        }
        self.hub.read(o, rec, 0, buf);
        self.hub.release(o, rec);
        Ok(Received { len: rec.len as usize, sender: o.slot as usize })
    }

    /// Receives a message into a new `Vec`, waiting as `wait` says; with its sender's slot.
    pub fn recv_vec_with(&mut self, wait: Wait) -> Result<(Vec<u8>, usize)> {
        let (o, rec) = self.hub.next("recv", wait)?;
        let mut v = vec![0u8; rec.len as usize];
        self.hub.read(o, rec, 0, &mut v);
        self.hub.release(o, rec);
        Ok((v, o.slot as usize))
    }

    /// Waits for a message and returns a guard that reads it in place, in its sender's
    /// ring; the message is freed when the guard is dropped.
    pub fn recv_in_place_with(&mut self, wait: Wait) -> Result<RecvGuard<'_>> {
        let (origin, rec) = self.hub.next("recv", wait)?;
        Ok(RecvGuard { receiver: self, origin, rec })
    }

    /// Closes the receiving end (dropping it does the same): senders get
    /// [`ErrorKind::Disconnected`].
    pub fn close(self) {}
}

/// A message read where it lies in its sender's ring; freed when dropped.
#[must_use = "the message is freed when the guard is dropped"]
pub struct RecvGuard<'a> {
    receiver: &'a mut Receiver,
    origin: Origin,
    rec: Record,
}

impl fmt::Debug for RecvGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvGuard").field("sender", &self.origin.slot).field("len", &self.rec.len).finish()
    }
}

impl RecvGuard<'_> {
    /// The message's length.
    pub fn len(&self) -> usize {
        self.rec.len as usize
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.rec.len == 0
    }

    /// The slot of the sender.
    pub fn sender(&self) -> usize {
        self.origin.slot as usize
    }

    /// The message copied into a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.rec.len as usize];
        self.receiver.hub.read(self.origin, self.rec, 0, &mut v);
        v
    }

    /// The start of the message, valid for [`len`](Self::len) bytes while the guard
    /// lives; read through it with raw-pointer reads or copies (another process maps
    /// this memory).
    pub fn as_ptr(&self) -> *const u8 {
        self.receiver.hub.ptr(self.origin, self.rec)
    }
}

impl Drop for RecvGuard<'_> {
    fn drop(&mut self) {
        self.receiver.hub.release(self.origin, self.rec);
    }
}
