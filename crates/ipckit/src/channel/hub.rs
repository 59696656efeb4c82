//! The core of many to one and of request/response: members (senders, clients), each
//! with a ring of its own in a slot, and one hub (the receiver, the server) that takes
//! their messages in turn.
//!
//! It stays one file (~700 lines) because the hub and the member are the two halves of
//! one protocol over one layout: each half's memory orderings pair with the other's,
//! and they are read and checked together.
//!
//! # Layout
//!
//! ```text
//! offset  size   what                                    written by
//! 0       128    config line (see `table`)               the creator, once
//! 128     128    the hub's role: state, pid, start time  the hub
//! 256     128    active: u64, one bit per held slot      members set, the hub clears
//! 384     128    data wake: the hub sleeps here          both
//! 512     S*n    n slots of S bytes (S = 384 or 768):
//!   +0    128      owner (0: free, else pid), role       members claim, the hub frees
//!   +128  128      up head: the hub's position           the hub
//!   +256  128      up space wake: the member sleeps      both
//!   +384  128      down head: the member's position      the member   (replies only)
//!   +512  128      down data wake: the member sleeps     both         (replies only)
//!   +640  128      down space wake: the hub sleeps       both         (replies only)
//! D       C*k*n  the rings: slot i's up ring at D + i*k*C, its down ring C after it
//! ```
//!
//! Each ring is a single-producer / single-consumer ring of `ring` (stamps and the
//! head, pairs 1 and 2 there): the member produces into its up ring, the hub consumes;
//! for replies, the hub produces into the down ring and the member consumes.
//!
//! # Who writes what, and the pairs
//!
//! - **claim** — a member claims a slot whose owner is 0 (`slot::claim`, `Acquire`),
//!   records its identity, then sets its bit in `active` (`fetch_or`, `Release`). The
//!   hub loads `active` with `Acquire` before it reads the slot.
//! - **leave** — a member that closes stores `ROLE_CLOSED` with `Release` after its
//!   last publication; the hub loads the state with `Acquire`, looks at the ring once
//!   more (many to one: it delivers what is left first), then frees the slot.
//! - **death** — a member whose process is gone (pid, start time, zombie state in
//!   `/proc`, checked every 50 ms) publishes nothing more; its half-written record has
//!   no stamp and is never read. The hub frees the slot as above. It never waits for
//!   one member: a slot without a message is skipped.
//! - **free** — the hub clears the bit in `active`, zeroes the rings and heads and
//!   stores owner 0 (`slot::reset`, `Release`; pairs with the next claim).
//!
//! Fairness: the hub scans the slots round-robin, from the one after the slot it last
//! took a message from.
//!
//! A member trusts nothing of the hub's memory but its up head (checked by the ring)
//! and the down ring (checked by the ring); the hub trusts nothing of a member's: a
//! fault in one slot is reported once as `Corrupted` and the slot is ignored until its
//! member leaves. `active` bits past the slot count are ignored.

use std::sync::Arc;
use std::time::Instant;

use super::layout::{Line, ROLE_CLOSED, Role};
use super::mem::Segment;
use super::peer;
use super::raw::RawRing;
use super::ring::{Consumer, Producer, Record, Slot, Wake};
use super::slot;
use super::sync::{AtomicU64, Ordering};
use super::table::{self, Every, NOBODY, Plan, Shape, SlotOwner};
use super::wait::{self, Outcome, WaitStrategy};
use crate::error::{Error, ErrorKind, Result};
use crate::wait::Wait;

/// A busy hub looks for members that left every this many messages.
const REAP_EVERY: u32 = 4096;

const ROLE_OFF: u64 = 128;
const ACTIVE_OFF: u64 = 256;
const DATA_WAKE_OFF: u64 = 384;
/// Where the slots start.
pub(crate) const SLOT_OFFSET: u64 = 512;
const UP_HEAD: u64 = 128;
const UP_SPACE: u64 = 256;
const DOWN_HEAD: u64 = 384;
const DOWN_DATA: u64 = 512;
const DOWN_SPACE: u64 = 640;

/// The shape of a many-to-one segment.
pub(crate) const MERGE: Shape = Shape {
    magic: u64::from_le_bytes(*b"ipckMERG"),
    what: "many-to-one channel",
    slot_offset: SLOT_OFFSET,
    slot_size: 384,
    rings_per_slot: 1,
    prefix: 0,
};

/// The shape of a request/response segment: an 8-byte request id before each payload.
pub(crate) const RPC: Shape = Shape {
    magic: u64::from_le_bytes(*b"ipckRPC_"),
    what: "request/response channel",
    slot_offset: SLOT_OFFSET,
    slot_size: 768,
    rings_per_slot: 2,
    prefix: 8,
};

/// The segment, its plan and its shape: what hubs and members share.
#[derive(Debug)]
pub(crate) struct Base {
    pub(crate) seg: Segment,
    pub(crate) plan: Plan,
    pub(crate) shape: Shape,
}

impl Base {
    #[inline]
    pub(crate) fn line<T>(&self, off: u64) -> &T
    where
        Line<T>: super::mem::AllAtomic,
    {
        // The offsets used here lie inside the fixed header or the slot table, whose
        // size was checked against the mapping when the plan was made or validated.
        match self.seg.at::<Line<T>>("channel", off) {
            Ok(l) => &l.0,
            Err(_) => unreachable_layout(),
        }
    }

    #[inline]
    fn slot_off(&self, i: usize) -> u64 {
        self.plan.slot_offset + i as u64 * self.plan.slot_size
    }

    #[inline]
    pub(crate) fn owner(&self, i: usize) -> &SlotOwner {
        self.line(self.slot_off(i))
    }

    #[inline]
    pub(crate) fn hub_role(&self) -> &Role {
        self.line(ROLE_OFF)
    }

    #[inline]
    fn active(&self) -> &AtomicU64 {
        self.line(ACTIVE_OFF)
    }

    #[inline]
    fn data_wake(&self) -> &Wake {
        self.line(DATA_WAKE_OFF)
    }

    #[inline]
    fn at(&self, i: usize, off: u64) -> &AtomicU64 {
        self.line(self.slot_off(i) + off)
    }

    #[inline]
    fn wake(&self, i: usize, off: u64) -> &Wake {
        self.line(self.slot_off(i) + off)
    }

    fn has_replies(&self) -> bool {
        self.shape.rings_per_slot == 2
    }

    fn ring(&self, i: usize, down: bool) -> RawRing {
        let off = self.plan.data_offset
            + i as u64 * self.plan.ring_stride
            + if down { self.plan.geometry.capacity } else { 0 };
        match self.seg.ring("channel", off, self.plan.geometry.capacity) {
            Ok(r) => r,
            Err(_) => unreachable_layout(),
        }
    }

    fn valid_mask(&self) -> u64 {
        if self.plan.slots >= 64 { u64::MAX } else { (1u64 << self.plan.slots) - 1 }
    }

    fn consumer(&self) -> Consumer {
        let g = self.plan.geometry;
        Consumer::new(g.capacity, g.max_message, g.align)
    }

    fn producer(&self) -> Producer {
        let g = self.plan.geometry;
        Producer::new(g.capacity, g.align)
    }
}

#[cold]
fn unreachable_layout() -> ! {
    // The plan's offsets were checked against the mapping once; a failure here is a bug
    // in this file, not something another process can cause.
    panic!("ipckit: a pattern's layout offset lies outside its checked mapping")
}

/// A member's identity, for the hub: its slot and the slot's epoch (bumped each time
/// the hub frees the slot), so that a reply never reaches a later member of the slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) slot: u32,
    pub(crate) epoch: u32,
}

/// The receiving side.
#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) base: Arc<Base>,
    up: Vec<RawRing>,
    down: Vec<RawRing>,
    cons: Vec<Consumer>,
    prods: Vec<Producer>,
    epochs: Vec<u32>,
    broken: u64,
    cursor: u32,
    /// Messages taken since the last look for members that left (a busy hub looks
    /// every `REAP_EVERY` messages too, not only when it waits).
    taken: u32,
    reap_later: bool,
    every: Every,
    pub(crate) strategy: WaitStrategy,
    pid: u32,
}

impl Hub {
    /// Takes the hub's role.
    pub(crate) fn new(base: Arc<Base>, which: &str) -> Result<Hub> {
        let pid = table::claim_role(&base.seg, base.hub_role(), which)?;
        let n = base.plan.slots as usize;
        let up = (0..n).map(|i| base.ring(i, false)).collect();
        let down = if base.has_replies() { (0..n).map(|i| base.ring(i, true)).collect() } else { Vec::new() };
        Ok(Hub {
            up,
            down,
            cons: (0..n).map(|_| base.consumer()).collect(),
            prods: (0..n).map(|_| base.producer()).collect(),
            epochs: vec![0; n],
            broken: 0,
            cursor: 0,
            taken: 0,
            reap_later: false,
            every: Every::new(),
            strategy: WaitStrategy::default(),
            pid,
            base,
        })
    }

    /// The number of members holding a slot now.
    pub(crate) fn members(&self) -> usize {
        (self.base.active().load(Ordering::Acquire) & self.base.valid_mask()).count_ones() as usize
    }

    /// Looks once for a message, round-robin; with `full`, also frees the slots of
    /// members that left or died.
    fn poll(&mut self, op: &'static str, full: bool) -> Result<Option<(Origin, Record)>> {
        let base = &*self.base;
        // Acquire pairs with the members' Release `fetch_or` (claim).
        let mask = base.active().load(Ordering::Acquire) & base.valid_mask() & !self.broken;
        let mut bits = mask.rotate_right(self.cursor);
        while bits != 0 {
            let b = bits.trailing_zeros();
            bits &= bits - 1;
            let i = ((b + self.cursor) % 64) as usize;
            match self.cons[i].peek(&self.up[i], base.at(i, UP_HEAD)) {
                Ok(Some(rec)) => {
                    self.cursor = (i as u32 + 1) % 64;
                    self.taken += 1;
                    if self.taken >= REAP_EVERY {
                        self.taken = 0;
                        self.reap_later = true;
                    }
                    return Ok(Some((Origin { slot: i as u32, epoch: self.epochs[i] }, rec)));
                }
                Ok(None) => {}
                Err(f) => {
                    self.broken |= 1 << i;
                    return Err(table::corrupted(op, &base.seg, format_args!("slot {i}: {f}")));
                }
            }
        }
        if full {
            self.reap();
        }
        Ok(None)
    }

    /// Looks for members that left if a busy stretch asked for it.
    #[inline]
    fn maybe_reap(&mut self) {
        if self.reap_later {
            self.reap_later = false;
            self.reap();
        }
    }

    /// Frees the slots of members that left or died (many to one: once their messages
    /// were taken).
    fn reap(&mut self) {
        let check_proc = self.every.due();
        let base = Arc::clone(&self.base);
        let mut mask = base.active().load(Ordering::Acquire) & base.valid_mask();
        if check_proc {
            self.reap_unjoined(mask);
        }
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if !table::member_gone(base.owner(i), check_proc) {
                continue;
            }
            let keep_messages = !base.has_replies() && self.broken & (1 << i) == 0;
            if keep_messages {
                match self.cons[i].peek(&self.up[i], base.at(i, UP_HEAD)) {
                    Ok(Some(_)) => continue, // delivered first
                    Ok(None) => {}
                    Err(_) => self.broken |= 1 << i,
                }
            }
            self.free(i);
        }
    }

    /// Frees the slots of members that died while joining: a slot is claimed (its owner
    /// word set) before it is marked active, so a member killed in between leaves an
    /// owned slot that [`reap`](Self::reap)'s walk over the active ones never sees.
    /// Only a slot whose owner process no longer exists is taken back: a live joiner
    /// finishes its join, and a dead one cannot.
    fn reap_unjoined(&mut self, active: u64) {
        for i in 0..self.base.plan.slots as usize {
            if active & (1u64 << i) != 0 {
                continue;
            }
            // Acquire pairs with the Release of `slot::claim`'s exchange.
            let owner = self.base.owner(i).owner.load(Ordering::Acquire);
            if owner != 0 && !crate::process::is_alive(owner) {
                self.free(i);
            }
        }
    }

    fn free(&mut self, i: usize) {
        let base = &*self.base;
        base.active().fetch_and(!(1u64 << i), Ordering::AcqRel);
        let so = base.owner(i);
        table::clear_slot(so);
        for off in [UP_SPACE, DOWN_DATA, DOWN_SPACE] {
            if off == UP_SPACE || base.has_replies() {
                base.wake(i, off).waiting.store(0, Ordering::Relaxed);
            }
        }
        let cap = base.plan.geometry.capacity;
        if base.has_replies() {
            slot::reset(
                &so.owner,
                &[(&self.up[i], cap), (&self.down[i], cap)],
                &[base.at(i, UP_HEAD), base.at(i, DOWN_HEAD)],
            );
        } else {
            slot::reset(&so.owner, &[(&self.up[i], cap)], &[base.at(i, UP_HEAD)]);
        }
        self.cons[i] = base.consumer();
        self.prods[i] = base.producer();
        self.epochs[i] = self.epochs[i].wrapping_add(1);
        self.broken &= !(1u64 << i);
    }

    /// The next message, waiting as `wait` says.
    #[inline]
    pub(crate) fn next(&mut self, op: &'static str, wait: Wait) -> Result<(Origin, Record)> {
        wait::poll_then(self, self.strategy, wait, |s| s.poll(op, false), |s| s.next_slow(op, wait))
    }

    #[cold]
    #[inline(never)]
    fn next_slow(&mut self, op: &'static str, wait: Wait) -> Result<(Origin, Record)> {
        if let Some(x) = self.poll(op, true)? {
            return Ok(x);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(table::not_now(op, false)),
            w => w.deadline(),
        };
        let base = Arc::clone(&self.base);
        match wait::block(
            self.strategy,
            deadline,
            base.data_wake(),
            &NOBODY,
            &mut peer::Watch::new(),
            |full| self.poll(op, full),
        )? {
            Outcome::Ready(x) => Ok(x),
            Outcome::TimedOut | Outcome::PeerGone => Err(table::not_now(op, true)),
        }
    }

    /// Copies the payload of `rec` (after `skip` bytes) into `buf`.
    pub(crate) fn read(&self, o: Origin, rec: Record, skip: u64, buf: &mut [u8]) {
        use super::ring::RingData;
        self.up[o.slot as usize].read(rec.off + skip, &mut buf[..(rec.len - skip) as usize]);
    }

    /// Reads the first 8 bytes of `rec` as a little-endian u64 (0 if shorter).
    pub(crate) fn read_u64(&self, o: Origin, rec: Record) -> u64 {
        use super::ring::RingData;
        let mut b = [0u8; 8];
        if rec.len >= 8 {
            self.up[o.slot as usize].read(rec.off, &mut b);
        }
        u64::from_le_bytes(b)
    }

    /// The raw address of `rec`'s payload.
    pub(crate) fn ptr(&self, o: Origin, rec: Record) -> *const u8 {
        self.up[o.slot as usize].ptr(rec.off, rec.len as usize)
    }

    /// Frees `rec` in its ring and wakes its member if it waits for room.
    pub(crate) fn release(&mut self, o: Origin, rec: Record) {
        let i = o.slot as usize;
        let w = self.base.at(i, UP_HEAD);
        self.cons[i].release(w, rec);
        wait::notify(self.base.wake(i, UP_SPACE));
        self.maybe_reap();
    }

    /// Sends a reply (`id` then `data`) into the down ring of the member `o`, waiting
    /// for room as `wait` says. `Disconnected` if the member left or died.
    pub(crate) fn reply(
        &mut self,
        op: &'static str,
        o: Origin,
        id: u64,
        data: &[u8],
        wait: Wait,
    ) -> Result<()> {
        let base = Arc::clone(&self.base);
        let i = o.slot as usize;
        let max = base.plan.max_payload(base.shape);
        if data.len() as u64 > max {
            return Err(table::too_large(op, &base.seg, data.len(), max));
        }
        let gone = || {
            table::disconnected(
                op,
                &base.seg,
                format!("the client of slot {i} left or died; the reply was dropped"),
            )
        };
        if i >= self.epochs.len()
            || self.epochs[i] != o.epoch
            || base.active().load(Ordering::Acquire) & (1 << i) == 0
        {
            return Err(gone());
        }
        if table::member_gone(base.owner(i), false) {
            return Err(gone());
        }
        let len = data.len() as u64 + 8;
        let (ring, prod, head) = (&self.down[i], &mut self.prods[i], base.at(i, DOWN_HEAD));
        let mut poll = |full: bool| -> Result<Option<Slot>> {
            if full && base.owner(i).role.state.load(Ordering::Acquire) == ROLE_CLOSED {
                return Err(gone());
            }
            prod.reserve(ring, head, len)
                .map_err(|f| table::corrupted(op, &base.seg, format_args!("slot {i}: {f}")))
        };
        let slot = match poll(false)? {
            Some(s) => s,
            None => {
                let deadline = match wait {
                    Wait::NoWait => return Err(table::not_now(op, false)),
                    w => w.deadline(),
                };
                match wait::block(
                    self.strategy,
                    deadline,
                    base.wake(i, DOWN_SPACE),
                    &base.owner(i).role,
                    &mut peer::Watch::new(),
                    poll,
                )? {
                    Outcome::Ready(s) => s,
                    Outcome::TimedOut => return Err(table::not_now(op, true)),
                    Outcome::PeerGone => return Err(gone()),
                }
            }
        };
        use super::ring::RingData;
        ring.write(slot.off, &id.to_le_bytes());
        ring.write(slot.off + 8, data);
        self.prods[i].commit_uncounted(ring, slot, len);
        wait::notify(base.wake(i, DOWN_DATA));
        Ok(())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let base = &*self.base;
        if std::process::id() != self.pid {
            return;
        }
        // Release pairs with the members' Acquire of the hub's state.
        base.hub_role().state.store(ROLE_CLOSED, Ordering::Release);
        let mut mask = base.active().load(Ordering::Acquire) & base.valid_mask();
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            wait::notify_always(base.wake(i, UP_SPACE));
            if base.has_replies() {
                wait::notify_always(base.wake(i, DOWN_DATA));
            }
        }
    }
}

/// The sending side: one slot.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) base: Arc<Base>,
    pub(crate) slot: usize,
    up: RawRing,
    prod: Producer,
    down: Option<(RawRing, Consumer)>,
    pub(crate) strategy: WaitStrategy,
    pid: u32,
}

impl Member {
    /// Claims a free slot.
    pub(crate) fn join(base: Arc<Base>, which: &str) -> Result<Member> {
        if base.hub_role().state.load(Ordering::Acquire) == ROLE_CLOSED {
            return Err(table::disconnected("channel join", &base.seg, "the receiving end was closed"));
        }
        let me = std::process::id();
        for i in 0..base.plan.slots as usize {
            let so = base.owner(i);
            if slot::claim(&so.owner, me) {
                let pid = table::enter_slot(so);
                // Release pairs with the hub's Acquire of `active`.
                base.active().fetch_or(1u64 << i, Ordering::Release);
                let down = base.has_replies().then(|| (base.ring(i, true), base.consumer()));
                return Ok(Member {
                    up: base.ring(i, false),
                    prod: base.producer(),
                    down,
                    strategy: WaitStrategy::default(),
                    pid,
                    slot: i,
                    base,
                });
            }
        }
        Err(Error::new("channel join", base.seg.obj(), ErrorKind::LimitExceeded).with_detail(format!(
            "all {} {which} slots are taken (the limit set when the channel was created; slots of closed or dead {which}s free up within 50 ms of the receiving end's next wait)",
            base.plan.slots
        )))
    }

    /// Whether the hub closed or died.
    pub(crate) fn hub_gone(&self) -> bool {
        super::peer::is_gone(self.base.hub_role())
    }

    /// Room for `len` record bytes, waiting as `wait` says.
    #[inline]
    pub(crate) fn reserve(&mut self, op: &'static str, len: u64, wait: Wait) -> Result<Slot> {
        let base = &*self.base;
        if len <= base.plan.geometry.max_message
            && base.hub_role().state.load(Ordering::Relaxed) != ROLE_CLOSED
            && let Ok(Some(s)) = self.prod.reserve(&self.up, base.at(self.slot, UP_HEAD), len)
        {
            return Ok(s);
        }
        self.reserve_slow(op, len, wait)
    }

    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, op: &'static str, len: u64, wait: Wait) -> Result<Slot> {
        let base = &*self.base;
        let seg = &base.seg;
        let prefix = base.shape.prefix;
        if len > base.plan.geometry.max_message {
            return Err(table::too_large(
                op,
                seg,
                (len - prefix) as usize,
                base.plan.max_payload(base.shape),
            ));
        }
        let role = base.hub_role();
        let gone = || table::disconnected(op, seg, "the receiving end closed, or its process died");
        let (ring, prod, head) = (&self.up, &mut self.prod, base.at(self.slot, UP_HEAD));
        let mut poll = |_full: bool| -> Result<Option<Slot>> {
            if role.state.load(Ordering::Acquire) == ROLE_CLOSED {
                return Err(gone());
            }
            prod.reserve(ring, head, len).map_err(|f| table::corrupted(op, seg, f))
        };
        if let Some(s) = poll(true)? {
            return Ok(s);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(table::not_now(op, false)),
            w => w.deadline(),
        };
        match wait::block(
            self.strategy,
            deadline,
            base.wake(self.slot, UP_SPACE),
            role,
            &mut peer::Watch::new(),
            poll,
        )? {
            Outcome::Ready(s) => Ok(s),
            Outcome::TimedOut => Err(table::not_now(op, true)),
            Outcome::PeerGone => Err(gone()),
        }
    }

    /// The ring to write a reserved slot's payload into.
    pub(crate) fn up(&self) -> &RawRing {
        &self.up
    }

    /// Publishes a reserved record and wakes the hub if it sleeps.
    #[inline]
    pub(crate) fn publish(&mut self, s: Slot, len: u64) {
        self.prod.commit_uncounted(&self.up, s, len);
        wait::notify(self.base.data_wake());
    }

    /// The next reply (request/response), waiting as `wait` says: its record.
    pub(crate) fn next_reply(
        &mut self,
        op: &'static str,
        deadline: Option<Instant>,
        no_wait: bool,
    ) -> Result<Record> {
        let base = &*self.base;
        let seg = &base.seg;
        let Some((ring, cons)) = self.down.as_mut() else { unreachable_layout() };
        let head = base.at(self.slot, DOWN_HEAD);
        let role = base.hub_role();
        let mut poll = |full: bool| -> Result<Option<Record>> {
            if let Some(r) = cons.peek(&*ring, head).map_err(|f| table::corrupted(op, seg, f))? {
                return Ok(Some(r));
            }
            if full && role.state.load(Ordering::Acquire) == ROLE_CLOSED {
                return match cons.peek(&*ring, head).map_err(|f| table::corrupted(op, seg, f))? {
                    Some(r) => Ok(Some(r)),
                    None => {
                        Err(table::disconnected(op, seg, "the server closed its end, or its process died"))
                    }
                };
            }
            Ok(None)
        };
        for _ in 0..self.strategy.inline_polls() {
            if let Some(r) = poll(false)? {
                return Ok(r);
            }
            std::hint::spin_loop();
        }
        if let Some(r) = poll(true)? {
            return Ok(r);
        }
        if no_wait {
            return Err(table::not_now(op, false));
        }
        match wait::block(
            self.strategy,
            deadline,
            base.wake(self.slot, DOWN_DATA),
            role,
            &mut peer::Watch::new(),
            &mut poll,
        )? {
            Outcome::Ready(r) => Ok(r),
            Outcome::TimedOut => Err(table::not_now(op, true)),
            Outcome::PeerGone => match poll(true)? {
                Some(r) => Ok(r),
                None => Err(table::disconnected(op, seg, "the server closed its end, or its process died")),
            },
        }
    }

    /// The down ring.
    pub(crate) fn down_ring(&self) -> &RawRing {
        match &self.down {
            Some((r, _)) => r,
            None => unreachable_layout(),
        }
    }

    /// Frees a reply record and wakes the hub if it waits for room.
    pub(crate) fn release_reply(&mut self, rec: Record) {
        let base = &*self.base;
        if let Some((_, cons)) = self.down.as_mut() {
            cons.release(base.at(self.slot, DOWN_HEAD), rec);
            wait::notify(base.wake(self.slot, DOWN_SPACE));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let base = &*self.base;
        table::close_member(base.owner(self.slot), self.pid, base.data_wake());
    }
}
