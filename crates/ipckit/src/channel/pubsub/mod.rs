//! Publish/subscribe: one publisher, any number of subscribers joining and leaving at
//! any time; every subscriber reads each message where it lies in the one ring.
//!
//! ```
//! use ipckit::channel::{PatternConfig, pubsub::PubSub};
//! use ipckit::process;
//!
//! let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(16 * 1024))?;
//! let mut publisher = ps.publisher()?;
//! let mut sub = ps.subscriber()?;
//! // SAFETY: this example is single-threaded.
//! let child = unsafe {
//!     process::fork_with(|| {
//!         let mut buf = [0u8; 16];
//!         let got = sub.recv(&mut buf).unwrap();
//!         if &buf[..got.len] == b"tick" && got.seq == 0 { 0 } else { 1 }
//!     })
//! }?;
//! publisher.send(b"tick")?;
//! assert!(child.wait()?.success());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # Protocol contract
//!
//! ```text
//! offset  size   what                                         written by
//! 0       128    config line (see `table`; flags: overflow)   the creator, once
//! 128     128    the publisher's role                         the publisher
//! 256     128    changes: u64, bumped on each join and leave  subscribers
//! 384     128    space wake: the publisher sleeps here        both
//! 512     384*n  n subscriber slots:
//!   +0    128      owner (0: free, else pid), role            subscriber claims, publisher frees
//!   +128  128      head: position | flags (see `slot`)        subscriber; publisher admits/steals
//!                  first_seq: u64, seq at admission           publisher, before it admits
//!   +256  128      wake: this subscriber sleeps here          both
//! D       C      the ring (records of `ring`, payload = seq: u64 LE, then the message)
//! ```
//!
//! The ring is the single-producer ring of `ring` (pair 1, **stamp**: the publisher
//! stores each record's stamp with `Release`, every subscriber loads it with
//! `Acquire`). There is no single consumer: the publisher gives `ring::Producer` the
//! smallest head of the admitted subscribers as its head (a private word it fills),
//! so pair 2 becomes **head**: a subscriber stores its head with `Release` after it
//! read the records before it (`slot::unpin`), the publisher loads every head with
//! `Acquire` (`slot::load_head`) before it reuses their space.
//!
//! A subscriber **pins** its head (compare-and-swap, `slot::pin`) while it reads a
//! record in place. With [`Overflow::DropOldest`], a publisher that needs room moves
//! the unpinned heads of slow subscribers forward past the oldest records
//! (`slot::steal`, `AcqRel`); it never moves a pinned head, so a record being read is
//! never overwritten. A subscriber whose pin fails restarts at the moved head; the
//! sequence numbers tell it how many messages it missed.
//!
//! **Join**: a subscriber claims a free slot (`slot::claim`, pairs with the publisher's
//! `slot::reset` of a freed slot), stores `JOINING` in its head, records itself, then
//! bumps `changes` (`Release`). The publisher loads `changes` (`Relaxed`, a hint) on
//! each send and, when it moved, scans the slots (`Acquire` loads of owner and state):
//! it admits joiners at its current tail (`slot::admit`), frees the slots of
//! subscribers that closed, and (every 50 ms of waiting for room) of subscribers
//! whose process is gone — so a dead subscriber never blocks the publisher for long.
//! A subscriber killed in the middle of its join (slot claimed, identity not yet or not
//! wholly recorded, `changes` not bumped) is found by the same checks through its owner
//! word, which holds its pid (`table::member_gone`; test: `tests/channel/pubsub_join.rs`).
//!
//! **Wake-ups**: each subscriber sleeps on the wake of its slot (the `Wake` handshake
//! of `ring`); the publisher, after each publication, makes one full barrier and
//! wakes every admitted subscriber whose flag is set. The publisher sleeps on the
//! space wake, which a subscriber bumps after it frees space.
//!
//! **Trust**: a subscriber trusts only records whose stamp matches, lengths checked by
//! `ring`; a head it finds moved backwards is `Corrupted`. The publisher checks each
//! head (aligned, not behind the last floor, not past its tail): a subscriber with an
//! impossible head is dropped (its head set to `EVICTED`, it gets `Corrupted`), and
//! the others carry on.
//!
//! References: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html).
//!
//! # Files
//!
//! - this file: the [`PubSub`] handle (create, open, take an end);
//! - `segment.rs`: the layout above, as constants and accessors on the shared segment;
//! - `publisher.rs`: [`Publisher`] and its [`SendLoan`];
//! - `subscriber.rs`: [`Subscriber`], [`Received`] and the in-place [`Message`].

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;

use super::hub::Base;
use super::layout::ROLE_CLOSED;
use super::mem::Segment;
use super::slot::{self, JOINING};
use super::sync::Ordering;
use super::table::{self, FLAG_DROP_OLDEST, Overflow, PatternConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::perm::Mode;
use crate::posix::shm::ShmObject;

mod publisher;
mod segment;
mod subscriber;

pub use publisher::{Publisher, SendLoan};
pub(crate) use segment::PUBSUB;
pub use subscriber::{Message, Received, Subscriber};

/// A publish/subscribe channel in shared memory: take one [`Publisher`] and any number
/// of [`Subscriber`]s (up to the configured number at once).
pub struct PubSub {
    base: Arc<Base>,
}

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("name", &self.base.seg.label())
            .field("capacity", &self.base.plan.geometry.capacity)
            .field("max_subscribers", &self.base.plan.slots)
            .field("overflow", &self.overflow())
            .finish()
    }
}

impl PubSub {
    fn new(seg: Segment, create: Option<&PatternConfig>) -> Result<PubSub> {
        let plan = create.map(|c| table::plan_for(PUBSUB, c, flags_of(c))).transpose()?;
        let (seg, plan) = table::setup(PUBSUB, seg, plan)?;
        Ok(PubSub { base: Arc::new(Base { seg, plan, shape: PUBSUB }) })
    }

    /// Creates a channel in an anonymous memfd (`memfd_create`).
    pub fn create_memfd(config: &PatternConfig) -> Result<PubSub> {
        let plan = table::plan_for(PUBSUB, config, flags_of(config))?;
        PubSub::new(Segment::create_memfd("ipckit-pubsub", plan.total_size)?, Some(config))
    }

    /// Creates a channel in a new named POSIX object (`shm_open(name, O_CREAT | O_EXCL)`).
    pub fn create_named(name: &str, config: &PatternConfig, mode: Mode) -> Result<PubSub> {
        let plan = table::plan_for(PUBSUB, config, flags_of(config))?;
        PubSub::new(
            Segment::create_named("publish/subscribe channel", name, plan.total_size, mode)?,
            Some(config),
        )
    }

    /// Opens the channel in a named POSIX object; checks its header.
    pub fn open_named(name: &str) -> Result<PubSub> {
        PubSub::new(Segment::open_named("publish/subscribe channel", name)?, None)
    }

    /// Opens the channel in a memfd or POSIX object received as a descriptor.
    pub fn from_fd(fd: OwnedFd) -> Result<PubSub> {
        PubSub::new(Segment::from_fd("publish/subscribe channel", fd)?, None)
    }

    /// The descriptor of the shared-memory object.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.base.seg.fd()
    }

    /// The shared-memory object.
    pub fn shm_object(&self) -> &ShmObject {
        self.base.seg.object()
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.base.plan.geometry.capacity as usize
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.base.plan.max_payload(PUBSUB) as usize
    }

    /// How many subscribers may be connected at once.
    pub fn max_subscribers(&self) -> usize {
        self.base.plan.slots as usize
    }

    /// What the publisher does when a slow subscriber fills the ring.
    pub fn overflow(&self) -> Overflow {
        if self.base.plan.flags & FLAG_DROP_OLDEST != 0 { Overflow::DropOldest } else { Overflow::Block }
    }

    /// Takes the publisher's end; [`ErrorKind::AlreadyExists`] if a process took it before.
    pub fn publisher(&self) -> Result<Publisher> {
        let base = Arc::clone(&self.base);
        let pid = table::claim_role(&base.seg, base.publisher_role(), "publisher")?;
        Publisher::new(base, pid, self.overflow() == Overflow::DropOldest)
    }

    /// Joins as a subscriber: it gets every message published from the publisher's
    /// next send on (the publisher admits it then). [`ErrorKind::LimitExceeded`] if all
    /// slots are taken, [`ErrorKind::Disconnected`] if the publisher has closed.
    pub fn subscriber(&self) -> Result<Subscriber> {
        let base = Arc::clone(&self.base);
        if base.publisher_role().state.load(Ordering::Acquire) == ROLE_CLOSED {
            return Err(table::disconnected("subscribe", &base.seg, "the publisher closed its end"));
        }
        let me = std::process::id();
        for i in 0..base.plan.slots as usize {
            let so = base.sub_owner(i);
            if slot::claim(&so.owner, me) {
                // Relaxed: the bump of `changes` below publishes it (Release).
                base.sub_head(i).store(JOINING, Ordering::Relaxed);
                base.sub_wake(i).waiting.store(0, Ordering::Relaxed);
                let pid = table::enter_slot(so);
                // Release pairs with the publisher's Acquire scan of the slots.
                base.changes().fetch_add(1, Ordering::Release);
                return Subscriber::new(base, i, pid);
            }
        }
        Err(Error::new("subscribe", base.seg.obj(), ErrorKind::LimitExceeded).with_detail(format!(
            "all {} subscriber slots are taken (the limit set when the channel was created)",
            base.plan.slots
        )))
    }
}

fn flags_of(c: &PatternConfig) -> u32 {
    if c.overflow() == Overflow::DropOldest { FLAG_DROP_OLDEST } else { 0 }
}
