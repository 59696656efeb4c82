//! Pieces shared by the three System V mechanisms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::key::Key;
use crate::sysv_types::IpcPerm;

pub(crate) const IPC_CREAT: i32 = libc::IPC_CREAT;
pub(crate) const IPC_EXCL: i32 = libc::IPC_EXCL;
pub(crate) const IPC_NOWAIT: i32 = libc::IPC_NOWAIT;

/// `ipc_perm` as ipckit shows it.
pub(crate) fn perm(p: &libc::ipc_perm) -> IpcPerm {
    IpcPerm {
        key: Key::from_raw(p.__key),
        uid: p.uid,
        gid: p.gid,
        cuid: p.cuid,
        cgid: p.cgid,
        mode: u32::from(p.mode),
        seq: u32::from(p.__seq),
    }
}

/// A `time_t` field where 0 means "never".
pub(crate) fn time(t: libc::time_t) -> Option<SystemTime> {
    match t {
        0 => None,
        t if t > 0 => Some(UNIX_EPOCH + Duration::from_secs(t as u64)),
        t => Some(UNIX_EPOCH - Duration::from_secs(t.unsigned_abs())),
    }
}

/// Applies the changes of an `IPC_SET` to a `ipc_perm` read by `IPC_STAT`.
pub(crate) fn apply(p: &mut libc::ipc_perm, update: &crate::sysv_types::Update) {
    if let Some(uid) = update.uid {
        p.uid = uid;
    }
    if let Some(gid) = update.gid {
        p.gid = gid;
    }
    if let Some(mode) = update.mode {
        // Only the permission bits are settable; the kernel ignores the rest.
        p.mode = (p.mode & !0o777) | mode.bits() as libc::c_ushort;
    }
}

/// The numbers of the system calls in which a process can wait on a System V object,
/// as `/proc/PID/syscall` shows them: `(msgsnd, msgrcv, semop, semtimedop)`. The
/// object's id is each call's first argument.
pub(crate) const WAITING_CALLS: [(i64, &str); 4] = [
    (libc::SYS_msgsnd as i64, "msgsnd"),
    (libc::SYS_msgrcv as i64, "msgrcv"),
    (libc::SYS_semop as i64, "semop"),
    (libc::SYS_semtimedop as i64, "semtimedop"),
];
