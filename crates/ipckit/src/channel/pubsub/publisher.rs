//! The publishing end of a publish/subscribe channel: it reserves and commits records
//! in the ring, admits joining subscribers, frees the slots of those that left or died,
//! and (with `Overflow::DropOldest`) moves the heads of slow ones forward. The protocol
//! is described in the module contract (`pubsub/mod.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::channel::hub::Base;
use crate::channel::layout::ROLE_CLOSED;
use crate::channel::peer;
use crate::channel::raw::RawRing;
use crate::channel::ring::{self, Consumer, Producer, RingData, Slot};
use crate::channel::slot::{self, FLAGS, JOINING, PIN};
use crate::channel::sync::{AtomicU64, Ordering, full_barrier};
use crate::channel::table::{self, Every, NOBODY};
use crate::channel::wait::{self, Outcome, WaitStrategy};
use crate::error::{Error, ErrorKind, Result};
use crate::wait::Wait;

use super::segment::{EVICTED, PUBSUB};

/// The publishing end of a [`PubSub`](super::PubSub).
pub struct Publisher {
    base: Arc<Base>,
    ring: RawRing,
    prod: Producer,
    /// The smallest admitted head, as `ring::Producer` reads it (private to us).
    floor: AtomicU64,
    last_floor: u64,
    admitted: u64,
    seen_changes: u64,
    seq: u64,
    every: Every,
    drop_oldest: bool,
    strategy: WaitStrategy,
    pid: u32,
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("seq", &self.seq)
            .field("subscribers", &self.admitted.count_ones())
            .finish()
    }
}

impl Publisher {
    /// The publisher's end on `base`, whose role this process (`pid`) has just claimed.
    pub(super) fn new(base: Arc<Base>, pid: u32, drop_oldest: bool) -> Result<Publisher> {
        let g = base.plan.geometry;
        Ok(Publisher {
            ring: base.the_ring()?,
            prod: Producer::new(g.capacity, g.align),
            floor: AtomicU64::new(0),
            last_floor: 0,
            admitted: 0,
            seen_changes: u64::MAX,
            seq: 0,
            every: Every::new(),
            drop_oldest,
            strategy: WaitStrategy::default(),
            pid,
            base,
        })
    }

    /// The number of subscribers admitted now (a joining subscriber is admitted at
    /// the next send or [`refresh`](Self::refresh)).
    pub fn subscribers(&self) -> usize {
        self.admitted.count_ones() as usize
    }

    /// The sequence number of the next message (0 for the first).
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// Sets how this end waits for room.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Admits joining subscribers and lets go of those that left (a send does it too),
    /// and, at most every 50 ms, of those whose process is gone (also while joining):
    /// a publisher that seldom sends calls it to give their slots back.
    pub fn refresh(&mut self) {
        let check = self.every.due();
        self.rescan(check);
    }

    /// Sends `data` to every subscriber, waiting for room.
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

    /// Sends `data` to every admitted subscriber, waiting for room as `wait` says (with
    /// [`Overflow::DropOldest`](crate::channel::Overflow::DropOldest), room is made by dropping the oldest messages of the
    /// slowest subscribers, unless one is reading it in place).
    ///
    /// Errors: [`ErrorKind::MessageTooLarge`], [`ErrorKind::Corrupted`] if the ring's
    /// own records were overwritten, and "not now".
    #[inline]
    pub fn send_with(&mut self, data: &[u8], wait: Wait) -> Result<()> {
        let s = self.reserve("send", data.len(), wait)?;
        self.ring.write(s.off + 8, data);
        self.publish(s);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes, waiting for it; write it in place
    /// and [`commit`](SendLoan::commit) it. Nothing is sent if the loan is dropped.
    pub fn loan(&mut self, len: usize) -> Result<SendLoan<'_>> {
        self.loan_with(len, Wait::Block)
    }

    /// Reserves room, waiting as `wait` says.
    pub fn loan_with(&mut self, len: usize, wait: Wait) -> Result<SendLoan<'_>> {
        let slot = self.reserve("loan", len, wait)?;
        Ok(SendLoan { publisher: self, slot })
    }

    #[inline]
    fn reserve(&mut self, op: &'static str, len: usize, wait: Wait) -> Result<Slot> {
        // Relaxed: a hint; `rescan` reads the slots with Acquire.
        if self.base.changes().load(Ordering::Relaxed) != self.seen_changes {
            self.rescan(false);
        }
        let rec = len as u64 + 8;
        if rec <= self.base.plan.geometry.max_message
            && let Ok(Some(s)) = self.prod.reserve(&self.ring, &self.floor, rec)
        {
            return Ok(s);
        }
        self.reserve_slow(op, len, wait)
    }

    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, op: &'static str, len: usize, wait: Wait) -> Result<Slot> {
        let base = Arc::clone(&self.base);
        let rec = len as u64 + 8;
        if rec > base.plan.geometry.max_message {
            return Err(table::too_large(op, &base.seg, len, base.plan.max_payload(PUBSUB)));
        }
        let strategy = self.strategy;
        let mut first = true;
        let mut poll = |full: bool| -> Result<Option<Slot>> {
            // Subscribers that died are looked for every 50 ms while the ring is full
            // (with DropOldest too, where the publisher never waits for them): on the
            // first look and on the full looks of a wait (every 64th), so that the
            // polls in between read no clock.
            let check = (full || first) && self.every.due();
            first = false;
            if full || check {
                self.rescan(check);
            }
            self.refresh_floor(op, rec)?;
            self.prod.reserve(&self.ring, &self.floor, rec).map_err(|f| table::corrupted(op, &base.seg, f))
        };
        if let Some(s) = poll(false)? {
            return Ok(s);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(table::not_now(op, false)),
            w => w.deadline(),
        };
        match wait::block(strategy, deadline, base.space_wake(), &NOBODY, &mut peer::Watch::new(), poll)? {
            Outcome::Ready(s) => Ok(s),
            Outcome::TimedOut | Outcome::PeerGone => Err(table::not_now(op, true)),
        }
    }

    /// Recomputes the floor (the smallest admitted head) for a record of `rec` bytes;
    /// with `DropOldest`, first moves the unpinned heads that hold the room back.
    fn refresh_floor(&mut self, op: &'static str, rec: u64) -> Result<()> {
        let base = Arc::clone(&self.base);
        let g = base.plan.geometry;
        let tail = self.prod.tail();
        let size = ring::record_size(rec, g.align);
        let to_end = g.capacity - (tail & (g.capacity - 1));
        let need = if size <= to_end { size } else { to_end + size };
        let target = (tail + need).saturating_sub(g.capacity);
        let mut min = tail;
        let mut bits = self.admitted;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let head = base.sub_head(i);
            let mut h = slot::load_head(head);
            if self.drop_oldest && h & FLAGS == 0 && h < target && self.valid(h, tail) {
                let to = self.walk(op, h, target)?;
                if slot::steal(head, h, to) {
                    h = to;
                } else {
                    h = slot::load_head(head);
                }
            }
            if !self.valid(h & !PIN, tail) || h & FLAGS & !PIN != 0 {
                self.evict(i);
                continue;
            }
            min = min.min(h & !PIN);
        }
        self.last_floor = min;
        self.floor.store(min, Ordering::Relaxed);
        Ok(())
    }

    fn valid(&self, pos: u64, tail: u64) -> bool {
        pos % self.base.plan.geometry.align == 0 && pos >= self.last_floor && pos <= tail
    }

    /// The first record boundary at or after `target`, walking records from `from`.
    fn walk(&self, op: &'static str, from: u64, target: u64) -> Result<u64> {
        let g = self.base.plan.geometry;
        let scratch = AtomicU64::new(from);
        let mut c = Consumer::at(from, g.capacity, g.max_message, g.align);
        while c.position() < target {
            match c.peek(&self.ring, &scratch) {
                Ok(Some(r)) => c.release(&scratch, r),
                Ok(None) if c.position() >= target => break,
                Ok(None) => {
                    return Err(table::corrupted(
                        op,
                        &self.base.seg,
                        format_args!(
                            "no record at position {} before the tail {}",
                            c.position(),
                            self.prod.tail()
                        ),
                    ));
                }
                Err(f) => return Err(table::corrupted(op, &self.base.seg, f)),
            }
        }
        Ok(c.position())
    }

    /// Drops a subscriber whose head is impossible: it gets `Corrupted`.
    fn evict(&mut self, i: usize) {
        self.admitted &= !(1u64 << i);
        self.base.sub_head(i).store(EVICTED, Ordering::Release);
        wait::notify_always(self.base.sub_wake(i));
    }

    /// Admits joining subscribers, frees the slots of those that closed (and, with
    /// `check_proc`, of those whose process is gone).
    fn rescan(&mut self, check_proc: bool) {
        let base = Arc::clone(&self.base);
        // Acquire pairs with the subscribers' Release bump.
        self.seen_changes = base.changes().load(Ordering::Acquire);
        let tail = self.prod.tail();
        for i in 0..base.plan.slots as usize {
            let so = base.sub_owner(i);
            let bit = 1u64 << i;
            if so.owner.load(Ordering::Acquire) == 0 {
                self.admitted &= !bit;
                continue;
            }
            if table::member_gone(so, check_proc) {
                self.admitted &= !bit;
                table::clear_slot(so);
                base.sub_wake(i).waiting.store(0, Ordering::Relaxed);
                slot::reset::<RawRing>(&so.owner, &[], &[base.sub_head(i)]);
                continue;
            }
            if self.admitted & bit == 0 && base.sub_head(i).load(Ordering::Relaxed) == JOINING {
                // Relaxed: `admit`'s Release publishes it with the admission.
                base.sub_first_seq(i).store(self.seq, Ordering::Relaxed);
                if slot::admit(base.sub_head(i), tail) {
                    self.admitted |= bit;
                }
            }
        }
    }

    #[inline]
    fn publish(&mut self, s: Slot) {
        self.ring.write(s.off, &self.seq.to_le_bytes());
        self.prod.commit_uncounted(&self.ring, s, s.len);
        self.seq += 1;
        // One barrier for all: the record is published before we read their flags.
        full_barrier();
        let mut bits = self.admitted;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let w = self.base.sub_wake(i);
            if w.waiting.load(Ordering::Relaxed) != 0 {
                wait::notify_always(w);
            }
        }
    }

    /// Closes the publisher (dropping it does the same): subscribers get what was
    /// published, then [`ErrorKind::Disconnected`].
    pub fn close(self) {}
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            return;
        }
        let base = &*self.base;
        // Release pairs with the subscribers' Acquire of the state.
        base.publisher_role().state.store(ROLE_CLOSED, Ordering::Release);
        for i in 0..base.plan.slots as usize {
            if base.sub_owner(i).owner.load(Ordering::Relaxed) != 0 {
                wait::notify_always(base.sub_wake(i));
            }
        }
    }
}

/// Room for one message in the ring, reserved by [`Publisher::loan`]: write the
/// payload in place, then [`commit`](Self::commit).
#[must_use = "nothing is sent unless the loan is committed"]
pub struct SendLoan<'a> {
    publisher: &'a mut Publisher,
    slot: Slot,
}

impl fmt::Debug for SendLoan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendLoan").field("len", &self.len()).finish()
    }
}

impl SendLoan<'_> {
    /// The bytes reserved.
    pub fn len(&self) -> usize {
        (self.slot.len - 8) as usize
    }

    /// Whether the loan is for an empty message.
    pub fn is_empty(&self) -> bool {
        self.slot.len == 8
    }

    /// Copies `data` into the message at `offset`.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        match offset.checked_add(data.len()) {
            Some(end) if end <= self.len() => {
                self.publisher.ring.write(self.slot.off + 8 + offset as u64, data);
                Ok(())
            }
            _ => Err(Error::new("SendLoan::write_at", self.publisher.base.seg.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!(
                    "{} bytes at offset {offset} exceed the loan of {}",
                    data.len(),
                    self.len()
                ))),
        }
    }

    /// The start of the reserved bytes, valid for [`len`](Self::len) bytes until the
    /// loan ends; write through it with raw-pointer writes or copies.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.publisher.ring.ptr(self.slot.off + 8, self.len())
    }

    /// Publishes the message to every admitted subscriber.
    pub fn commit(self) {
        self.publisher.publish(self.slot);
    }
}
