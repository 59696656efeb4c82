//! A subscribing end of a publish/subscribe channel: it waits for admission, then reads
//! every record in place, pinning its head while it reads so that a publisher dropping
//! old records never overwrites the one being read. The protocol is described in the
//! module contract (`pubsub/mod.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::channel::hub::Base;
use crate::channel::layout::ROLE_CLOSED;
use crate::channel::peer;
use crate::channel::raw::RawRing;
use crate::channel::ring::{self, Consumer, Record, RingData};
use crate::channel::slot::{self, FLAGS, JOINING};
use crate::channel::sync::{AtomicU64, Ordering};
use crate::channel::table;
use crate::channel::wait::{self, Outcome, WaitStrategy};
use crate::error::{Error, ErrorKind, Result};
use crate::wait::Wait;

/// What a receive into a buffer got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The message's length in bytes.
    pub len: usize,
    /// Its sequence number (the publisher's count of messages before it).
    pub seq: u64,
    /// How many messages this subscriber missed just before it (dropped for it with
    /// [`Overflow::DropOldest`](crate::channel::Overflow::DropOldest)); 0 otherwise.
    pub missed: u64,
}

/// A subscribing end of a [`PubSub`](super::PubSub).
pub struct Subscriber {
    base: Arc<Base>,
    ring: RawRing,
    cons: Consumer,
    scratch: AtomicU64,
    pos: u64,
    admitted: bool,
    next_seq: Option<u64>,
    missed_total: u64,
    slot: usize,
    strategy: WaitStrategy,
    pid: u32,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("slot", &self.slot)
            .field("admitted", &self.admitted)
            .field("missed", &self.missed_total)
            .finish()
    }
}

impl Subscriber {
    /// A subscriber in slot `slot` of `base`, which this process (`pid`) has just
    /// claimed and announced.
    pub(super) fn new(base: Arc<Base>, slot: usize, pid: u32) -> Result<Subscriber> {
        let g = base.plan.geometry;
        Ok(Subscriber {
            ring: base.the_ring()?,
            cons: Consumer::new(g.capacity, g.max_message, g.align),
            scratch: AtomicU64::new(0),
            pos: 0,
            admitted: false,
            next_seq: None,
            missed_total: 0,
            slot,
            strategy: WaitStrategy::default(),
            pid,
            base,
        })
    }

    /// This subscriber's slot number.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Whether the publisher has admitted this subscriber (it then gets every message
    /// from that point on).
    pub fn is_admitted(&self) -> bool {
        self.admitted || {
            let h = self.base.sub_head(self.slot).load(Ordering::Acquire);
            h != JOINING && h & FLAGS == 0
        }
    }

    /// How many messages this subscriber missed in all (with [`Overflow::DropOldest`](crate::channel::Overflow::DropOldest)).
    pub fn missed(&self) -> u64 {
        self.missed_total
    }

    /// Whether the publisher closed its end, or its process is gone.
    pub fn is_disconnected(&self) -> bool {
        peer::is_gone(self.base.publisher_role())
    }

    /// Sets how this end waits for messages.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Receives the next message into `buf`, waiting for one.
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

    /// Receives into `buf`, waiting as `wait` says.
    ///
    /// Errors: [`ErrorKind::MessageTooLarge`] if `buf` is too small (the message stays;
    /// the error gives its size), [`ErrorKind::Disconnected`] once the publisher is
    /// gone and every message was received, [`ErrorKind::Corrupted`], "not now".
    pub fn recv_with(&mut self, buf: &mut [u8], wait: Wait) -> Result<Received> {
        let m = self.recv_in_place_with(wait)?;
        if m.len() > buf.len() {
            let e =
                Error::new("recv", m.sub.base.seg.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
                    "the next message has {} bytes, the buffer {}; it stays in the channel",
                    m.len(),
                    buf.len()
                ));
            m.keep();
            return Err(e);
        }
        let n = m.len();
        m.sub.ring.read(m.rec.off + 8, &mut buf[..n]);
        Ok(Received { len: n, seq: m.seq, missed: m.missed })
    }

    /// Waits for the next message and returns a guard that reads it in place.
    pub fn recv_in_place(&mut self) -> Result<Message<'_>> {
        self.recv_in_place_with(Wait::Block)
    }

    /// A guard on the next message if there is one now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv_in_place(&mut self) -> Result<Message<'_>> {
        self.recv_in_place_with(Wait::NoWait)
    }

    /// A guard on the next message, waiting as `wait` says. While the guard lives,
    /// the publisher does not overwrite the message (it may wait for room): drop it soon.
    pub fn recv_in_place_with(&mut self, wait: Wait) -> Result<Message<'_>> {
        let rec = self.next("recv", wait)?;
        let mut b = [0u8; 8];
        self.ring.read(rec.off, &mut b);
        let seq = u64::from_le_bytes(b);
        let missed = match self.next_seq {
            Some(n) if seq < n => {
                self.release(rec);
                return Err(table::corrupted(
                    "recv",
                    &self.base.seg,
                    format_args!("message {seq} came after message {}", n - 1),
                ));
            }
            Some(n) => seq - n,
            None => 0,
        };
        Ok(Message { sub: self, rec, seq, missed, keep: false })
    }

    /// Leaves (dropping the subscriber does the same).
    pub fn close(self) {}

    #[inline]
    fn next(&mut self, op: &'static str, wait: Wait) -> Result<Record> {
        wait::poll_then(self, self.strategy, wait, |s| s.poll(op, false), |s| s.next_slow(op, wait))
    }

    #[cold]
    #[inline(never)]
    fn next_slow(&mut self, op: &'static str, wait: Wait) -> Result<Record> {
        if let Some(r) = self.poll(op, true)? {
            return Ok(r);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(table::not_now(op, false)),
            w => w.deadline(),
        };
        let base = Arc::clone(&self.base);
        match wait::block(
            self.strategy,
            deadline,
            base.sub_wake(self.slot),
            base.publisher_role(),
            &mut peer::Watch::new(),
            |full| self.poll(op, full),
        )? {
            Outcome::Ready(r) => Ok(r),
            Outcome::TimedOut => Err(table::not_now(op, true)),
            Outcome::PeerGone => match self.poll(op, false)? {
                Some(r) => Ok(r),
                None => Err(table::disconnected(
                    op,
                    &base.seg,
                    "the publisher closed its end, or its process died",
                )),
            },
        }
    }

    /// Looks once for the next message; on success the head stays pinned until the
    /// record is released.
    fn poll(&mut self, op: &'static str, full: bool) -> Result<Option<Record>> {
        let base = &*self.base;
        let head = base.sub_head(self.slot);
        if !self.admitted {
            let h = head.load(Ordering::Acquire);
            if h == JOINING {
                return self.closed_check(op, full).map(|_| None);
            }
            if h & FLAGS != 0 {
                return Err(self.evicted(op));
            }
            self.admitted = true;
            // Written before the admission we just loaded with Acquire.
            self.next_seq = Some(base.sub_first_seq(self.slot).load(Ordering::Relaxed));
            (self.pos, self.cons) = moved_to(base, h);
        }
        // The cheap look: one load of the stamp where the next record goes.
        let g = base.plan.geometry;
        let stamp_here =
            self.ring.word(self.pos & (g.capacity - 1)).load(Ordering::Acquire) == ring::stamp(self.pos);
        if !stamp_here && head.load(Ordering::Relaxed) == self.pos {
            return self.closed_check(op, full).map(|_| None);
        }
        loop {
            match slot::pin(head, self.pos) {
                Ok(()) => break,
                Err(h) if h & FLAGS != 0 => return Err(self.evicted(op)),
                Err(h) if h < self.pos || h % g.align != 0 => {
                    return Err(table::corrupted(
                        op,
                        &base.seg,
                        format_args!("this subscriber's position moved from {} to {h}", self.pos),
                    ));
                }
                Err(h) => (self.pos, self.cons) = moved_to(base, h),
            }
        }
        match self.cons.peek(&self.ring, &self.scratch) {
            Ok(Some(rec)) => Ok(Some(rec)),
            Ok(None) => {
                self.pos = self.cons.position();
                slot::unpin(head, self.pos);
                self.closed_check(op, full).map(|_| None)
            }
            Err(f) => {
                slot::unpin(head, self.pos);
                Err(table::corrupted(op, &base.seg, f))
            }
        }
    }

    /// With `full`: `Disconnected` if the publisher closed (and nothing is left).
    fn closed_check(&self, op: &'static str, full: bool) -> Result<()> {
        let base = &*self.base;
        // Acquire pairs with the Release of the publisher's close.
        if full && base.publisher_role().state.load(Ordering::Acquire) == ROLE_CLOSED {
            let g = base.plan.geometry;
            let more = self.admitted
                && self.ring.word(self.pos & (g.capacity - 1)).load(Ordering::Acquire)
                    == ring::stamp(self.pos);
            if !more {
                return Err(table::disconnected(op, &base.seg, "the publisher closed its end"));
            }
        }
        Ok(())
    }

    fn evicted(&self, op: &'static str) -> Error {
        table::corrupted(
            op,
            &self.base.seg,
            "the publisher dropped this subscriber: its position in shared memory was impossible",
        )
    }

    fn release(&mut self, rec: Record) {
        self.cons.release(&self.scratch, rec);
        self.pos = self.cons.position();
        slot::unpin(self.base.sub_head(self.slot), self.pos);
        wait::notify(self.base.space_wake());
    }
}

/// A subscriber's position and consumer, restarted at head `h`.
fn moved_to(base: &Base, h: u64) -> (u64, Consumer) {
    let g = base.plan.geometry;
    (h, Consumer::at(h, g.capacity, g.max_message, g.align))
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            return;
        }
        let base = &*self.base;
        let so = base.sub_owner(self.slot);
        // Release pairs with the publisher's Acquire of the state (after `changes`).
        so.role.state.store(ROLE_CLOSED, Ordering::Release);
        base.changes().fetch_add(1, Ordering::Release);
        wait::notify_always(base.space_wake());
    }
}

/// A message read where it lies in the ring; the subscriber's position moves past it
/// when the guard is dropped.
#[must_use = "the message is released when the guard is dropped"]
pub struct Message<'a> {
    sub: &'a mut Subscriber,
    rec: Record,
    seq: u64,
    missed: u64,
    keep: bool,
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message").field("seq", &self.seq).field("len", &self.len()).finish()
    }
}

impl Message<'_> {
    /// The message's length.
    pub fn len(&self) -> usize {
        (self.rec.len - 8) as usize
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.rec.len == 8
    }

    /// Its sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// How many messages this subscriber missed just before this one.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Copies `buf.len()` bytes of the message from `offset` into `buf`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len()) {
            Some(end) if end <= self.len() => {
                self.sub.ring.read(self.rec.off + 8 + offset as u64, buf);
                Ok(())
            }
            _ => Err(Error::new("Message::read_at", self.sub.base.seg.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!(
                    "{} bytes at offset {offset} exceed the message of {}",
                    buf.len(),
                    self.len()
                ))),
        }
    }

    /// The message copied into a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len()];
        self.sub.ring.read(self.rec.off + 8, &mut v);
        v
    }

    /// The start of the message, valid for [`len`](Self::len) bytes while the guard
    /// lives; read through it with raw-pointer reads or copies (the publisher's
    /// process maps this memory).
    pub fn as_ptr(&self) -> *const u8 {
        self.sub.ring.ptr(self.rec.off + 8, self.len())
    }

    /// Leaves the message unread (it comes again), unpinning it.
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Message<'_> {
    fn drop(&mut self) {
        if self.keep {
            let s = &mut *self.sub;
            slot::unpin(s.base.sub_head(s.slot), s.pos);
            return;
        }
        self.sub.next_seq = Some(self.seq + 1);
        self.sub.missed_total += self.missed;
        self.sub.release(self.rec);
    }
}
