//! `semget`, `semop`, `semtimedop`, `semctl`.

use std::mem::MaybeUninit;
use std::time::Duration;

use super::{SysResult, cvt, ipc};
use crate::sysv_types::sem::{SemInfo, SemOp, SemStat};

pub(crate) use crate::sysv_types::sem::{IPC_NOWAIT, SEM_UNDO};
const _: () =
    assert!(SEM_UNDO as libc::c_int == libc::SEM_UNDO && IPC_NOWAIT as libc::c_int == libc::IPC_NOWAIT);
/// `SEMVMX`, the largest value a semaphore can hold (`<linux/sem.h>`).
pub(crate) const SEMVMX: u16 = 32767;

// `SemOp` is passed to the kernel as `struct sembuf`: prove the layouts agree.
const _: () = {
    assert!(std::mem::size_of::<SemOp>() == std::mem::size_of::<libc::sembuf>());
    assert!(std::mem::align_of::<SemOp>() == std::mem::align_of::<libc::sembuf>());
    assert!(std::mem::offset_of!(SemOp, num) == std::mem::offset_of!(libc::sembuf, sem_num));
    assert!(std::mem::offset_of!(SemOp, op) == std::mem::offset_of!(libc::sembuf, sem_op));
    assert!(std::mem::offset_of!(SemOp, flg) == std::mem::offset_of!(libc::sembuf, sem_flg));
};

/// `union semun`, the optional fourth argument of `semctl`.
#[repr(C)]
union Semun {
    val: libc::c_int,
    buf: *mut libc::semid_ds,
    array: *mut libc::c_ushort,
    info: *mut libc::seminfo,
}

unsafe extern "C" {
    // The libc crate does not declare glibc's semtimedop for this target.
    fn semtimedop(
        semid: libc::c_int,
        sops: *mut libc::sembuf,
        nsops: libc::size_t,
        timeout: *const libc::timespec,
    ) -> libc::c_int;
}

pub(crate) fn semget(key: i32, nsems: i32, flags: i32) -> SysResult<i32> {
    // SAFETY: semget takes no pointers.
    cvt(unsafe { libc::semget(key, nsems, flags) })
}

/// `semop` (no timeout) or `semtimedop` (with one). The kernel may only read `ops`.
pub(crate) fn semop(id: i32, ops: &[SemOp], timeout: Option<Duration>) -> SysResult<()> {
    // The kernel copies the array in and never writes it, although the C prototype
    // takes a non-const pointer.
    let sops = ops.as_ptr().cast_mut().cast::<libc::sembuf>();
    match timeout {
        // SAFETY: `SemOp` has the layout of `struct sembuf` (checked above) and `ops`
        // is valid for `ops.len()` elements.
        None => cvt(unsafe { libc::semop(id, sops, ops.len()) })?,
        Some(t) => {
            let ts = libc::timespec {
                tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                tv_nsec: t.subsec_nanos() as libc::c_long,
            };
            // SAFETY: as above, and `ts` is a valid timespec for the call's duration.
            cvt(unsafe { semtimedop(id, sops, ops.len(), &ts) })?
        }
    };
    Ok(())
}

fn ctl(id: i32, num: i32, cmd: i32, arg: Semun) -> SysResult<i32> {
    // SAFETY: `arg` is the union the command expects; every pointer in it was made by
    // the caller from a live, correctly sized buffer.
    cvt(unsafe { libc::semctl(id, num, cmd, arg) })
}

/// `GETVAL`, `GETPID`, `GETNCNT`, `GETZCNT`: commands that return an int.
pub(crate) fn get(id: i32, num: u16, cmd: SemGet) -> SysResult<i32> {
    let cmd = match cmd {
        SemGet::Val => libc::GETVAL,
        SemGet::Pid => libc::GETPID,
        SemGet::Ncnt => libc::GETNCNT,
        SemGet::Zcnt => libc::GETZCNT,
    };
    ctl(id, i32::from(num), cmd, Semun { val: 0 })
}

/// The single-value queries of `semctl`.
#[derive(Copy, Clone)]
pub(crate) enum SemGet {
    Val,
    Pid,
    Ncnt,
    Zcnt,
}

/// `SETVAL`.
pub(crate) fn setval(id: i32, num: u16, val: i32) -> SysResult<()> {
    ctl(id, i32::from(num), libc::SETVAL, Semun { val })?;
    Ok(())
}

/// `GETALL` into `out`, which must hold exactly the set's `nsems` values.
pub(crate) fn getall(id: i32, out: &mut [u16]) -> SysResult<()> {
    // GETALL writes nsems values; the caller sized `out` from IPC_STAT's nsems, and we
    // pass a buffer of exactly that size.
    ctl(id, 0, libc::GETALL, Semun { array: out.as_mut_ptr() })?;
    Ok(())
}

/// `SETALL` from `vals`, which must hold exactly the set's `nsems` values.
pub(crate) fn setall(id: i32, vals: &[u16]) -> SysResult<()> {
    // SETALL only reads the array.
    ctl(id, 0, libc::SETALL, Semun { array: vals.as_ptr().cast_mut() })?;
    Ok(())
}

fn semid_ds(id: i32, cmd: i32) -> SysResult<(i32, libc::semid_ds)> {
    let mut ds = MaybeUninit::<libc::semid_ds>::zeroed();
    let ret = ctl(id, 0, cmd, Semun { buf: ds.as_mut_ptr() })?;
    // SAFETY: zero is a valid semid_ds (plain integers) and the kernel filled it.
    Ok((ret, unsafe { ds.assume_init() }))
}

fn stat_of(ds: &libc::semid_ds) -> SemStat {
    SemStat {
        perm: ipc::perm(&ds.sem_perm),
        otime: ipc::time(ds.sem_otime),
        ctime: ipc::time(ds.sem_ctime),
        nsems: ds.sem_nsems as u32,
    }
}

/// `IPC_STAT`.
pub(crate) fn stat(id: i32) -> SysResult<SemStat> {
    Ok(stat_of(&semid_ds(id, libc::IPC_STAT)?.1))
}

/// `SEM_STAT_ANY` (or `SEM_STAT`): the set at a kernel index; returns its id too.
pub(crate) fn stat_index(index: i32, any: bool) -> SysResult<(i32, SemStat)> {
    let cmd = if any { libc::SEM_STAT_ANY } else { libc::SEM_STAT };
    let (id, ds) = semid_ds(index, cmd)?;
    Ok((id, stat_of(&ds)))
}

/// `IPC_SET` after `IPC_STAT`, changing only what `update` names.
pub(crate) fn set(id: i32, update: &crate::sysv_types::Update) -> SysResult<()> {
    let (_, mut ds) = semid_ds(id, libc::IPC_STAT)?;
    ipc::apply(&mut ds.sem_perm, update);
    ctl(id, 0, libc::IPC_SET, Semun { buf: &mut ds })?;
    Ok(())
}

/// `IPC_RMID`.
pub(crate) fn rmid(id: i32) -> SysResult<()> {
    ctl(id, 0, libc::IPC_RMID, Semun { val: 0 })?;
    Ok(())
}

/// `IPC_INFO` or `SEM_INFO`: the highest used index and the info.
pub(crate) fn info(sem_info: bool) -> SysResult<(i32, SemInfo)> {
    let mut si = MaybeUninit::<libc::seminfo>::zeroed();
    let cmd = if sem_info { libc::SEM_INFO } else { libc::IPC_INFO };
    let max = ctl(0, 0, cmd, Semun { info: si.as_mut_ptr() })?;
    // SAFETY: zero-initialised plain integers, filled by the kernel.
    let si = unsafe { si.assume_init() };
    Ok((
        max,
        SemInfo {
            semmap: si.semmap,
            semmni: si.semmni,
            semmns: si.semmns,
            semmnu: si.semmnu,
            semmsl: si.semmsl,
            semopm: si.semopm,
            semume: si.semume,
            semusz: si.semusz,
            semvmx: si.semvmx,
            semaem: si.semaem,
        },
    ))
}
