//! Listing every IPC object on the system, the way `ipcs` does, and more.
//!
//! The kernel publishes its System V objects in `/proc/sysvipc/{msg,sem,shm}`: one
//! line per object, with its key, id, permissions, owner and creator, sizes, pids
//! and times. This module reads those files with pure parsers ([`parse_msg`],
//! [`parse_sem`], [`parse_shm`]) and, where `/proc` is not mounted, asks the kernel
//! directly with `msgctl`/`semctl`/`shmctl(*_STAT_ANY)` over every slot of its
//! tables, exactly as util-linux's `ipcs` falls back. It also lists the POSIX objects
//! (shared memory and named semaphores in `/dev/shm`, message queues in
//! `/dev/mqueue`) and the Unix sockets (`/proc/net/unix`, with their owners), finds **stale** objects that no live process uses any more, and
//! provides the two lookups a listing needs from the C library: user and group
//! names, and local time.
//!
//! ```
//! use ipckit::{Key, Mode};
//! use ipckit::registry::{self, Source};
//! use ipckit::sysv::msg::MsgQueue;
//!
//! let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW)?;
//! q.set_remove_on_drop(true)?;
//! q.send(b"hello", 1)?;
//!
//! let queues = registry::messages(Source::Auto)?;
//! let mine = queues.iter().find(|e| e.id == q.id()).expect("listed");
//! assert_eq!((mine.qnum, mine.cbytes, mine.mode & 0o777), (1, 5, 0o600));
//! assert_eq!(mine.lspid, ipckit::process::current_pid());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! Times are seconds since the Unix epoch, with 0 meaning "never" (as the kernel
//! keeps them).
//!
//! References: [proc_sysvipc(5)](https://man7.org/linux/man-pages/man5/proc_sysvipc.5.html),
//! [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html),
//! [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html).

mod calls;
#[cfg(not(ipckit_loom))]
mod channels;
mod posix;
mod posix_use;
mod proc;
mod sockets;
mod stale;

pub use calls::{Unseen, Waiter, Waiters, parse_status, parse_syscall, waiters, waiters_in};
#[cfg(not(ipckit_loom))]
pub use channels::{ChannelEnd, ChannelEntry, ChannelKind, ChannelPlace, EndHold, channels};
pub use posix::{
    PosixMq, PosixObjects, PosixSem, PosixShm, mqueue_mounted, parse_mqueue_status, posix_objects,
    posix_objects_in,
};
pub use posix_use::{PosixUse, parse_maps_files};
pub use proc::{parse_msg, parse_sem, parse_shm};
pub use sockets::{
    PROC_NET_UNIX, SocketOwner, UnixSocketEntry, UnixSocketState, UnixSocketType, parse_socket_link,
    parse_unix_sockets, socket_owners, socket_owners_in, unix_sockets,
};
pub use stale::{SemPid, stale_msg, stale_sem, stale_shm};

use std::path::Path;

use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::sys;
use crate::sysv::{msg, sem, shm};

/// Where to read the System V objects from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Source {
    /// `/proc/sysvipc/*` when it can be read, the system calls otherwise.
    #[default]
    Auto,
    /// `/proc/sysvipc/*` only.
    Proc,
    /// `msgctl`/`semctl`/`shmctl` with `*_INFO` and `*_STAT_ANY` only, as `ipcs` does
    /// without `/proc`.
    Syscalls,
}

/// One message queue, as `/proc/sysvipc/msg` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MsgEntry {
    /// The key (`0x00000000` for a private queue).
    pub key: Key,
    /// The id.
    pub id: i32,
    /// The mode (permission bits).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Creator user id.
    pub cuid: u32,
    /// Creator group id.
    pub cgid: u32,
    /// Bytes in the queue.
    pub cbytes: u64,
    /// Messages in the queue.
    pub qnum: u64,
    /// Pid of the last `msgsnd` (0 if none).
    pub lspid: u32,
    /// Pid of the last `msgrcv` (0 if none).
    pub lrpid: u32,
    /// Last send, seconds since the epoch (0 if never).
    pub stime: i64,
    /// Last receive (0 if never).
    pub rtime: i64,
    /// Creation or last change.
    pub ctime: i64,
    /// Capacity in bytes (`msg_qbytes`), from `IPC_STAT`; `None` where that is refused.
    pub qbytes: Option<u64>,
}

/// One semaphore set, as `/proc/sysvipc/sem` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SemEntry {
    /// The key.
    pub key: Key,
    /// The id.
    pub id: i32,
    /// The mode (permission bits).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Creator user id.
    pub cuid: u32,
    /// Creator group id.
    pub cgid: u32,
    /// Number of semaphores.
    pub nsems: u64,
    /// Last `semop`, seconds since the epoch (0 if never).
    pub otime: i64,
    /// Creation or last change.
    pub ctime: i64,
}

/// One shared-memory segment, as `/proc/sysvipc/shm` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShmEntry {
    /// The key (`0x00000000` for private segments and for segments removed while
    /// attached).
    pub key: Key,
    /// The id.
    pub id: i32,
    /// The mode: permission bits plus `0o1000` (`SHM_DEST`, removed while attached)
    /// and `0o2000` (`SHM_LOCKED`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Creator user id.
    pub cuid: u32,
    /// Creator group id.
    pub cgid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Creator pid.
    pub cpid: u32,
    /// Pid of the last attach or detach (0 if none).
    pub lpid: u32,
    /// Current attachments.
    pub nattch: u64,
    /// Last attach, seconds since the epoch (0 if never).
    pub atime: i64,
    /// Last detach (0 if never).
    pub dtime: i64,
    /// Creation or last change.
    pub ctime: i64,
    /// Resident bytes, where the kernel reports them (`/proc` only).
    pub rss: Option<u64>,
    /// Swapped bytes, where the kernel reports them (`/proc` only).
    pub swap: Option<u64>,
}

impl ShmEntry {
    /// Removed while attached: freed after the last detach (`SHM_DEST`).
    pub fn marked_for_removal(&self) -> bool {
        self.mode & sys::shm::SHM_DEST != 0
    }

    /// Locked in memory (`SHM_LOCKED`).
    pub fn locked(&self) -> bool {
        self.mode & sys::shm::SHM_LOCKED != 0
    }
}

/// The state of one semaphore of a set (`semctl` `GETVAL`, `GETNCNT`, `GETZCNT`,
/// `GETPID`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SemValue {
    /// The value.
    pub value: u16,
    /// Processes waiting for it to increase.
    pub ncnt: u32,
    /// Processes waiting for it to become zero.
    pub zcnt: u32,
    /// The last process that operated on it (0 if none).
    pub pid: u32,
}

const PROC_MSG: &str = "/proc/sysvipc/msg";
const PROC_SEM: &str = "/proc/sysvipc/sem";
const PROC_SHM: &str = "/proc/sysvipc/shm";

fn read_proc(path: &str, src: Source) -> Result<Option<String>> {
    if src == Source::Syscalls {
        return Ok(None);
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(_) if src == Source::Auto => Ok(None),
        Err(e) => Err(Error::new("read", Object::Path(path.into()), ErrorKind::NotFound)
            .with_detail(format!("cannot read the kernel's list: {e}"))),
    }
}

/// Every message queue, in the kernel's order (by slot), with [`MsgEntry::qbytes`]
/// filled in where `IPC_STAT` allows it.
pub fn messages(src: Source) -> Result<Vec<MsgEntry>> {
    let mut list = match read_proc(PROC_MSG, src)? {
        Some(text) => parse_msg(&text),
        None => {
            let (max, _) = msg::info(msg::InfoKind::Usage)?;
            let mut v = Vec::new();
            for index in 0..=max.max(-1) {
                let Some((id, st)) = slot(msg::stat_index(index, msg::StatAccess::Any))? else { continue };
                v.push(MsgEntry {
                    key: st.perm.key,
                    id,
                    mode: st.perm.mode,
                    uid: st.perm.uid,
                    gid: st.perm.gid,
                    cuid: st.perm.cuid,
                    cgid: st.perm.cgid,
                    cbytes: st.cbytes,
                    qnum: st.qnum,
                    lspid: st.lspid,
                    lrpid: st.lrpid,
                    stime: secs(st.stime),
                    rtime: secs(st.rtime),
                    ctime: secs(st.ctime),
                    qbytes: Some(st.qbytes),
                });
            }
            v
        }
    };
    for e in &mut list {
        if e.qbytes.is_none() {
            e.qbytes = sys::msg::stat(e.id).ok().map(|st| st.qbytes);
        }
    }
    Ok(list)
}

/// Every semaphore set, in the kernel's order.
pub fn semaphores(src: Source) -> Result<Vec<SemEntry>> {
    if let Some(text) = read_proc(PROC_SEM, src)? {
        return Ok(parse_sem(&text));
    }
    let (max, _) = sem::info(sem::InfoKind::Usage)?;
    let mut v = Vec::new();
    for index in 0..=max.max(-1) {
        let Some((id, st)) = slot(sem::stat_index(index, sem::StatAccess::Any))? else { continue };
        v.push(SemEntry {
            key: st.perm.key,
            id,
            mode: st.perm.mode,
            uid: st.perm.uid,
            gid: st.perm.gid,
            cuid: st.perm.cuid,
            cgid: st.perm.cgid,
            nsems: u64::from(st.nsems),
            otime: secs(st.otime),
            ctime: secs(st.ctime),
        });
    }
    Ok(v)
}

/// Every shared-memory segment, in the kernel's order.
pub fn shared_memory(src: Source) -> Result<Vec<ShmEntry>> {
    if let Some(text) = read_proc(PROC_SHM, src)? {
        return Ok(parse_shm(&text));
    }
    let (max, _) = shm::info()?;
    let mut v = Vec::new();
    for index in 0..=max.max(-1) {
        let Some((id, st)) = slot(shm::stat_index(index, shm::StatAccess::Any))? else { continue };
        v.push(ShmEntry {
            key: st.perm.key,
            id,
            mode: st.perm.mode,
            uid: st.perm.uid,
            gid: st.perm.gid,
            cuid: st.perm.cuid,
            cgid: st.perm.cgid,
            size: st.size,
            cpid: st.cpid,
            lpid: st.lpid,
            nattch: st.nattch,
            atime: secs(st.atime),
            dtime: secs(st.dtime),
            ctime: secs(st.ctime),
            rss: None,
            swap: None,
        });
    }
    Ok(v)
}

/// An empty or unreadable slot of the kernel's table is skipped, like `ipcs` does.
fn slot<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => Ok(None),
        Err(e) => Err(e),
    }
}

fn secs(t: Option<std::time::SystemTime>) -> i64 {
    match t {
        None => 0,
        Some(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        },
    }
}

/// The state of every semaphore of set `id`, in order.
pub fn semaphore_values(id: i32) -> Result<Vec<SemValue>> {
    let set = sem::SemSet::from_id(id)?;
    let n = set.stat()?.nsems as usize;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let num = i as u16;
        out.push(SemValue {
            value: set.value(num)?,
            ncnt: set.waiting_to_take(num)?,
            zcnt: set.waiting_for_zero(num)?,
            pid: set.last_pid(num)?,
        });
    }
    Ok(out)
}

/// `sysconf(_SC_PAGESIZE)`—The size of a memory page in bytes (`shmall` counts pages).
pub fn page_size() -> u64 {
    sys::host::page_size()
}

/// Reads a whole small file, naming it in the error.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        let err = match e.raw_os_error() {
            Some(n) => Error::sys("read", Object::Path(path.into()), sys::Errno(n)),
            None => Error::new("read", Object::Path(path.into()), ErrorKind::Other),
        };
        err.with_detail(e.to_string())
    })
}
