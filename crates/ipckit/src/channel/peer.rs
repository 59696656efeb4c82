//! Telling whether the process at the other end still lives.
//!
//! Each end records its pid, its start time and its pid namespace in its [`Role`].
//! The other end, when a wait runs long, checks the peer:
//!
//! 1. With a **pidfd** (`pidfd_open`, Linux 5.3): a [`Watch`] opens one for the
//!    peer's pid once, confirms through `/proc/PID/stat` that the start time is the
//!    recorded one (so the descriptor is the peer and not a later process that got its
//!    pid), and keeps it. From then on a `poll` with no wait tells whether that very
//!    process has exited (a zombie counts as exited) — one system call, no file to
//!    read and parse, and immune to pid reuse.
//! 2. Where pidfds are missing (`ENOSYS`), or the identity cannot be confirmed, the
//!    fallback reads `/proc/PID/stat` each time: the peer is gone if the entry is
//!    missing, if the process is a zombie, or if the start time differs.
//!
//! Pids of different pid namespaces cannot be compared (and `pidfd_open` takes a pid
//! of the caller's namespace), so across namespaces the check says "alive" and only a
//! clean close (the role's state) tells.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use crate::sys;

use super::layout::{ROLE_CLOSED, ROLE_CONNECTED, Role};
use super::sync::Ordering;

/// Who this process is, as recorded in a [`Role`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    pub(crate) pidns: u64,
}

fn pidns_of(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0)
}

/// State letter and start time of `pid` from `/proc/PID/stat`, or `None` if there is
/// no such entry.
fn stat_of(pid: &str) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses `/proc/PID/stat`: the state (field 3) and the start time (field 22). The
/// command name (field 2) may hold spaces and parentheses, so fields are counted
/// after its last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The calling process's identity (read now: a forked child gets its own).
pub(crate) fn current() -> Identity {
    let pid = std::process::id();
    let start_time = stat_of("self").map(|(_, t)| t).unwrap_or(0);
    Identity { pid, start_time, pidns: pidns_of("/proc/self/ns/pid") }
}

/// Records `me` in `role` (after the role was claimed).
pub(crate) fn record(role: &Role, me: Identity) {
    role.start_time.store(me.start_time, Ordering::Relaxed);
    role.pidns.store(me.pidns, Ordering::Relaxed);
    // Release pairs with the Acquire in `is_gone`: start time and namespace come with the pid.
    role.pid.store(me.pid, Ordering::Release);
}

/// Whether the holder of `role` is gone: it closed its end, or its process died.
/// A role nobody has taken yet is not gone (the peer may still come).
pub(crate) fn is_gone(role: &Role) -> bool {
    Watch::new().is_gone(role)
}

/// The holder of `role` as `(pid, start time)`, if it is connected (not free, closed,
/// or being filled in).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn holder(role: &Role) -> Option<(u32, u64)> {
    if role.state.load(Ordering::Acquire) != ROLE_CONNECTED {
        return None;
    }
    // Acquire pairs with the Release in `record`: the start time comes with the pid.
    match role.pid.load(Ordering::Acquire) {
        0 => None,
        pid => Some((pid, role.start_time.load(Ordering::Relaxed))),
    }
}

/// A pidfd (`pidfd_open`) for `holder`, the holder of `role` read by [`holder`]: it
/// becomes readable when that process exits, so an event loop can watch for the
/// peer's death instead of looking now and then. `None` when none can be had: another
/// pid namespace, no pidfds, the start time unknown or not the recorded one (the
/// process is already gone; the caller's next check says so).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn pidfd_of(role: &Role, holder: (u32, u64)) -> Option<OwnedFd> {
    let (pid, start) = holder;
    let ns = role.pidns.load(Ordering::Relaxed);
    let mine = pidns_of("/proc/self/ns/pid");
    if ns == 0 || mine == 0 || ns != mine || start == 0 {
        return None;
    }
    let fd = sys::process::pidfd_open(pid).ok()?;
    // Opened first, checked second, as in `Watch`: a matching start time now means
    // the descriptor is the recorded process.
    match stat_of(&pid.to_string()) {
        Some((_, t)) if t == start => Some(fd),
        _ => None,
    }
}

/// How this end watches its peer's process: a pidfd once it has one.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// The (pid, start time) the pidfd was opened for.
    of: (u32, u64),
    /// `None` until tried, then the pidfd, or `None` inside if none could be had.
    pidfd: Option<Option<OwnedFd>>,
}

/// What a pidfd says about a peer.
enum PidfdSays {
    Exited,
    Lives,
    /// No pidfd here: use `/proc`.
    Unknown,
}

impl Watch {
    /// A watch with nothing open yet.
    pub(crate) fn new() -> Watch {
        Watch::default()
    }

    /// Whether the holder of `role` is gone (see the module docs).
    pub(crate) fn is_gone(&mut self, role: &Role) -> bool {
        match role.state.load(Ordering::Acquire) {
            ROLE_CLOSED => return true,
            ROLE_CONNECTED => {}
            _ => return false,
        }
        // Acquire pairs with the Release in `record`: start time and namespace come with the pid.
        let pid = role.pid.load(Ordering::Acquire);
        if pid == 0 {
            return false; // being filled in
        }
        let start = role.start_time.load(Ordering::Relaxed);
        let ns = role.pidns.load(Ordering::Relaxed);
        let mine = pidns_of("/proc/self/ns/pid");
        if ns == 0 || mine == 0 || ns != mine {
            return false; // cannot compare pids across namespaces, or no /proc
        }
        match self.ask_pidfd(pid, start) {
            PidfdSays::Exited => return true,
            PidfdSays::Lives => return false,
            PidfdSays::Unknown => {}
        }
        match stat_of(&pid.to_string()) {
            None => true,
            Some((state, _)) if state == 'Z' || state == 'X' || state == 'x' => true,
            Some((_, t)) => start != 0 && t != start,
        }
    }

    fn ask_pidfd(&mut self, pid: u32, start: u64) -> PidfdSays {
        if self.of != (pid, start) {
            // A new peer (or the first look): forget the old descriptor.
            self.of = (pid, start);
            self.pidfd = None;
        }
        if self.pidfd.is_none() {
            self.pidfd = Some(match sys::process::pidfd_open(pid) {
                // Opened first, checked second: if the start time matches now, the
                // descriptor refers to the recorded process, whatever happens later.
                Ok(fd) => match stat_of(&pid.to_string()) {
                    Some((_, t)) if start != 0 && t == start => Some(fd),
                    Some((_, _)) => return PidfdSays::Exited, // the pid was reused
                    None => return PidfdSays::Exited,
                },
                Err(sys::Errno::ESRCH) => return PidfdSays::Exited,
                Err(_) => None, // ENOSYS, EMFILE...: fall back to /proc
            });
        }
        match self.pidfd.as_ref().and_then(|fd| fd.as_ref()) {
            Some(fd) => match sys::process::pidfd_exited(fd.as_fd()) {
                Ok(true) => PidfdSays::Exited,
                Ok(false) => PidfdSays::Lives,
                Err(_) => PidfdSays::Unknown,
            },
            None => PidfdSays::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sync::{AtomicU32, AtomicU64};
    use super::*;

    fn role_of(pid: u32, start_time: u64) -> Role {
        Role {
            state: AtomicU32::new(ROLE_CONNECTED),
            pid: AtomicU32::new(pid),
            start_time: AtomicU64::new(start_time),
            pidns: AtomicU64::new(pidns_of("/proc/self/ns/pid")),
            count: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_killed_peer_is_seen_through_its_pidfd() {
        let mut child = std::process::Command::new("sleep").arg("3600").spawn().expect("spawn sleep");
        let pid = child.id();
        let start = stat_of(&pid.to_string()).expect("the child's stat").1;
        let role = role_of(pid, start);
        let mut watch = Watch::new();
        assert!(!watch.is_gone(&role), "a live peer");
        let with_pidfd = matches!(watch.pidfd, Some(Some(_)));
        if !with_pidfd {
            eprintln!("no pidfd on this kernel: the /proc fallback is tested instead");
        }
        child.kill().expect("SIGKILL");
        // Not reaped yet: a zombie, which must count as gone.
        let mut polls = 0;
        while !watch.is_gone(&role) {
            polls += 1;
            assert!(polls < 100_000, "a killed peer never looked gone");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(matches!(watch.pidfd, Some(Some(_))), with_pidfd, "the same descriptor was kept");
        child.wait().expect("reap");
        assert!(watch.is_gone(&role), "reaped: still gone");
        assert!(Watch::new().is_gone(&role), "a fresh watch agrees");
    }

    #[test]
    fn a_reused_pid_is_not_the_peer() {
        // This process, recorded with another start time: the pid now belongs to
        // someone else, so the peer that had it is gone.
        let me = std::process::id();
        let start = stat_of("self").expect("own stat").1;
        assert!(!Watch::new().is_gone(&role_of(me, start)));
        assert!(Watch::new().is_gone(&role_of(me, start + 1)));
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "4242 (a (b) c) Z 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        assert_eq!(parse_stat(line), Some(('Z', 987654)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }
}
