//! `msgget`, `msgsnd`, `msgrcv`, `msgctl`.

use std::mem::MaybeUninit;

use super::{SysResult, cvt, cvt_size, ipc};
use crate::sysv_types::msg::{MsgInfo, MsgStat, QueueUpdate};

pub(crate) const MSG_NOERROR: i32 = libc::MSG_NOERROR;
pub(crate) const MSG_EXCEPT: i32 = libc::MSG_EXCEPT;
pub(crate) const MSG_COPY: i32 = libc::MSG_COPY;
/// `MSG_STAT_ANY` (Linux 4.17): like `MSG_STAT` without the read-permission check.
/// Not exported by the `libc` crate; the value is from `<linux/msg.h>`.
const MSG_STAT_ANY: i32 = 13;

/// The size of the `mtype` field that starts every message buffer.
pub(crate) const MTYPE_SIZE: usize = std::mem::size_of::<libc::c_long>();

/// The `long` message type at the start of a message buffer.
pub(crate) fn read_mtype(buf: &[u8]) -> i64 {
    let mut t = [0u8; MTYPE_SIZE];
    t.copy_from_slice(&buf[..MTYPE_SIZE]);
    libc::c_long::from_ne_bytes(t) as i64
}

pub(crate) fn msgget(key: i32, flags: i32) -> SysResult<i32> {
    // SAFETY: msgget takes no pointers.
    cvt(unsafe { libc::msgget(key, flags) })
}

/// Sends `buf`, which holds the `long` message type followed by the body.
pub(crate) fn msgsnd(id: i32, buf: &[u8], flags: i32) -> SysResult<()> {
    assert!(buf.len() >= MTYPE_SIZE, "message buffer shorter than its mtype");
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes; msgsnd reads the
    // `mtype` field plus `msgsz = len - MTYPE_SIZE` body bytes, all inside `buf`.
    cvt(unsafe { libc::msgsnd(id, buf.as_ptr().cast(), buf.len() - MTYPE_SIZE, flags) })?;
    Ok(())
}

/// Receives into `buf` (the `long` type, then up to `buf.len() - MTYPE_SIZE` body
/// bytes). Returns the body length.
pub(crate) fn msgrcv(id: i32, buf: &mut [u8], msgtyp: libc::c_long, flags: i32) -> SysResult<usize> {
    let len = buf.len();
    // SAFETY: `buf` is valid for writes of `len` bytes for the whole call.
    unsafe { msgrcv_into(id, std::ptr::NonNull::from(buf).cast(), len, msgtyp, flags) }
}

/// Receives into the `len` bytes at `buf` (the `long` type, then up to
/// `len - MTYPE_SIZE` body bytes), memory that need not be this process's alone (a
/// shared file mapping). Returns the body length. The kernel removes the message and
/// writes its type into `buf` in one call, with no point between where a signal
/// takes effect.
///
/// # Safety
/// `buf` is valid for writes of `len` bytes for the duration of the call.
pub(crate) unsafe fn msgrcv_into(
    id: i32,
    buf: std::ptr::NonNull<u8>,
    len: usize,
    msgtyp: libc::c_long,
    flags: i32,
) -> SysResult<usize> {
    assert!(len >= MTYPE_SIZE, "message buffer shorter than its mtype");
    // SAFETY: the caller guarantees `len` writable bytes at `buf`; msgrcv writes the
    // `mtype` field and at most `msgsz = len - MTYPE_SIZE` body bytes after it.
    cvt_size(unsafe { libc::msgrcv(id, buf.as_ptr().cast(), len - MTYPE_SIZE, msgtyp, flags) })
}

fn msqid_ds(id: i32, cmd: i32) -> SysResult<(i32, libc::msqid_ds)> {
    let mut ds = MaybeUninit::<libc::msqid_ds>::zeroed();
    // SAFETY: `ds` is a writable msqid_ds; IPC_STAT / MSG_STAT / MSG_STAT_ANY fill it.
    let ret = cvt(unsafe { libc::msgctl(id, cmd, ds.as_mut_ptr()) })?;
    // SAFETY: zero is a valid msqid_ds (plain integers) and the kernel filled it.
    Ok((ret, unsafe { ds.assume_init() }))
}

fn stat_of(ds: &libc::msqid_ds) -> MsgStat {
    MsgStat {
        perm: ipc::perm(&ds.msg_perm),
        stime: ipc::time(ds.msg_stime),
        rtime: ipc::time(ds.msg_rtime),
        ctime: ipc::time(ds.msg_ctime),
        cbytes: ds.__msg_cbytes,
        qnum: ds.msg_qnum,
        qbytes: ds.msg_qbytes,
        lspid: ds.msg_lspid as u32,
        lrpid: ds.msg_lrpid as u32,
    }
}

/// `msgctl(id, IPC_STAT)`.
pub(crate) fn stat(id: i32) -> SysResult<MsgStat> {
    Ok(stat_of(&msqid_ds(id, libc::IPC_STAT)?.1))
}

/// `msgctl(index, MSG_STAT_ANY)` (or `MSG_STAT`): the queue at a kernel index.
/// Returns the queue's id and status.
pub(crate) fn stat_index(index: i32, any: bool) -> SysResult<(i32, MsgStat)> {
    let cmd = if any { MSG_STAT_ANY } else { libc::MSG_STAT };
    let (id, ds) = msqid_ds(index, cmd)?;
    Ok((id, stat_of(&ds)))
}

/// `msgctl(id, IPC_SET)` after `IPC_STAT`, changing only what `update` names.
pub(crate) fn set(id: i32, update: &QueueUpdate) -> SysResult<()> {
    let (_, mut ds) = msqid_ds(id, libc::IPC_STAT)?;
    ipc::apply(&mut ds.msg_perm, &update.perm);
    if let Some(q) = update.qbytes {
        ds.msg_qbytes = q as libc::msglen_t;
    }
    // SAFETY: `ds` is a valid, initialised msqid_ds that IPC_SET only reads.
    cvt(unsafe { libc::msgctl(id, libc::IPC_SET, &mut ds) })?;
    Ok(())
}

/// `msgctl(id, IPC_RMID)`.
pub(crate) fn rmid(id: i32) -> SysResult<()> {
    // SAFETY: IPC_RMID ignores the buffer; a null pointer is allowed.
    cvt(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) })?;
    Ok(())
}

/// `msgctl(0, IPC_INFO or MSG_INFO)`. Returns the highest used index and the info.
pub(crate) fn info(msg_info: bool) -> SysResult<(i32, MsgInfo)> {
    let mut mi = MaybeUninit::<libc::msginfo>::zeroed();
    let cmd = if msg_info { libc::MSG_INFO } else { libc::IPC_INFO };
    // SAFETY: for IPC_INFO and MSG_INFO the kernel writes a `struct msginfo` through
    // the pointer, which points to one.
    let max = cvt(unsafe { libc::msgctl(0, cmd, mi.as_mut_ptr().cast()) })?;
    // SAFETY: zero-initialised plain integers, filled by the kernel.
    let mi = unsafe { mi.assume_init() };
    Ok((
        max,
        MsgInfo {
            msgpool: mi.msgpool,
            msgmap: mi.msgmap,
            msgmax: mi.msgmax,
            msgmnb: mi.msgmnb,
            msgmni: mi.msgmni,
            msgssz: mi.msgssz,
            msgtql: mi.msgtql,
            msgseg: mi.msgseg,
        },
    ))
}
