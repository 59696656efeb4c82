//! Waiting on many: a [`WaitSet`] of receivers and events, with a deadline, that
//! returns which of them are ready.
//!
//! ```
//! use ipckit::channel::{Channel, ChannelConfig, Event, WaitSet};
//!
//! let (a, b) = (Channel::create_memfd(&ChannelConfig::new())?, Channel::create_memfd(&ChannelConfig::new())?);
//! let (mut ta, mut ra, mut rb) = (a.sender()?, a.receiver()?, b.receiver()?);
//! let _tb = b.sender()?;
//! let ev = Event::create_memfd()?;
//! ta.send(b"to a")?;
//! ev.set();
//! let mut set = WaitSet::new();
//! let ia = set.add_receiver(&mut ra)?;
//! let ib = set.add_receiver(&mut rb)?;
//! let ie = set.add_event(&ev)?;
//! let ready = set.wait()?;
//! assert!(ready.contains(ia) && !ready.contains(ib) && ready.contains(ie));
//! let mut buf = [0u8; 8];
//! assert_eq!(set.receiver(ia).unwrap().try_recv(&mut buf)?, 4);
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! A receiver is ready when a receive would not wait: a message is there, or its sender
//! is gone (the receive then reports [`Disconnected`](crate::ErrorKind::Disconnected)).
//! An event is ready while it is set; the wait set does not lower it (call
//! [`Event::try_wait`]).
//!
//! # How it waits
//!
//! It looks at every member for a few microseconds, then raises the "someone waits"
//! flag of each (the same handshake a single receiver uses, so a sender wakes it) and
//! sleeps on all their futex words at once with `futex_waitv` (Linux 5.16+). On older
//! kernels it naps 1 ms at a time instead. Every 50 ms it checks that each receiver's
//! sender still lives.
//!
//! References: [futex_waitv(2)](https://docs.kernel.org/userspace-api/futex2.html),
//! [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html).

use std::fmt;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use super::endpoint::Receiver;
use super::event::Event;
use super::poll::LIVENESS_PERIOD;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::sys::{self, Errno};

/// Looks before sleeping.
const SPIN_SCANS: u32 = 128;
/// The nap between looks where `futex_waitv` is missing.
const FALLBACK_NAP: Duration = Duration::from_millis(1);

enum Member<'a> {
    Receiver(&'a mut Receiver),
    Event(&'a Event),
}

/// Receivers and events to wait on together.
///
/// Members are numbered in the order they were added, from 0; at most 128
/// (`futex_waitv`'s limit). The set borrows them: reach a receiver through
/// [`receiver`](Self::receiver) to receive from it while the set lives.
#[derive(Default)]
pub struct WaitSet<'a> {
    members: Vec<Member<'a>>,
}

impl fmt::Debug for WaitSet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitSet").field("members", &self.members.len()).finish()
    }
}

/// Which members of a [`WaitSet`] are ready, by number.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    bits: u128,
}

impl Ready {
    /// Whether member `i` is ready.
    pub fn contains(&self, i: usize) -> bool {
        i < 128 && self.bits & (1u128 << i) != 0
    }

    /// How many members are ready.
    pub fn len(&self) -> usize {
        self.bits.count_ones() as usize
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The numbers of the ready members, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..128).filter(|&i| self.contains(i))
    }
}

impl<'a> WaitSet<'a> {
    /// An empty set.
    pub fn new() -> WaitSet<'a> {
        WaitSet { members: Vec::new() }
    }

    /// Adds a receiver; returns its number.
    pub fn add_receiver(&mut self, rx: &'a mut Receiver) -> Result<usize> {
        self.add(Member::Receiver(rx))
    }

    /// Adds an event; returns its number.
    pub fn add_event(&mut self, ev: &'a Event) -> Result<usize> {
        self.add(Member::Event(ev))
    }

    fn add(&mut self, m: Member<'a>) -> Result<usize> {
        if self.members.len() >= sys::futex::WAITV_MAX {
            return Err(Error::new("WaitSet::add", Object::None, ErrorKind::LimitExceeded).with_detail(
                format!("a wait set holds at most {} members (futex_waitv's limit)", sys::futex::WAITV_MAX),
            ));
        }
        self.members.push(m);
        Ok(self.members.len() - 1)
    }

    /// How many members the set has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `i`, if it is a receiver.
    pub fn receiver(&mut self, i: usize) -> Option<&mut Receiver> {
        match self.members.get_mut(i)? {
            Member::Receiver(rx) => Some(rx),
            Member::Event(_) => None,
        }
    }

    /// Member `i`, if it is an event.
    pub fn event(&self, i: usize) -> Option<&Event> {
        match self.members.get(i)? {
            Member::Event(ev) => Some(ev),
            Member::Receiver(_) => None,
        }
    }

    /// Waits until at least one member is ready.
    pub fn wait(&mut self) -> Result<Ready> {
        self.wait_until(Some(None), "WaitSet::wait")
    }

    /// The members ready now; [`ErrorKind::WouldBlock`] if none is.
    pub fn try_wait(&mut self) -> Result<Ready> {
        self.wait_until(None, "WaitSet::try_wait")
    }

    /// Waits at most `timeout`; [`ErrorKind::TimedOut`] if no member got ready.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Ready> {
        self.wait_until(Some(Instant::now().checked_add(timeout)), "WaitSet::wait_timeout")
    }

    /// Waits until `deadline`; [`ErrorKind::TimedOut`] if no member got ready.
    pub fn wait_deadline(&mut self, deadline: Instant) -> Result<Ready> {
        self.wait_until(Some(Some(deadline)), "WaitSet::wait_deadline")
    }

    /// The members ready now.
    fn scan(&mut self) -> Ready {
        let mut bits = 0u128;
        for (i, m) in self.members.iter_mut().enumerate() {
            let ready = match m {
                Member::Receiver(rx) => rx.is_ready(),
                Member::Event(ev) => ev.is_set(),
            };
            if ready {
                bits |= 1u128 << i;
            }
        }
        Ready { bits }
    }

    /// Receivers whose sender died (checked through `/proc`).
    fn dead_peers(&mut self) -> Ready {
        let mut bits = 0u128;
        for (i, m) in self.members.iter_mut().enumerate() {
            if let Member::Receiver(rx) = m
                && rx.is_disconnected()
            {
                bits |= 1u128 << i;
            }
        }
        Ready { bits }
    }

    fn announce(&self) -> Vec<u32> {
        self.members
            .iter()
            .map(|m| match m {
                Member::Receiver(rx) => rx.data_wake().announce(),
                Member::Event(ev) => ev.announce(),
            })
            .collect()
    }

    fn retire(&self) {
        for m in &self.members {
            match m {
                Member::Receiver(rx) => rx.data_wake().retire(),
                Member::Event(ev) => ev.retire(),
            }
        }
    }

    fn sleep(&self, seqs: &[u32], nap: Duration) {
        let words: Vec<(&AtomicU32, u32)> = self
            .members
            .iter()
            .zip(seqs)
            .map(|(m, &s)| match m {
                Member::Receiver(rx) => (&rx.data_wake().seq, s),
                Member::Event(ev) => (&ev.core().seq, s),
            })
            .collect();
        // A wake-up, EAGAIN (a word moved), ETIMEDOUT, EINTR: look again.
        if let Err(Errno::ENOSYS) = sys::futex::wait_many(&words, Some(nap)) {
            std::thread::sleep(nap.min(FALLBACK_NAP));
        }
    }

    /// `deadline`: `None` for "do not wait", `Some(None)` for "no deadline".
    fn wait_until(&mut self, deadline: Option<Option<Instant>>, op: &'static str) -> Result<Ready> {
        let ready = self.scan();
        if !ready.is_empty() {
            return Ok(ready);
        }
        let Some(deadline) = deadline else {
            return Err(Error::new(op, Object::None, ErrorKind::WouldBlock));
        };
        if self.members.is_empty() && deadline.is_none() {
            return Err(Error::new(op, Object::None, ErrorKind::InvalidInput)
                .with_detail("an empty wait set would wait forever"));
        }
        for _ in 0..SPIN_SCANS {
            std::hint::spin_loop();
            let ready = self.scan();
            if !ready.is_empty() {
                return Ok(ready);
            }
        }
        let mut next_check = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_check {
                let dead = self.dead_peers();
                if !dead.is_empty() {
                    return Ok(Ready { bits: dead.bits | self.scan().bits });
                }
                next_check = now + LIVENESS_PERIOD;
            }
            let mut nap = next_check - now;
            if let Some(d) = deadline {
                if now >= d {
                    return Err(Error::new(op, Object::None, ErrorKind::TimedOut));
                }
                nap = nap.min(d - now);
            }
            let seqs = self.announce();
            let ready = self.scan();
            if !ready.is_empty() {
                self.retire();
                return Ok(ready);
            }
            if self.members.is_empty() {
                std::thread::sleep(nap);
            } else {
                self.sleep(&seqs, nap);
            }
            self.retire();
            let ready = self.scan();
            if !ready.is_empty() {
                return Ok(ready);
            }
        }
    }
}
