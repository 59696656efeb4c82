//! The segment of a publish/subscribe channel: the offsets of the layout described
//! in the module contract (`pubsub/mod.rs`), its [`Shape`], and accessors for each
//! line on the shared [`Base`].

use crate::channel::hub::Base;
use crate::channel::layout::Role;
use crate::channel::raw::RawRing;
use crate::channel::ring::Wake;
use crate::channel::sync::AtomicU64;
use crate::channel::table::{Shape, SlotOwner};
use crate::error::Result;

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
unsafe impl crate::channel::mem::AllAtomic for crate::channel::layout::Line<SubHead> {}

/// A subscriber's head after the publisher dropped it for an impossible position.
pub(super) const EVICTED: u64 = 4;

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
    pub(super) fn slot_line<T>(&self, i: usize, off: u64) -> &T
    where
        crate::channel::layout::Line<T>: crate::channel::mem::AllAtomic,
    {
        self.line(self.plan.slot_offset + i as u64 * self.plan.slot_size + off)
    }

    pub(super) fn sub_owner(&self, i: usize) -> &SlotOwner {
        self.slot_line(i, 0)
    }

    #[inline]
    pub(super) fn sub_head(&self, i: usize) -> &AtomicU64 {
        &self.slot_line::<SubHead>(i, HEAD).head
    }

    pub(super) fn sub_first_seq(&self, i: usize) -> &AtomicU64 {
        &self.slot_line::<SubHead>(i, HEAD).first_seq
    }

    #[inline]
    pub(super) fn sub_wake(&self, i: usize) -> &Wake {
        self.slot_line(i, WAKE)
    }

    #[inline]
    pub(super) fn publisher_role(&self) -> &Role {
        self.line(ROLE_OFF)
    }

    #[inline]
    pub(super) fn changes(&self) -> &AtomicU64 {
        self.line(CHANGES_OFF)
    }

    #[inline]
    pub(super) fn space_wake(&self) -> &Wake {
        self.line(SPACE_WAKE_OFF)
    }

    pub(super) fn the_ring(&self) -> Result<RawRing> {
        self.seg.ring("channel open", self.plan.data_offset, self.plan.geometry.capacity)
    }
}
