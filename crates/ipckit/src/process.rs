//! Processes: the other side of every IPC mechanism.
//!
//! Small, safe helpers for what IPC code needs from processes: fork a child that runs
//! a closure, wait for it, signal it, check whether a pid is still alive, and drop
//! privileges (to test permissions as another user).
//!
//! ```
//! use ipckit::process;
//!
//! // SAFETY: this example is single-threaded.
//! let child = unsafe { process::fork_with(|| 7) }?;
//! let status = child.wait()?;
//! assert_eq!(status.code(), Some(7));
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
//! [waitpid(2)](https://man7.org/linux/man-pages/man2/waitpid.2.html),
//! [kill(2)](https://man7.org/linux/man-pages/man2/kill.2.html).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::error::{Error, Object, Result};
use crate::sys::{self, Errno};

/// A signal ipckit can send.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGKILL`: cannot be caught; the process dies at once.
    Kill,
    /// `SIGTERM`: asks the process to end.
    Term,
    /// `SIGINT`: what Ctrl-C sends.
    Int,
    /// `SIGSTOP`: suspends the process.
    Stop,
    /// `SIGCONT`: resumes a stopped process.
    Cont,
    /// `SIGUSR1`.
    Usr1,
    /// `SIGUSR2`.
    Usr2,
}

impl Signal {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Kill => sys::process::SIGKILL,
            Signal::Term => sys::process::SIGTERM,
            Signal::Int => sys::process::SIGINT,
            Signal::Stop => sys::process::SIGSTOP,
            Signal::Cont => sys::process::SIGCONT,
            Signal::Usr1 => sys::process::SIGUSR1,
            Signal::Usr2 => sys::process::SIGUSR2,
        }
    }
}

/// The id of the calling process (`getpid`).
pub fn current_pid() -> u32 {
    sys::process::getpid()
}

/// The effective user id of the calling process (`geteuid`).
pub fn effective_uid() -> u32 {
    sys::process::geteuid()
}

/// The effective group id of the calling process (`getegid`).
pub fn effective_gid() -> u32 {
    sys::process::getegid()
}

/// `getpwuid_r`—The login name of user `uid`, or `None` if no user has it (or the
/// user database cannot be read).
///
/// The owner and creator of an IPC object are ids (`uid`, `cuid` in its stat row);
/// this is how `ipcs` shows them as names. The lookup goes through the C library's
/// name service, so it may read files or ask a directory service: cache the result
/// when showing many objects.
///
/// ```
/// use ipckit::process::{group_name, user_name};
/// assert_eq!(user_name(0).as_deref(), Some("root"));
/// assert_eq!(group_name(0).as_deref(), Some("root"));
/// assert_eq!(user_name(3_999_999_999), None);
/// ```
///
/// References: [getpwuid_r(3)](https://man7.org/linux/man-pages/man3/getpwuid_r.3.html).
pub fn user_name(uid: u32) -> Option<String> {
    sys::user::user_name(uid)
}

/// `getgrgid_r`—The name of group `gid`, or `None` if no group has it (or the group
/// database cannot be read). The group counterpart of [`user_name`].
///
/// References: [getgrgid_r(3)](https://man7.org/linux/man-pages/man3/getgrgid_r.3.html).
pub fn group_name(gid: u32) -> Option<String> {
    sys::user::group_name(gid)
}

/// `localtime_r`—The offset of this process's local time from UTC at `epoch_secs`,
/// in seconds east (3600 for UTC+1), following `TZ` as C programs do; `None` if the
/// time is out of the C library's range.
///
/// IPC objects record times as seconds since the epoch (the `*time` fields of stat
/// rows); adding this offset gives the local wall-clock time `ipcs` prints.
///
/// References: [localtime_r(3)](https://man7.org/linux/man-pages/man3/localtime_r.3.html),
/// [tzset(3)](https://man7.org/linux/man-pages/man3/tzset.3.html).
pub fn utc_offset(epoch_secs: i64) -> Option<i64> {
    sys::time::utc_offset(epoch_secs)
}

/// Whether a process with this pid exists (`kill(pid, 0)`).
///
/// A process owned by another user counts as alive (`EPERM`). A zombie (exited, not yet
/// reaped) also counts as alive. Pid 0 is never alive.
pub fn is_alive(pid: u32) -> bool {
    match sys::process::kill(pid, 0) {
        Ok(()) => true,
        Err(e) => e == Errno::EPERM,
    }
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: u32, signal: Signal) -> Result<()> {
    sys::process::kill(pid, signal.number()).map_err(|e| Error::sys("kill", Object::Pid(pid), e))
}

/// Ends the calling process at once with `code` (`_exit`): no destructors, no
/// buffered output flushed, no `atexit` handlers. This is how a forked child should end.
pub fn exit_immediately(code: i32) -> ! {
    sys::process::exit_now(code)
}

/// Drops the calling process's privileges to `uid` and `gid` (clearing supplementary
/// groups). Needs root (or the capabilities `CAP_SETUID` and `CAP_SETGID`).
pub fn set_ids(uid: u32, gid: u32) -> Result<()> {
    sys::process::set_ids(uid, gid).map_err(|e| Error::sys("setuid", Object::Pid(current_pid()), e))
}

/// A child process created by [`fork`] or [`fork_with`].
///
/// Dropping a `Child` neither kills nor waits for it (like [`std::process::Child`]).
#[derive(Debug)]
pub struct Child {
    pid: u32,
}

impl Child {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to end (`waitpid`). Retries when a signal interrupts it.
    pub fn wait(self) -> Result<ExitStatus> {
        loop {
            match sys::process::waitpid(self.pid, false) {
                Ok(Some(status)) => return Ok(ExitStatus::from_raw(status)),
                Ok(None) => continue,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("waitpid", Object::Pid(self.pid), e)),
            }
        }
    }

    /// Returns the exit status if the child has ended, without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match sys::process::waitpid(self.pid, true) {
            Ok(s) => Ok(s.map(ExitStatus::from_raw)),
            Err(e) => Err(Error::sys("waitpid", Object::Pid(self.pid), e)),
        }
    }

    /// Sends `signal` to the child.
    pub fn kill(&self, signal: Signal) -> Result<()> {
        kill(self.pid, signal)
    }
}

/// Which side of a [`fork`] the caller is on.
#[derive(Debug)]
pub enum Fork {
    /// The original process, with a handle on the new child.
    Parent(Child),
    /// The new child process.
    Child,
}

/// `fork()`—Creates a child process that is a copy of this one.
///
/// # Safety
/// If the calling program has more than one thread, the child may only call
/// async-signal-safe functions (no allocation, no locks, no `println!`) before it
/// calls `exec` or [`exit_immediately`]: other threads' locks are copied in whatever
/// state they were, and never released. Single-threaded programs have no such limit.
/// The child must end with [`exit_immediately`], not by returning into code that would
/// run the parent's destructors a second time.
#[allow(unsafe_code)]
pub unsafe fn fork() -> Result<Fork> {
    // SAFETY: the caller accepts the rules above.
    match unsafe { sys::process::fork() } {
        Ok(0) => Ok(Fork::Child),
        Ok(pid) => Ok(Fork::Parent(Child { pid })),
        Err(e) => Err(Error::sys("fork", Object::None, e)),
    }
}

/// Forks a child that runs `f` and exits with the code it returns (101 if it panics).
///
/// # Safety
/// The same as [`fork`]: in a multi-threaded program, `f` may only do what is safe
/// after `fork` there (the System V, pipe and channel calls of ipckit are plain system
/// calls, but allocation and locks are not safe in general).
#[allow(unsafe_code)]
pub unsafe fn fork_with<F: FnOnce() -> i32>(f: F) -> Result<Child> {
    // SAFETY: forwarded to the caller.
    match unsafe { fork() }? {
        Fork::Parent(child) => Ok(child),
        Fork::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            exit_immediately(code)
        }
    }
}
