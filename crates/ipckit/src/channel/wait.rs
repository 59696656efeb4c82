//! Waiting that adapts: spin, then yield, then sleep on a futex in the segment.

use std::time::{Duration, Instant};

use super::layout::Role;
use super::peer;
use super::ring::Wake;
use super::sync::Ordering;
use crate::error::Result;
use crate::sys;
use crate::wait::Wait;

/// How an end of a channel waits for the other.
///
/// A hand-off through the kernel (a futex wake-up on another core) costs tens of
/// microseconds on a virtual machine, while two spinning processes exchange a cache
/// line in well under one. The adaptive strategy gets the second while messages flow
/// and costs no CPU while the channel is idle.
///
/// Spinning assumes that the other end runs on another CPU. When both ends share one
/// CPU, a spinning end only delays the peer it waits for (the default strategy then
/// costs about 50 µs a hand-off, against a few µs for a pipe): use
/// `Adaptive { spin: Duration::ZERO, yield_for }`, which yields at once.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitStrategy {
    /// Poll with a CPU pause for `spin`, then poll with `sched_yield` for `yield_for`,
    /// then sleep on a futex in the shared segment until the other end wakes it.
    Adaptive {
        /// How long to spin before yielding.
        spin: Duration,
        /// How long to yield before sleeping.
        yield_for: Duration,
    },
    /// Poll with a CPU pause, never sleep: the lowest latency, one core busy while
    /// waiting. Yields the CPU every 4096 polls, so that a peer on the same core runs.
    Spin,
}

impl WaitStrategy {
    /// Spin 20 µs, yield 30 µs, then sleep.
    pub const ADAPTIVE: WaitStrategy =
        WaitStrategy::Adaptive { spin: Duration::from_micros(20), yield_for: Duration::from_micros(30) };
}

impl WaitStrategy {
    /// How many polls a blocking receive makes inline before the general wait: a few
    /// hundred (a few microseconds) for strategies that spin first, one otherwise.
    pub(crate) fn inline_polls(self) -> u32 {
        match self {
            WaitStrategy::Spin => 256,
            WaitStrategy::Adaptive { spin, .. } if spin >= Duration::from_micros(5) => 256,
            WaitStrategy::Adaptive { .. } => 1,
        }
    }
}

impl Default for WaitStrategy {
    fn default() -> WaitStrategy {
        WaitStrategy::ADAPTIVE
    }
}

/// The shape of every receive: poll inline, then take the slow path.
///
/// A blocking receive (`Wait::Block`) first calls `poll` in a tight loop,
/// [`inline_polls`](WaitStrategy::inline_polls) times: a message that arrives within
/// these polls is taken at once, with none of the general wait's set-up and tear-down
/// between its arrival and the caller (measured: that path made a spinning round trip
/// twice as slow as the bare ring protocol). Other waits, and strategies that do not
/// spin, poll once. Then `slow` runs (out of line in the callers): the full checks and
/// [`block`]. An error from `poll` is returned as is.
#[inline(always)]
pub(crate) fn poll_then<S: ?Sized, T>(
    this: &mut S,
    strategy: WaitStrategy,
    wait: Wait,
    mut poll: impl FnMut(&mut S) -> Result<Option<T>>,
    slow: impl FnOnce(&mut S) -> Result<T>,
) -> Result<T> {
    let polls = if wait == Wait::Block { strategy.inline_polls() } else { 1 };
    for _ in 0..polls {
        if let Some(v) = poll(this)? {
            return Ok(v);
        }
        std::hint::spin_loop();
    }
    slow(this)
}

/// How often a long wait checks that the peer still lives.
const LIVENESS_PERIOD: Duration = Duration::from_millis(50);

/// The end of a wait.
pub(crate) enum Outcome<T> {
    /// The condition holds.
    Ready(T),
    /// The deadline passed.
    TimedOut,
    /// The peer closed its end or died; the caller polls once more, then reports
    /// [`ErrorKind::Disconnected`](crate::ErrorKind::Disconnected).
    PeerGone,
}

/// Waits until `poll` yields a value, the deadline passes, or the peer in `peer` is
/// gone. `poll(full)` looks for the value; with `full` (every 64th call, and before
/// sleeping) it also makes its slower checks (has the peer closed?). `wake` is the futex this side sleeps on; the other side wakes it after
/// publishing.
pub(crate) fn block<T>(
    strategy: WaitStrategy,
    deadline: Option<Instant>,
    wake: &Wake,
    peer: &Role,
    watch: &mut peer::Watch,
    mut poll: impl FnMut(bool) -> Result<Option<T>>,
) -> Result<Outcome<T>> {
    let (spin, sleep_after) = match strategy {
        WaitStrategy::Adaptive { spin, yield_for } => (spin, Some(spin.saturating_add(yield_for))),
        WaitStrategy::Spin => (Duration::MAX, None),
    };
    // The clock is read every 64 polls only (a read costs tens of nanoseconds, as
    // much as a poll that finds the message), and first after 64 polls.
    let mut start: Option<Instant> = None;
    let mut next_check = Instant::now() + LIVENESS_PERIOD;
    let mut yielding = false;
    let mut polls: u32 = 0;
    loop {
        if let Some(v) = poll(polls % 64 == 0)? {
            return Ok(Outcome::Ready(v));
        }
        polls = polls.wrapping_add(1);
        if polls % 64 == 0 {
            let now = Instant::now();
            let start = *start.get_or_insert(now);
            if deadline.is_some_and(|d| now >= d) {
                return Ok(Outcome::TimedOut);
            }
            if now >= next_check {
                if watch.is_gone(peer) {
                    return Ok(Outcome::PeerGone);
                }
                next_check = now + LIVENESS_PERIOD;
            }
            let waited = now - start;
            match sleep_after {
                Some(s) if waited >= s => break,
                Some(_) => yielding = waited >= spin,
                None if polls % 4096 == 0 => std::thread::yield_now(),
                None => {}
            }
        }
        if yielding {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    // Sleep on the futex, waking at least every LIVENESS_PERIOD to check the peer.
    let result = loop {
        let seq = wake.announce();
        match poll(true) {
            Ok(None) => {}
            Ok(Some(v)) => break Ok(Outcome::Ready(v)),
            Err(e) => break Err(e),
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break Ok(Outcome::TimedOut);
        }
        if now >= next_check {
            if watch.is_gone(peer) {
                break Ok(Outcome::PeerGone);
            }
            next_check = now + LIVENESS_PERIOD;
        }
        let mut nap = next_check - now;
        if let Some(d) = deadline {
            nap = nap.min(d - now);
        }
        // EAGAIN (the word moved), ETIMEDOUT and EINTR all mean: look again.
        let _ = sys::futex::wait(&wake.seq, seq, Some(nap));
    };
    wake.retire();
    result
}

/// Wakes the other side if it may sleep on `wake` (after a publication).
#[inline(always)]
pub(crate) fn notify(wake: &Wake) {
    if wake.needs_wake() {
        wake_now(wake);
    }
}

#[cold]
#[inline(never)]
fn wake_now(wake: &Wake) {
    wake.bump();
    // A poller waits on its eventfd, not on the futex: skip the system call.
    if wake.waiting.load(Ordering::Relaxed) != super::ring::POLLING {
        let _ = sys::futex::wake(&wake.seq, 1);
    }
    super::poll::kick(&wake.poll);
}

/// Wakes the other side whatever it is doing (after closing an end).
pub(crate) fn notify_always(wake: &Wake) {
    wake.bump();
    let _ = sys::futex::wake(&wake.seq, 1);
    super::poll::kick(&wake.poll);
}
