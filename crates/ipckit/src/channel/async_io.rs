//! Async channel ends for tokio (cargo feature `tokio`): `recv().await` and
//! `send().await`, with the ring's back-pressure.
//!
//! ```
//! use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let chan = Channel::create_memfd(&ChannelConfig::new())?;
//! let mut tx = AsyncSender::new(chan.sender()?)?;
//! let mut rx = AsyncReceiver::new(chan.receiver()?)?;
//! tx.send(b"async").await?;
//! let mut buf = [0u8; 16];
//! let n = rx.recv(&mut buf).await?;
//! assert_eq!(&buf[..n], b"async");
//! # Ok::<(), ipckit::Error>(())
//! # }).unwrap();
//! ```
//!
//! Each end is a [`PollReceiver`] or [`PollSender`] registered with the runtime's
//! reactor through [`AsyncFd`]: a call tries at once (a receive may first keep looking
//! for a while, see [`AsyncReceiver::set_spin`]), and when the ring is empty (or
//! full) it arms the end's eventfd and awaits it, together with the peer's pidfd
//! (readable when that process exits) or, where no pidfd can be had (another pid
//! namespace, the peer not there yet), a 50 ms timer, so a killed peer gives
//! [`Disconnected`](crate::ErrorKind::Disconnected), never a hang. The runtime needs
//! IO and time enabled (`enable_all`). See `channel::poll` for how the other process
//! signals the eventfd, and its limits.
//!
//! Per message that finds the end waiting, the waker makes one `write(2)` and the
//! waiter one `epoll_wait(2)` (tokio's): the eventfd is never read on this path,
//! since tokio's reactor is edge-triggered (see `channel::poll`, `Drain`).
//!
//! References: [tokio::io::unix::AsyncFd](https://docs.rs/tokio/latest/tokio/io/unix/struct.AsyncFd.html),
//! [eventfd(2)](https://man7.org/linux/man-pages/man2/eventfd.2.html).

use std::fmt;
use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::endpoint::{Receiver, Sender};
use super::layout::Role;
use super::peer;
use super::poll::{Drain, LIVENESS_PERIOD, Liveness, PollReceiver, PollSender, Registration};
use super::sync::Ordering;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::wait::Wait;

/// How long a receive looks for a message before it parks, by default: not at all
/// (measured on a loaded 2-core VM, 10 µs of spinning made tokio round trips 3-6x
/// slower: the spinning process delays the peer it waits for).
const SPIN: Duration = Duration::ZERO;

/// Registers a pollable end with the reactor of the current tokio runtime.
#[allow(unsafe_code)]
fn register<T: AsRawFd>(end: T, op: &'static str) -> Result<AsyncFd<T>> {
    let raw = end.as_raw_fd();
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new(op, Object::Fd(raw), ErrorKind::InvalidInput)
            .with_detail("an async channel end needs a tokio runtime: create it from inside one"));
    }
    // SAFETY: `end` (a PollReceiver or PollSender, which own their eventfd, or the
    // OwnedFd of a peer's pidfd) owns its descriptor: it stays open, and `as_raw_fd`
    // returns the same number, until the end is dropped, which the AsyncFd does only
    // after deregistering it.
    unsafe { AsyncFd::register_with_interest(end, Interest::READABLE) }
        .map_err(|e| io_error(op, raw, e.into_parts().1))
}

fn io_error(op: &'static str, fd: i32, e: std::io::Error) -> Error {
    Error::io(op, Object::Fd(fd), &e)
        .with_detail(format!("tokio's reactor refused the eventfd ({e}); is IO enabled in the runtime?"))
}

/// A peer's process as `(pid, start time)`, and its pidfd on the reactor.
type PeerFd = ((u32, u64), Option<AsyncFd<OwnedFd>>);

/// How a tokio end notices that its peer died while it waits: through the peer's
/// pidfd, registered with the reactor next to the eventfd (readable when the process
/// exits), or, where no pidfd can be had, a timer of the liveness period. With the
/// pidfd the runtime needs no timer at all for the wait (a timer costs a clock read
/// or two and a kernel timer per `epoll_wait`).
#[derive(Default)]
struct PeerWatch {
    /// The peer last seen holding its role, and its pidfd on the reactor (`None`
    /// inside: none could be had, or it fired).
    peer: Option<PeerFd>,
    /// Without a pidfd: made on the first such wait and kept, re-armed only once it
    /// fired (a wait that ends in microseconds adds and removes no timer).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What ended a wait.
enum Woke {
    /// An edge on the eventfd: look again.
    Edge,
    /// The peer's pidfd became readable, or the liveness period passed: look again
    /// and check the peer.
    Check,
}

/// A pollable end whose eventfd tokio watches.
trait Pollable: AsRawFd {
    fn registration(&mut self) -> &mut Registration;
    fn peer_role(&self) -> &Role;
    fn check_peer(&mut self);
}

impl Pollable for PollReceiver {
    fn registration(&mut self) -> &mut Registration {
        PollReceiver::registration(self)
    }
    fn peer_role(&self) -> &Role {
        PollReceiver::peer_role(self)
    }
    fn check_peer(&mut self) {
        PollReceiver::check_peer(self)
    }
}

impl Pollable for PollSender {
    fn registration(&mut self) -> &mut Registration {
        PollSender::registration(self)
    }
    fn peer_role(&self) -> &Role {
        PollSender::peer_role(self)
    }
    fn check_peer(&mut self) {
        PollSender::check_peer(self)
    }
}

/// Polls the eventfd of `fd` for an edge, clearing the readiness it reports.
fn poll_edge<T: Pollable>(fd: &mut AsyncFd<T>, cx: &mut Context<'_>, op: &'static str) -> Poll<Result<()>> {
    let raw = fd.as_raw_fd();
    match fd.poll_read_ready_mut(cx) {
        Poll::Ready(Ok(mut guard)) => {
            // Readiness is cleared, not the eventfd: tokio's reactor watches it
            // edge-triggered, so the next write is the next event (`Drain`).
            guard.clear_ready();
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(io_error(op, raw, e))),
        Poll::Pending => Poll::Pending,
    }
}

/// Awaits an edge on the eventfd of `fd`, or a reason to check the peer; the caller
/// then looks again (its `try_*` call checks the peer if asked to).
async fn readable<T: Pollable>(fd: &mut AsyncFd<T>, watch: &mut PeerWatch, op: &'static str) -> Result<()> {
    let holder = peer::holder(fd.get_ref().peer_role());
    if watch.peer.as_ref().map(|(h, _)| *h) != holder {
        // A new peer (or the first wait): once per peer, a pidfd for it.
        watch.peer = holder.map(|h| {
            let pidfd = peer::pidfd_of(fd.get_ref().peer_role(), h).and_then(|p| register(p, op).ok());
            (h, pidfd)
        });
    }
    let woke = match watch.peer.as_mut().and_then(|(_, p)| p.as_mut()) {
        Some(pidfd) => {
            std::future::poll_fn(|cx| {
                if let Poll::Ready(r) = poll_edge(fd, cx, op) {
                    return Poll::Ready(r.map(|()| Woke::Edge));
                }
                // Readable (or an error): the process exited, or cannot be watched.
                pidfd.poll_read_ready(cx).map(|_| Ok(Woke::Check))
            })
            .await?
        }
        None => {
            let timer = watch.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(LIVENESS_PERIOD)));
            if timer.is_elapsed() {
                timer.as_mut().reset(tokio::time::Instant::now() + LIVENESS_PERIOD);
            }
            std::future::poll_fn(|cx| {
                if let Poll::Ready(r) = poll_edge(fd, cx, op) {
                    return Poll::Ready(r.map(|()| Woke::Edge));
                }
                timer.as_mut().poll(cx).map(|()| Ok(Woke::Check))
            })
            .await?
        }
    };
    if let Woke::Check = woke {
        if let Some((_, pidfd)) = watch.peer.as_mut() {
            // A pidfd stays readable once its process exited: from now on the timer
            // (the check that follows reports the death; this only guards against a
            // descriptor that fires for another reason).
            *pidfd = None;
        }
        // Empty the counter the wake-ups left, so that an idle descriptor reads as
        // not ready. No wake-up is lost: the caller looks at the ring after this, and
        // a write after the read is a new edge.
        fd.get_mut().registration().drain();
        fd.get_mut().check_peer();
    }
    Ok(())
}

fn not_now(e: &Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
}

/// The receiving end of a channel, for tokio.
pub struct AsyncReceiver {
    inner: AsyncFd<PollReceiver>,
    spin: Duration,
    watch: PeerWatch,
}

impl fmt::Debug for AsyncReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncReceiver").field("inner", self.inner.get_ref()).finish()
    }
}

impl AsyncReceiver {
    /// Gives `rx` an eventfd and registers it with the current tokio runtime; fails
    /// outside a runtime.
    pub fn new(rx: Receiver) -> Result<AsyncReceiver> {
        let mut end = PollReceiver::new(rx)?;
        end.registration().set_drain(Drain::OnRequest);
        end.set_liveness(Liveness::Asked(false));
        Ok(AsyncReceiver {
            inner: register(end, "AsyncReceiver::new")?,
            spin: SPIN,
            watch: PeerWatch::default(),
        })
    }

    /// How long a receive keeps looking for a message (holding its thread) before it
    /// arms the eventfd and yields to the runtime; by default `Duration::ZERO`, park at
    /// once. With a CPU for each process, a few microseconds (about what a wake-up
    /// through the kernel costs) let a peer that answers that soon be seen without any
    /// system call; on a machine with more runnable threads than CPUs, spinning delays
    /// the peer it waits for.
    pub fn set_spin(&mut self, spin: Duration) {
        self.spin = spin;
    }

    /// Looks for a message for up to the spin time without arming the eventfd; `None`
    /// if none came.
    fn spin_for<T>(&mut self, mut f: impl FnMut(&mut Receiver) -> Result<T>) -> Option<Result<T>> {
        if self.spin.is_zero() {
            return None;
        }
        let spin = self.spin;
        let rx = self.inner.get_mut().receiver();
        let mut start: Option<Instant> = None;
        let mut polls: u32 = 0;
        loop {
            match f(rx) {
                Err(e) if e.is_not_now() => {}
                r => {
                    // Disarm, as the pollable receiver does after a success, so that
                    // the sender stops writing the eventfd (only if it was armed: a
                    // store would move the shared line for nothing).
                    let w = rx.data_wake();
                    if w.waiting.load(Ordering::Relaxed) != 0 {
                        w.retire();
                    }
                    return Some(r);
                }
            }
            polls = polls.wrapping_add(1);
            // The clock every 64 looks only.
            if polls % 64 == 0 {
                let now = Instant::now();
                if now - *start.get_or_insert(now) >= spin {
                    return None;
                }
            }
            std::hint::spin_loop();
        }
    }

    /// Receives a message into `buf`, awaiting one; returns its length. Errors as
    /// [`Receiver::recv_with`].
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        if let Some(r) = self.spin_for(|rx| rx.recv_with(buf, Wait::NoWait)) {
            return r;
        }
        loop {
            match self.inner.get_mut().try_recv(buf) {
                Err(e) if not_now(&e) => readable(&mut self.inner, &mut self.watch, "recv").await?,
                r => return r,
            }
        }
    }

    /// Receives a message into a new `Vec`, awaiting one.
    pub async fn recv_vec(&mut self) -> Result<Vec<u8>> {
        if let Some(r) = self.spin_for(|rx| rx.recv_vec_with(Wait::NoWait)) {
            return r;
        }
        loop {
            match self.inner.get_mut().try_recv_vec() {
                Err(e) if not_now(&e) => readable(&mut self.inner, &mut self.watch, "recv").await?,
                r => return r,
            }
        }
    }

    /// Receives a plain-old-data value, awaiting one.
    pub async fn recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T> {
        if let Some(r) = self.spin_for(|rx| rx.recv_pod_with(Wait::NoWait)) {
            return r;
        }
        loop {
            match self.inner.get_mut().try_recv_pod() {
                Err(e) if not_now(&e) => readable(&mut self.inner, &mut self.watch, "recv").await?,
                r => return r,
            }
        }
    }

    /// The pollable receiver inside, for its non-blocking calls. Those report a
    /// sender that closed its end, but a killed one only once a `recv` awaited (which
    /// watches the sender's process).
    pub fn get_mut(&mut self) -> &mut PollReceiver {
        self.inner.get_mut()
    }
}

/// The sending end of a channel, for tokio.
pub struct AsyncSender {
    inner: AsyncFd<PollSender>,
    watch: PeerWatch,
}

impl fmt::Debug for AsyncSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSender").field("inner", self.inner.get_ref()).finish()
    }
}

impl AsyncSender {
    /// Gives `tx` an eventfd and registers it with the current tokio runtime; fails
    /// outside a runtime.
    pub fn new(tx: Sender) -> Result<AsyncSender> {
        let mut end = PollSender::new(tx)?;
        end.registration().set_drain(Drain::OnRequest);
        end.set_liveness(Liveness::Asked(false));
        Ok(AsyncSender { inner: register(end, "AsyncSender::new")?, watch: PeerWatch::default() })
    }

    /// Sends `data`, awaiting room in the ring (back-pressure: the task sleeps while
    /// the receiver lags). Errors as [`Sender::send_with`].
    pub async fn send(&mut self, data: &[u8]) -> Result<()> {
        loop {
            match self.inner.get_mut().try_send(data) {
                Err(e) if not_now(&e) => readable(&mut self.inner, &mut self.watch, "send").await?,
                r => return r,
            }
        }
    }

    /// Sends a plain-old-data value, awaiting room.
    pub async fn send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<()> {
        self.send(bytemuck::bytes_of(value)).await
    }

    /// The pollable sender inside, for its non-blocking calls. Those report a
    /// receiver that closed its end, but a killed one only once a `send` awaited
    /// (which watches the receiver's process).
    pub fn get_mut(&mut self) -> &mut PollSender {
        self.inner.get_mut()
    }
}
