//! Telling whether the process at the other end still lives.
//!
//! Each end records its pid, its start time and its pid namespace in its [`Role`].
//! The other end, when a wait runs long, reads `/proc/PID/stat`: the peer is gone if
//! the entry is missing, if the process is a zombie (killed or exited, not yet reaped
//! by its parent), or if the start time differs (the pid was reused). Pids of
//! different pid namespaces cannot be compared, so the check then says "alive" and
//! only a clean close (the role's state) tells.

use std::os::unix::fs::MetadataExt;

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
    match role.state.load(Ordering::Acquire) {
        ROLE_CLOSED => return true,
        ROLE_CONNECTED => {}
        _ => return false,
    }
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
    match stat_of(&pid.to_string()) {
        None => true,
        Some((state, _)) if state == 'Z' || state == 'X' || state == 'x' => true,
        Some((_, t)) => start != 0 && t != start,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_stat;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "4242 (a (b) c) Z 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        assert_eq!(parse_stat(line), Some(('Z', 987654)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }
}
