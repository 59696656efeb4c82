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
//! The functions take the liveness test as an argument so that they are pure; pass
//! [`crate::process::is_alive`].

use super::{MsgEntry, ShmEntry};

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

/// Why queue `e` is stale, or `None` if a process may still use it (or it was never
/// used: see the module documentation).
pub fn stale_msg(e: &MsgEntry, alive: impl Fn(u32) -> bool) -> Option<String> {
    let pids = [e.lspid, e.lrpid];
    if pids.iter().all(|&p| p == 0) || pids.iter().any(|&p| p != 0 && alive(p)) {
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

/// Why a set whose semaphores are described by `sems` is stale, or `None` if a
/// process may still use it (or none ever did).
pub fn stale_sem(sems: &[SemPid], alive: impl Fn(u32) -> bool) -> Option<String> {
    if sems.iter().any(|s| s.waiters > 0) {
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
        let why = stale_msg(&msg(7, 8), alive).unwrap();
        assert!(why.contains("sender pid 7") && why.contains("receiver pid 8") && why.contains("1 messages"));
        assert!(stale_msg(&msg(7, 0), alive).unwrap().contains("never received"));
        assert_eq!(stale_msg(&msg(0, 0), alive), None, "never used");
        assert_eq!(stale_msg(&msg(LIVE, 8), alive), None);
        assert_eq!(stale_msg(&msg(7, LIVE), alive), None);
    }

    #[test]
    fn sets() {
        let s = |pid, waiters| SemPid { pid, waiters };
        assert!(stale_sem(&[s(7, 0), s(0, 0)], alive).unwrap().contains("pid 7"));
        assert!(stale_sem(&[s(7, 0), s(9, 0)], alive).unwrap().contains("7, 9"));
        assert_eq!(stale_sem(&[s(0, 0)], alive), None, "never used");
        assert_eq!(stale_sem(&[s(7, 0), s(LIVE, 0)], alive), None);
        assert_eq!(stale_sem(&[s(7, 1)], alive), None, "someone waits");
    }
}
