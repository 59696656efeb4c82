//! `--stale`: the System V objects no live process uses any more, each with the
//! reason (the rules are `ipckit::registry`'s `stale_*`), for `ls --stale` and
//! `rm --stale`.
//!
//! A process asleep in `msgrcv`/`msgsnd`/`semop` leaves no pid on the object, so
//! the sleepers are looked for in `/proc`; an object that only looks stale because
//! some process could not be inspected is left out, with a warning.

use std::io::Write;

use ipckit::registry::{self, MsgEntry, SemEntry, ShmEntry, Source};

use super::Res0;
use super::opts::Opts;
use super::text::owner;
use crate::Fail;
use crate::util::Names;

/// The stale objects of the selected kinds, each with the reason.
#[derive(Default)]
pub struct Stale {
    pub msg: Vec<(MsgEntry, String)>,
    pub shm: Vec<(ShmEntry, String)>,
    pub sem: Vec<(SemEntry, String)>,
}

/// Finds the objects nobody uses any more (see `ipckit::registry` for the rules).
pub fn find_stale(msg: bool, shm: bool, sem: bool) -> Result<Stale, Fail> {
    let alive = ipckit::process::is_alive;
    // Processes asleep in msgrcv/msgsnd/semop leave no pid on the object: look for them.
    let waiters = if msg || sem { registry::waiters() } else { registry::Waiters::default() };
    // The same without the tasks that could not be looked into: what differs is
    // unknown, and is left out with a word on stderr.
    let seen = registry::Waiters { waiting: waiters.waiting.clone(), unseen: Vec::new() };
    let mut undecided = 0;
    let mut s = Stale::default();
    if msg {
        for q in registry::messages(Source::Auto)? {
            if let Some(why) = registry::stale_msg(&q, alive, &waiters) {
                s.msg.push((q, why));
            } else if registry::stale_msg(&q, alive, &seen).is_some() {
                undecided += 1;
            }
        }
    }
    if shm {
        for m in registry::shared_memory(Source::Auto)? {
            if let Some(why) = registry::stale_shm(&m, alive) {
                s.shm.push((m, why));
            }
        }
    }
    if sem {
        for e in registry::semaphores(Source::Auto)? {
            // A set whose values we may not read cannot be judged: leave it out.
            let Ok(values) = registry::semaphore_values(e.id) else { continue };
            let pids: Vec<registry::SemPid> =
                values.iter().map(|v| registry::SemPid { pid: v.pid, waiters: v.ncnt + v.zcnt }).collect();
            if let Some(why) = registry::stale_sem(&e, &pids, alive, &waiters) {
                s.sem.push((e, why));
            } else if registry::stale_sem(&e, &pids, alive, &seen).is_some() {
                undecided += 1;
            }
        }
    }
    if undecided > 0 {
        let mut pids: Vec<String> = waiters.unseen.iter().map(|u| u.pid.to_string()).collect();
        pids.truncate(8);
        crate::util::warn(
            "ipckit",
            format_args!(
                "{undecided} {} stale but left out: processes ipckit may not inspect (pids {}{}) \
                 sleep in calls that could be on them (reading /proc/PID/syscall needs the right to \
                 trace them)",
                if undecided == 1 { "object looks" } else { "objects look" },
                pids.join(", "),
                if waiters.unseen.len() > 8 { ", ..." } else { "" }
            ),
        );
    }
    Ok(s)
}

pub(super) fn stale_text(out: &mut dyn Write, o: &Opts, names: &mut Names) -> Res0 {
    let s = find_stale(o.msg, o.shm, o.sem)?;
    let head = |out: &mut dyn Write, title: &str, id: &str| -> std::io::Result<()> {
        writeln!(out, "------ {title} --------")?;
        writeln!(out, "{:<10} {:<10} {:<10} {:<10} reason", "key", id, "owner", "perms")
    };
    writeln!(out)?;
    if o.msg {
        head(out, "Stale Message Queues", "msqid")?;
        for (q, why) in &s.msg {
            writeln!(out, "{} {:<10} {} {:<10o} {why}", q.key, q.id, owner(names, q.uid), q.mode & 0o777)?;
        }
        writeln!(out)?;
    }
    if o.shm {
        head(out, "Stale Shared Memory Segments", "shmid")?;
        for (m, why) in &s.shm {
            writeln!(out, "{} {:<10} {} {:<10o} {why}", m.key, m.id, owner(names, m.uid), m.mode & 0o777)?;
        }
        writeln!(out)?;
    }
    if o.sem {
        head(out, "Stale Semaphore Arrays", "semid")?;
        for (e, why) in &s.sem {
            writeln!(out, "{} {:<10} {} {:<10o} {why}", e.key, e.id, owner(names, e.uid), e.mode & 0o777)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
