//! The protocol cores of the multi-party patterns, apart from their memory so that
//! `loom` can check them (`RUSTFLAGS="--cfg ipckit_loom"`, models in `slot/tests.rs`).
//!
//! # Slot claim and reset (many to one, request/response)
//!
//! A slot is a ring (two for request/response) and an `owner` word: 0 while free, the
//! holder's pid while held. A member claims a free slot with a compare-and-swap of
//! `owner` from 0 to its pid. Only the hub (the receiver or server) frees a slot, once
//! the member closed or died and (for many to one) every message it published was
//! taken: it zeroes the ring(s) and their heads, then stores `owner = 0`.
//!
//! - **claim/reset** — [`reset`] stores `owner = 0` with `Release`; [`claim`]'s
//!   compare-and-swap succeeds with `Acquire`. A new member's writes into the ring thus
//!   come after the zeroing: no stamp of the old member's records survives, so the
//!   hub's consumer, restarted at position 0, cannot take a stale record for new.
//!
//! # Subscriber heads (publish/subscribe)
//!
//! Each subscriber has a `head` word: the position of the next record it reads, with
//! flag bits in the low four bits (positions are multiples of 16):
//! [`PIN`] while it reads a record in place, or the value [`JOINING`] until the
//! publisher admits it. Two parties write it:
//!
//! - **pin** — the subscriber pins before it reads ([`pin`], compare-and-swap `pos` →
//!   `pos | PIN`, `Acquire`), and unpins after ([`unpin`], `Release` store of the next
//!   position). The publisher reads heads with `Acquire` ([`load_head`]) before it
//!   overwrites the space they free: the subscriber's reads come first.
//! - **steal** — a publisher configured to drop the oldest messages moves an unpinned
//!   head forward ([`steal`], compare-and-swap `pos` → `new`, `AcqRel`). A pinned head
//!   is never moved, so a record being read is never overwritten; the subscriber's pin
//!   fails if the head moved, and it restarts at the new position.
//! - **admit** — a joining subscriber stores `JOINING`; the publisher replaces it with
//!   its current tail (compare-and-swap, `Release`), so that the subscriber reads every
//!   message published after that, and the publisher never needs a head behind the
//!   oldest one it keeps.

#![cfg_attr(ipckit_loom, allow(dead_code))]

use super::ring::RingData;
use super::sync::{AtomicU32, AtomicU64, Ordering};

/// The head flag of a subscriber reading a record in place.
pub(crate) const PIN: u64 = 1;
/// The head of a subscriber the publisher has not admitted yet.
pub(crate) const JOINING: u64 = 2;
/// The low bits of a head that are flags, not position.
pub(crate) const FLAGS: u64 = 15;

/// Claims the free slot whose owner word is `owner` for `pid` (non-zero).
pub(crate) fn claim(owner: &AtomicU32, pid: u32) -> bool {
    // Acquire pairs with the Release in `reset`: the zeroed rings are visible to us.
    owner.load(Ordering::Relaxed) == 0
        && owner.compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed).is_ok()
}

/// Zeroes the rings and heads of a slot, then frees it (`owner = 0`).
pub(crate) fn reset<D: RingData>(owner: &AtomicU32, rings: &[(&D, u64)], heads: &[&AtomicU64]) {
    const ZEROS: [u8; 512] = [0; 512];
    for &(data, capacity) in rings {
        let mut off = 0;
        while off < capacity {
            let n = (capacity - off).min(ZEROS.len() as u64);
            data.write(off, &ZEROS[..n as usize]);
            off += n;
        }
    }
    for h in heads {
        h.store(0, Ordering::Relaxed);
    }
    // Release pairs with the Acquire of `claim`: the zeroing comes before a new member.
    owner.store(0, Ordering::Release);
}

/// The subscriber pins its head at `pos`; `Err(head)` if the publisher moved it.
pub(crate) fn pin(head: &AtomicU64, pos: u64) -> Result<(), u64> {
    // Acquire on failure: a moved head is read with the publisher's writes before it.
    head.compare_exchange(pos, pos | PIN, Ordering::Acquire, Ordering::Acquire).map(|_| ())
}

/// The subscriber unpins its head, at `pos` (after the records it read).
pub(crate) fn unpin(head: &AtomicU64, pos: u64) {
    // Release pairs with the publisher's Acquire in `load_head`: our reads of the
    // records before `pos` happen before it overwrites them.
    head.store(pos, Ordering::Release);
}

/// The publisher reads a head.
pub(crate) fn load_head(head: &AtomicU64) -> u64 {
    // Acquire pairs with `unpin`'s Release.
    head.load(Ordering::Acquire)
}

/// The publisher moves the unpinned head `from` forward to `to`; false if the
/// subscriber pinned or moved it first.
pub(crate) fn steal(head: &AtomicU64, from: u64, to: u64) -> bool {
    // AcqRel: Acquire as in `load_head` (the reads before `from` are done); Release so a
    // subscriber that finds the moved head sees what we published up to it.
    head.compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// The publisher admits a joining subscriber at `tail`; false if it is not joining.
pub(crate) fn admit(head: &AtomicU64, tail: u64) -> bool {
    // Release: the records before `tail` need not be seen, but the admission is
    // ordered after our earlier stores to the slot.
    head.compare_exchange(JOINING, tail, Ordering::AcqRel, Ordering::Relaxed).is_ok()
}

#[cfg(test)]
mod tests;
