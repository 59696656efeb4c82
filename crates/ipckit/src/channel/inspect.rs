//! Reading a channel's header from the outside, for listings: what kind of channel a
//! piece of shared memory holds, its sizes, who holds its ends, and how full it is.
//!
//! The inspector never writes and never takes an end. It sees the memory through a
//! read-only mapping or attachment ([`Words`]), one atomic load at a time, each bounds
//! checked by the mapping: no `&T` or `&[u8]` is made of memory other processes write,
//! and a header full of garbage gives garbage numbers or `None`, never a fault.
//!
//! Recognised: the single-pair channel (`layout`, "ipckCHAN", version 2) and the three
//! patterns (`table`, "ipckPUBS", "ipckMERG", "ipckRPC_", pattern version 1). What a
//! snapshot says is true at the instant of each load, not of the whole: a busy
//! channel moves while it is read.

use std::os::unix::fs::MetadataExt;

use super::hub::{MERGE, RPC};
use super::layout::{DATA_OFFSET, MAGIC, MAX_CAPACITY, MIN_CAPACITY, ROLE_CLOSED, ROLE_CONNECTED, VERSION};
use super::pubsub::PUBSUB;
use super::ring::{KIND_MESSAGE, KIND_PADDING, RECORD_HEADER, record_size, stamp};
use super::sync::Ordering;
use super::table::{MAX_SLOTS, PATTERN_VERSION, Shape};
use crate::posix::shm::Mapping;
use crate::sysv::shm::Attachment;

/// Memory seen only through checked atomic loads (read-only mappings included).
pub(crate) trait Words {
    /// The aligned 8 bytes at `off`, or `None` outside the memory.
    fn load64(&self, off: u64) -> Option<u64>;
    /// The aligned 4 bytes at `off`, or `None` outside the memory.
    fn load32(&self, off: u64) -> Option<u32>;
    /// The memory's length in bytes.
    fn size(&self) -> u64;
}

impl Words for Mapping {
    fn load64(&self, off: u64) -> Option<u64> {
        self.load_u64(usize::try_from(off).ok()?, Ordering::Acquire).ok()
    }
    fn load32(&self, off: u64) -> Option<u32> {
        self.load_u32(usize::try_from(off).ok()?, Ordering::Acquire).ok()
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

impl Words for Attachment {
    fn load64(&self, off: u64) -> Option<u64> {
        self.load_u64(usize::try_from(off).ok()?, Ordering::Acquire).ok()
    }
    fn load32(&self, off: u64) -> Option<u32> {
        self.load_u32(usize::try_from(off).ok()?, Ordering::Acquire).ok()
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// The kind of channel, from its magic number.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Spsc,
    PubSub,
    Merge,
    Rpc,
}

/// The state of one end, as its role line records it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum EndState {
    /// Nobody took it yet (or the slot is free).
    Free,
    /// A process holds it: is it alive? `None`: cannot be told (another pid namespace).
    Held(Option<bool>),
    /// Its holder closed it.
    Closed,
}

/// One end of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct End {
    /// "sender", "receiver", "publisher", "subscriber", "server", "client".
    pub(crate) role: &'static str,
    /// The slot of a member (patterns), `None` for a fixed role.
    pub(crate) slot: Option<u32>,
    pub(crate) pid: u32,
    pub(crate) state: EndState,
}

/// What the header of a channel says.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) kind: Kind,
    pub(crate) capacity: u64,
    pub(crate) max_message: u64,
    /// Member slots (patterns); 0 for the single-pair channel.
    pub(crate) slots: u32,
    pub(crate) creator_pid: u32,
    pub(crate) ends: Vec<End>,
    /// Messages the sender has published (single-pair channel only).
    pub(crate) sent: Option<u64>,
    /// Messages published and not yet taken, and the ring bytes they occupy.
    pub(crate) queued: Option<(u64, u64)>,
}

/// Reads the channel in `mem`, or `None` if it holds none (wrong magic, another
/// version, impossible sizes, or a creator not finished).
pub(crate) fn inspect(mem: &dyn Words) -> Option<Snapshot> {
    let magic = mem.load64(0)?;
    if magic == MAGIC {
        return spsc(mem);
    }
    let (kind, shape) = if magic == PUBSUB.magic {
        (Kind::PubSub, PUBSUB)
    } else if magic == MERGE.magic {
        (Kind::Merge, MERGE)
    } else if magic == RPC.magic {
        (Kind::Rpc, RPC)
    } else {
        return None;
    };
    pattern(mem, kind, shape)
}

fn capacity_ok(capacity: u64) -> bool {
    capacity.is_power_of_two() && (MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity)
}

/// The single-pair channel: the `layout` header.
fn spsc(mem: &dyn Words) -> Option<Snapshot> {
    // Config line: magic 0, version 8, header_size 12, capacity 16, max_message 24,
    // data_offset 32, record_align 40, record_header 44, creator_pid 48.
    if mem.load32(8)? != VERSION || mem.load64(32)? != DATA_OFFSET {
        return None;
    }
    let capacity = mem.load64(16)?;
    let align = u64::from(mem.load32(40)?);
    if !capacity_ok(capacity) || DATA_OFFSET + capacity > mem.size() || !align.is_power_of_two() || align < 16
    {
        return None;
    }
    let ends = vec![role_end(mem, 128, "sender", None)?, role_end(mem, 256, "receiver", None)?];
    let head = mem.load64(384)?;
    Some(Snapshot {
        kind: Kind::Spsc,
        capacity,
        max_message: mem.load64(24)?,
        slots: 0,
        creator_pid: mem.load32(48)?,
        ends,
        sent: Some(mem.load64(128 + 24)?),
        queued: Some(walk(mem, DATA_OFFSET, capacity, align, head)),
    })
}

/// A pattern: the `table` config line, its fixed role, its slots.
fn pattern(mem: &dyn Words, kind: Kind, shape: Shape) -> Option<Snapshot> {
    // Config line: version 8, slots 12, capacity 16, max_message 24, record_align 32,
    // flags 36, slot_offset 40, slot_size 48, data_offset 56, ring_stride 64,
    // total_size 72, creator_pid 80.
    if mem.load32(8)? != PATTERN_VERSION {
        return None;
    }
    let slots = mem.load32(12)?;
    let capacity = mem.load64(16)?;
    let align = u64::from(mem.load32(32)?);
    let (slot_offset, slot_size) = (mem.load64(40)?, mem.load64(48)?);
    let (data_offset, stride, total) = (mem.load64(56)?, mem.load64(64)?, mem.load64(72)?);
    if slots == 0
        || slots as usize > MAX_SLOTS
        || !capacity_ok(capacity)
        || !align.is_power_of_two()
        || align < 16
        || (slot_offset, slot_size) != (shape.slot_offset, shape.slot_size)
        || total > mem.size()
    {
        return None;
    }
    let (hub, member) = match kind {
        Kind::PubSub => ("publisher", "subscriber"),
        Kind::Merge => ("receiver", "sender"),
        _ => ("server", "client"),
    };
    let mut ends = vec![role_end(mem, 128, hub, None)?];
    let mut queued = (0, 0);
    for i in 0..slots {
        let off = slot_offset + u64::from(i) * slot_size;
        if mem.load32(off)? == 0 {
            continue; // a free slot
        }
        ends.push(role_end(mem, off + 8, member, Some(i))?);
        if kind != Kind::PubSub && shape.rings_per_slot > 0 {
            // The member's up ring, read from the hub's head (line +128 of the slot).
            let ring = data_offset.checked_add(u64::from(i).checked_mul(stride)?)?;
            if ring.checked_add(capacity).is_some_and(|end| end <= mem.size()) {
                let (m, b) = walk(mem, ring, capacity, align, mem.load64(off + 128)?);
                queued = (queued.0 + m, queued.1 + b);
            }
        }
    }
    Some(Snapshot {
        kind,
        capacity,
        max_message: mem.load64(24)?.saturating_sub(shape.prefix),
        slots,
        creator_pid: mem.load32(80)?,
        ends,
        sent: None,
        queued: (kind != Kind::PubSub).then_some(queued),
    })
}

/// The end recorded by the `Role` at `off`: state 0, pid 4, start time 8, pid
/// namespace 16.
fn role_end(mem: &dyn Words, off: u64, role: &'static str, slot: Option<u32>) -> Option<End> {
    let state = mem.load32(off)?;
    let pid = mem.load32(off + 4)?;
    let state = match state {
        ROLE_CONNECTED if pid != 0 => EndState::Held(lives(pid, mem.load64(off + 8)?, mem.load64(off + 16)?)),
        ROLE_CONNECTED => EndState::Held(None), // being filled in
        ROLE_CLOSED => EndState::Closed,
        _ => EndState::Free,
    };
    Some(End { role, slot, pid, state })
}

/// Whether the process `pid` that started at `start` (field 22 of `/proc/PID/stat`) in
/// pid namespace `ns` still lives: gone if its `/proc` entry is missing, a zombie, or
/// a later process with the same pid. `None` across pid namespaces.
pub(crate) fn lives(pid: u32, start: u64, ns: u64) -> Option<bool> {
    let mine = std::fs::metadata("/proc/self/ns/pid").map(|m| m.ino()).unwrap_or(0);
    if ns == 0 || mine == 0 || ns != mine {
        return None;
    }
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Some(false) };
    match super::peer::parse_stat(&text) {
        Some((s, _)) if s == 'Z' || s == 'X' || s == 'x' => Some(false),
        Some((_, t)) => Some(start == 0 || t == start),
        None => Some(false),
    }
}

/// Walks the published records of a ring from the consumer's position `head`: how
/// many messages are waiting, and how many ring bytes they (and any padding) take.
/// Stops at the first position without this lap's stamp, and after one lap at most.
fn walk(mem: &dyn Words, ring: u64, capacity: u64, align: u64, head: u64) -> (u64, u64) {
    let (mut pos, mut messages) = (head, 0u64);
    while pos - head < capacity {
        let off = pos & (capacity - 1);
        if mem.load64(ring + off) != Some(stamp(pos)) {
            break;
        }
        let Some(meta) = mem.load64(ring + off + 8) else { break };
        let (kind, len) = ((meta >> 32) as u32, meta & 0xFFFF_FFFF);
        let next = match kind {
            KIND_PADDING => pos.checked_add(capacity - off),
            KIND_MESSAGE if RECORD_HEADER + len <= capacity / 2 => {
                messages += 1;
                pos.checked_add(record_size(len, align))
            }
            _ => None,
        };
        let Some(next) = next else { break };
        pos = next;
    }
    (messages, (pos - head).min(capacity))
}
