//! The shared header: a contract between processes, checked on open.
//!
//! ```text
//! offset    size  what                                   written by
//! 0         128   Config: magic, version, sizes          the creator, once
//! 128       128   Role of the sender: state, pid, count  the sender
//! 256       128   Role of the receiver                   the receiver
//! 384       128   head: the receiver's position          the receiver
//! 512       128   Wake for data (the receiver sleeps)    both
//! 640       128   Wake for space (the sender sleeps)     both
//! 4096      cap   the ring (see `ring`)                  both
//! ```
//!
//! Each group has a 128-byte line of its own (two 64-byte cache lines, as the
//! adjacent-line prefetcher pairs them), so that the sender's and the receiver's
//! writes never share a line. All fields are atomics: the header is reached as
//! `&Header`, which is sound for memory another process writes because every byte of
//! it is inside an atomic. The creator writes the config, then the magic number with
//! `Release`; an opener loads the magic with `Acquire`, then copies and checks every
//! field once, and never reads them again.

use super::ring::{self, MAX_RECORD_ALIGN, RECORD_ALIGN, RECORD_HEADER, Wake};
use super::sync::{AtomicU32, AtomicU64, Ordering};

/// "ipckCHAN", little-endian.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"ipckCHAN");
/// The layout version; any change to the header or the record format bumps it.
/// Version 2: the sender's count of published messages in its role, and a poller's
/// registration (`ring::PollSlot`) in each wake line; a version-1 peer would keep
/// neither.
pub(crate) const VERSION: u32 = 2;
/// Where the ring starts (one page in, so that large copies start page-aligned).
pub(crate) const DATA_OFFSET: u64 = 4096;
/// The smallest ring.
pub(crate) const MIN_CAPACITY: u64 = 1024;
/// The largest ring (1 TiB).
pub(crate) const MAX_CAPACITY: u64 = 1 << 40;

/// A role's state: nobody has taken it yet.
pub(crate) const ROLE_FREE: u32 = 0;
/// A role's state: a process holds it.
pub(crate) const ROLE_CONNECTED: u32 = 1;
/// A role's state: its holder closed it (dropped its end).
pub(crate) const ROLE_CLOSED: u32 = 2;

/// A 128-byte line of its own.
#[repr(C, align(128))]
#[derive(Debug)]
pub(crate) struct Line<T>(pub(crate) T);

/// Written once by the creator.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) magic: AtomicU64,
    pub(crate) version: AtomicU32,
    pub(crate) header_size: AtomicU32,
    pub(crate) capacity: AtomicU64,
    pub(crate) max_message: AtomicU64,
    pub(crate) data_offset: AtomicU64,
    pub(crate) record_align: AtomicU32,
    pub(crate) record_header: AtomicU32,
    pub(crate) creator_pid: AtomicU32,
    pub(crate) reserved: AtomicU32,
}

/// Who holds one end, so that the other end can tell when it is gone.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Role {
    /// `ROLE_FREE`, `ROLE_CONNECTED` or `ROLE_CLOSED`.
    pub(crate) state: AtomicU32,
    /// The holder's process id (0 while it is being filled in).
    pub(crate) pid: AtomicU32,
    /// The holder's start time (field 22 of `/proc/PID/stat`): tells a reused pid.
    pub(crate) start_time: AtomicU64,
    /// The inode of the holder's pid namespace: pids compare only within one.
    pub(crate) pidns: AtomicU64,
    /// The sender's role: how many messages it has published (stored after each
    /// message's stamp, so it survives the sender's death). Unused by the receiver.
    pub(crate) count: AtomicU64,
}

/// The whole header.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) config: Line<Config>,
    pub(crate) tx: Line<Role>,
    pub(crate) rx: Line<Role>,
    pub(crate) head: Line<AtomicU64>,
    pub(crate) data_wake: Line<Wake>,
    pub(crate) space_wake: Line<Wake>,
}

#[cfg(not(ipckit_loom))]
const _: () = {
    assert!(std::mem::size_of::<Config>() == 56);
    assert!(std::mem::size_of::<Role>() == 32);
    assert!(std::mem::size_of::<Header>() == 6 * 128);
    assert!(std::mem::align_of::<Header>() == 128);
    assert!(std::mem::size_of::<Header>() as u64 <= DATA_OFFSET);
    assert!(std::mem::offset_of!(Header, head) == 384);
    assert!(std::mem::offset_of!(Header, data_wake) == 512);
    assert!(std::mem::size_of::<Wake>() <= 64);
};

/// The sizes of a ring, checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Bytes in the ring (a power of two).
    pub(crate) capacity: u64,
    /// Largest message, in bytes.
    pub(crate) max_message: u64,
    /// Records start at multiples of this (a power of two, 16 to 4096).
    pub(crate) align: u64,
}

impl Geometry {
    /// The geometry for a request: the capacity rounded up to a power of two and grown
    /// until a message of `max_message` bytes fits in half of it. `max_message == 0`
    /// means "as large as the capacity allows".
    pub(crate) fn for_request(capacity: u64, max_message: u64, align: u64) -> Result<Geometry, String> {
        if capacity > MAX_CAPACITY || max_message > MAX_CAPACITY / 2 {
            return Err(format!("a ring holds at most {MAX_CAPACITY} bytes"));
        }
        if !align.is_power_of_two() || !(RECORD_ALIGN..=MAX_RECORD_ALIGN).contains(&align) {
            return Err(format!(
                "the record alignment {align} is not a power of two in {RECORD_ALIGN}..={MAX_RECORD_ALIGN}"
            ));
        }
        let mut cap = capacity.max(MIN_CAPACITY).max(4 * align).next_power_of_two();
        if max_message > 0 {
            cap = cap.max((2 * ring::record_size(max_message, align)).next_power_of_two());
        }
        if max_message > u64::from(u32::MAX) {
            return Err(format!("a message holds at most {} bytes", u32::MAX));
        }
        let max = if max_message == 0 { ring::max_payload(cap) } else { max_message };
        Ok(Geometry { capacity: cap, max_message: max, align })
    }

    /// The size of the shared memory that holds this ring.
    pub(crate) fn total_size(&self) -> u64 {
        DATA_OFFSET + self.capacity
    }

    /// Checks sizes read from shared memory.
    fn check(capacity: u64, max_message: u64, align: u64) -> Result<Geometry, String> {
        if !capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(format!(
                "the ring's capacity {capacity} is not a power of two in {MIN_CAPACITY}..={MAX_CAPACITY}"
            ));
        }
        if !align.is_power_of_two()
            || !(RECORD_ALIGN..=MAX_RECORD_ALIGN).contains(&align)
            || align * 4 > capacity
        {
            return Err(format!(
                "the record alignment {align} is not a power of two in {RECORD_ALIGN}..={MAX_RECORD_ALIGN} (and at most a quarter of the ring)"
            ));
        }
        if max_message > ring::max_payload(capacity) {
            return Err(format!(
                "the largest message {max_message} does not fit half of the {capacity}-byte ring"
            ));
        }
        Ok(Geometry { capacity, max_message, align })
    }
}

/// Writes the config of a new channel: the sizes, then the magic number.
pub(crate) fn init(h: &Header, g: Geometry, creator_pid: u32) {
    let c = &h.config.0;
    c.version.store(VERSION, Ordering::Relaxed);
    c.header_size.store(std::mem::size_of::<Header>() as u32, Ordering::Relaxed);
    c.capacity.store(g.capacity, Ordering::Relaxed);
    c.max_message.store(g.max_message, Ordering::Relaxed);
    c.data_offset.store(DATA_OFFSET, Ordering::Relaxed);
    c.record_align.store(g.align as u32, Ordering::Relaxed);
    c.record_header.store(RECORD_HEADER as u32, Ordering::Relaxed);
    c.creator_pid.store(creator_pid, Ordering::Relaxed);
    // Release pairs with `validate`'s Acquire: the fields above are visible with it.
    c.magic.store(MAGIC, Ordering::Release);
}

/// Why a header is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The magic number is still zero: the creator has not finished.
    NotInitialized,
    /// Anything else, explained.
    Corrupted(String),
}

/// Checks the header of memory `mapped_len` bytes long and returns its geometry.
pub(crate) fn validate(h: &Header, mapped_len: u64) -> Result<Geometry, Invalid> {
    let c = &h.config.0;
    // Acquire pairs with the Release in `init`.
    match c.magic.load(Ordering::Acquire) {
        0 => return Err(Invalid::NotInitialized),
        MAGIC => {}
        m => return Err(Invalid::Corrupted(format!("bad magic number {m:#018x}: not an ipckit channel"))),
    }
    let bad = |s: String| Err(Invalid::Corrupted(s));
    let version = c.version.load(Ordering::Relaxed);
    if version != VERSION {
        return bad(format!("layout version {version}, this ipckit speaks version {VERSION}"));
    }
    let hs = c.header_size.load(Ordering::Relaxed);
    if hs as usize != std::mem::size_of::<Header>() {
        return bad(format!("header size {hs}, expected {}", std::mem::size_of::<Header>()));
    }
    let off = c.data_offset.load(Ordering::Relaxed);
    let ra = c.record_align.load(Ordering::Relaxed);
    let rh = c.record_header.load(Ordering::Relaxed);
    if off != DATA_OFFSET || u64::from(rh) != RECORD_HEADER {
        return bad(format!("data offset {off}, record header {rh}: not this layout"));
    }
    let g = Geometry::check(
        c.capacity.load(Ordering::Relaxed),
        c.max_message.load(Ordering::Relaxed),
        u64::from(ra),
    )
    .map_err(Invalid::Corrupted)?;
    if g.total_size() > mapped_len {
        return bad(format!(
            "a ring of {} bytes needs {} bytes of shared memory, the mapping has {mapped_len}",
            g.capacity,
            g.total_size()
        ));
    }
    Ok(g)
}
