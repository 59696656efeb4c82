//! How long a call may wait.

use std::time::{Duration, Instant};

/// How long a send or receive may wait for room or for a message.
///
/// The methods named `try_*`, `*_timeout` and `*_deadline` are shorthands for these.
/// A call that did nothing in the time allowed fails with the "not now" error
/// ([`Error::is_not_now`](crate::Error::is_not_now)): [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock)
/// for `NoWait`, [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) for a timeout
/// or deadline. `Block` never fails that way.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Wait as long as it takes.
    Block,
    /// Do not wait: report "not now" at once.
    NoWait,
    /// Wait at most this long.
    Timeout(Duration),
    /// Wait until this instant at the latest.
    Deadline(Instant),
}

impl Wait {
    /// The deadline this wait implies, if any (`Timeout` counted from now).
    pub fn deadline(self) -> Option<Instant> {
        match self {
            Wait::Block => None,
            Wait::NoWait => Some(Instant::now()),
            Wait::Timeout(d) => Some(Instant::now().checked_add(d).unwrap_or_else(far_future)),
            Wait::Deadline(t) => Some(t),
        }
    }
}

impl Wait {
    /// The "not now" error of a call with this wait that did nothing.
    #[inline]
    pub(crate) fn not_now(self, op: &'static str) -> crate::Error {
        crate::Error::not_now(op, self != Wait::NoWait)
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// Polls `attempt` until it yields a value or `deadline` passes, sleeping between
/// attempts for 20 µs at first, doubling up to 1 ms. Used where the kernel offers no
/// timed wait (System V message queues).
pub(crate) fn poll_until<T, E>(
    deadline: Instant,
    mut attempt: impl FnMut() -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    let mut pause = Duration::from_micros(20);
    loop {
        if let Some(v) = attempt()? {
            return Ok(Some(v));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}
