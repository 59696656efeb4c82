//! A descriptor for the event loop: an `eventfd` that becomes readable when a waiting
//! end of a channel (or an [`Event`](super::Event)) has something to look at, for
//! `epoll`, `mio` or tokio.
//!
//! ```
//! use ipckit::channel::{Channel, ChannelConfig, PollReceiver};
//! use std::os::fd::AsFd;
//!
//! let chan = Channel::create_memfd(&ChannelConfig::new())?;
//! let mut tx = chan.sender()?;
//! let mut rx = PollReceiver::new(chan.receiver()?)?;
//! let _fd = rx.as_fd(); // register this with epoll: readable means "look again"
//! let mut buf = [0u8; 16];
//! assert!(rx.try_recv(&mut buf).is_err()); // nothing yet: now the descriptor is armed
//! tx.send(b"hi")?;
//! assert_eq!(rx.try_recv(&mut buf)?, 2);
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # How the other process learns the descriptor
//!
//! A futex cannot be polled, and a descriptor cannot be found in shared memory by an
//! unrelated process. So the waiting end creates an `eventfd` and writes its pid, start
//! time and descriptor number into the poll slot of the wake line it waits on (see
//! `ring::PollSlot`). The other end, on its wake-up path only (after it already saw
//! that someone waits), fetches a copy with `pidfd_open` + `pidfd_getfd` once per
//! registration, checks that the pid was not reused (start time) and that the copy is
//! an eventfd, caches it, and writes to it next to its futex wake.
//!
//! The spinning path pays nothing: a sender checks the same `waiting` word it checked
//! before, and a receiver busy with messages leaves it clear. A waiting end with a
//! descriptor is "armed" by its `try_*` call that finds nothing (it takes back the
//! slot's `pending` flag and drains the eventfd, raises `waiting`, and looks once
//! more), and disarmed when a call succeeds.
//!
//! Why no wake-up is lost: the poller's `arm_poll` and the waker's `needs_wake` are
//! the two `SeqCst` fences of [`Wake`]: either the poller's last look sees the
//! publication, or the waker sees `waiting`, and then, since the poller reset
//! `pending` before arming, the waker (or one before it, after the reset) writes the
//! eventfd. That write comes after the poller's re-arm, so it is readable for a
//! level-triggered poller (which drained before) and a new event for an
//! edge-triggered one. The tokio ends ([`Drain::OnRequest`]) therefore skip the read:
//! one system call less per wake-up; they empty the counter only after an idle
//! liveness period, before looking again. (Modelled in `poll_model.rs`.)
//!
//! # Limits
//!
//! - Linux 5.6 or later (`pidfd_getfd`).
//! - The waker needs ptrace access to the poller: the same user (and a dumpable
//!   process), or `CAP_SYS_PTRACE`; Yama's `/proc/sys/kernel/yama/ptrace_scope` 1 or
//!   more restricts this further. A waker that cannot fetch the descriptor records the
//!   errno in the slot, and the poller's next `try_*` call fails with it (never a
//!   silent hang).
//! - A peer killed by a signal writes nothing: wake up at least every 50 ms (an epoll
//!   timeout) and call `try_*` again, which then reports
//!   [`Disconnected`](crate::ErrorKind::Disconnected). The tokio ends do this for you.
//! - Readiness means "look again", not "a message is there": after a wake-up, call
//!   `try_*` until it reports [`WouldBlock`](crate::ErrorKind::WouldBlock).
//!
//! References: [eventfd(2)](https://man7.org/linux/man-pages/man2/eventfd.2.html),
//! [pidfd_getfd(2)](https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html),
//! [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html),
//! [epoll(7)](https://man7.org/linux/man-pages/man7/epoll.7.html).

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Mutex, TryLockError};
use std::time::{Duration, Instant};

use super::endpoint::{Receiver, Sender};
use super::layout::Role;
use super::peer;
use super::ring::{PollSlot, Wake};
use super::sync::Ordering;
use crate::error::{Error, ErrorKind, NotNow, Object, Result};
use crate::sys::{self, Errno};
use crate::wait::Wait;

/// A token that marks a slot being filled in (wakers skip it).
const FILLING: u64 = u64::MAX;

/// How often an armed end checks that its peer still lives.
pub(crate) const LIVENESS_PERIOD: Duration = Duration::from_millis(50);

/// Signals the poller registered in `slot`, if any. Called on the wake-up path only.
#[inline]
pub(crate) fn kick(slot: &PollSlot) {
    // Acquire pairs with the Release store of the token in `register`: pid, fd and
    // start time come with it.
    let token = slot.token.load(Ordering::Acquire);
    // One write per wake-up: the poller resets `pending` when it drains the eventfd.
    // AcqRel: our publication comes before the flag the poller reads.
    if token != 0 && token != FILLING && slot.raise_pending() {
        kick_slow(slot, token);
    }
}

/// Descriptors fetched from pollers, by registration token (a few at most).
static FETCHED: Mutex<Vec<(u64, std::result::Result<OwnedFd, Errno>)>> = Mutex::new(Vec::new());
/// How many fetched descriptors a process keeps.
const FETCHED_MAX: usize = 16;

#[cold]
#[inline(never)]
fn kick_slow(slot: &PollSlot, token: u64) {
    let fetch_now = || {
        let pid = slot.pid.load(Ordering::Relaxed);
        let fd = slot.fd.load(Ordering::Relaxed);
        let start = slot.start_time.load(Ordering::Relaxed);
        fetch(pid, start, fd as RawFd)
    };
    let mut cache = match FETCHED.try_lock() {
        Ok(cache) => cache,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => {
            // Another thread is here, or this process was forked while one was (in
            // the child the lock then stays taken forever): never wait for it, fetch
            // a copy just for this write.
            let result = fetch_now().and_then(|fd| sys::eventfd::signal(fd.as_fd()));
            if let Err(e) = result {
                slot.error.store(e.0 as u32, Ordering::Relaxed);
            }
            return;
        }
    };
    let idx = match cache.iter().position(|(t, _)| *t == token) {
        Some(i) => i,
        None => {
            let fetched = fetch_now();
            if cache.len() >= FETCHED_MAX {
                drop(cache.remove(0));
            }
            cache.push((token, fetched));
            cache.len() - 1
        }
    };
    let result = match &cache[idx].1 {
        Ok(fd) => sys::eventfd::signal(fd.as_fd()),
        Err(e) => Err(*e),
    };
    if let Err(e) = result {
        slot.error.store(e.0 as u32, Ordering::Relaxed);
    }
}

/// A copy of descriptor `fd` of process `pid` (started at `start`), checked to be an
/// eventfd.
fn fetch(pid: u32, start: u64, fd: RawFd) -> std::result::Result<OwnedFd, Errno> {
    let pidfd = sys::pidfd::open(pid)?;
    // The pidfd pins the process: if its start time matches now, it is the poller.
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|_| Errno::ESRCH)?;
    match peer::parse_stat(&text) {
        Some((_, t)) if t == start => {}
        _ => return Err(Errno::ESRCH),
    }
    let copy = sys::pidfd::get_fd(pidfd.as_fd(), fd)?;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", copy.as_raw_fd())).map_err(|_| Errno::EBADF)?;
    if link.as_os_str() != "anon_inode:[eventfd]" {
        return Err(Errno::EBADF);
    }
    Ok(copy)
}

/// A unique, non-zero registration number.
fn new_token() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(Instant::now().elapsed().as_nanos());
    match h.finish() {
        0 | FILLING => 1,
        t => t,
    }
}

/// When a poller empties its eventfd.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
pub(crate) enum Drain {
    /// On every re-arm after a wake-up, so that the descriptor is readable only while
    /// a wake-up is unseen (for level-triggered `epoll` and `poll`).
    OnRearm,
    /// Only when asked ([`Registration::drain`]): for a descriptor watched with
    /// edge-triggered `epoll` (`EPOLLET`, as tokio's reactor does), where every write
    /// is a new event whether or not the counter was read, so a read per wake-up is a
    /// system call for nothing.
    OnRequest,
}

/// An eventfd registered in a poll slot.
pub(crate) struct Registration {
    efd: OwnedFd,
    token: u64,
    pid: u32,
    drain: Drain,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration").field("fd", &self.efd.as_raw_fd()).finish()
    }
}

impl Registration {
    /// Creates an eventfd and registers it in `slot`, which must be free (token 0).
    pub(crate) fn new(
        slot: &PollSlot,
        op: &'static str,
        obj: impl FnOnce() -> Object,
    ) -> Result<Registration> {
        // Claim the slot first, so that two registrations never mix their fields.
        // AcqRel: orders the claim with an earlier unregistration.
        if slot.token.compare_exchange(0, FILLING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(Error::new(op, obj(), ErrorKind::AlreadyExists)
                .with_detail("another poller is registered on this end"));
        }
        let efd = match sys::eventfd::create() {
            Ok(fd) => fd,
            Err(e) => {
                slot.token.store(0, Ordering::Release);
                return Err(Error::sys(op, obj(), e).with_detail("eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)"));
            }
        };
        let me = peer::current();
        let token = new_token();
        slot.pid.store(me.pid, Ordering::Relaxed);
        slot.start_time.store(me.start_time, Ordering::Relaxed);
        slot.fd.store(efd.as_raw_fd() as u32, Ordering::Relaxed);
        slot.error.store(0, Ordering::Relaxed);
        slot.pending.store(0, Ordering::Relaxed);
        // Release pairs with the Acquire in `kick`: the fields above come with the token.
        slot.token.store(token, Ordering::Release);
        Ok(Registration { efd, token, pid: me.pid, drain: Drain::OnRearm })
    }

    /// The process that registered.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The eventfd.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.efd.as_fd()
    }

    /// Takes the slot's pending wake-up, if any (before the last look at the
    /// condition): a wake-up after this writes the eventfd again. With
    /// [`Drain::OnRearm`] it also empties the eventfd; with [`Drain::OnRequest`] the
    /// counter keeps the old writes (one per wake-up, so it cannot reach its limit of
    /// 2^64 - 2 in any real lifetime) and the next write still makes an edge.
    #[inline]
    pub(crate) fn rearm(&self, slot: &PollSlot) {
        if slot.take_pending() && self.drain == Drain::OnRearm {
            self.drain();
        }
    }

    /// Empties the eventfd (`read(2)`, non-blocking).
    pub(crate) fn drain(&self) {
        // An eventfd read fails only with EAGAIN (handled) or on a bad descriptor.
        let _ = sys::eventfd::drain(self.efd.as_fd());
    }

    /// Sets when the eventfd is emptied.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn set_drain(&mut self, drain: Drain) {
        self.drain = drain;
    }

    /// The error a waker met signalling us, if any, as an error of `op`.
    pub(crate) fn check(
        &self,
        slot: &PollSlot,
        op: &'static str,
        obj: impl FnOnce() -> Object,
    ) -> Result<()> {
        match slot.error.load(Ordering::Relaxed) {
            0 => Ok(()),
            e => Err(Error::sys(op, obj(), Errno(e as i32)).with_detail(
                "the other process could not signal this end's eventfd (pidfd_getfd needs Linux 5.6+ \
                 and ptrace access: the same user, see /proc/sys/kernel/yama/ptrace_scope)",
            )),
        }
    }

    /// Removes the registration from `slot` (in the registering process only).
    pub(crate) fn unregister(&self, slot: &PollSlot) {
        if std::process::id() != self.pid {
            return; // a copy in a forked child
        }
        // Release: a waker that sees 0 no longer needs the fields.
        let _ = slot.token.compare_exchange(self.token, 0, Ordering::Release, Ordering::Relaxed);
    }
}

/// What a non-blocking attempt saw.
pub(crate) enum Attempt<T> {
    Got(T),
    Nothing,
}

/// When an armed end checks that its peer still lives.
#[derive(Copy, Clone, Debug)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
pub(crate) enum Liveness {
    /// At the first call that finds nothing after this instant (each such call reads
    /// the clock): for callers that wait in their own loop, at most 50 ms at a time.
    After(Instant),
    /// At the next call that finds nothing, once asked to
    /// ([`PollReceiver::check_peer`]): for the tokio ends, which wait on the peer's
    /// pidfd or on a timer and know when a check is due.
    Asked(bool),
}

impl Liveness {
    /// The first kind, the period from now.
    fn from_now() -> Liveness {
        Liveness::After(Instant::now() + LIVENESS_PERIOD)
    }

    /// Whether a check is due now (and the next one set).
    #[inline]
    fn due(&mut self) -> bool {
        match self {
            Liveness::After(next) => {
                let now = Instant::now();
                if now < *next {
                    return false;
                }
                *next = now + LIVENESS_PERIOD;
                true
            }
            Liveness::Asked(asked) => std::mem::take(asked),
        }
    }
}

/// A channel end that a poller arms.
trait End {
    /// The operation named in errors.
    const OP: &'static str;
    /// The wake line this end sleeps on.
    fn wake(&self) -> &Wake;
    /// Whether the other end is gone.
    fn peer_gone(&self) -> bool;
    /// The channel, for errors.
    fn obj(&self) -> Object;
}

impl End for Receiver {
    const OP: &'static str = "recv";
    fn wake(&self) -> &Wake {
        self.data_wake()
    }
    fn peer_gone(&self) -> bool {
        self.is_disconnected()
    }
    fn obj(&self) -> Object {
        self.object()
    }
}

impl End for Sender {
    const OP: &'static str = "send";
    fn wake(&self) -> &Wake {
        self.space_wake()
    }
    fn peer_gone(&self) -> bool {
        self.is_disconnected()
    }
    fn obj(&self) -> Object {
        self.object()
    }
}

/// The steps shared by [`PollReceiver`] and [`PollSender`]: try; if nothing, drain the
/// eventfd, arm the wake word, try again; now and then check the peer.
fn attempt<E: End, T>(
    end: &mut E,
    reg: &Registration,
    liveness: &mut Liveness,
    mut f: impl FnMut(&mut E) -> Result<Attempt<T>>,
) -> Result<T> {
    if let Attempt::Got(v) = f(end)? {
        // Disarm if armed (a store when nothing is armed would move the shared line
        // for nothing: the other side reads it after each publication).
        let w = end.wake();
        if w.waiting.load(Ordering::Relaxed) != 0 {
            w.retire();
        }
        return Ok(v);
    }
    reg.rearm(&end.wake().poll);
    end.wake().arm_poll();
    if let Attempt::Got(v) = f(end)? {
        end.wake().retire();
        return Ok(v);
    }
    reg.check(&end.wake().poll, E::OP, || end.obj())?;
    if liveness.due() && end.peer_gone() {
        // A dead process publishes nothing more: one last look, then report.
        if let Attempt::Got(v) = f(end)? {
            return Ok(v);
        }
        return Err(Error::new(E::OP, end.obj(), ErrorKind::Disconnected)
            .with_detail("the other end closed it, or its process died"));
    }
    Err(Error::new(E::OP, Object::None, ErrorKind::WouldBlock))
}

/// A [`Receiver`] with an eventfd that becomes readable when a message may be there.
///
/// [`try_recv`](Self::try_recv) and its siblings never wait; when they find nothing
/// they report [`ErrorKind::WouldBlock`] and arm the descriptor, so wait for it to be
/// readable (with `epoll`, at most 50 ms at a time so that a killed sender is noticed)
/// and try again. The inner receiver's blocking calls stay available through
/// [`receiver`](Self::receiver).
pub struct PollReceiver {
    rx: Receiver,
    reg: Registration,
    liveness: Liveness,
}

impl fmt::Debug for PollReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollReceiver").field("receiver", &self.rx).field("fd", &self.reg).finish()
    }
}

impl PollReceiver {
    /// Gives `rx` an eventfd (`eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`) and registers it
    /// for the sender to signal. Fails with [`ErrorKind::AlreadyExists`] if the end
    /// already has one.
    pub fn new(rx: Receiver) -> Result<PollReceiver> {
        let reg = Registration::new(&rx.data_wake().poll, "PollReceiver::new", || rx.object())?;
        Ok(PollReceiver { rx, reg, liveness: Liveness::from_now() })
    }

    /// Receives a message into `buf` if one is there; [`ErrorKind::WouldBlock`] (and the
    /// descriptor armed) if not. Other errors as [`Receiver::recv_with`].
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.attempt(|rx| opt(rx.recv_with(buf, Wait::NoWait)))
    }

    /// Receives a message into a new `Vec` if one is there; as [`try_recv`](Self::try_recv).
    pub fn try_recv_vec(&mut self) -> Result<Vec<u8>> {
        self.attempt(|rx| opt(rx.recv_vec_with(Wait::NoWait)))
    }

    /// Receives a plain-old-data value if one is there; as [`try_recv`](Self::try_recv).
    pub fn try_recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T> {
        self.attempt(|rx| opt(rx.recv_pod_with(Wait::NoWait)))
    }

    fn attempt<T>(&mut self, f: impl FnMut(&mut Receiver) -> Result<Attempt<T>>) -> Result<T> {
        attempt(&mut self.rx, &self.reg, &mut self.liveness, f)
    }

    /// The inner receiver, for its blocking calls.
    pub fn receiver(&mut self) -> &mut Receiver {
        &mut self.rx
    }

    /// The registration, for the tokio end (edge-triggered: see [`Drain`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn registration(&mut self) -> &mut Registration {
        &mut self.reg
    }

    /// Sets when the peer is checked (see [`Liveness`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn set_liveness(&mut self, liveness: Liveness) {
        self.liveness = liveness;
    }

    /// Asks for a check of the peer at the next call that finds nothing
    /// (with [`Liveness::Asked`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn check_peer(&mut self) {
        self.liveness = Liveness::Asked(true);
    }

    /// The role line of the peer.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn peer_role(&self) -> &Role {
        self.rx.peer_role()
    }
}

impl AsFd for PollReceiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reg.fd()
    }
}

impl AsRawFd for PollReceiver {
    fn as_raw_fd(&self) -> RawFd {
        self.reg.fd().as_raw_fd()
    }
}

impl Drop for PollReceiver {
    fn drop(&mut self) {
        self.reg.unregister(&self.rx.data_wake().poll);
    }
}

/// A [`Sender`] with an eventfd that becomes readable when room may have been freed.
///
/// As [`PollReceiver`]: [`try_send`](Self::try_send) reports [`ErrorKind::WouldBlock`]
/// when the ring is full and arms the descriptor.
pub struct PollSender {
    tx: Sender,
    reg: Registration,
    liveness: Liveness,
}

impl fmt::Debug for PollSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollSender").field("sender", &self.tx).field("fd", &self.reg).finish()
    }
}

impl PollSender {
    /// Gives `tx` an eventfd and registers it for the receiver to signal.
    pub fn new(tx: Sender) -> Result<PollSender> {
        let reg = Registration::new(&tx.space_wake().poll, "PollSender::new", || tx.object())?;
        Ok(PollSender { tx, reg, liveness: Liveness::from_now() })
    }

    /// Sends `data` if there is room; [`ErrorKind::WouldBlock`] (and the descriptor
    /// armed) if not. Other errors as [`Sender::send_with`].
    pub fn try_send(&mut self, data: &[u8]) -> Result<()> {
        self.attempt(|tx| opt(tx.send_with(data, Wait::NoWait)))
    }

    /// Sends a plain-old-data value if there is room; as [`try_send`](Self::try_send).
    pub fn try_send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<()> {
        self.try_send(bytemuck::bytes_of(value))
    }

    fn attempt<T>(&mut self, f: impl FnMut(&mut Sender) -> Result<Attempt<T>>) -> Result<T> {
        attempt(&mut self.tx, &self.reg, &mut self.liveness, f)
    }

    /// The inner sender, for its blocking calls and loans.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.tx
    }

    /// The registration, for the tokio end (edge-triggered: see [`Drain`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn registration(&mut self) -> &mut Registration {
        &mut self.reg
    }

    /// Sets when the peer is checked (see [`Liveness`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn set_liveness(&mut self, liveness: Liveness) {
        self.liveness = liveness;
    }

    /// Asks for a check of the peer at the next call that finds nothing
    /// (with [`Liveness::Asked`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn check_peer(&mut self) {
        self.liveness = Liveness::Asked(true);
    }

    /// The role line of the peer.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio ends
    pub(crate) fn peer_role(&self) -> &Role {
        self.tx.peer_role()
    }
}

impl AsFd for PollSender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reg.fd()
    }
}

impl AsRawFd for PollSender {
    fn as_raw_fd(&self) -> RawFd {
        self.reg.fd().as_raw_fd()
    }
}

impl Drop for PollSender {
    fn drop(&mut self) {
        self.reg.unregister(&self.tx.space_wake().poll);
    }
}

/// The channel's "not now" error ([`Error::is_not_now`](crate::Error::is_not_now)) as an [`Attempt`]; the one place that
/// knows the convention of the inner calls.
fn opt<T>(r: Result<T>) -> Result<Attempt<T>> {
    Ok(match r.now()? {
        Some(v) => Attempt::Got(v),
        None => Attempt::Nothing,
    })
}

#[cfg(all(test, not(ipckit_loom)))]
mod tests {
    use super::*;
    use crate::channel::{Channel, ChannelConfig};

    #[test]
    #[allow(unsafe_code)]
    fn a_child_forked_while_the_cache_was_taken_still_signals() {
        let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
        let mut rx = PollReceiver::new(chan.receiver().unwrap()).unwrap();
        let mut buf = [0u8; 8];
        // Nothing there: armed, so the sender's next message writes the eventfd.
        assert!(rx.try_recv(&mut buf).unwrap_err().is_not_now());
        // As if another thread were kicking at the moment of the fork: the child gets
        // the cache's lock taken, for good.
        let held = FETCHED.lock().unwrap();
        // SAFETY: the child sends one message through ipckit and exits; the only lock
        // it may meet is the one held here, which it must not wait for.
        let child = unsafe {
            crate::process::fork_with(|| match chan.sender().and_then(|mut tx| tx.send(b"wake")) {
                Ok(()) => 0,
                Err(_) => 1,
            })
        }
        .unwrap();
        drop(held);
        assert!(child.wait().unwrap().success(), "the child sent and exited (no hang on the lock)");
        assert_eq!(sys::eventfd::drain(rx.as_fd()), Ok(1), "the child wrote the eventfd once");
        assert_eq!(rx.try_recv(&mut buf).unwrap(), 4);
    }
}
