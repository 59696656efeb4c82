//! Staleness: objects that no live process uses any more.
//!
//! System V objects outlive their processes, so a program that crashes (or forgets
//! `IPC_RMID`) leaks them. The kernel records which processes touched an object; an
//! object all of whose recorded processes are gone is very likely a leak:
//!
//! - a **segment** with no attachment whose creator (`cpid`) and last user (`lpid`)
//!   are both dead;
//! - a **queue** whose last sender (`lspid`) and last receiver (`lrpid`) are dead;
//! - a **set** whose last operators (each semaphore's `sempid`) are dead and on which
//!   no process waits.
//!
//! Queues and sets do not record their creator. One that no process has ever used
//! (no pid recorded at all) is therefore **not** reported: it may have been made a
//! moment ago by a process that is about to use it, and there is no pid to check.
//!
//! The recorded pids are not the whole truth: the kernel records `lspid`/`lrpid`
//! only when a call *succeeds*, so a process asleep in `msgrcv` (or in `msgsnd` on a
//! full queue) leaves no trace on the queue. Removing the queue would hand its live
//! user `EIDRM`. So a queue or set is stale only when, in addition, no task is asleep
//! in a call on it ([`Waiters`], from `/proc/PID/task/TID/syscall`) and no sleeping
//! task that ipckit may not look into could use it (its credentials would pass the
//! kernel's permission check). Where it cannot be known, an object is not stale.
//! A segment needs no such test: `nattch` counts every process that has it attached.
//!
//! The functions take the liveness test and the waiters as arguments so that they
//! are pure; pass [`crate::process::is_alive`] and [`super::waiters`].

use super::calls::Waiters;
use super::{MsgEntry, SemEntry, ShmEntry};

/// The last operator of one semaphore and its waiters, for [`stale_sem`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SemPid {
    /// `GETPID`: the last process that operated on the semaphore (0 if none).
    pub pid: u32,
    /// `GETNCNT` + `GETZCNT`: processes waiting on it.
    pub waiters: u32,
}

/// Why segment `e` is stale, or `None` if a process may still use it.
pub fn stale_shm(e: &ShmEntry, alive: impl Fn(u32) -> bool) -> Option<String> {
    if e.nattch > 0 || (e.cpid != 0 && alive(e.cpid)) || (e.lpid != 0 && alive(e.lpid)) {
        return None;
    }
    let mut why = format!("no attachments; creator pid {} is gone", e.cpid);
    if e.lpid != 0 && e.lpid != e.cpid {
        why.push_str(&format!(", last user pid {} is gone", e.lpid));
    } else if e.lpid == 0 {
        why.push_str(", never attached");
    }
    Some(why)
}

/// Whether a process may be using an object without the kernel saying so: one is
/// asleep in a call on it, or one that could use it cannot be looked into.
fn hidden_user(waiting: usize, w: &Waiters, uid: u32, cuid: u32, gid: u32, cgid: u32, mode: u32) -> bool {
    waiting > 0 || w.unseen.iter().any(|u| u.may_use(uid, cuid, gid, cgid, mode & 0o777))
}

/// Why queue `e` is stale, or `None` if a process may still use it (or it was never
/// used: see the module documentation).
pub fn stale_msg(e: &MsgEntry, alive: impl Fn(u32) -> bool, waiters: &Waiters) -> Option<String> {
    let pids = [e.lspid, e.lrpid];
    if pids.iter().all(|&p| p == 0) || pids.iter().any(|&p| p != 0 && alive(p)) {
        return None;
    }
    if hidden_user(waiters.on_queue(e.id).count(), waiters, e.uid, e.cuid, e.gid, e.cgid, e.mode) {
        return None;
    }
    let mut parts = Vec::new();
    if e.lspid != 0 {
        parts.push(format!("last sender pid {} is gone", e.lspid));
    }
    if e.lrpid != 0 && e.lrpid != e.lspid {
        parts.push(format!("last receiver pid {} is gone", e.lrpid));
    } else if e.lrpid == 0 {
        parts.push("never received from".to_string());
    }
    let mut why = parts.join(", ");
    if e.qnum > 0 {
        why.push_str(&format!("; {} messages ({} bytes) left unread", e.qnum, e.cbytes));
    }
    Some(why)
}

/// Why set `e`, whose semaphores are described by `sems`, is stale, or `None` if a
/// process may still use it (or none ever did).
pub fn stale_sem(
    e: &SemEntry,
    sems: &[SemPid],
    alive: impl Fn(u32) -> bool,
    waiters: &Waiters,
) -> Option<String> {
    if sems.iter().any(|s| s.waiters > 0) {
        return None;
    }
    if hidden_user(waiters.on_set(e.id).count(), waiters, e.uid, e.cuid, e.gid, e.cgid, e.mode) {
        return None;
    }
    let mut pids: Vec<u32> = sems.iter().map(|s| s.pid).filter(|&p| p != 0).collect();
    pids.sort_unstable();
    pids.dedup();
    if pids.is_empty() || pids.iter().any(|&p| alive(p)) {
        return None;
    }
    let list = pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    Some(if pids.len() == 1 {
        format!("last operator pid {list} is gone, nobody waits")
    } else {
        format!("last operators (pids {list}) are gone, nobody waits")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::registry::calls::{Unseen, Waiter};

    fn set() -> SemEntry {
        SemEntry {
            key: Key::from_raw(1),
            id: 1,
            mode: 0o600,
            uid: 0,
            gid: 0,
            cuid: 0,
            cgid: 0,
            nsems: 2,
            otime: 1,
            ctime: 1,
        }
    }

    fn none() -> Waiters {
        Waiters::default()
    }

    fn waiting(call: &'static str, id: i32) -> Waiters {
        Waiters { waiting: vec![Waiter { pid: 5, call, id }], unseen: vec![] }
    }

    fn unseen(euid: u32) -> Waiters {
        Waiters {
            waiting: vec![],
            unseen: vec![Unseen { pid: 5, euid, groups: vec![euid], ipc_owner: false }],
        }
    }

    fn shm(cpid: u32, lpid: u32, nattch: u64) -> ShmEntry {
        ShmEntry {
            key: Key::from_raw(1),
            id: 1,
            mode: 0o600,
            uid: 0,
            gid: 0,
            cuid: 0,
            cgid: 0,
            size: 10,
            cpid,
            lpid,
            nattch,
            atime: 0,
            dtime: 0,
            ctime: 1,
            rss: None,
            swap: None,
        }
    }

    fn msg(lspid: u32, lrpid: u32) -> MsgEntry {
        MsgEntry {
            key: Key::from_raw(1),
            id: 1,
            mode: 0o600,
            uid: 0,
            gid: 0,
            cuid: 0,
            cgid: 0,
            cbytes: 3,
            qnum: 1,
            lspid,
            lrpid,
            stime: 0,
            rtime: 0,
            ctime: 1,
            qbytes: None,
        }
    }

    const LIVE: u32 = 100;
    fn alive(p: u32) -> bool {
        p == LIVE
    }

    #[test]
    fn segments() {
        assert!(stale_shm(&shm(7, 8, 0), alive).unwrap().contains("last user pid 8"));
        assert!(stale_shm(&shm(7, 0, 0), alive).unwrap().contains("never attached"));
        assert_eq!(stale_shm(&shm(7, 8, 1), alive), None, "attached");
        assert_eq!(stale_shm(&shm(LIVE, 8, 0), alive), None, "creator alive");
        assert_eq!(stale_shm(&shm(7, LIVE, 0), alive), None, "last user alive");
    }

    #[test]
    fn queues() {
        let why = stale_msg(&msg(7, 8), alive, &none()).unwrap();
        assert!(why.contains("sender pid 7") && why.contains("receiver pid 8") && why.contains("1 messages"));
        assert!(stale_msg(&msg(7, 0), alive, &none()).unwrap().contains("never received"));
        assert_eq!(stale_msg(&msg(0, 0), alive, &none()), None, "never used");
        assert_eq!(stale_msg(&msg(LIVE, 8), alive, &none()), None);
        assert_eq!(stale_msg(&msg(7, LIVE), alive, &none()), None);
    }

    #[test]
    fn a_queue_with_a_process_asleep_on_it_is_not_stale() {
        assert_eq!(stale_msg(&msg(7, 8), alive, &waiting("msgrcv", 1)), None, "blocked receiver");
        assert_eq!(stale_msg(&msg(7, 0), alive, &waiting("msgsnd", 1)), None, "blocked sender");
        assert!(stale_msg(&msg(7, 8), alive, &waiting("msgrcv", 2)).is_some(), "another queue");
        assert!(stale_msg(&msg(7, 8), alive, &waiting("semop", 1)).is_some(), "a set with the same id");
        // A sleeping task that cannot be looked into and could use the queue: unknown.
        assert_eq!(stale_msg(&msg(7, 8), alive, &unseen(0)), None, "the owner's task");
        assert!(stale_msg(&msg(7, 8), alive, &unseen(1000)).is_some(), "mode 0600 keeps uid 1000 out");
    }

    #[test]
    fn sets() {
        let s = |pid, waiters| SemPid { pid, waiters };
        let e = set();
        assert!(stale_sem(&e, &[s(7, 0), s(0, 0)], alive, &none()).unwrap().contains("pid 7"));
        assert!(stale_sem(&e, &[s(7, 0), s(9, 0)], alive, &none()).unwrap().contains("7, 9"));
        assert_eq!(stale_sem(&e, &[s(0, 0)], alive, &none()), None, "never used");
        assert_eq!(stale_sem(&e, &[s(7, 0), s(LIVE, 0)], alive, &none()), None);
        assert_eq!(stale_sem(&e, &[s(7, 1)], alive, &none()), None, "someone waits");
        assert_eq!(stale_sem(&e, &[s(7, 0)], alive, &waiting("semtimedop", 1)), None, "asleep in a call");
        assert_eq!(stale_sem(&e, &[s(7, 0)], alive, &unseen(0)), None, "cannot be known");
    }
}
