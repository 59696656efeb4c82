//! The plain data of System V IPC as the kernel reports and takes it (`ipc_perm`,
//! `msqid_ds`, `semid_ds`, `shmid_ds`, `sembuf`, the `*info` structs), as Rust values.
//!
//! They sit beside the `sys` layer, which fills and reads them, and below `sysv`,
//! which re-exports them where users find them (`ipckit::sysv::msg::MsgStat`...): so
//! the layers only point down.

pub(crate) mod msg;
pub(crate) mod sem;
pub(crate) mod shm;

use crate::{Key, Mode};

/// The ownership and permissions of an object (`struct ipc_perm`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpcPerm {
    /// The key (`0x00000000` for private objects, and for segments removed while
    /// still attached).
    pub key: Key,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
    /// The creator's user id.
    pub cuid: u32,
    /// The creator's group id.
    pub cgid: u32,
    /// The mode: permission bits, plus state bits for shared memory (`SHM_DEST`
    /// `0o1000`, `SHM_LOCKED` `0o2000`).
    pub mode: u32,
    /// The slot usage sequence number.
    pub seq: u32,
}

impl IpcPerm {
    /// The permission bits alone.
    pub fn permissions(&self) -> Mode {
        Mode::new(self.mode)
    }
}

/// Changes to apply with `IPC_SET`: each `None` field is left as it is.
///
/// Only the owner, the creator or a privileged process may change an object.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// A new owner user id.
    pub uid: Option<u32>,
    /// A new owner group id.
    pub gid: Option<u32>,
    /// New permission bits.
    pub mode: Option<Mode>,
}
