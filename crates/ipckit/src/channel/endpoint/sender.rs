//! [`Sender`]: the producing end of a channel.
//!
//! Contract:
//! - One sender per channel, in the process that claimed it (or took it over from a
//!   dead one, `Channel::take_over_sender`); it alone writes the ring's records and
//!   the published count (the ring's protocol, `ring.rs`).
//! - A send reserves room (inline when there is room, [`reserve_slow`] otherwise:
//!   checks, then the wait of `wait.rs`), copies the payload or lends the room as a
//!   [`SendLoan`], then publishes: stamp, count, and a wake-up only if the receiver
//!   may sleep.
//! - Failures are loud: too large, receiver gone ([`ErrorKind::Disconnected`]),
//!   shared index impossible ([`ErrorKind::Corrupted`]), "not now" as an error that
//!   allocates nothing. A failed send leaves the message with the caller.
//! - Dropping the sender closes its end (in the claiming process only, not in a
//!   forked copy) and wakes the receiver.
//!
//! [`reserve_slow`]: Sender::reserve_slow

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::layout::ROLE_CLOSED;
use super::super::peer;
use super::super::raw::RawRing;
use super::super::ring::{Producer, RingData, Slot, Wake};
use super::super::sync::Ordering;
use super::super::wait::{self, Outcome, WaitStrategy};
use super::SendLoan;
use super::shared::{Shared, close_role, corrupted, disconnected, too_large};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::wait::Wait;

/// The sending end of a [`Channel`](super::Channel).
pub struct Sender {
    pub(super) shared: Arc<Shared>,
    pub(super) ring: RawRing,
    prod: Producer,
    watch: peer::Watch,
    strategy: WaitStrategy,
    pid: u32,
    #[cfg(feature = "serde")]
    scratch: Vec<u8>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.shared.label)
            .field("position", &self.prod.tail())
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl Sender {
    /// The end over `shared`, claimed by process `pid`.
    pub(super) fn new(shared: Arc<Shared>, prod: Producer, pid: u32) -> Sender {
        Sender {
            ring: shared.ring(),
            shared,
            prod,
            watch: peer::Watch::new(),
            strategy: WaitStrategy::default(),
            pid,
            #[cfg(feature = "serde")]
            scratch: Vec::new(),
        }
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.shared.geometry.max_message as usize
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.geometry.capacity as usize
    }

    /// How this end waits for room.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Sets how this end waits for room.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// The ring position after the last message this end published: positions
    /// only grow, each message has its own ([`SendLoan::position`]). Just after
    /// [`Channel::take_over_sender`](super::Channel::take_over_sender), the position
    /// after the last message the dead sender published, so that a message it
    /// reserved at position `p` was published if and only if `position() > p`.
    pub fn position(&self) -> u64 {
        self.prod.tail()
    }

    /// Whether the receiver closed its end, or its process is gone.
    pub fn is_disconnected(&self) -> bool {
        peer::is_gone(&self.shared.header().rx.0)
    }

    /// Sends `data`, waiting for room.
    #[inline]
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, Wait::Block)
    }

    /// Sends if there is room now; fails with [`ErrorKind::WouldBlock`] (and sends
    /// nothing) if the ring is full, so `tx.try_send(b)?` never drops a message silently.
    pub fn try_send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, Wait::NoWait)
    }

    /// Sends, waiting at most `timeout` for room; fails with [`ErrorKind::TimedOut`]
    /// (and sends nothing) if there was none.
    pub fn send_timeout(&mut self, data: &[u8], timeout: Duration) -> Result<()> {
        self.send_with(data, Wait::Timeout(timeout))
    }

    /// Sends, waiting until `deadline` for room; fails with [`ErrorKind::TimedOut`]
    /// if it passed.
    pub fn send_deadline(&mut self, data: &[u8], deadline: Instant) -> Result<()> {
        self.send_with(data, Wait::Deadline(deadline))
    }

    /// Sends, waiting for room as `wait` says.
    ///
    /// # Errors
    /// "Not now" ([`Error::is_not_now`]) if there was no room in time,
    /// [`ErrorKind::MessageTooLarge`] beyond [`max_message`](Self::max_message),
    /// [`ErrorKind::Disconnected`] once the receiver is gone (a receiver that died is
    /// noticed when the ring is full), [`ErrorKind::Corrupted`] if the shared index is
    /// impossible.
    #[inline]
    pub fn send_with(&mut self, data: &[u8], wait: Wait) -> Result<()> {
        let slot = self.reserve("send", data.len(), wait)?;
        self.ring.write(slot.off, data);
        self.publish(slot, slot.len);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes in the ring, waiting for it; write
    /// the payload into the [`SendLoan`] and [`commit`](SendLoan::commit) it. Nothing
    /// is sent if the loan is dropped.
    pub fn loan(&mut self, len: usize) -> Result<SendLoan<'_>> {
        self.loan_with(len, Wait::Block)
    }

    /// Reserves room if there is some now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_loan(&mut self, len: usize) -> Result<SendLoan<'_>> {
        self.loan_with(len, Wait::NoWait)
    }

    /// Reserves room, waiting as `wait` says; "not now" ([`Error::is_not_now`]) if
    /// there was none in time.
    pub fn loan_with(&mut self, len: usize, wait: Wait) -> Result<SendLoan<'_>> {
        let slot = self.reserve("loan", len, wait)?;
        Ok(SendLoan::new(self, slot))
    }

    /// Sends a plain-old-data value, byte for byte.
    pub fn send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<()> {
        self.send(bytemuck::bytes_of(value))
    }

    /// Sends a plain-old-data value, waiting as `wait` says.
    pub fn send_pod_with<T: bytemuck::Pod>(&mut self, value: &T, wait: Wait) -> Result<()> {
        self.send_with(bytemuck::bytes_of(value), wait)
    }

    /// Sends any `serde` value, serialized with postcard.
    #[cfg(feature = "serde")]
    pub fn send_value<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.send_value_with(value, Wait::Block)
    }

    /// Sends a `serde` value, waiting as `wait` says.
    #[cfg(feature = "serde")]
    pub fn send_value_with<T: serde::Serialize + ?Sized>(&mut self, value: &T, wait: Wait) -> Result<()> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let result = match postcard::to_io(value, &mut buf) {
            Ok(_) => self.send_with(&buf, wait),
            Err(e) => Err(Error::new("send", self.shared.obj(), ErrorKind::Codec).with_detail(e.to_string())),
        };
        self.scratch = buf;
        result
    }

    /// Closes the sending end now: the receiver gets what was sent, then
    /// [`ErrorKind::Disconnected`]. Dropping the sender does the same.
    pub fn close(self) {}

    /// Room for `len` bytes: the common case (there is room) inline, the rest out of line.
    #[inline(always)]
    fn reserve(&mut self, op: &'static str, len: usize, wait: Wait) -> Result<Slot> {
        let shared = &*self.shared;
        let h = shared.header();
        if len as u64 <= shared.geometry.max_message
            && h.rx.0.state.load(Ordering::Relaxed) != ROLE_CLOSED
            && let Ok(Some(slot)) = self.prod.reserve(&self.ring, &h.head.0, len as u64)
        {
            return Ok(slot);
        }
        self.reserve_slow(op, len, wait)
    }

    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, op: &'static str, len: usize, wait: Wait) -> Result<Slot> {
        let shared = &*self.shared;
        if len as u64 > shared.geometry.max_message {
            return Err(too_large(op, shared, len));
        }
        let h = shared.header();
        if h.rx.0.state.load(Ordering::Relaxed) == ROLE_CLOSED {
            return Err(disconnected(op, shared, "receiver"));
        }
        let (ring, prod) = (&self.ring, &mut self.prod);
        if let Some(slot) = prod.reserve(ring, &h.head.0, len as u64).map_err(|f| corrupted(op, shared, f))? {
            return Ok(slot);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(wait.not_now(op)),
            w => w.deadline(),
        };
        let outcome =
            wait::block(self.strategy, deadline, &h.space_wake.0, &h.rx.0, &mut self.watch, |full| {
                if full && h.rx.0.state.load(Ordering::Acquire) == ROLE_CLOSED {
                    return Err(disconnected(op, shared, "receiver"));
                }
                prod.reserve(ring, &h.head.0, len as u64).map_err(|f| corrupted(op, shared, f))
            })?;
        match outcome {
            Outcome::Ready(slot) => Ok(slot),
            Outcome::TimedOut => Err(wait.not_now(op)),
            Outcome::PeerGone => Err(disconnected(op, shared, "receiver")),
        }
    }

    /// The receiver's role line (its state and process), for watching it.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn peer_role(&self) -> &super::super::layout::Role {
        &self.shared.header().rx.0
    }

    /// The wake line this end sleeps on (for `poll`).
    pub(crate) fn space_wake(&self) -> &Wake {
        &self.shared.header().space_wake.0
    }

    /// The channel, for errors.
    pub(crate) fn object(&self) -> Object {
        self.shared.obj()
    }

    #[inline(always)]
    pub(super) fn publish(&mut self, slot: Slot, len: u64) {
        let h = self.shared.header();
        self.prod.commit(&self.ring, &h.tx.0.count, slot, len);
        wait::notify(&h.data_wake.0);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let h = self.shared.header();
        close_role(&h.tx.0, self.pid, &h.data_wake.0);
    }
}
