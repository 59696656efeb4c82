//! Shared-memory data: see [`crate::sysv::shm`].

use std::time::SystemTime;

use super::IpcPerm;

/// The status of a segment (`struct shmid_ds`, from `IPC_STAT`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShmStat {
    /// Ownership and permissions (the mode includes the `SHM_DEST`/`SHM_LOCKED` bits).
    pub perm: IpcPerm,
    /// Size in bytes.
    pub size: u64,
    /// Time of the last attach, if any.
    pub atime: Option<SystemTime>,
    /// Time of the last detach, if any.
    pub dtime: Option<SystemTime>,
    /// Time of creation or of the last `IPC_SET`.
    pub ctime: Option<SystemTime>,
    /// The creator's process id.
    pub cpid: u32,
    /// The process that last attached or detached.
    pub lpid: u32,
    /// How many attachments exist now.
    pub nattch: u64,
    /// Removed while attached: freed after the last detach (`SHM_DEST`).
    pub marked_for_removal: bool,
    /// Locked in memory by `SHM_LOCK`.
    pub locked: bool,
}

/// Shared-memory limits (`struct shminfo`, from `IPC_INFO`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ShmLimits {
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmseg: u64,
    /// In pages.
    pub shmall: u64,
}

/// System-wide shared-memory usage (`struct shm_info`, from `SHM_INFO`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShmInfo {
    /// Segments in use.
    pub used_ids: u64,
    /// Total pages of all segments.
    pub shm_tot: u64,
    /// Resident pages.
    pub shm_rss: u64,
    /// Swapped pages.
    pub shm_swp: u64,
    /// Unused since Linux 2.4.
    pub swap_attempts: u64,
    /// Unused since Linux 2.4.
    pub swap_successes: u64,
}
