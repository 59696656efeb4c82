//! What the multi-party patterns share: their configuration, the config line at the
//! start of their segments (checked on open), the slot word that tells who holds a
//! slot, and the errors.
//!
//! ```text
//! config line (128 bytes), written once by the creator, magic last (Release):
//! 0   magic: u64          "ipckMERG", "ipckPUBS" or "ipckRPC_"
//! 8   version: u32        PATTERN_VERSION
//! 12  slots: u32          1..=64
//! 16  capacity: u64       bytes per ring (a power of two)
//! 24  max_message: u64    largest record payload
//! 32  record_align: u32   16..=4096
//! 36  flags: u32          FLAG_DROP_OLDEST (publish/subscribe)
//! 40  slot_offset: u64    where the slot table starts
//! 48  slot_size: u64      bytes per slot
//! 56  data_offset: u64    where the rings start (4096-aligned)
//! 64  ring_stride: u64    bytes between two slots' rings (0: one ring)
//! 72  total_size: u64     bytes of the whole segment
//! 80  creator_pid: u32
//! ```
//!
//! An opener loads the magic with `Acquire` (pairs with the creator's `Release`), then
//! copies every field once, recomputes the layout from the sizes and refuses any field
//! that differs: the sizes are never read from shared memory again.

use std::time::{Duration, Instant};

use super::layout::{Geometry, Line, ROLE_CLOSED, ROLE_CONNECTED, ROLE_FREE, Role};
use super::mem::{AllAtomic, Segment};
use super::peer;
use super::ring::Wake;
use super::sync::{AtomicU32, AtomicU64, Ordering};
use crate::error::{Error, ErrorKind, Object, Result};

/// The layout version of the pattern segments.
pub(crate) const PATTERN_VERSION: u32 = 1;
/// The most members (senders, subscribers, clients) a segment holds: one bit each in
/// a 64-bit mask.
pub(crate) const MAX_SLOTS: usize = 64;
/// Config flag: a publish/subscribe ring drops the oldest messages of slow subscribers.
pub(crate) const FLAG_DROP_OLDEST: u32 = 1;
/// How often a long wait checks that the processes of the other ends live.
pub(crate) const LIVENESS_PERIOD: Duration = Duration::from_millis(50);

/// What a publisher does when a subscriber has not read the oldest message and the
/// ring is full.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait for the slowest subscriber (back-pressure). A subscriber that dies is
    /// dropped within 50 ms, so it never blocks the publisher for good.
    #[default]
    Block,
    /// Drop the oldest messages the slowest subscribers have not read; each
    /// subscriber learns how many it missed ([`pubsub::Message::missed`](super::pubsub::Message::missed)).
    /// A message being read in place is never dropped.
    DropOldest,
}

/// The sizes of a many-to-one, publish/subscribe or request/response segment.
///
/// ```
/// use ipckit::channel::{Overflow, PatternConfig};
/// let c = PatternConfig::new().with_capacity(1 << 16).with_max_members(8).with_overflow(Overflow::DropOldest);
/// assert_eq!(c.max_members(), 8);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatternConfig {
    capacity: usize,
    max_message: usize,
    record_align: usize,
    max_members: usize,
    overflow: Overflow,
}

impl Default for PatternConfig {
    /// 64 KiB rings, messages up to about half of one, 16 members, back-pressure.
    fn default() -> PatternConfig {
        PatternConfig {
            capacity: 64 * 1024,
            max_message: 0,
            record_align: 64,
            max_members: 16,
            overflow: Overflow::Block,
        }
    }
}

impl PatternConfig {
    /// The default: 64 KiB rings, 16 members, back-pressure.
    pub fn new() -> PatternConfig {
        PatternConfig::default()
    }

    /// Bytes of each ring (one per sender or client, one in all for publish/subscribe);
    /// rounded up to a power of two and grown to hold two of the largest messages.
    pub fn with_capacity(mut self, bytes: usize) -> PatternConfig {
        self.capacity = bytes;
        self
    }

    /// The largest message in bytes (0: as large as half a ring allows).
    pub fn with_max_message(mut self, bytes: usize) -> PatternConfig {
        self.max_message = bytes;
        self
    }

    /// Where records start in a ring: multiples of this power of two, 16 to 4096
    /// (default 64). See [`ChannelConfig::with_record_align`](super::ChannelConfig::with_record_align).
    pub fn with_record_align(mut self, bytes: usize) -> PatternConfig {
        self.record_align = bytes;
        self
    }

    /// How many senders, subscribers or clients may be connected at once: 1 to 64
    /// (default 16). Each has a slot (and, but for subscribers, its own ring).
    pub fn with_max_members(mut self, n: usize) -> PatternConfig {
        self.max_members = n;
        self
    }

    /// What a publisher does when a slow subscriber fills the ring (default: wait).
    pub fn with_overflow(mut self, overflow: Overflow) -> PatternConfig {
        self.overflow = overflow;
        self
    }

    /// The requested ring size.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The requested largest message (0: automatic).
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// The record alignment.
    pub fn record_align(&self) -> usize {
        self.record_align
    }

    /// The number of member slots.
    pub fn max_members(&self) -> usize {
        self.max_members
    }

    /// The overflow policy (publish/subscribe only).
    pub fn overflow(&self) -> Overflow {
        self.overflow
    }
}

/// The config line.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct PatternHeader {
    pub(crate) magic: AtomicU64,
    pub(crate) version: AtomicU32,
    pub(crate) slots: AtomicU32,
    pub(crate) capacity: AtomicU64,
    pub(crate) max_message: AtomicU64,
    pub(crate) record_align: AtomicU32,
    pub(crate) flags: AtomicU32,
    pub(crate) slot_offset: AtomicU64,
    pub(crate) slot_size: AtomicU64,
    pub(crate) data_offset: AtomicU64,
    pub(crate) ring_stride: AtomicU64,
    pub(crate) total_size: AtomicU64,
    pub(crate) creator_pid: AtomicU32,
    pub(crate) reserved: AtomicU32,
}

// SAFETY: repr(C), only atomics, 88 bytes without padding.
#[allow(unsafe_code)]
unsafe impl AllAtomic for Line<PatternHeader> {}
// SAFETY: Role is repr(C) of atomics (u32, u32, u64, u64): no padding.
#[allow(unsafe_code)]
unsafe impl AllAtomic for Line<Role> {}
// SAFETY: Wake is repr(C) of two AtomicU32.
#[allow(unsafe_code)]
unsafe impl AllAtomic for Line<Wake> {}
// SAFETY: one AtomicU64.
#[allow(unsafe_code)]
unsafe impl AllAtomic for Line<AtomicU64> {}
// SAFETY: repr(C) of atomics: u32, u32, then a Role (u32, u32, u64, u64, u64): no padding.
#[allow(unsafe_code)]
unsafe impl AllAtomic for Line<SlotOwner> {}

/// The first line of a slot: who holds it.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct SlotOwner {
    /// 0 while free, else the pid of the process that claimed it (see `slot::claim`).
    pub(crate) owner: AtomicU32,
    /// Bumped by each claim (for listings; the protocol does not rely on it).
    pub(crate) claims: AtomicU32,
    /// The holder's identity, for liveness checks.
    pub(crate) role: Role,
}

#[cfg(not(ipckit_loom))]
const _: () = {
    assert!(std::mem::size_of::<PatternHeader>() == 88);
    assert!(std::mem::size_of::<Line<PatternHeader>>() == 128);
    assert!(std::mem::size_of::<SlotOwner>() == 40);
    assert!(std::mem::size_of::<Line<SlotOwner>>() == 128);
};

/// A pattern's layout, computed from its sizes (never read back from shared memory).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) magic: u64,
    pub(crate) geometry: Geometry,
    pub(crate) slots: u32,
    pub(crate) flags: u32,
    pub(crate) slot_offset: u64,
    pub(crate) slot_size: u64,
    pub(crate) data_offset: u64,
    pub(crate) ring_stride: u64,
    pub(crate) total_size: u64,
}

/// How a pattern lays out its segment: fixed lines, then slots, then rings.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Shape {
    /// The magic number.
    pub(crate) magic: u64,
    /// What the pattern is called in errors.
    pub(crate) what: &'static str,
    /// Bytes before the slot table (the config line and the pattern's own lines).
    pub(crate) slot_offset: u64,
    /// Bytes per slot.
    pub(crate) slot_size: u64,
    /// Rings per slot (0: one ring for the whole segment).
    pub(crate) rings_per_slot: u64,
    /// Bytes each record carries before the user's payload.
    pub(crate) prefix: u64,
}

impl Plan {
    /// The layout for a configuration, or why it cannot be made.
    pub(crate) fn new(shape: Shape, c: &PatternConfig, flags: u32) -> std::result::Result<Plan, String> {
        if c.max_members == 0 || c.max_members > MAX_SLOTS {
            return Err(format!("the number of members {} is not in 1..={MAX_SLOTS}", c.max_members));
        }
        let max = if c.max_message == 0 { 0 } else { c.max_message as u64 + shape.prefix };
        let g = Geometry::for_request(c.capacity as u64, max, c.record_align as u64)?;
        Plan::from_parts(shape, g, c.max_members as u32, flags)
    }

    fn from_parts(shape: Shape, g: Geometry, slots: u32, flags: u32) -> std::result::Result<Plan, String> {
        let data_offset = (shape.slot_offset + u64::from(slots) * shape.slot_size).next_multiple_of(4096);
        let ring_stride = shape.rings_per_slot * g.capacity;
        let rings = if shape.rings_per_slot == 0 { g.capacity } else { ring_stride * u64::from(slots) };
        let total_size = data_offset
            .checked_add(rings)
            .filter(|&t| t <= (1 << 46))
            .ok_or_else(|| format!("{slots} rings of {} bytes are too large", g.capacity))?;
        Ok(Plan {
            magic: shape.magic,
            geometry: g,
            slots,
            flags,
            slot_offset: shape.slot_offset,
            slot_size: shape.slot_size,
            data_offset,
            ring_stride,
            total_size,
        })
    }

    /// The largest user payload.
    pub(crate) fn max_payload(&self, shape: Shape) -> u64 {
        self.geometry.max_message - shape.prefix
    }

    /// Writes the config line of a new segment, magic last.
    pub(crate) fn init(&self, h: &PatternHeader) {
        h.version.store(PATTERN_VERSION, Ordering::Relaxed);
        h.slots.store(self.slots, Ordering::Relaxed);
        h.capacity.store(self.geometry.capacity, Ordering::Relaxed);
        h.max_message.store(self.geometry.max_message, Ordering::Relaxed);
        h.record_align.store(self.geometry.align as u32, Ordering::Relaxed);
        h.flags.store(self.flags, Ordering::Relaxed);
        h.slot_offset.store(self.slot_offset, Ordering::Relaxed);
        h.slot_size.store(self.slot_size, Ordering::Relaxed);
        h.data_offset.store(self.data_offset, Ordering::Relaxed);
        h.ring_stride.store(self.ring_stride, Ordering::Relaxed);
        h.total_size.store(self.total_size, Ordering::Relaxed);
        h.creator_pid.store(std::process::id(), Ordering::Relaxed);
        // Release pairs with the Acquire in `validate`.
        h.magic.store(self.magic, Ordering::Release);
    }

    /// Reads and checks the config line of a segment `mapped` bytes long.
    pub(crate) fn validate(
        shape: Shape,
        h: &PatternHeader,
        mapped: u64,
    ) -> std::result::Result<Plan, Invalid> {
        // Acquire pairs with the Release in `init`.
        match h.magic.load(Ordering::Acquire) {
            0 => return Err(Invalid::NotInitialized),
            m if m == shape.magic => {}
            m => {
                return Err(Invalid::Corrupted(format!(
                    "bad magic number {m:#018x}: not an ipckit {}",
                    shape.what
                )));
            }
        }
        let version = h.version.load(Ordering::Relaxed);
        if version != PATTERN_VERSION {
            return Err(Invalid::Corrupted(format!(
                "layout version {version}, this ipckit speaks version {PATTERN_VERSION}"
            )));
        }
        let slots = h.slots.load(Ordering::Relaxed);
        let capacity = h.capacity.load(Ordering::Relaxed);
        let max = h.max_message.load(Ordering::Relaxed);
        let align = u64::from(h.record_align.load(Ordering::Relaxed));
        let flags = h.flags.load(Ordering::Relaxed);
        if slots == 0 || slots as usize > MAX_SLOTS {
            return Err(Invalid::Corrupted(format!("{slots} slots: not in 1..={MAX_SLOTS}")));
        }
        if max < shape.prefix {
            return Err(Invalid::Corrupted(format!(
                "largest message {max} is smaller than a record's prefix"
            )));
        }
        // The sizes must be a geometry we would have made ourselves.
        let g = Geometry::for_request(capacity, max, align).map_err(Invalid::Corrupted)?;
        if g.capacity != capacity || g.max_message != max {
            return Err(Invalid::Corrupted(format!(
                "ring of {capacity} bytes with messages of {max} bytes aligned to {align}: not a valid geometry"
            )));
        }
        let plan = Plan::from_parts(shape, g, slots, flags).map_err(Invalid::Corrupted)?;
        let stored = (
            h.slot_offset.load(Ordering::Relaxed),
            h.slot_size.load(Ordering::Relaxed),
            h.data_offset.load(Ordering::Relaxed),
            h.ring_stride.load(Ordering::Relaxed),
            h.total_size.load(Ordering::Relaxed),
        );
        if stored != (plan.slot_offset, plan.slot_size, plan.data_offset, plan.ring_stride, plan.total_size) {
            return Err(Invalid::Corrupted(format!(
                "offsets {stored:?} do not match the layout of this ipckit version"
            )));
        }
        if plan.total_size > mapped {
            return Err(Invalid::Corrupted(format!(
                "the layout needs {} bytes, the mapping has {mapped}",
                plan.total_size
            )));
        }
        Ok(plan)
    }
}

/// Why a segment is refused.
#[derive(Debug)]
pub(crate) enum Invalid {
    NotInitialized,
    Corrupted(String),
}

/// Creates or opens a segment and returns it with its checked plan.
pub(crate) fn setup(shape: Shape, seg: Segment, create: Option<Plan>) -> Result<(Segment, Plan)> {
    let op = if create.is_some() { "channel create" } else { "channel open" };
    let h = &seg.at::<Line<PatternHeader>>(op, 0)?.0;
    let plan = match create {
        Some(p) => {
            p.init(h);
            p
        }
        None => Plan::validate(shape, h, seg.len()).map_err(|e| match e {
            Invalid::NotInitialized => Error::new(op, seg.obj(), ErrorKind::NotInitialized)
                .with_detail(format!("the creator has not finished setting up the {}; retry", shape.what)),
            Invalid::Corrupted(why) => Error::new(op, seg.obj(), ErrorKind::Corrupted).with_detail(why),
        })?,
    };
    Ok((seg, plan))
}

/// The plan for a new segment, or an `InvalidInput` error.
pub(crate) fn plan_for(shape: Shape, c: &PatternConfig, flags: u32) -> Result<Plan> {
    Plan::new(shape, c, flags).map_err(|why| {
        Error::new("channel create", Object::Name(shape.what.into()), ErrorKind::InvalidInput)
            .with_detail(why)
    })
}

/// Takes a single role (the hub's, the publisher's): `AlreadyExists` if taken before.
pub(crate) fn claim_role(seg: &Segment, role: &Role, which: &str) -> Result<u32> {
    // AcqRel: the claim is ordered with the record below and with earlier holders.
    match role.state.compare_exchange(ROLE_FREE, ROLE_CONNECTED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            let me = peer::current();
            peer::record(role, me);
            Ok(me.pid)
        }
        Err(state) => {
            let pid = role.pid.load(Ordering::Acquire);
            let why = if state == ROLE_CLOSED {
                format!("the {which} end was taken (by pid {pid}) and closed; it is taken once")
            } else {
                format!("the {which} end is already taken by pid {pid}")
            };
            Err(Error::new("channel claim", seg.obj(), ErrorKind::AlreadyExists).with_detail(why))
        }
    }
}

/// Records this process in a member slot it claimed.
pub(crate) fn enter_slot(slot: &SlotOwner) -> u32 {
    slot.claims.fetch_add(1, Ordering::Relaxed);
    let me = peer::current();
    // Relaxed: `peer::record` publishes the pid with Release after the other fields,
    // and `is_gone` reads the state before them.
    slot.role.state.store(ROLE_CONNECTED, Ordering::Relaxed);
    peer::record(&slot.role, me);
    me.pid
}

/// Clears a slot's identity (the hub or publisher, before it frees the slot).
pub(crate) fn clear_slot(slot: &SlotOwner) {
    slot.role.pid.store(0, Ordering::Relaxed);
    slot.role.start_time.store(0, Ordering::Relaxed);
    slot.role.pidns.store(0, Ordering::Relaxed);
    slot.role.state.store(ROLE_FREE, Ordering::Relaxed);
}

/// Whether the member of a held slot is gone: it closed, its process died, or it died
/// while joining (owner set, identity not or not wholly recorded: [`enter_slot`] marks
/// the slot connected before it writes the pid). `check_proc` allows the `/proc`
/// checks (rate-limited by the caller).
pub(crate) fn member_gone(slot: &SlotOwner, check_proc: bool) -> bool {
    match slot.role.state.load(Ordering::Acquire) {
        ROLE_CLOSED => true,
        _ if !check_proc => false,
        // Acquire pairs with the Release of the pid in `peer::record`.
        ROLE_CONNECTED if slot.role.pid.load(Ordering::Acquire) != 0 => peer::is_gone(&slot.role),
        // Killed before its pid was recorded: the owner word holds the pid too.
        _ => {
            let owner = slot.owner.load(Ordering::Relaxed);
            owner != 0 && !crate::process::is_alive(owner)
        }
    }
}

/// Marks this process's slot closed (if this process holds it) and wakes `wake`.
pub(crate) fn close_member(slot: &SlotOwner, pid: u32, wake: &Wake) {
    if std::process::id() != pid {
        return; // a copy in a forked child: the slot belongs to the parent
    }
    // Release pairs with the hub's Acquire of the state: all we published comes first.
    slot.role.state.store(ROLE_CLOSED, Ordering::Release);
    super::wait::notify_always(wake);
}

/// Closes a single role (if this process holds it) and wakes `wake`.
#[allow(dead_code)]
pub(crate) fn close_role(role: &Role, pid: u32, wake: &Wake) {
    if std::process::id() != pid {
        return;
    }
    // Release pairs with the peers' Acquire of the state.
    role.state.store(ROLE_CLOSED, Ordering::Release);
    super::wait::notify_always(wake);
}

/// A role that is never gone: the "peer" of a wait whose liveness checks the caller's
/// poll makes itself (it watches many members).
pub(crate) static NOBODY: Role = Role {
    state: AtomicU32::new(ROLE_FREE),
    pid: AtomicU32::new(0),
    start_time: AtomicU64::new(0),
    pidns: AtomicU64::new(0),
    count: AtomicU64::new(0),
};

/// A timer for the `/proc` liveness checks of many members.
#[derive(Debug)]
pub(crate) struct Every {
    next: Instant,
}

impl Every {
    pub(crate) fn new() -> Every {
        Every { next: Instant::now() }
    }

    /// True at most once per `LIVENESS_PERIOD`.
    pub(crate) fn due(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.next {
            self.next = now + LIVENESS_PERIOD;
            true
        } else {
            false
        }
    }
}

/// "Not now" as the blocking family reports it: `WouldBlock` for a call that did not
/// wait, `TimedOut` for one that did. Allocation-free.
pub(crate) fn not_now(op: &'static str, waited: bool) -> Error {
    Error::new(op, Object::None, if waited { ErrorKind::TimedOut } else { ErrorKind::WouldBlock })
}

/// A disconnected peer.
pub(crate) fn disconnected(op: &'static str, seg: &Segment, why: impl Into<String>) -> Error {
    Error::new(op, seg.obj(), ErrorKind::Disconnected).with_detail(why)
}

/// A protocol fault in shared memory.
pub(crate) fn corrupted(op: &'static str, seg: &Segment, why: impl std::fmt::Display) -> Error {
    Error::new(op, seg.obj(), ErrorKind::Corrupted).with_detail(why.to_string())
}

/// A message over the maximum.
pub(crate) fn too_large(op: &'static str, seg: &Segment, len: usize, max: u64) -> Error {
    Error::new(op, seg.obj(), ErrorKind::MessageTooLarge)
        .with_detail(format!("a message of {len} bytes exceeds the largest message of {max} bytes"))
}
