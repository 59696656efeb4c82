//! Zero copy: [`SendLoan`] (room in the ring, written in place, then published) and
//! [`RecvGuard`] (a received message read where it lies, freed when dropped).
//!
//! Contract:
//! - A loan borrows its sender and a guard its receiver mutably, so one of each is
//!   live at a time; the receiver sees nothing of a loan before
//!   [`commit`](SendLoan::commit), and a loan dropped without commit sends nothing.
//! - The bytes are shared with another process: they are offered as bounds-checked
//!   copies and raw pointers; the slices ([`SendLoan::as_mut_slice`],
//!   [`RecvGuard::as_slice`]) are `unsafe`, under a stated contract.
//! - A guard frees its message when dropped (the sender may then reuse the room).

use std::fmt;

use super::super::ring::{Record, RingData, Slot};
use super::{Receiver, Sender};
use crate::error::{Error, ErrorKind, Result};

/// Room for one message in the ring, reserved by [`Sender::loan`].
///
/// Write the payload with [`write_at`](Self::write_at) or through
/// [`as_mut_ptr`](Self::as_mut_ptr), then [`commit`](Self::commit). The receiver sees
/// nothing of it before the commit; a loan dropped without commit sends nothing.
#[must_use = "a loan sends nothing until it is committed"]
pub struct SendLoan<'a> {
    sender: &'a mut Sender,
    slot: Slot,
}

impl<'a> SendLoan<'a> {
    /// The loan of `slot`, reserved by `sender`.
    pub(super) fn new(sender: &'a mut Sender, slot: Slot) -> SendLoan<'a> {
        SendLoan { sender, slot }
    }
}

impl fmt::Debug for SendLoan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendLoan").field("position", &self.slot.pos).field("len", &self.slot.len).finish()
    }
}

impl SendLoan<'_> {
    /// The message's position in the ring, unique to it (positions only grow).
    /// Recorded before [`commit`](Self::commit), it tells after a crash whether the
    /// message went out: see [`Sender::position`].
    pub fn position(&self) -> u64 {
        self.slot.pos
    }

    /// The bytes reserved.
    pub fn len(&self) -> usize {
        self.slot.len as usize
    }

    /// Whether the loan is for an empty message.
    pub fn is_empty(&self) -> bool {
        self.slot.len == 0
    }

    /// Copies `data` into the message at `offset`.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        match offset.checked_add(data.len()) {
            Some(end) if end as u64 <= self.slot.len => {
                self.sender.ring.write(self.slot.off + offset as u64, data);
                Ok(())
            }
            _ => Err(Error::new("SendLoan::write_at", self.sender.shared.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!(
                    "{} bytes at offset {offset} exceed the loan of {}",
                    data.len(),
                    self.slot.len
                ))),
        }
    }

    /// The start of the reserved bytes, for writing [`len`](Self::len) bytes in place.
    ///
    /// The memory is shared: write through the pointer (`ptr::write`, `copy`), do not
    /// make a `&mut [u8]` of it unless you accept the contract of
    /// [`as_mut_slice`](Self::as_mut_slice). The pointer is valid until the loan ends.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.sender.ring.ptr(self.slot.off, self.slot.len as usize)
    }

    /// The reserved bytes as a slice, for code that fills a buffer in place.
    ///
    /// # Safety
    /// Until the loan ends, no other process writes these bytes. A cooperating
    /// receiver never does (it reads only committed messages); a process that writes
    /// the ring at random breaks the rules of `&mut [u8]`, which is undefined
    /// behaviour. Use [`write_at`](Self::write_at) when the peer is not trusted.
    #[allow(unsafe_code)]
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.slot.len as usize;
        let p = self.as_mut_ptr();
        // SAFETY: `p` is valid for `len` bytes inside the mapping for the loan's
        // lifetime; exclusivity against other processes is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }

    /// Publishes the message with all [`len`](Self::len) bytes.
    pub fn commit(self) {
        let len = self.slot.len;
        self.sender.publish(self.slot, len);
    }

    /// Publishes the first `len` bytes only (a message that came out shorter).
    pub fn commit_len(self, len: usize) -> Result<()> {
        if len as u64 > self.slot.len {
            return Err(Error::new("SendLoan::commit_len", self.sender.shared.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!("{len} bytes exceed the loan of {}", self.slot.len)));
        }
        self.sender.publish(self.slot, len as u64);
        Ok(())
    }
}

/// A received message, read where it lies in the ring; freed when dropped.
///
/// The bytes are in memory the sender's process maps, so they are offered as copies
/// ([`read_at`](Self::read_at), [`to_vec`](Self::to_vec)) and as a raw pointer; see
/// [`as_slice`](Self::as_slice) for a slice under a stated contract.
#[must_use = "dropping the guard frees the message at once, unread"]
pub struct RecvGuard<'a> {
    receiver: &'a mut Receiver,
    rec: Record,
}

impl<'a> RecvGuard<'a> {
    /// The guard of `rec`, found by `receiver`.
    pub(super) fn new(receiver: &'a mut Receiver, rec: Record) -> RecvGuard<'a> {
        RecvGuard { receiver, rec }
    }
}

impl fmt::Debug for RecvGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvGuard").field("position", &self.rec.pos).field("len", &self.rec.len).finish()
    }
}

impl RecvGuard<'_> {
    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        self.rec.len as usize
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.rec.len == 0
    }

    /// Copies `buf.len()` bytes of the message from `offset` into `buf`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len()) {
            Some(end) if end as u64 <= self.rec.len => {
                self.receiver.ring.read(self.rec.off + offset as u64, buf);
                Ok(())
            }
            _ => Err(Error::new("RecvGuard::read_at", self.receiver.shared.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!(
                    "{} bytes at offset {offset} exceed the message of {}",
                    buf.len(),
                    self.rec.len
                ))),
        }
    }

    /// The message copied into a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.rec.len as usize];
        self.receiver.ring.read(self.rec.off, &mut v);
        v
    }

    /// The start of the message, valid for [`len`](Self::len) bytes while the guard
    /// lives. Read through it with raw-pointer reads or copies.
    pub fn as_ptr(&self) -> *const u8 {
        self.receiver.ring.ptr(self.rec.off, self.rec.len as usize)
    }

    /// The message as a slice, without a copy.
    ///
    /// # Safety
    /// While the slice lives, no process writes these bytes. A cooperating sender never
    /// does (it writes only space the receiver has freed); a process that writes the
    /// ring at random breaks the rules of `&[u8]`, which is undefined behaviour. Use
    /// [`read_at`](Self::read_at) or [`to_vec`](Self::to_vec) when the peer is not
    /// trusted.
    #[allow(unsafe_code)]
    pub unsafe fn as_slice(&self) -> &[u8] {
        let p = self.as_ptr();
        // SAFETY: `p` is valid for `len` bytes inside the mapping while the guard lives
        // (the sender cannot reuse the space before the guard releases it); that no
        // process writes them is the caller's promise.
        unsafe { std::slice::from_raw_parts(p, self.rec.len as usize) }
    }

    /// Frees the message now (dropping the guard does the same).
    pub fn release(self) {}
}

impl Drop for RecvGuard<'_> {
    fn drop(&mut self) {
        self.receiver.finish(self.rec);
    }
}
