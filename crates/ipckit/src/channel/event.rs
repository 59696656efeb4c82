//! An event in shared memory: one process [`set`](Event::set)s it, others
//! [`wait`](Event::wait) for it, across processes, with a futex.
//!
//! ```
//! use ipckit::channel::Event;
//! use ipckit::process;
//!
//! let ev = Event::create_memfd()?;
//! // SAFETY: this example is single-threaded.
//! let child = unsafe { process::fork_with(|| if ev.wait().is_ok() { 0 } else { 1 }) }?;
//! ev.set();
//! assert!(child.wait()?.success());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! The event is a flag that resets itself: [`set`](Event::set) raises it and wakes
//! every waiter; the first [`wait`](Event::wait) (or [`try_wait`](Event::try_wait))
//! to see it lowers it and returns, the others go on waiting. Setting an event that is
//! already set does nothing more (sets do not count). A [`WaitSet`](super::WaitSet)
//! waits on events next to channels without lowering them, and
//! [`poll_fd`](Event::poll_fd) gives a descriptor for `epoll`.
//!
//! An event has no peer: a waiter whose setter died waits on. Use
//! [`wait_timeout`](Event::wait_timeout) or [`wait_deadline`](Event::wait_deadline)
//! where that matters.
//!
//! # Layout
//!
//! ```text
//! offset  size  what
//! 0       128   magic "ipckEVNT", version, poll slots     the creator, once
//! 128     128   signalled, futex word, waiters, pollers   everybody
//! 256     256   8 poll slots (see `channel::poll`)         the pollers
//! ```
//!
//! References: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html).

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::layout::Line;
use super::poll::{self, Registration};
use super::ring::PollSlot;
use super::sync::{AtomicU32, AtomicU64, Ordering, full_barrier};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::perm::Mode;
use crate::posix::shm::{Mapping, ShmObject};
use crate::sys;

/// "ipckEVNT", little-endian.
const MAGIC: u64 = u64::from_le_bytes(*b"ipckEVNT");
/// The layout version.
const VERSION: u32 = 1;
/// Poll slots per event: how many processes can poll it at once.
const POLL_SLOTS: usize = 8;
/// The size of the shared memory that holds an event.
const SIZE: usize = 4096;
/// Polls before sleeping.
const SPIN_POLLS: u32 = 256;

#[repr(C)]
#[derive(Debug)]
struct Config {
    magic: AtomicU64,
    version: AtomicU32,
    poll_slots: AtomicU32,
}

#[repr(C)]
#[derive(Debug)]
pub(crate) struct Core {
    /// 1 while the event is set.
    signalled: AtomicU32,
    /// The futex word: bumped by every set that may have a sleeper.
    pub(crate) seq: AtomicU32,
    /// How many waiters may sleep on `seq` (each adds itself before its last look).
    waiters: AtomicU32,
    /// How many poll slots are registered.
    pollers: AtomicU32,
}

#[repr(C)]
#[derive(Debug)]
struct Header {
    config: Line<Config>,
    core: Line<Core>,
    polls: [PollSlot; POLL_SLOTS],
}

const _: () = {
    assert!(std::mem::size_of::<Header>() <= SIZE);
    assert!(std::mem::offset_of!(Header, polls) == 256);
    assert!(std::mem::size_of::<PollSlot>() == 32);
};

/// An event in shared memory (a memfd or a named POSIX object).
pub struct Event {
    obj: ShmObject,
    map: Mapping,
    label: String,
    poll: OnceLock<(usize, Registration)>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("name", &self.label).field("set", &self.is_set()).finish()
    }
}

impl Event {
    /// Creates an event in an anonymous memfd (`memfd_create`): shared with `fork`ed
    /// children, or with another program through [`fd`](Self::fd).
    pub fn create_memfd() -> Result<Event> {
        let obj = ShmObject::memfd("ipckit-event", SIZE)?;
        Event::setup(obj, "event in a memfd".into(), true)
    }

    /// Creates an event in a new named POSIX shared-memory object
    /// (`shm_open(name, O_CREAT | O_EXCL)`, `/dev/shm/NAME`).
    pub fn create_named(name: &str, mode: Mode) -> Result<Event> {
        let obj = ShmObject::create(name, SIZE, mode)?;
        let label = format!("event {}", obj.name().unwrap_or(name));
        Event::setup(obj, label, true)
    }

    /// Opens the event in the named POSIX shared-memory object.
    pub fn open_named(name: &str) -> Result<Event> {
        let obj = ShmObject::open(name)?;
        let label = format!("event {}", obj.name().unwrap_or(name));
        Event::setup(obj, label, false)
    }

    /// Opens the event in a memfd or POSIX object received as a descriptor.
    pub fn from_fd(fd: OwnedFd) -> Result<Event> {
        Event::setup(ShmObject::from_fd(fd), "event from a descriptor".into(), false)
    }

    fn setup(obj: ShmObject, label: String, create: bool) -> Result<Event> {
        let op = if create { "event create" } else { "event open" };
        let map = obj.map()?;
        let bad = |label: &str, why: String| {
            Err(Error::new(op, Object::Name(label.to_string()), ErrorKind::Corrupted).with_detail(why))
        };
        if map.len() < SIZE {
            return bad(
                &label,
                format!("{} bytes of shared memory cannot hold an event ({SIZE} needed)", map.len()),
            );
        }
        if map.as_ptr() as usize % 128 != 0 {
            return Err(Error::new(op, Object::Name(label), ErrorKind::InvalidInput)
                .with_detail("the shared memory is not aligned to 128 bytes"));
        }
        let ev = Event { obj, map, label, poll: OnceLock::new() };
        let c = &ev.header().config.0;
        if create {
            c.version.store(VERSION, Ordering::Relaxed);
            c.poll_slots.store(POLL_SLOTS as u32, Ordering::Relaxed);
            // Release pairs with the Acquire below in an opener.
            c.magic.store(MAGIC, Ordering::Release);
        } else {
            match c.magic.load(Ordering::Acquire) {
                MAGIC => {}
                0 => {
                    return Err(Error::new(op, ev.obj(), ErrorKind::NotInitialized)
                        .with_detail("the creator has not finished setting up the event; retry"));
                }
                m => return bad(&ev.label, format!("bad magic number {m:#018x}: not an ipckit event")),
            }
            let (v, n) = (c.version.load(Ordering::Relaxed), c.poll_slots.load(Ordering::Relaxed));
            if v != VERSION || n as usize != POLL_SLOTS {
                return bad(
                    &ev.label,
                    format!("layout version {v} with {n} poll slots, this ipckit speaks version {VERSION}"),
                );
            }
        }
        Ok(ev)
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping is 128-aligned (checked in `setup`) and at least SIZE >=
        // size_of::<Header>() bytes long for as long as `self.map` lives, which is as
        // long as `self`. Every field of Header is an atomic, so a shared reference to
        // memory other processes write is sound.
        #[allow(unsafe_code)]
        unsafe {
            &*self.map.as_ptr().cast::<Header>()
        }
    }

    pub(crate) fn core(&self) -> &Core {
        &self.header().core.0
    }

    fn obj(&self) -> Object {
        Object::Name(self.label.clone())
    }

    /// The descriptor of the shared memory (to pass the event to another program).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.obj.as_fd()
    }

    /// The shared-memory object that holds the event.
    pub fn shm_object(&self) -> &ShmObject {
        &self.obj
    }

    /// Asks for the name to be removed when this handle is dropped (in the creating
    /// process only).
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        self.obj.set_remove_on_drop(remove)
    }

    /// Sets the event and wakes its waiters (`futex(FUTEX_WAKE)` only if one may sleep,
    /// and a write to the eventfd of each poller).
    pub fn set(&self) {
        let c = self.core();
        // Release pairs with the Acquire of a waiter that lowers it: what we wrote
        // before setting is visible to it.
        c.signalled.store(1, Ordering::Release);
        // Full barrier: orders the store above before the loads below, against the
        // waiter's announce (waiters += 1, barrier, look at `signalled`).
        full_barrier();
        let waiters = c.waiters.load(Ordering::Relaxed);
        let pollers = c.pollers.load(Ordering::Relaxed);
        if waiters != 0 || pollers != 0 {
            self.wake_all(waiters != 0, pollers != 0);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_all(&self, waiters: bool, pollers: bool) {
        let c = self.core();
        if waiters {
            c.seq.fetch_add(1, Ordering::Release);
            let _ = sys::futex::wake(&c.seq, u32::MAX);
        }
        if pollers {
            for slot in &self.header().polls {
                poll::kick(slot);
            }
        }
    }

    /// Lowers the event without waiting.
    pub fn reset(&self) {
        self.core().signalled.store(0, Ordering::Relaxed);
    }

    /// Whether the event is set now (without lowering it).
    pub fn is_set(&self) -> bool {
        self.core().signalled.load(Ordering::Acquire) != 0
    }

    /// Lowers the event if it is set: whether it was.
    fn take(&self) -> bool {
        let s = &self.core().signalled;
        // Acquire pairs with the Release in `set`.
        s.load(Ordering::Relaxed) != 0 && s.swap(0, Ordering::Acquire) != 0
    }

    /// The waiter's half of the handshake, before its last look: returns the futex
    /// value to sleep on.
    pub(crate) fn announce(&self) -> u32 {
        let c = self.core();
        // Acquire pairs with the Release bump in `wake_all`.
        let seq = c.seq.load(Ordering::Acquire);
        c.waiters.fetch_add(1, Ordering::Relaxed);
        full_barrier();
        seq
    }

    /// Undoes [`announce`](Self::announce).
    pub(crate) fn retire(&self) {
        self.core().waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Waits until the event is set, and lowers it.
    pub fn wait(&self) -> Result<()> {
        self.wait_until(None, "Event::wait")
    }

    /// Lowers the event if it is set now; [`ErrorKind::WouldBlock`] if it is not.
    pub fn try_wait(&self) -> Result<()> {
        if let Some((slot, reg)) = self.poll.get() {
            // Re-armed before looking: a set after the look writes the eventfd again.
            reg.rearm(&self.header().polls[*slot]);
        }
        if self.take() {
            return Ok(());
        }
        if let Some((slot, reg)) = self.poll.get() {
            reg.check(&self.header().polls[*slot], "Event::try_wait", || self.obj())?;
        }
        Err(Error::new("Event::try_wait", Object::None, ErrorKind::WouldBlock))
    }

    /// Waits at most `timeout`; [`ErrorKind::TimedOut`] if the event was not set.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.wait_until(Instant::now().checked_add(timeout), "Event::wait_timeout")
    }

    /// Waits until `deadline`; [`ErrorKind::TimedOut`] if the event was not set.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<()> {
        self.wait_until(Some(deadline), "Event::wait_deadline")
    }

    fn wait_until(&self, deadline: Option<Instant>, op: &'static str) -> Result<()> {
        for _ in 0..SPIN_POLLS {
            if self.take() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let c = self.core();
        loop {
            let seq = self.announce();
            if self.take() {
                self.retire();
                return Ok(());
            }
            let nap = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        self.retire();
                        return Err(Error::new(op, Object::None, ErrorKind::TimedOut));
                    }
                    Some(d - now)
                }
            };
            // EAGAIN (the word moved), ETIMEDOUT and EINTR all mean: look again.
            let _ = sys::futex::wait(&c.seq, seq, nap);
            self.retire();
        }
    }

    /// A descriptor that becomes readable when the event may be set (an eventfd the
    /// setters write; see `channel::poll` for how they find it and the limits). After a
    /// wake-up, call [`try_wait`](Self::try_wait). Created on first use; at most 8
    /// processes poll one event at a time. A `fork`ed child inherits the parent's
    /// registration (the same eventfd): call this first in the process that polls.
    /// A poller killed without closing keeps its slot.
    pub fn poll_fd(&self) -> Result<BorrowedFd<'_>> {
        if let Some((_, reg)) = self.poll.get() {
            return Ok(reg.fd());
        }
        let h = self.header();
        let mut last = None;
        for (i, slot) in h.polls.iter().enumerate() {
            match Registration::new(slot, "Event::poll_fd", || self.obj()) {
                Ok(reg) => {
                    h.core.0.pollers.fetch_add(1, Ordering::Relaxed);
                    // Full barrier: the registration is visible before we look at the flag.
                    full_barrier();
                    if let Err((i, reg)) = self.poll.set((i, reg)) {
                        // Another thread registered first: keep its registration.
                        reg.unregister(&h.polls[i]);
                        h.core.0.pollers.fetch_sub(1, Ordering::Relaxed);
                    }
                    let (_, reg) = self.poll.get().expect("set above");
                    return Ok(reg.fd());
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last
            .unwrap_or_else(|| Error::new("Event::poll_fd", self.obj(), ErrorKind::LimitExceeded))
            .with_detail(format!("all {POLL_SLOTS} poll slots of the event are taken")))
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if let Some((i, reg)) = self.poll.get() {
            let h = self.header();
            reg.unregister(&h.polls[*i]);
            if std::process::id() == reg.pid() {
                h.core.0.pollers.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}
