//! Processes asleep inside a System V call, and the processes ipckit cannot look into.
//!
//! A process blocked in `msgrcv` or `msgsnd` leaves no trace on the queue: the
//! kernel records `lrpid`/`lspid` only when a call succeeds. A queue whose recorded
//! pids are dead may therefore still have a live user, asleep in the kernel. The one
//! place that shows it is `/proc/PID/task/TID/syscall`: the number of the call a
//! task is blocked in and its arguments, the first of which is the object's id.
//!
//! Object ids are numbers within one IPC namespace, so tasks of other namespaces
//! are left out (`/proc/PID/ns/ipc` differs). Reading these files needs the right
//! to trace the task (`ptrace_may_access`): root
//! may read every task, other users only their own. A sleeping task whose call
//! cannot be read is recorded as [`Unseen`], with the credentials that decide
//! whether it could use an object; a caller that cares must treat such a task as a
//! possible user (see [`super::stale`]).
//!
//! References: [proc_pid_syscall(5)](https://man7.org/linux/man-pages/man5/proc_pid_syscall.5.html),
//! [proc_pid_status(5)](https://man7.org/linux/man-pages/man5/proc_pid_status.5.html),
//! [msgrcv(2)](https://man7.org/linux/man-pages/man2/msgrcv.2.html).

use std::path::Path;

use crate::sys;

/// A task asleep in a call on a System V object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The process (thread group) id.
    pub pid: u32,
    /// The call: `msgsnd`, `msgrcv`, `semop` or `semtimedop`.
    pub call: &'static str,
    /// The object's id (the call's first argument).
    pub id: i32,
}

/// A sleeping task whose current call could not be read, with the credentials the
/// kernel's permission check (`ipcperms`) would use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unseen {
    /// The process (thread group) id.
    pub pid: u32,
    /// The effective user id.
    pub euid: u32,
    /// The effective group id and the supplementary groups.
    pub groups: Vec<u32>,
    /// Whether the task holds `CAP_IPC_OWNER` (bypasses IPC permission checks).
    pub ipc_owner: bool,
}

impl Unseen {
    /// Whether this task may read or write an object with these owner, creator,
    /// group and mode bits (as `ipcperms` decides).
    pub fn may_use(&self, uid: u32, cuid: u32, gid: u32, cgid: u32, mode: u32) -> bool {
        if self.ipc_owner {
            return true;
        }
        let granted = if self.euid == uid || self.euid == cuid {
            mode >> 6
        } else if self.groups.contains(&gid) || self.groups.contains(&cgid) {
            mode >> 3
        } else {
            mode
        };
        granted & 0o6 != 0
    }
}

/// Every task asleep in a System V call, and the sleeping tasks that could not be
/// looked into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waiters {
    /// Tasks asleep in `msgsnd`, `msgrcv`, `semop` or `semtimedop`.
    pub waiting: Vec<Waiter>,
    /// Sleeping tasks whose call could not be read (another user's, for non-root).
    pub unseen: Vec<Unseen>,
}

impl Waiters {
    /// The tasks asleep in a message-queue call on queue `id`.
    pub fn on_queue(&self, id: i32) -> impl Iterator<Item = &Waiter> {
        self.waiting.iter().filter(move |w| w.id == id && w.call.starts_with("msg"))
    }

    /// The tasks asleep in a semaphore call on set `id`.
    pub fn on_set(&self, id: i32) -> impl Iterator<Item = &Waiter> {
        self.waiting.iter().filter(move |w| w.id == id && w.call.starts_with("sem"))
    }
}

/// Parses `/proc/PID/task/TID/syscall`: the call's number and first argument, or
/// `None` when the task is running or not in a call (`running`, `-1 ...`).
pub fn parse_syscall(text: &str) -> Option<(i64, u64)> {
    let mut fields = text.split_whitespace();
    let nr: i64 = fields.next()?.parse().ok()?;
    let arg = fields.next()?.strip_prefix("0x")?;
    Some((nr, u64::from_str_radix(arg, 16).ok()?))
}

/// The name of a call in which a process can wait on a System V object.
fn waiting_call(nr: i64) -> Option<&'static str> {
    sys::ipc::WAITING_CALLS.iter().find(|(n, _)| *n == nr).map(|(_, name)| *name)
}

/// Parses the fields of `/proc/PID/status` that [`Unseen`] needs.
pub fn parse_status(pid: u32, text: &str) -> Option<Unseen> {
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let ids = |name: &str| -> Vec<u32> {
        field(name).map(|v| v.split_whitespace().filter_map(|x| x.parse().ok()).collect()).unwrap_or_default()
    };
    let uids = ids("Uid:");
    let gids = ids("Gid:");
    let mut groups = vec![*gids.get(1)?];
    groups.extend(ids("Groups:"));
    let cap = field("CapEff:").and_then(|v| u64::from_str_radix(v, 16).ok()).unwrap_or(0);
    const CAP_IPC_OWNER: u32 = 15;
    Some(Unseen { pid, euid: *uids.get(1)?, groups, ipc_owner: cap & (1 << CAP_IPC_OWNER) != 0 })
}

/// Whether a task's `stat` line says it sleeps interruptibly (`S`), as a task blocked
/// in `msgrcv`, `msgsnd` or `semop` does; and whether it is a kernel thread.
fn sleeping_user_task(stat: &str) -> bool {
    // The command name is in parentheses and may hold anything: read after the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return false };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name: state (3), ppid, pgrp, session, tty, tpgid, flags (9).
    const PF_KTHREAD: u64 = 0x0020_0000;
    let flags: u64 = fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    fields.first() == Some(&"S") && flags & PF_KTHREAD == 0
}

/// Scans `/proc` for tasks asleep in a System V call. Tasks that vanish during the
/// scan are skipped; a `/proc` that cannot be read gives an empty answer.
pub fn waiters() -> Waiters {
    waiters_in(Path::new("/proc"))
}

/// [`waiters`] with another `/proc`.
pub fn waiters_in(proc_dir: &Path) -> Waiters {
    let mut out = Waiters::default();
    let Ok(entries) = std::fs::read_dir(proc_dir) else { return out };
    // Ids are numbers within one IPC namespace: a task in another one waits on
    // another object that happens to have the same id.
    let namespace = |dir: &Path| std::fs::read_link(dir.join("ns/ipc")).ok();
    let mine = namespace(&proc_dir.join("self"));
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let (Some(mine), Some(theirs)) = (&mine, namespace(&entry.path()))
            && *mine != theirs
        {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) else { continue };
        let mut unseen = false;
        for task in tasks.flatten() {
            let dir = task.path();
            let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else { continue };
            if !sleeping_user_task(&stat) {
                continue;
            }
            match std::fs::read_to_string(dir.join("syscall")) {
                Ok(text) => {
                    if let Some((nr, arg)) = parse_syscall(&text)
                        && let Some(call) = waiting_call(nr)
                    {
                        out.waiting.push(Waiter { pid, call, id: arg as i32 });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => unseen = true,
            }
        }
        if unseen
            && let Some(u) =
                std::fs::read_to_string(entry.path().join("status")).ok().and_then(|s| parse_status(pid, &s))
        {
            out.unseen.push(u);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_lines() {
        assert_eq!(parse_syscall("70 0x5 0x7ffc 0x2000 0x0 0x0 0x0 0x7ffc 0x7f00\n"), Some((70, 5)));
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffc 0x7f00\n"), Some((-1, 0x7ffc)));
    }

    #[test]
    fn status_and_permissions() {
        let text = "Name:\tx\nUid:\t1000\t1001\t1001\t1001\nGid:\t50\t51\t51\t51\nGroups:\t7 8 \n\
                    CapEff:\t0000000000000000\n";
        let u = parse_status(9, text).unwrap();
        assert_eq!((u.euid, u.groups.clone(), u.ipc_owner), (1001, vec![51, 7, 8], false));
        assert!(u.may_use(1001, 0, 0, 0, 0o600), "owner");
        assert!(!u.may_use(1001, 0, 0, 0, 0o066), "the owner class decides, not the others");
        assert!(u.may_use(0, 0, 8, 0, 0o060), "a supplementary group");
        assert!(!u.may_use(0, 0, 9, 0, 0o660), "no class grants it");
        assert!(u.may_use(0, 0, 9, 0, 0o604), "others");
        let root =
            parse_status(1, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n").unwrap();
        assert!(root.ipc_owner && root.may_use(5, 5, 5, 5, 0o600));
    }

    #[test]
    fn task_states() {
        assert!(sleeping_user_task("12 (a) b)) S 1 1 1 0 -1 4194560 0 0"));
        assert!(!sleeping_user_task("12 (kworker) S 2 0 0 0 -1 2129984 0 0"), "kernel thread");
        assert!(!sleeping_user_task("12 (a) R 1 1 1 0 -1 4194560 0 0"));
    }
}
