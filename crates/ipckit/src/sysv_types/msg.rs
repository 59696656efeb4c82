//! Message-queue data: see [`crate::sysv::msg`].

use std::time::SystemTime;

use super::{IpcPerm, Update};

/// The status of a queue (`struct msqid_ds`, from `IPC_STAT`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MsgStat {
    /// Ownership and permissions.
    pub perm: IpcPerm,
    /// Time of the last `msgsnd`, if any.
    pub stime: Option<SystemTime>,
    /// Time of the last `msgrcv`, if any.
    pub rtime: Option<SystemTime>,
    /// Time of creation or of the last `IPC_SET`.
    pub ctime: Option<SystemTime>,
    /// Bytes now in the queue (the bodies).
    pub cbytes: u64,
    /// Messages now in the queue.
    pub qnum: u64,
    /// Capacity of the queue, in bytes.
    pub qbytes: u64,
    /// Process of the last `msgsnd` (0 if none).
    pub lspid: u32,
    /// Process of the last `msgrcv` (0 if none).
    pub lrpid: u32,
}

/// Changes to a queue (`IPC_SET`): ownership, permissions and capacity.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueUpdate {
    /// Owner and permission changes.
    pub perm: Update,
    /// A new capacity in bytes (`msg_qbytes`). Raising it above `msgmnb` needs
    /// privilege (`CAP_SYS_RESOURCE`).
    pub qbytes: Option<u64>,
}

/// System-wide message queue figures (`struct msginfo` from `IPC_INFO` or
/// `MSG_INFO`). With `MSG_INFO`, `msgpool` is the number of queues in use, `msgmap`
/// the number of messages and `msgtql` the bytes queued in the system.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub struct MsgInfo {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
}
