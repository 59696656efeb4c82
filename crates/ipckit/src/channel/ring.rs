//! The ring's algorithm: a bounded single-producer / single-consumer queue of
//! variable-size records in a byte ring, with no shared tail index.
//!
//! It stays one file (~600 lines) because the producer, the consumer and the wake
//! handshake are one algorithm whose memory orderings pair across them; apart, the
//! pairs would be hard to see.
//!
//! # Layout
//!
//! The ring is `capacity` bytes (a power of two). Positions are byte counts that only
//! grow (`u64`, never wrapping in practice); a position's offset in the ring is
//! `pos & (capacity - 1)`. Every record starts at a multiple of the ring's record
//! alignment (16 bytes by default, up to 4096; see below) and is
//!
//! ```text
//! offset 0   stamp: u64   = pos ^ STAMP_KEY, stored last, with Release
//! offset 8   meta:  u64   = kind << 32 | len   (kind 1: message, 2: padding)
//! offset 16  payload: len bytes, then padding to the next multiple of the alignment
//! ```
//!
//! A larger alignment trades space for latency: with 128, a record of up to 112 bytes
//! of payload lies in one aligned pair of cache lines, which the consumer gets in one
//! transfer (with the adjacent line), instead of one line now and one more once it
//! has read the stamp.
//!
//! A record never wraps: when one does not fit before the end of the ring, the
//! producer first writes a **padding** record that covers the rest of the ring, and the
//! message starts at offset 0. Loans are therefore always contiguous. A record is at
//! most half the ring, which guarantees that it fits into an empty ring whatever the
//! current offset.
//!
//! # Starting over early (large records)
//!
//! A producer whose ring is configured for it ([`Producer::restart_from`]) also pads
//! *before* the end of the ring: when a large record (at least the configured size)
//! comes while the ring is empty (the consumer has taken everything) and the record
//! fits before the producer's offset, it writes the same padding record from its
//! position to the end and starts the record at offset 0. Large messages sent to a
//! consumer that keeps up then reuse the same memory, still in the caches, instead of
//! walking the whole ring through cold memory. Nothing changes for the consumer: it
//! skips this padding as any other, at once if it is waiting for a message, since it
//! has nothing else to read. The price falls on a consumer that is *not* reading at
//! that moment: until it reads past the padding, the padding holds its room, and the
//! producer has only the room before the consumer's position (at worst one large
//! record, where going on would have left the rest of the lap). Messages are never
//! lost that way, only held back (`tests/channel/large_edges.rs` shows it). The
//! producer decides with a fresh `head` (pair 2 below), so it never writes space the
//! consumer has not freed; small records pay one comparison.
//!
//! # Synchronisation
//!
//! The consumer does not read a tail index: it polls the stamp of the record at its
//! own position, which must equal `pos ^ STAMP_KEY`. Stale bytes from an older lap
//! (an old stamp, or payload) do not match, because their position differs; the key
//! makes zeroed memory and small integers in payloads unlikely matches. So a
//! receiver spinning on an empty ring touches one cache line, the one the next message
//! will be written to, which it then finds in the same transfer as its first bytes.
//!
//! The consumer publishes its position in `head` after it has read a record, and the
//! producer reads `head` only when its cached copy says the ring is full. The two
//! release/acquire pairs:
//!
//! 1. **stamp** — the producer writes meta and payload, then stores the stamp with
//!    `Release`; the consumer loads the stamp with `Acquire` and only then reads meta
//!    and payload. Everything written before the stamp is visible after it.
//! 2. **head** — the consumer copies the payload out (or drops its guard), then
//!    stores `head` with `Release`; the producer loads `head` with `Acquire` before
//!    writing into the space it frees. The consumer's reads happen before the
//!    producer's overwrites.
//!
//! 3. **count** — after each message's stamp, the producer stores the number of
//!    messages it has published so far with `Release` (in its role's line of the
//!    header, not in the ring); the consumer loads it with `Acquire` on its slow path
//!    only. A consumer that has taken fewer messages than the count must find a
//!    published record at its position: if it does not, records were damaged or
//!    overwritten, and that is a [`Fault::Missing`] instead of a silent wait or a
//!    clean end. The count outlives the producer's process, so a receiver that finds
//!    its sender dead can still tell "everything arrived" from "messages were lost".
//!
//! Sleeping is a fourth pair, with full barriers (`SeqCst` fences; see [`Wake`]).
//!
//! # Taking over from a dead producer
//!
//! The producer's position lives only in its process; when that process dies, a new
//! producer finds it again in the ring ([`Producer::resume`]): from the consumer's
//! `head` it walks the published records (stamp by stamp, padding included) to the first
//! position that holds no stamp of its own. Since a stamp names its position, stale bytes
//! of older laps never match, and nothing past the dead producer's last stamp can carry
//! one. A record is published by its stamp alone (pair 1), so a producer killed anywhere
//! leaves each record either whole and stamped (the walk passes it, the consumer reads
//! it) or unstamped (the walk stops there and the new producer writes over it; the
//! consumer never saw it). Killed between a padding record and the message after it, the
//! padding is passed like any other. The walk reads only: the ring does not change
//! while nobody produces (the consumer moves `head`, which the walk does not need to
//! follow: a `head` seen earlier is a conservative view, as in `reserve`).
//!
//! The count (pair 3) is stored after the stamp, so a producer killed between the two
//! leaves it one short; the new producer goes on from the count it finds. A count that
//! is short is safe (the consumer's check for missing records never fires falsely), and
//! it then misses a loss of at most one message.
//!
//! # Damage the consumer detects
//!
//! At its position the consumer finds this lap's stamp (a record), or stale bytes
//! from an older lap. A stamp of a *later* lap there is impossible in a sound ring
//! (the producer never writes a full lap past `head`), so it is a [`Fault::Lap`]
//! (checked up to a few laps ahead: further values are taken for stale payload).
//! Damage that leaves no trace in the stamp word (a record wiped, the index moved so
//! that the producer overwrote unread records at other offsets) is caught by the
//! count. What cannot be caught: a scribbler that also rewrites the count, or that
//! forges a valid stamp and meta (the record is then delivered with whatever bytes
//! it holds).
//!
//! Every value read from shared memory (the head, a meta word) is copied once and
//! checked before use; a bad value is a [`Fault`], never an out-of-bounds access.

use super::sync::{AtomicU32, AtomicU64, Ordering, full_barrier};

/// Records start at multiples of the ring's record alignment, at least this much.
pub(crate) const RECORD_ALIGN: u64 = 16;
/// The largest record alignment.
pub(crate) const MAX_RECORD_ALIGN: u64 = 4096;
/// Bytes before a record's payload (stamp and meta).
pub(crate) const RECORD_HEADER: u64 = 16;
/// `meta` kind of a message.
pub(crate) const KIND_MESSAGE: u32 = 1;
/// `meta` kind of a padding record that covers the rest of the ring.
pub(crate) const KIND_PADDING: u32 = 2;
/// XORed into positions to make stamps: a fixed odd pattern (the 64-bit golden ratio).
pub(crate) const STAMP_KEY: u64 = 0x9E37_79B9_7F4A_7C15;

/// How many laps ahead a stamp at the consumer's position is recognised as one (a
/// [`Fault::Lap`]); further ahead it is taken for stale payload bytes.
const LATER_LAPS: u64 = 4;

/// The stamp that marks a record at position `pos` as published.
#[inline]
pub(crate) fn stamp(pos: u64) -> u64 {
    pos ^ STAMP_KEY
}

/// The bytes a record with a payload of `len` takes in a ring whose records start at
/// multiples of `align` (a power of two, at least 16).
#[inline]
pub(crate) fn record_size(len: u64, align: u64) -> u64 {
    (RECORD_HEADER + len).div_ceil(align) * align
}

#[inline]
fn meta(kind: u32, len: u64) -> u64 {
    (u64::from(kind) << 32) | (len & 0xFFFF_FFFF)
}

/// The largest payload a ring of `capacity` bytes accepts: a record is at most half
/// the ring (whatever the record alignment, if it divides half the ring).
pub(crate) fn max_payload(capacity: u64) -> u64 {
    (capacity / 2 - RECORD_HEADER).min(u64::from(u32::MAX)) / RECORD_ALIGN * RECORD_ALIGN
}

/// The ring's bytes: the real shared memory, or a model of it.
pub(crate) trait RingData {
    /// The 8-byte word at `off` as an atomic (`off` 8-aligned, inside the ring).
    fn word(&self, off: u64) -> &AtomicU64;
    /// Copies `src` into the ring at `off` (the range lies inside the ring).
    fn write(&self, off: u64, src: &[u8]);
    /// Copies from the ring at `off` into `dst` (the range lies inside the ring).
    fn read(&self, off: u64, dst: &mut [u8]);
}

/// A value read from shared memory that breaks the protocol.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The consumer's `head` is not between the producer's last known head and tail.
    Head { head: u64, tail: u64 },
    /// A published record has an unknown kind.
    Kind { pos: u64, kind: u32 },
    /// A published message is longer than the maximum, or runs past the ring's end.
    Length { pos: u64, len: u64 },
    /// The record at the consumer's position carries the stamp of a later lap.
    Lap { pos: u64, found: u64 },
    /// The producer published more messages than the consumer took, yet nothing is
    /// published at the consumer's position.
    Missing { pos: u64, published: u64, consumed: u64 },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Fault::Head { head, tail } => write!(
                f,
                "the receiver's index {head} is impossible for the sender's position {tail} \
                 (shared memory was overwritten)"
            ),
            Fault::Kind { pos, kind } => {
                write!(
                    f,
                    "the record at position {pos} has unknown kind {kind} (shared memory was overwritten)"
                )
            }
            Fault::Length { pos, len } => write!(
                f,
                "the record at position {pos} claims {len} bytes, more than fit (shared memory was overwritten)"
            ),
            Fault::Lap { pos, found } => write!(
                f,
                "the record at position {pos} is stamped for position {found}, a later lap: unread \
                 messages were overwritten (shared memory was overwritten)"
            ),
            Fault::Missing { pos, published, consumed } => write!(
                f,
                "the sender published {published} messages, {consumed} were received, and no message \
                 is at position {pos}: {} messages were lost (shared memory was overwritten)",
                published - consumed
            ),
        }
    }
}

/// Room reserved for one message: its position and where its payload goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The record's position.
    pub(crate) pos: u64,
    /// The payload's offset in the ring.
    pub(crate) off: u64,
    /// The payload bytes reserved.
    pub(crate) len: u64,
}

/// A published message at the consumer's position.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The record's position.
    pub(crate) pos: u64,
    /// The payload's offset in the ring.
    pub(crate) off: u64,
    /// The payload's length (checked: the payload lies inside the ring).
    pub(crate) len: u64,
}

/// The producer's private state: its position and its last view of `head`.
#[derive(Debug)]
pub(crate) struct Producer {
    tail: u64,
    head: u64,
    capacity: u64,
    align: u64,
    published: u64,
    /// Records of at least this many bytes start over at offset 0 when they can
    /// (`u64::MAX`: never early).
    restart_min: u64,
}

/// The record size from which the single-pair channel starts over at the beginning of
/// the ring when the consumer has freed it (see [`Producer::restart_from`]): large
/// enough that the padding record (one more cache line for each side) costs under 1%
/// of the copy, small enough to cover the messages whose rings outgrow the caches.
#[cfg_attr(ipckit_loom, allow(dead_code))]
pub(crate) const RESTART_MIN: u64 = 64 * 1024;

impl Producer {
    /// A producer at position 0 of a ring of `capacity` bytes (a power of two) whose
    /// records start at multiples of `align` (a power of two, 16 to capacity / 4).
    pub(crate) fn new(capacity: u64, align: u64) -> Producer {
        debug_assert!(capacity.is_power_of_two() && align.is_power_of_two() && align * 4 <= capacity);
        Producer { tail: 0, head: 0, capacity, align, published: 0, restart_min: u64::MAX }
    }

    /// A producer that takes over the ring from one whose process died (see "Taking
    /// over from a dead producer" above): its position is found by walking the
    /// published records from the consumer's `head` to the first position that
    /// holds no stamp of its own, and its count of published messages is read from
    /// `count`. Nothing is written.
    ///
    /// # Errors
    /// A [`Fault`] when the walk meets something a sound ring cannot hold (a bad
    /// `head`, kind or length, a later lap's stamp, records that cover more than the
    /// ring).
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn resume<D: RingData>(
        data: &D,
        head: &AtomicU64,
        count: &AtomicU64,
        capacity: u64,
        max_message: u64,
        align: u64,
    ) -> Result<Producer, Fault> {
        debug_assert!(capacity.is_power_of_two() && align.is_power_of_two() && align * 4 <= capacity);
        // Acquire pairs with the consumer's Release store of `head` (pair 2): what it
        // freed stays free for us.
        let h = head.load(Ordering::Acquire);
        if h % align != 0 {
            return Err(Fault::Head { head: h, tail: h });
        }
        // Acquire (pair 3): the count is at most the records stamped below.
        let published = count.load(Ordering::Acquire);
        let mut pos = h;
        loop {
            if pos - h > capacity {
                // Records between the consumer and us never cover more than the ring.
                return Err(Fault::Head { head: h, tail: pos });
            }
            let off = pos & (capacity - 1);
            // Acquire pairs with the dead producer's Release store of the stamp (pair 1).
            let word = data.word(off).load(Ordering::Acquire);
            if word != stamp(pos) {
                let found = word ^ STAMP_KEY;
                if found > pos && found - pos <= LATER_LAPS * capacity && (found - pos) & (capacity - 1) == 0
                {
                    return Err(Fault::Lap { pos, found });
                }
                break;
            }
            let m = data.word(off + 8).load(Ordering::Relaxed);
            let (kind, len) = ((m >> 32) as u32, m & 0xFFFF_FFFF);
            match kind {
                KIND_PADDING => pos += capacity - off,
                KIND_MESSAGE => {
                    if len > max_message || off + record_size(len, align) > capacity {
                        return Err(Fault::Length { pos, len });
                    }
                    pos += record_size(len, align);
                }
                kind => return Err(Fault::Kind { pos, kind }),
            }
        }
        if pos - h > capacity {
            return Err(Fault::Head { head: h, tail: pos });
        }
        Ok(Producer { tail: pos, head: h, capacity, align, published, restart_min: u64::MAX })
    }

    /// Records of at least `bytes` (header included) start over at offset 0 when the
    /// ring is empty, instead of going on to fresh memory (see "Starting over early"
    /// above). Only for rings whose consumer has a single
    /// `head` the producer reads, as the single-pair channel.
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn restart_from(mut self, bytes: u64) -> Producer {
        self.restart_min = bytes.max(RECORD_HEADER);
        self
    }

    /// The producer's position.
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn tail(&self) -> u64 {
        self.tail
    }

    /// Reserves room for a payload of `len` bytes (at most [`max_payload`]); `None`
    /// when the ring is too full. May publish a padding record first.
    #[inline(always)]
    pub(crate) fn reserve<D: RingData>(
        &mut self,
        data: &D,
        head: &AtomicU64,
        len: u64,
    ) -> Result<Option<Slot>, Fault> {
        debug_assert!(len <= max_payload(self.capacity));
        let rec = record_size(len, self.align);
        let mut off = self.tail & (self.capacity - 1);
        let to_end = self.capacity - off;
        let mut need = if rec <= to_end { rec } else { to_end + rec };
        // A large record starts over at offset 0 if the ring is empty (a record that
        // does not fit before the end pads anyway, below).
        if rec >= self.restart_min && rec <= off && rec <= to_end && self.is_drained(head)? {
            need = to_end + rec;
        }
        if self.tail + need - self.head > self.capacity {
            // Acquire pairs with the consumer's Release store of `head` (pair 2): its
            // reads of the space it freed happen before we write there.
            let h = head.load(Ordering::Acquire);
            if h < self.head || h > self.tail || h % self.align != 0 {
                return Err(Fault::Head { head: h, tail: self.tail });
            }
            self.head = h;
            if self.tail + need - h > self.capacity {
                return Ok(None);
            }
        }
        if need > rec {
            data.word(off + 8).store(meta(KIND_PADDING, to_end - RECORD_HEADER), Ordering::Relaxed);
            // Release (pair 1): the meta word is visible with the stamp.
            data.word(off).store(stamp(self.tail), Ordering::Release);
            self.tail += to_end;
            off = 0;
        }
        Ok(Some(Slot { pos: self.tail, off: off + RECORD_HEADER, len }))
    }

    /// Whether the consumer has taken every record: our last view of `head`, or else
    /// a fresh one, is our position. Then the whole ring is free, so padding to its
    /// end and a record at offset 0 fit when the record fits before our offset. Out of
    /// line: only large records come here.
    #[inline(never)]
    fn is_drained(&mut self, head: &AtomicU64) -> Result<bool, Fault> {
        if self.head == self.tail {
            return Ok(true);
        }
        // Acquire pairs with the consumer's Release store of `head` (pair 2), as in
        // `reserve`: its reads of the room at the start happen before we write there.
        let h = head.load(Ordering::Acquire);
        if h < self.head || h > self.tail || h % self.align != 0 {
            return Err(Fault::Head { head: h, tail: self.tail });
        }
        self.head = h;
        Ok(h == self.tail)
    }

    /// Publishes like [`commit`](Self::commit), for rings whose readers keep no count
    /// of what was published (the publish/subscribe and many-to-one rings).
    #[inline(always)]
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn commit_uncounted<D: RingData>(&mut self, data: &D, slot: Slot, len: u64) {
        let count = AtomicU64::new(0);
        self.commit(data, &count, slot, len);
    }

    /// Publishes the message in `slot` with `len` payload bytes (at most `slot.len`),
    /// then the number of messages published so far in `count`.
    #[inline(always)]
    pub(crate) fn commit<D: RingData>(&mut self, data: &D, count: &AtomicU64, slot: Slot, len: u64) {
        assert!(len <= slot.len, "a message cannot grow past its reservation");
        let off = slot.off - RECORD_HEADER;
        data.word(off + 8).store(meta(KIND_MESSAGE, len), Ordering::Relaxed);
        // Release (pair 1): payload and meta are visible to whoever sees the stamp.
        data.word(off).store(stamp(slot.pos), Ordering::Release);
        self.tail = slot.pos + record_size(len, self.align);
        self.published += 1;
        // Release (pair 3): whoever sees this count sees the stamp stored above.
        count.store(self.published, Ordering::Release);
    }
}

/// The consumer's private state: its position.
#[derive(Debug)]
pub(crate) struct Consumer {
    head: u64,
    capacity: u64,
    max_message: u64,
    align: u64,
    consumed: u64,
}

impl Consumer {
    /// A consumer at position 0 of a ring of `capacity` bytes that carries messages
    /// of at most `max_message` bytes, in records aligned to `align`.
    pub(crate) fn new(capacity: u64, max_message: u64, align: u64) -> Consumer {
        Consumer { head: 0, capacity, max_message, align, consumed: 0 }
    }

    /// A consumer that starts at `pos` (a record boundary the producer has reached or
    /// will reach): a reader that joins a ring already in use, or one whose position
    /// was moved for it (publish/subscribe).
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn at(pos: u64, capacity: u64, max_message: u64, align: u64) -> Consumer {
        Consumer { head: pos, capacity, max_message, align, consumed: 0 }
    }

    /// A consumer that takes over at `pos` (the shared `head`) from one that stopped
    /// there, counting `consumed` messages as taken before it (a count at least the
    /// true one keeps [`peek_counted`](Self::peek_counted) from reporting a loss that
    /// did not happen).
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn resume(pos: u64, consumed: u64, capacity: u64, max_message: u64, align: u64) -> Consumer {
        Consumer { head: pos, capacity, max_message, align, consumed }
    }

    /// The message at `pos` (a record boundary at or after the consumer's position),
    /// padding skipped, and the position after it, without moving anything: neither
    /// the consumer's position nor `head`. The records between the consumer's
    /// position and the producer's are published and not freed, so the producer does
    /// not touch them while they are looked at.
    #[cfg_attr(any(ipckit_loom, not(feature = "nats")), allow(dead_code))]
    pub(crate) fn look_at<D: RingData>(
        &self,
        data: &D,
        mut pos: u64,
    ) -> Result<Option<(Record, u64)>, Fault> {
        loop {
            let off = pos & (self.capacity - 1);
            // Acquire pairs with the producer's Release store of the stamp (pair 1).
            let word = data.word(off).load(Ordering::Acquire);
            if word != stamp(pos) {
                let found = word ^ STAMP_KEY;
                if found > pos
                    && found - pos <= LATER_LAPS * self.capacity
                    && (found - pos) & (self.capacity - 1) == 0
                {
                    return Err(Fault::Lap { pos, found });
                }
                return Ok(None);
            }
            let m = data.word(off + 8).load(Ordering::Relaxed);
            let (kind, len) = ((m >> 32) as u32, m & 0xFFFF_FFFF);
            match kind {
                KIND_PADDING => pos += self.capacity - off,
                KIND_MESSAGE => {
                    if len > self.max_message || off + record_size(len, self.align) > self.capacity {
                        return Err(Fault::Length { pos, len });
                    }
                    let rec = Record { pos, off: off + RECORD_HEADER, len };
                    return Ok(Some((rec, pos + record_size(len, self.align))));
                }
                kind => return Err(Fault::Kind { pos, kind }),
            }
        }
    }

    /// The consumer's position: the next record it reads.
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) fn position(&self) -> u64 {
        self.head
    }

    /// The message at the consumer's position, if one is published. Skips padding.
    /// The message stays in the ring until [`release`](Self::release).
    #[inline(always)]
    pub(crate) fn peek<D: RingData>(&mut self, data: &D, head: &AtomicU64) -> Result<Option<Record>, Fault> {
        loop {
            let off = self.head & (self.capacity - 1);
            // Acquire pairs with the producer's Release store of the stamp (pair 1).
            let word = data.word(off).load(Ordering::Acquire);
            if word != stamp(self.head) {
                // Stale bytes of an older lap are normal; a stamp of one of the next
                // few laps is not. (Payload words of older laps are arbitrary, so
                // only values this close to our position count as stamps.)
                let found = word ^ STAMP_KEY;
                if found > self.head
                    && found - self.head <= LATER_LAPS * self.capacity
                    && (found - self.head) & (self.capacity - 1) == 0
                {
                    return Err(Fault::Lap { pos: self.head, found });
                }
                return Ok(None);
            }
            let m = data.word(off + 8).load(Ordering::Relaxed);
            let (kind, len) = ((m >> 32) as u32, m & 0xFFFF_FFFF);
            match kind {
                KIND_PADDING => {
                    self.head += self.capacity - off;
                    // Release (pair 2): nothing to read in padding, but the producer
                    // may need the space back before the next message is read.
                    head.store(self.head, Ordering::Release);
                }
                KIND_MESSAGE => {
                    if len > self.max_message || off + record_size(len, self.align) > self.capacity {
                        return Err(Fault::Length { pos: self.head, len });
                    }
                    return Ok(Some(Record { pos: self.head, off: off + RECORD_HEADER, len }));
                }
                kind => return Err(Fault::Kind { pos: self.head, kind }),
            }
        }
    }

    /// Like [`peek`](Self::peek), and checks the producer's `count` (pair 3): if it
    /// published more messages than were taken, one must be at our position.
    pub(crate) fn peek_counted<D: RingData>(
        &mut self,
        data: &D,
        head: &AtomicU64,
        count: &AtomicU64,
    ) -> Result<Option<Record>, Fault> {
        // Acquire pairs with the Release in `commit` (pair 3), loaded before the stamp.
        let published = count.load(Ordering::Acquire);
        match self.peek(data, head)? {
            Some(rec) => Ok(Some(rec)),
            None if published > self.consumed => {
                Err(Fault::Missing { pos: self.head, published, consumed: self.consumed })
            }
            None => Ok(None),
        }
    }

    /// Frees the record returned by [`peek`](Self::peek), after its payload was read.
    #[inline(always)]
    pub(crate) fn release(&mut self, head: &AtomicU64, rec: Record) {
        debug_assert_eq!(rec.pos, self.head);
        self.consumed += 1;
        self.head = rec.pos + record_size(rec.len, self.align);
        // Release (pair 2): our reads of the record happen before the producer reuses it.
        head.store(self.head, Ordering::Release);
    }
}

/// A futex word and a "sleeping" flag: how one side sleeps until the other publishes.
///
/// The sleeper calls [`announce`](Self::announce) (flag set, `SeqCst` fence), checks
/// its condition once more, and sleeps on `seq` only if it still fails, with the `seq`
/// value read before the check. The publisher publishes, then
/// [`needs_wake`](Self::needs_wake) (`SeqCst` fence, flag read) and, if the flag is
/// set, [`bump`](Self::bump)s `seq` and wakes. The two fences order the flag and the
/// condition: either the sleeper's re-check sees the publication, or the publisher
/// sees the flag. A bump between the sleeper's read of `seq` and its sleep makes the
/// futex call return at once. No wake-up is lost.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Wake {
    /// The futex word: bumped by every wake-up.
    pub(crate) seq: AtomicU32,
    /// Non-zero while the other side may sleep on `seq` ([`POLLING`]: it waits on its
    /// eventfd only, so the futex wake can be skipped).
    pub(crate) waiting: AtomicU32,
    /// Who else to tell, by descriptor (see `channel::poll`): read only on the
    /// wake-up path, after `waiting` said someone waits.
    #[cfg_attr(ipckit_loom, allow(dead_code))]
    pub(crate) poll: PollSlot,
}

/// The value of [`Wake::waiting`] while only a poller waits (on its eventfd).
pub(crate) const POLLING: u32 = 2;

/// A poller's registration next to a [`Wake`]: the process and the eventfd it waits
/// on, which whoever wakes the side also signals (see `channel::poll`). All zero: nobody
/// polls.
#[repr(C)]
#[derive(Debug)]
#[cfg_attr(ipckit_loom, allow(dead_code))]
pub(crate) struct PollSlot {
    /// Non-zero while registered: a number unique to the registration, stored last.
    pub(crate) token: AtomicU64,
    /// The poller's start time (field 22 of `/proc/PID/stat`): tells a reused pid.
    pub(crate) start_time: AtomicU64,
    /// The poller's process id.
    pub(crate) pid: AtomicU32,
    /// The eventfd's number in the poller's process.
    pub(crate) fd: AtomicU32,
    /// The errno a waker got fetching the eventfd (0: none), for the poller to report.
    pub(crate) error: AtomicU32,
    /// 1 once a waker wrote the eventfd, until the poller takes it back to 0 (and
    /// drains the eventfd): one write per wake-up however many wakers come.
    pub(crate) pending: AtomicU32,
}

impl Wake {
    /// A new, idle wake word (used by the models; shared ones start zeroed).
    #[cfg(all(test, ipckit_loom))]
    pub(crate) fn new() -> Wake {
        let poll = PollSlot {
            token: AtomicU64::new(0),
            start_time: AtomicU64::new(0),
            pid: AtomicU32::new(0),
            fd: AtomicU32::new(0),
            error: AtomicU32::new(0),
            pending: AtomicU32::new(0),
        };
        Wake { seq: AtomicU32::new(0), waiting: AtomicU32::new(0), poll }
    }

    /// The sleeper's half, before its last check: returns the `seq` to sleep on.
    #[inline]
    pub(crate) fn announce(&self) -> u32 {
        // Acquire pairs with `bump`'s Release: after a wake-up we see what was published.
        let seq = self.seq.load(Ordering::Acquire);
        self.waiting.store(1, Ordering::Relaxed);
        full_barrier();
        seq
    }

    /// The sleeper stops sleeping.
    #[inline]
    pub(crate) fn retire(&self) {
        self.waiting.store(0, Ordering::Relaxed);
    }

    /// The publisher's half, after publishing: whether the other side may be asleep.
    #[inline]
    pub(crate) fn needs_wake(&self) -> bool {
        full_barrier();
        self.waiting.load(Ordering::Relaxed) != 0
    }

    /// The poller's half, before its last check: as [`announce`](Self::announce), with
    /// [`POLLING`] (the waker writes the eventfd and skips the futex).
    #[inline]
    pub(crate) fn arm_poll(&self) {
        self.waiting.store(POLLING, Ordering::Relaxed);
        full_barrier();
    }

    /// Changes the futex word so that a sleeper with an old value wakes or never sleeps.
    #[inline]
    pub(crate) fn bump(&self) {
        self.seq.fetch_add(1, Ordering::Release);
    }
}

impl PollSlot {
    /// The waker's half, after `needs_wake`: whether it must write the eventfd (no
    /// write is pending yet).
    #[inline]
    pub(crate) fn raise_pending(&self) -> bool {
        // AcqRel: our publication comes before the flag the poller takes.
        self.pending.swap(1, Ordering::AcqRel) == 0
    }

    /// The poller's half, before arming: whether a write is pending (then it drains
    /// the eventfd).
    #[inline]
    pub(crate) fn take_pending(&self) -> bool {
        // Acquire pairs with `raise_pending`: we see what the waker published.
        self.pending.swap(0, Ordering::Acquire) != 0
    }
}

#[cfg(test)]
pub(crate) mod tests;
