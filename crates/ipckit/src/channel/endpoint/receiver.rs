//! [`Receiver`]: the consuming end of a channel.
//!
//! Contract:
//! - One receiver per channel, in the process that claimed it; it alone advances the
//!   ring's `head`.
//! - A receive looks for the record at its position inline (a few hundred polls for
//!   a spinning strategy), then out of line: the full look that also checks the
//!   sender's published count, then the wait of `wait.rs`. A message is copied out
//!   ([`recv`](Receiver::recv)) or read in place ([`RecvGuard`]) and freed after.
//! - Nothing is lost silently: every message the sender published is delivered before
//!   [`ErrorKind::Disconnected`]; a message counted but not found, or any impossible
//!   value read from shared memory, is [`ErrorKind::Corrupted`]; a buffer too small
//!   leaves the message in the channel.
//! - Dropping the receiver closes its end (in the claiming process only) and wakes
//!   the sender.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::layout::ROLE_CLOSED;
use super::super::peer;
use super::super::raw::RawRing;
use super::super::ring::{Consumer, Record, RingData, Wake};
use super::super::sync::Ordering;
use super::super::wait::{self, Outcome, WaitStrategy};
use super::RecvGuard;
use super::shared::{Shared, close_role, corrupted, disconnected};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::wait::Wait;

/// The receiving end of a [`Channel`](super::Channel).
pub struct Receiver {
    pub(super) shared: Arc<Shared>,
    pub(super) ring: RawRing,
    cons: Consumer,
    watch: peer::Watch,
    strategy: WaitStrategy,
    pid: u32,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.shared.label)
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl Receiver {
    /// The end over `shared`, claimed by process `pid`.
    pub(super) fn new(shared: Arc<Shared>, cons: Consumer, pid: u32) -> Receiver {
        Receiver {
            ring: shared.ring(),
            shared,
            cons,
            watch: peer::Watch::new(),
            strategy: WaitStrategy::default(),
            pid,
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

    /// How this end waits for messages.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Sets how this end waits for messages.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Whether the sender closed its end, or its process is gone (messages it sent
    /// may still wait to be received).
    pub fn is_disconnected(&self) -> bool {
        peer::is_gone(&self.shared.header().tx.0)
    }

    /// The ring position of the next message to receive: positions only grow, each
    /// message has its own. Just after
    /// [`Channel::take_over_receiver`](super::Channel::take_over_receiver), the
    /// position of the first message the dead receiver did not free, so that a
    /// message it was freeing at position `p` was freed if and only if
    /// `position() > p` (the mirror of [`Sender::position`](super::Sender::position)).
    pub fn position(&self) -> u64 {
        self.cons.position()
    }

    /// Whether the sender closed its end (for good: a closed end is never taken
    /// again), as opposed to [`is_disconnected`](Self::is_disconnected), which also
    /// counts a sender whose process died and which a new process may take over
    /// ([`Channel::take_over_sender`](super::Channel::take_over_sender)).
    #[cfg(feature = "nats")] // only the bridge's channel exporter asks
    pub(crate) fn is_sender_closed(&self) -> bool {
        // Acquire pairs with the Release of the close: what it published comes first.
        self.shared.header().tx.0.state.load(Ordering::Acquire) == ROLE_CLOSED
    }

    /// Receives a message into `buf`, waiting for one; returns its length.
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.recv_with(buf, Wait::Block)
    }

    /// Receives if a message is there now; fails with [`ErrorKind::WouldBlock`] if not
    /// (allocating nothing: cheap to poll in a loop).
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.recv_with(buf, Wait::NoWait)
    }

    /// Receives, waiting at most `timeout`; fails with [`ErrorKind::TimedOut`] if no
    /// message came.
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        self.recv_with(buf, Wait::Timeout(timeout))
    }

    /// Receives, waiting until `deadline`; fails with [`ErrorKind::TimedOut`] if it
    /// passed.
    pub fn recv_deadline(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize> {
        self.recv_with(buf, Wait::Deadline(deadline))
    }

    /// Receives into `buf`, waiting as `wait` says; returns the message's length.
    ///
    /// # Errors
    /// "Not now" ([`Error::is_not_now`]) if no message came in time,
    /// [`ErrorKind::MessageTooLarge`] if `buf` is too small (the message stays
    /// in the channel; the error says its size), [`ErrorKind::Disconnected`] once the
    /// sender is gone and every message it sent was received,
    /// [`ErrorKind::Corrupted`] if the shared memory breaks the protocol.
    #[inline]
    pub fn recv_with(&mut self, buf: &mut [u8], wait: Wait) -> Result<usize> {
        let rec = self.next("recv", wait)?;
        let len = rec.len as usize;
        if len > buf.len() {
            return Err(Error::new("recv", self.shared.obj(), ErrorKind::MessageTooLarge).with_detail(
                format!(
                    "the next message has {len} bytes, the buffer {}; it stays in the channel",
                    buf.len()
                ),
            ));
        }
        self.ring.read(rec.off, &mut buf[..len]);
        self.finish(rec);
        Ok(len)
    }

    /// A copy of the message `index` places behind the next one (0: the next one),
    /// receiving nothing; `None` when fewer messages are there.
    #[cfg(feature = "nats")]
    pub(crate) fn peek_nth(&mut self, index: usize) -> Result<Option<Vec<u8>>> {
        let mut pos = self.cons.position();
        let mut i = 0;
        loop {
            match self.cons.look_at(&self.ring, pos).map_err(|f| corrupted("peek", &self.shared, f))? {
                None => return Ok(None),
                Some((rec, _)) if i == index => {
                    let mut v = vec![0u8; rec.len as usize];
                    self.ring.read(rec.off, &mut v);
                    return Ok(Some(v));
                }
                Some((_, next)) => {
                    pos = next;
                    i += 1;
                }
            }
        }
    }

    /// Receives a message into a new `Vec`, waiting for one.
    pub fn recv_vec(&mut self) -> Result<Vec<u8>> {
        self.recv_vec_with(Wait::Block)
    }

    /// Receives a message into a new `Vec`, waiting as `wait` says.
    pub fn recv_vec_with(&mut self, wait: Wait) -> Result<Vec<u8>> {
        let rec = self.next("recv", wait)?;
        let mut v = vec![0u8; rec.len as usize];
        self.ring.read(rec.off, &mut v);
        self.finish(rec);
        Ok(v)
    }

    /// Waits for a message and returns a guard that reads it in place; the message is
    /// freed when the guard is dropped.
    pub fn recv_in_place(&mut self) -> Result<RecvGuard<'_>> {
        self.recv_in_place_with(Wait::Block)
    }

    /// Returns a guard on the next message if there is one now;
    /// [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv_in_place(&mut self) -> Result<RecvGuard<'_>> {
        self.recv_in_place_with(Wait::NoWait)
    }

    /// Returns a guard on the next message, waiting as `wait` says.
    pub fn recv_in_place_with(&mut self, wait: Wait) -> Result<RecvGuard<'_>> {
        let rec = self.next("recv", wait)?;
        Ok(RecvGuard::new(self, rec))
    }

    /// Receives a plain-old-data value. A message of another size is an
    /// [`ErrorKind::Codec`] error and stays in the channel.
    pub fn recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T> {
        self.recv_pod_with(Wait::Block)
    }

    /// Receives a plain-old-data value, waiting as `wait` says.
    pub fn recv_pod_with<T: bytemuck::Pod>(&mut self, wait: Wait) -> Result<T> {
        let rec = self.next("recv", wait)?;
        if rec.len as usize != std::mem::size_of::<T>() {
            return Err(Error::new("recv", self.shared.obj(), ErrorKind::Codec).with_detail(format!(
                "the next message has {} bytes, a {} has {}; it stays in the channel",
                rec.len,
                std::any::type_name::<T>(),
                std::mem::size_of::<T>()
            )));
        }
        let mut value = T::zeroed();
        self.ring.read(rec.off, bytemuck::bytes_of_mut(&mut value));
        self.finish(rec);
        Ok(value)
    }

    /// Receives a `serde` value sent by [`Sender::send_value`](super::Sender::send_value).
    #[cfg(feature = "serde")]
    pub fn recv_value<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_value_with(Wait::Block)
    }

    /// Receives a `serde` value, waiting as `wait` says. A message that does not
    /// decode is consumed and reported as [`ErrorKind::Codec`].
    #[cfg(feature = "serde")]
    pub fn recv_value_with<T: serde::de::DeserializeOwned>(&mut self, wait: Wait) -> Result<T> {
        let bytes = self.recv_vec_with(wait)?;
        postcard::from_bytes(&bytes)
            .map_err(|e| Error::new("recv", self.shared.obj(), ErrorKind::Codec).with_detail(e.to_string()))
    }

    /// Closes the receiving end now: the sender's next send fails with
    /// [`ErrorKind::Disconnected`]. Dropping the receiver does the same.
    pub fn close(self) {}

    /// The next message: the common case (one is there) inline, the rest out of line
    /// (see [`wait::poll_then`]).
    #[inline(always)]
    fn next(&mut self, op: &'static str, wait: Wait) -> Result<Record> {
        wait::poll_then(
            self,
            self.strategy,
            wait,
            // A fault goes on to the slow path, which looks again and reports it.
            |rx| Ok(rx.cons.peek(&rx.ring, &rx.shared.header().head.0).ok().flatten()),
            |rx| rx.next_slow(op, wait),
        )
    }

    #[cold]
    #[inline(never)]
    fn next_slow(&mut self, op: &'static str, wait: Wait) -> Result<Record> {
        let shared = &*self.shared;
        let h = shared.header();
        let (ring, cons) = (&self.ring, &mut self.cons);
        let mut poll = |full: bool| -> Result<Option<Record>> {
            if !full {
                return cons.peek(ring, &h.head.0).map_err(|f| corrupted(op, shared, f));
            }
            // The full look also compares with the sender's count of published
            // messages: a message counted but not found was lost to damage.
            if let Some(rec) =
                cons.peek_counted(ring, &h.head.0, &h.tx.0.count).map_err(|f| corrupted(op, shared, f))?
            {
                return Ok(Some(rec));
            }
            // Acquire pairs with the Release of the close: if we see it, we see every
            // message published before it, so one more look is final.
            if h.tx.0.state.load(Ordering::Acquire) == ROLE_CLOSED {
                return match cons
                    .peek_counted(ring, &h.head.0, &h.tx.0.count)
                    .map_err(|f| corrupted(op, shared, f))?
                {
                    Some(rec) => Ok(Some(rec)),
                    None => Err(disconnected(op, shared, "sender")),
                };
            }
            Ok(None)
        };
        if let Some(rec) = poll(true)? {
            return Ok(rec);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(wait.not_now(op)),
            w => w.deadline(),
        };
        match wait::block(self.strategy, deadline, &h.data_wake.0, &h.tx.0, &mut self.watch, &mut poll)? {
            Outcome::Ready(rec) => Ok(rec),
            Outcome::TimedOut => Err(wait.not_now(op)),
            // A dead process publishes nothing more: one last look, then report.
            Outcome::PeerGone => match poll(true)? {
                Some(rec) => Ok(rec),
                None => Err(disconnected(op, shared, "sender")),
            },
        }
    }

    /// The sender's role line (its state and process), for watching it.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn peer_role(&self) -> &super::super::layout::Role {
        &self.shared.header().tx.0
    }

    /// The wake line this end sleeps on (for `poll` and `select`).
    pub(crate) fn data_wake(&self) -> &Wake {
        &self.shared.header().data_wake.0
    }

    /// The channel, for errors.
    pub(crate) fn object(&self) -> Object {
        self.shared.obj()
    }

    /// Whether a receive would not wait now: a message is there, the sender closed
    /// its end, or the shared memory is corrupted (the receive reports it). Consumes
    /// nothing.
    pub(crate) fn is_ready(&mut self) -> bool {
        let h = self.shared.header();
        match self.cons.peek(&self.ring, &h.head.0) {
            Ok(Some(_)) | Err(_) => true,
            // Acquire pairs with the Release of the close (as in `next_slow`).
            Ok(None) => h.tx.0.state.load(Ordering::Acquire) == ROLE_CLOSED,
        }
    }

    #[inline(always)]
    pub(super) fn finish(&mut self, rec: Record) {
        let h = self.shared.header();
        self.cons.release(&h.head.0, rec);
        wait::notify(&h.space_wake.0);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let h = self.shared.header();
        close_role(&h.rx.0, self.pid, &h.space_wake.0);
    }
}
