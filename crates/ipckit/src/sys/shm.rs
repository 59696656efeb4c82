//! `shmget`, `shmat`, `shmdt`, `shmctl`.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use super::{Errno, SysResult, cvt, ipc};
use crate::sysv_types::shm::{ShmInfo, ShmLimits, ShmStat};

pub(crate) const SHM_RDONLY: i32 = libc::SHM_RDONLY;
pub(crate) const SHM_RND: i32 = libc::SHM_RND;
pub(crate) const SHM_REMAP: i32 = libc::SHM_REMAP;
pub(crate) const SHM_EXEC: i32 = libc::SHM_EXEC;
pub(crate) const SHM_HUGETLB: i32 = libc::SHM_HUGETLB;
pub(crate) const SHM_NORESERVE: i32 = libc::SHM_NORESERVE;
// Not exported by the `libc` crate; values from `<linux/shm.h>`.
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
/// Mode bit: the segment is marked for destruction (`IPC_RMID` while attached).
pub(crate) const SHM_DEST: u32 = 0o1000;
/// Mode bit: the segment is locked in memory (`SHM_LOCK`).
pub(crate) const SHM_LOCKED: u32 = 0o2000;

/// `struct shminfo` (`IPC_INFO`), not in the `libc` crate.
#[repr(C)]
#[derive(Default)]
struct RawShmInfo {
    shmmax: libc::c_ulong,
    shmmin: libc::c_ulong,
    shmmni: libc::c_ulong,
    shmseg: libc::c_ulong,
    shmall: libc::c_ulong,
    unused: [libc::c_ulong; 4],
}

/// `struct shm_info` (`SHM_INFO`), not in the `libc` crate.
#[repr(C)]
#[derive(Default)]
struct RawShmUsage {
    used_ids: libc::c_int,
    shm_tot: libc::c_ulong,
    shm_rss: libc::c_ulong,
    shm_swp: libc::c_ulong,
    swap_attempts: libc::c_ulong,
    swap_successes: libc::c_ulong,
}

pub(crate) fn shmget(key: i32, size: usize, flags: i32) -> SysResult<i32> {
    // SAFETY: shmget takes no pointers.
    cvt(unsafe { libc::shmget(key, size, flags) })
}

/// `shmat`. Returns the address the segment was attached at.
///
/// # Safety
/// With a non-null `addr`, the caller guarantees that mapping the segment there does
/// not clobber memory the program uses (`SHM_REMAP` replaces existing mappings).
pub(crate) unsafe fn shmat(id: i32, addr: *const u8, flags: i32) -> SysResult<NonNull<u8>> {
    // SAFETY: the caller vouches for `addr`; with a null address the kernel picks a
    // free range and touches no existing mapping.
    let p = unsafe { libc::shmat(id, addr.cast(), flags) };
    if p as isize == -1 {
        return Err(Errno::last());
    }
    NonNull::new(p.cast()).ok_or(Errno::EINVAL)
}

/// `shmdt`.
///
/// # Safety
/// `addr` was returned by [`shmat`] and nothing uses the mapping any more.
pub(crate) unsafe fn shmdt(addr: NonNull<u8>) -> SysResult<()> {
    // SAFETY: the caller guarantees the mapping is ours and unused.
    cvt(unsafe { libc::shmdt(addr.as_ptr().cast()) })?;
    Ok(())
}

fn shmid_ds(id: i32, cmd: i32) -> SysResult<(i32, libc::shmid_ds)> {
    let mut ds = MaybeUninit::<libc::shmid_ds>::zeroed();
    // SAFETY: `ds` is a writable shmid_ds; the STAT commands fill it.
    let ret = cvt(unsafe { libc::shmctl(id, cmd, ds.as_mut_ptr()) })?;
    // SAFETY: zero is a valid shmid_ds (plain integers) and the kernel filled it.
    Ok((ret, unsafe { ds.assume_init() }))
}

fn stat_of(ds: &libc::shmid_ds) -> ShmStat {
    let mode = u32::from(ds.shm_perm.mode);
    ShmStat {
        perm: ipc::perm(&ds.shm_perm),
        size: ds.shm_segsz as u64,
        atime: ipc::time(ds.shm_atime),
        dtime: ipc::time(ds.shm_dtime),
        ctime: ipc::time(ds.shm_ctime),
        cpid: ds.shm_cpid as u32,
        lpid: ds.shm_lpid as u32,
        nattch: ds.shm_nattch as u64,
        marked_for_removal: mode & SHM_DEST != 0,
        locked: mode & SHM_LOCKED != 0,
    }
}

/// `IPC_STAT`.
pub(crate) fn stat(id: i32) -> SysResult<ShmStat> {
    Ok(stat_of(&shmid_ds(id, libc::IPC_STAT)?.1))
}

/// `SHM_STAT_ANY` (or `SHM_STAT`): the segment at a kernel index; returns its id too.
pub(crate) fn stat_index(index: i32, any: bool) -> SysResult<(i32, ShmStat)> {
    let (id, ds) = shmid_ds(index, if any { SHM_STAT_ANY } else { SHM_STAT })?;
    Ok((id, stat_of(&ds)))
}

/// `IPC_SET` after `IPC_STAT`, changing only what `update` names.
pub(crate) fn set(id: i32, update: &crate::sysv_types::Update) -> SysResult<()> {
    let (_, mut ds) = shmid_ds(id, libc::IPC_STAT)?;
    ipc::apply(&mut ds.shm_perm, update);
    // SAFETY: `ds` is a valid, initialised shmid_ds that IPC_SET only reads.
    cvt(unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) })?;
    Ok(())
}

/// Commands that take no buffer: `IPC_RMID`, `SHM_LOCK`, `SHM_UNLOCK`.
pub(crate) fn ctl(id: i32, cmd: ShmCmd) -> SysResult<()> {
    let cmd = match cmd {
        ShmCmd::Rmid => libc::IPC_RMID,
        ShmCmd::Lock => libc::SHM_LOCK,
        ShmCmd::Unlock => libc::SHM_UNLOCK,
    };
    // SAFETY: these commands ignore the buffer; a null pointer is allowed.
    cvt(unsafe { libc::shmctl(id, cmd, std::ptr::null_mut()) })?;
    Ok(())
}

/// The buffer-less `shmctl` commands.
#[derive(Copy, Clone)]
pub(crate) enum ShmCmd {
    Rmid,
    Lock,
    Unlock,
}

/// `IPC_INFO`: the highest used index and the limits.
pub(crate) fn ipc_info() -> SysResult<(i32, ShmLimits)> {
    let mut si = RawShmInfo::default();
    // SAFETY: for IPC_INFO the kernel writes a `struct shminfo`, which `si` is.
    let max = cvt(unsafe { libc::shmctl(0, libc::IPC_INFO, (&raw mut si).cast()) })?;
    Ok((
        max,
        ShmLimits {
            shmmax: si.shmmax as u64,
            shmmin: si.shmmin as u64,
            shmmni: si.shmmni as u64,
            shmseg: si.shmseg as u64,
            shmall: si.shmall as u64,
        },
    ))
}

/// `SHM_INFO`: the highest used index and the system-wide usage.
pub(crate) fn shm_info() -> SysResult<(i32, ShmInfo)> {
    let mut si = RawShmUsage::default();
    // SAFETY: for SHM_INFO the kernel writes a `struct shm_info`, which `si` is.
    let max = cvt(unsafe { libc::shmctl(0, SHM_INFO, (&raw mut si).cast()) })?;
    Ok((
        max,
        ShmInfo {
            used_ids: si.used_ids as u64,
            shm_tot: si.shm_tot as u64,
            shm_rss: si.shm_rss as u64,
            shm_swp: si.shm_swp as u64,
            swap_attempts: si.swap_attempts as u64,
            swap_successes: si.swap_successes as u64,
        },
    ))
}
