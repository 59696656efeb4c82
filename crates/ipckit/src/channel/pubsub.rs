//! Publish/subscribe: one publisher, any number of subscribers joining and leaving at
//! any time; every subscriber reads each message where it lies in the one ring.
//!
//! ```
//! use ipckit::channel::{PatternConfig, pubsub::PubSub};
//! use ipckit::process;
//!
//! let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(16 * 1024))?;
//! let mut publisher = ps.publisher()?;
//! let mut sub = ps.subscriber()?;
//! // SAFETY: this example is single-threaded.
//! let child = unsafe {
//!     process::fork_with(|| {
//!         let mut buf = [0u8; 16];
//!         let got = sub.recv(&mut buf).unwrap();
//!         if &buf[..got.len] == b"tick" && got.seq == 0 { 0 } else { 1 }
//!     })
//! }?;
//! publisher.send(b"tick")?;
//! assert!(child.wait()?.success());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # Protocol contract
//!
//! ```text
//! offset  size   what                                         written by
//! 0       128    config line (see `table`; flags: overflow)   the creator, once
//! 128     128    the publisher's role                         the publisher
//! 256     128    changes: u64, bumped on each join and leave  subscribers
//! 384     128    space wake: the publisher sleeps here        both
//! 512     384*n  n subscriber slots:
//!   +0    128      owner (0: free, else pid), role            subscriber claims, publisher frees
//!   +128  128      head: position | flags (see `slot`)        subscriber; publisher admits/steals
//!                  first_seq: u64, seq at admission           publisher, before it admits
//!   +256  128      wake: this subscriber sleeps here          both
//! D       C      the ring (records of `ring`, payload = seq: u64 LE, then the message)
//! ```
//!
//! The ring is the single-producer ring of `ring` (pair 1, **stamp**: the publisher
//! stores each record's stamp with `Release`, every subscriber loads it with
//! `Acquire`). There is no single consumer: the publisher gives `ring::Producer` the
//! smallest head of the admitted subscribers as its head (a private word it fills),
//! so pair 2 becomes **head**: a subscriber stores its head with `Release` after it
//! read the records before it (`slot::unpin`), the publisher loads every head with
//! `Acquire` (`slot::load_head`) before it reuses their space.
//!
//! A subscriber **pins** its head (compare-and-swap, `slot::pin`) while it reads a
//! record in place. With [`Overflow::DropOldest`], a publisher that needs room moves
//! the unpinned heads of slow subscribers forward past the oldest records
//! (`slot::steal`, `AcqRel`); it never moves a pinned head, so a record being read is
//! never overwritten. A subscriber whose pin fails restarts at the moved head; the
//! sequence numbers tell it how many messages it missed.
//!
//! **Join**: a subscriber claims a free slot (`slot::claim`, pairs with the publisher's
//! `slot::reset` of a freed slot), stores `JOINING` in its head, records itself, then
//! bumps `changes` (`Release`). The publisher loads `changes` (`Relaxed`, a hint) on
//! each send and, when it moved, scans the slots (`Acquire` loads of owner and state):
//! it admits joiners at its current tail (`slot::admit`), frees the slots of
//! subscribers that closed, and (every 50 ms of waiting for room) of subscribers
//! whose process is gone — so a dead subscriber never blocks the publisher for long.
//! A subscriber killed in the middle of its join (slot claimed, identity not yet or not
//! wholly recorded, `changes` not bumped) is found by the same checks through its owner
//! word, which holds its pid (`table::member_gone`; test: `tests/channel/pubsub_join.rs`).
//!
//! **Wake-ups**: each subscriber sleeps on the wake of its slot (the `Wake` handshake
//! of `ring`); the publisher, after each publication, makes one full barrier and
//! wakes every admitted subscriber whose flag is set. The publisher sleeps on the
//! space wake, which a subscriber bumps after it frees space.
//!
//! **Trust**: a subscriber trusts only records whose stamp matches, lengths checked by
//! `ring`; a head it finds moved backwards is `Corrupted`. The publisher checks each
//! head (aligned, not behind the last floor, not past its tail): a subscriber with an
//! impossible head is dropped (its head set to `EVICTED`, it gets `Corrupted`), and
//! the others carry on.
//!
//! References: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html).

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::hub::Base;
use super::layout::{ROLE_CLOSED, Role};
use super::mem::Segment;
use super::peer;
use super::raw::RawRing;
use super::ring::{self, Consumer, Producer, Record, RingData, Slot, Wake};
use super::slot::{self, FLAGS, JOINING, PIN};
use super::sync::{AtomicU64, Ordering, full_barrier};
use super::table::{self, Every, FLAG_DROP_OLDEST, NOBODY, Overflow, PatternConfig, Shape, SlotOwner};
use super::wait::{self, Outcome, WaitStrategy};
use crate::error::{Error, ErrorKind, Result};
use crate::perm::Mode;
use crate::posix::shm::ShmObject;
use crate::wait::Wait;

/// A subscriber's head line.
#[repr(C)]
#[derive(Debug)]
struct SubHead {
    /// Position and flags (see `slot`).
    head: AtomicU64,
    /// The sequence number of the first message after its admission (written by the
    /// publisher before it admits, read by the subscriber after it sees the admission).
    first_seq: AtomicU64,
}

// SAFETY: repr(C) of two AtomicU64.
#[allow(unsafe_code)]
unsafe impl super::mem::AllAtomic for super::layout::Line<SubHead> {}

/// A subscriber's head after the publisher dropped it for an impossible position.
const EVICTED: u64 = 4;

const ROLE_OFF: u64 = 128;
const CHANGES_OFF: u64 = 256;
const SPACE_WAKE_OFF: u64 = 384;
const HEAD: u64 = 128;
const WAKE: u64 = 256;

/// The shape of a publish/subscribe segment: an 8-byte sequence number before each payload.
pub(crate) const PUBSUB: Shape = Shape {
    magic: u64::from_le_bytes(*b"ipckPUBS"),
    what: "publish/subscribe channel",
    slot_offset: 512,
    slot_size: 384,
    rings_per_slot: 0,
    prefix: 8,
};

impl Base {
    #[inline]
    fn slot_line<T>(&self, i: usize, off: u64) -> &T
    where
        super::layout::Line<T>: super::mem::AllAtomic,
    {
        self.line(self.plan.slot_offset + i as u64 * self.plan.slot_size + off)
    }

    fn sub_owner(&self, i: usize) -> &SlotOwner {
        self.slot_line(i, 0)
    }

    #[inline]
    fn sub_head(&self, i: usize) -> &AtomicU64 {
        &self.slot_line::<SubHead>(i, HEAD).head
    }

    fn sub_first_seq(&self, i: usize) -> &AtomicU64 {
        &self.slot_line::<SubHead>(i, HEAD).first_seq
    }

    #[inline]
    fn sub_wake(&self, i: usize) -> &Wake {
        self.slot_line(i, WAKE)
    }

    #[inline]
    fn publisher_role(&self) -> &Role {
        self.line(ROLE_OFF)
    }

    #[inline]
    fn changes(&self) -> &AtomicU64 {
        self.line(CHANGES_OFF)
    }

    #[inline]
    fn space_wake(&self) -> &Wake {
        self.line(SPACE_WAKE_OFF)
    }

    fn the_ring(&self) -> Result<RawRing> {
        self.seg.ring("channel open", self.plan.data_offset, self.plan.geometry.capacity)
    }
}

/// A publish/subscribe channel in shared memory: take one [`Publisher`] and any number
/// of [`Subscriber`]s (up to the configured number at once).
pub struct PubSub {
    base: Arc<Base>,
}

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("name", &self.base.seg.label())
            .field("capacity", &self.base.plan.geometry.capacity)
            .field("max_subscribers", &self.base.plan.slots)
            .field("overflow", &self.overflow())
            .finish()
    }
}

impl PubSub {
    fn new(seg: Segment, create: Option<&PatternConfig>) -> Result<PubSub> {
        let plan = create.map(|c| table::plan_for(PUBSUB, c, flags_of(c))).transpose()?;
        let (seg, plan) = table::setup(PUBSUB, seg, plan)?;
        Ok(PubSub { base: Arc::new(Base { seg, plan, shape: PUBSUB }) })
    }

    /// Creates a channel in an anonymous memfd (`memfd_create`).
    pub fn create_memfd(config: &PatternConfig) -> Result<PubSub> {
        let plan = table::plan_for(PUBSUB, config, flags_of(config))?;
        PubSub::new(Segment::create_memfd("ipckit-pubsub", plan.total_size)?, Some(config))
    }

    /// Creates a channel in a new named POSIX object (`shm_open(name, O_CREAT | O_EXCL)`).
    pub fn create_named(name: &str, config: &PatternConfig, mode: Mode) -> Result<PubSub> {
        let plan = table::plan_for(PUBSUB, config, flags_of(config))?;
        PubSub::new(
            Segment::create_named("publish/subscribe channel", name, plan.total_size, mode)?,
            Some(config),
        )
    }

    /// Opens the channel in a named POSIX object; checks its header.
    pub fn open_named(name: &str) -> Result<PubSub> {
        PubSub::new(Segment::open_named("publish/subscribe channel", name)?, None)
    }

    /// Opens the channel in a memfd or POSIX object received as a descriptor.
    pub fn from_fd(fd: OwnedFd) -> Result<PubSub> {
        PubSub::new(Segment::from_fd("publish/subscribe channel", fd)?, None)
    }

    /// The descriptor of the shared-memory object.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.base.seg.fd()
    }

    /// The shared-memory object.
    pub fn shm_object(&self) -> &ShmObject {
        self.base.seg.object()
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.base.plan.geometry.capacity as usize
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.base.plan.max_payload(PUBSUB) as usize
    }

    /// How many subscribers may be connected at once.
    pub fn max_subscribers(&self) -> usize {
        self.base.plan.slots as usize
    }

    /// What the publisher does when a slow subscriber fills the ring.
    pub fn overflow(&self) -> Overflow {
        if self.base.plan.flags & FLAG_DROP_OLDEST != 0 { Overflow::DropOldest } else { Overflow::Block }
    }

    /// Takes the publisher's end; [`ErrorKind::AlreadyExists`] if a process took it before.
    pub fn publisher(&self) -> Result<Publisher> {
        let base = Arc::clone(&self.base);
        let pid = table::claim_role(&base.seg, base.publisher_role(), "publisher")?;
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
            drop_oldest: self.overflow() == Overflow::DropOldest,
            strategy: WaitStrategy::default(),
            pid,
            base,
        })
    }

    /// Joins as a subscriber: it gets every message published from the publisher's
    /// next send on (the publisher admits it then). [`ErrorKind::LimitExceeded`] if all
    /// slots are taken, [`ErrorKind::Disconnected`] if the publisher has closed.
    pub fn subscriber(&self) -> Result<Subscriber> {
        let base = Arc::clone(&self.base);
        if base.publisher_role().state.load(Ordering::Acquire) == ROLE_CLOSED {
            return Err(table::disconnected("subscribe", &base.seg, "the publisher closed its end"));
        }
        let me = std::process::id();
        for i in 0..base.plan.slots as usize {
            let so = base.sub_owner(i);
            if slot::claim(&so.owner, me) {
                // Relaxed: the bump of `changes` below publishes it (Release).
                base.sub_head(i).store(JOINING, Ordering::Relaxed);
                base.sub_wake(i).waiting.store(0, Ordering::Relaxed);
                let pid = table::enter_slot(so);
                // Release pairs with the publisher's Acquire scan of the slots.
                base.changes().fetch_add(1, Ordering::Release);
                let g = base.plan.geometry;
                return Ok(Subscriber {
                    ring: base.the_ring()?,
                    cons: Consumer::new(g.capacity, g.max_message, g.align),
                    scratch: AtomicU64::new(0),
                    pos: 0,
                    admitted: false,
                    next_seq: None,
                    missed_total: 0,
                    slot: i,
                    strategy: WaitStrategy::default(),
                    pid,
                    base,
                });
            }
        }
        Err(Error::new("subscribe", base.seg.obj(), ErrorKind::LimitExceeded).with_detail(format!(
            "all {} subscriber slots are taken (the limit set when the channel was created)",
            base.plan.slots
        )))
    }
}

fn flags_of(c: &PatternConfig) -> u32 {
    if c.overflow() == Overflow::DropOldest { FLAG_DROP_OLDEST } else { 0 }
}

/// The publishing end of a [`PubSub`].
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
    /// [`Overflow::DropOldest`], room is made by dropping the oldest messages of the
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

/// What a receive into a buffer got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The message's length in bytes.
    pub len: usize,
    /// Its sequence number (the publisher's count of messages before it).
    pub seq: u64,
    /// How many messages this subscriber missed just before it (dropped for it with
    /// [`Overflow::DropOldest`]); 0 otherwise.
    pub missed: u64,
}

/// A subscribing end of a [`PubSub`].
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

    /// How many messages this subscriber missed in all (with [`Overflow::DropOldest`]).
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
