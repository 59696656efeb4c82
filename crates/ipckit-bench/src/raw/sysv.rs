//! Raw System V loops: a message queue, and semaphores guarding a one-slot buffer.

use crate::{BenchError, Setup, Side};

use super::os_err;

/// `sysv-msg`: one private queue, type 1 towards the child, type 2 back.
pub(crate) struct RawSysvMsg {
    id: i32,
}

impl RawSysvMsg {
    pub(crate) fn new() -> Result<RawSysvMsg, BenchError> {
        // SAFETY: msgget takes no pointers.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
        if id < 0 { Err(os_err("msgget")) } else { Ok(RawSysvMsg { id }) }
    }
}

impl Drop for RawSysvMsg {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID ignores the buffer.
        unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

struct MsgSide {
    id: i32,
    send_type: libc::c_long,
    recv_type: libc::c_long,
    buf: Vec<u8>,
}

const MTYPE: usize = std::mem::size_of::<libc::c_long>();

impl Side for MsgSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.buf.resize(MTYPE + data.len(), 0);
        self.buf[..MTYPE].copy_from_slice(&self.send_type.to_ne_bytes());
        self.buf[MTYPE..].copy_from_slice(data);
        loop {
            // SAFETY: `buf` holds a long type and `data.len()` body bytes.
            let r = unsafe { libc::msgsnd(self.id, self.buf.as_ptr().cast(), data.len(), 0) };
            if r == 0 {
                return Ok(());
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("msgsnd"));
            }
        }
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        self.buf.resize(MTYPE + data.len(), 0);
        loop {
            // SAFETY: `buf` has room for a long type and `data.len()` body bytes.
            let n =
                unsafe { libc::msgrcv(self.id, self.buf.as_mut_ptr().cast(), data.len(), self.recv_type, 0) };
            if n >= 0 {
                data[..n as usize].copy_from_slice(&self.buf[MTYPE..MTYPE + n as usize]);
                return Ok(());
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("msgrcv"));
            }
        }
    }
}

impl Setup for RawSysvMsg {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (s, r) = if parent { (1, 2) } else { (2, 1) };
        Ok(Box::new(MsgSide { id: self.id, send_type: s, recv_type: r, buf: Vec::new() }))
    }
}

/// `sysv-sem`: per direction, a one-slot buffer in a private segment guarded by two
/// semaphores ("empty", "full"): the sender waits for empty, copies in, posts full;
/// the receiver waits for full, copies out, posts empty.
pub(crate) struct RawSysvSem {
    sem: i32,
    shm: i32,
    base: *mut u8,
    size: usize,
}

impl RawSysvSem {
    pub(crate) fn new(size: usize) -> Result<RawSysvSem, BenchError> {
        // SAFETY: semget/shmget take no pointers.
        let sem = unsafe { libc::semget(libc::IPC_PRIVATE, 4, libc::IPC_CREAT | 0o600) };
        if sem < 0 {
            return Err(os_err("semget"));
        }
        // SAFETY: as above.
        let shm = unsafe { libc::shmget(libc::IPC_PRIVATE, 2 * size, libc::IPC_CREAT | 0o600) };
        let mut me = RawSysvSem { sem, shm, base: std::ptr::null_mut(), size };
        if shm < 0 {
            return Err(os_err("shmget"));
        }
        // SAFETY: a null address lets the kernel pick a free range.
        let p = unsafe { libc::shmat(shm, std::ptr::null(), 0) };
        if p as isize == -1 {
            return Err(os_err("shmat"));
        }
        me.base = p.cast();
        // Semaphores 0/1: empty/full towards the child; 2/3: back. Empty starts at 1.
        for (num, val) in [(0, 1), (1, 0), (2, 1), (3, 0)] {
            // SAFETY: SETVAL takes an int argument.
            if unsafe { libc::semctl(sem, num, libc::SETVAL, val) } != 0 {
                return Err(os_err("semctl(SETVAL)"));
            }
        }
        Ok(me)
    }
}

impl Drop for RawSysvSem {
    fn drop(&mut self) {
        // SAFETY: removing our own objects; the buffer arguments are ignored; `base`
        // came from shmat (or is null, which shmdt refuses harmlessly).
        unsafe {
            libc::semctl(self.sem, 0, libc::IPC_RMID);
            if !self.base.is_null() {
                libc::shmdt(self.base.cast());
            }
            libc::shmctl(self.shm, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

struct SemSide {
    sem: i32,
    send_slot: *mut u8,
    recv_slot: *mut u8,
    send_sems: u16,
    recv_sems: u16,
}

fn semop(sem: i32, num: u16, op: i16) -> Result<(), BenchError> {
    let mut b = libc::sembuf { sem_num: num, sem_op: op, sem_flg: 0 };
    loop {
        // SAFETY: one valid sembuf.
        if unsafe { libc::semop(sem, &mut b, 1) } == 0 {
            return Ok(());
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(os_err("semop"));
        }
    }
}

impl Side for SemSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        semop(self.sem, self.send_sems, -1)?;
        // SAFETY: the slot holds `size` bytes (data.len() == size) and the "empty"
        // semaphore gives us exclusive use of it.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.send_slot, data.len()) };
        semop(self.sem, self.send_sems + 1, 1)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        semop(self.sem, self.recv_sems + 1, -1)?;
        // SAFETY: as in `send`, under the "full" semaphore.
        unsafe { std::ptr::copy_nonoverlapping(self.recv_slot, data.as_mut_ptr(), data.len()) };
        semop(self.sem, self.recv_sems, 1)
    }
}

impl Setup for RawSysvSem {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let a = self.base;
        // SAFETY: the segment holds two slots of `size` bytes.
        let b = unsafe { self.base.add(self.size) };
        Ok(Box::new(if parent {
            SemSide { sem: self.sem, send_slot: a, recv_slot: b, send_sems: 0, recv_sems: 2 }
        } else {
            SemSide { sem: self.sem, send_slot: b, recv_slot: a, send_sems: 2, recv_sems: 0 }
        }))
    }
}
