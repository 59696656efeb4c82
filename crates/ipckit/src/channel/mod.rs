//! A shared-memory channel: a bounded single-producer / single-consumer ring of
//! messages between two processes, as fast as the hardware allows.
//!
//! A [`Channel`] lives in shared memory: a System V segment found by a [`Key`](crate::Key), a named
//! POSIX object (`/dev/shm/NAME`), or an anonymous memfd shared across `fork` or by
//! passing its descriptor. One process takes the sending end ([`Channel::sender`]),
//! another the receiving end ([`Channel::receiver`]). Messages are bytes of any length
//! up to a configured maximum, plain-old-data values ([`Sender::send_pod`]) or, with the
//! `serde` feature, any serializable value ([`Sender::send_value`]).
//!
//! ```
//! use ipckit::channel::{Channel, ChannelConfig};
//! use ipckit::process;
//!
//! let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(64 * 1024))?;
//! // SAFETY: this example is single-threaded.
//! let child = unsafe {
//!     process::fork_with(|| {
//!         let mut rx = chan.receiver().unwrap();
//!         let mut buf = [0u8; 64];
//!         let n = rx.recv(&mut buf).unwrap();
//!         if &buf[..n] == b"ping" { 0 } else { 1 }
//!     })
//! }?;
//! let mut tx = chan.sender()?;
//! tx.send(b"ping")?;
//! assert!(child.wait()?.success());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # Waiting
//!
//! A receive waits for a message and a send for room, as a [`WaitStrategy`] says: by
//! default a short spin, then `sched_yield`, then a futex sleep on a word in the
//! segment. A busy pair thus trades messages at the speed of a cache-line transfer,
//! and an idle receiver costs no CPU. [`WaitStrategy::Spin`] never sleeps. Every
//! blocking call comes as a family — `recv`, `try_recv`, `recv_timeout`,
//! `recv_deadline`, `recv_with` — and "not now" (ring empty or full, time ran out) is
//! an error, [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) or
//! [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut), tested with
//! [`Error::is_not_now`](crate::Error::is_not_now): `tx.try_send(b)?` passes "full"
//! on instead of dropping the message. That error allocates nothing, so polling
//! `try_recv` in a loop stays cheap. Sends borrow the message, so a send that fails
//! leaves it with the caller.
//!
//! A loan or a guard left unused is a warning (they are `#[must_use]`), an error
//! under `deny(warnings)`:
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! # #[allow(dead_code)]
//! fn send_nothing(tx: &mut ipckit::channel::Sender) -> ipckit::Result<()> {
//!     tx.loan(8)?; // reserved, never committed: nothing is sent
//!     Ok(())
//! }
//! ```
//!
//! ```
//! #![deny(unused_must_use)]
//! # #[allow(dead_code)]
//! fn send_zeros(tx: &mut ipckit::channel::Sender) -> ipckit::Result<()> {
//!     let loan = tx.loan(8)?;
//!     loan.commit();
//!     Ok(())
//! }
//! ```
//!
//! # Zero copy
//!
//! [`Sender::loan`] reserves room for a message in the ring; the caller writes the
//! payload in place and [`SendLoan::commit`]s it. [`Receiver::recv_in_place`] returns a
//! [`RecvGuard`] that reads the message where it lies and frees it when dropped.
//!
//! # A peer that misbehaves
//!
//! The other process can write any byte of the shared memory at any time, or die at
//! any point. The header holds a magic number, a version and the sizes, all checked on
//! open; after that the sizes are never read from shared memory again. Every index
//! and length read from it is copied once and checked before use: a bad one gives
//! [`ErrorKind::Corrupted`](crate::ErrorKind::Corrupted), never a panic or an access out of bounds. No `&[u8]` or
//! `&T` is made of memory the peer can write (only atomics, copies and raw pointers;
//! [`RecvGuard::as_slice`] is `unsafe` for that reason). When the peer closes its end,
//! or its process dies (checked through `/proc/PID/stat` — pid, start time, zombie
//! state — every 50 ms of waiting), calls return [`Disconnected`](crate::ErrorKind::Disconnected) instead
//! of waiting forever; the receiver first gets every message that was published.
//!
//! # Events, waiting on many, the event loop
//!
//! An [`Event`] is a set/wait notification in its own page of shared memory. A
//! [`WaitSet`] waits on several receivers and events at once, with a deadline, and says
//! which are [`Ready`]. [`PollReceiver`] and [`PollSender`] give an end an `eventfd`
//! for `epoll`/`mio` (see the `poll` module's docs for how the other process finds it
//! with `pidfd_getfd`, and the limits), and with the `tokio` feature `AsyncReceiver`
//! and `AsyncSender` await messages and room on it. [`TypedSender`] and
//! [`TypedReceiver`] carry one plain-old-data type, with typed loans. These new calls
//! report "not now" as errors: [`WouldBlock`](crate::ErrorKind::WouldBlock) and
//! [`TimedOut`](crate::ErrorKind::TimedOut).
//!
//! # One producer
//!
//! The ring has one producer and one consumer. A multi-producer flavour would need a
//! shared tail claimed by compare-and-swap, and a producer that dies between claiming
//! room and publishing would block the consumer for good, indistinguishable from a
//! slow one unless every record carried its owner. The patterns beyond one pair are
//! built from single-pair rings instead:
//!
//! - [`merge`]: many to one — a ring per sender in a slot table, taken in turn by one
//!   receiver; a sender that dies mid-message wedges nobody.
//! - [`pubsub`]: one to many — one ring read in place by every subscriber, with
//!   back-pressure or [`Overflow::DropOldest`] and a count of what was missed.
//! - [`rpc`]: request/response — a request ring and a reply ring per client.
//!
//! All three are configured by [`PatternConfig`] and live in a memfd or a named POSIX
//! object.
//!
//! References: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
//! [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html),
//! [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html).

#[cfg(all(feature = "tokio", not(ipckit_loom)))]
mod async_io;
#[cfg(not(ipckit_loom))]
mod event;
#[cfg(not(ipckit_loom))]
pub(crate) mod inspect;
#[cfg(not(ipckit_loom))]
mod layout;
#[cfg(not(ipckit_loom))]
mod peer;
#[cfg(not(ipckit_loom))]
mod poll;
#[cfg(all(test, ipckit_loom))]
mod poll_model;
#[cfg(not(ipckit_loom))]
mod raw;
pub(crate) mod ring;
#[cfg(not(ipckit_loom))]
mod select;
mod sync;
#[cfg(not(ipckit_loom))]
mod typed;
#[cfg(not(ipckit_loom))]
mod wait;

#[cfg(all(feature = "tokio", not(ipckit_loom)))]
pub use async_io::{AsyncReceiver, AsyncSender};
#[cfg(not(ipckit_loom))]
pub use endpoint::*;
#[cfg(not(ipckit_loom))]
pub use event::Event;
#[cfg(not(ipckit_loom))]
pub use poll::{PollReceiver, PollSender};
#[cfg(not(ipckit_loom))]
pub use select::{Ready, WaitSet};
#[cfg(not(ipckit_loom))]
pub use typed::{TypedGuard, TypedLoan, TypedReceiver, TypedSender};
#[cfg(not(ipckit_loom))]
pub use wait::WaitStrategy;

#[cfg(not(ipckit_loom))]
mod endpoint;

#[cfg(not(ipckit_loom))]
mod hub;
#[cfg(not(ipckit_loom))]
mod mem;
#[cfg(not(ipckit_loom))]
pub mod merge;
#[cfg(not(ipckit_loom))]
pub mod pubsub;
#[cfg(not(ipckit_loom))]
pub mod rpc;
pub(crate) mod slot;
#[cfg(not(ipckit_loom))]
mod table;
#[cfg(not(ipckit_loom))]
pub use table::{Overflow, PatternConfig};
